"""Whether a question leans on the turn before it (それ・なぜ?・期間は?・and about the borders?)."""

from __future__ import annotations

import re
from dataclasses import replace

from ..corpus.text import language, normalize
from ..retrieval import terms
from ..retrieval.query import Query
from ..types import Answer, Reason
from .memory import Turn

# Words that point back at what was just said: the question cannot stand without it.
_ANAPHOR_JA = re.compile(
    r"^(それ|その|そこ|そっち|これ|この|あれ|あの|彼|彼女|彼ら|同氏|じゃあ|じゃ|では|で、|それで|それでは|"
    r"あと|ほかに|他に|さらに|ちなみに|ところで|なら|だったら)"
    r"|それ|その|そこ|この件|この話|同氏|同国|同社|彼ら|彼女"
)
_ANAPHOR_EN = re.compile(
    r"^(and|but|so|also|then|what about|how about|and about|what else)\b"
    r"|\b(it|its|that|this|they|them|their|those|these|he|him|his|she|her|there)\b",
    re.I,
)
# A pronoun or demonstrative (その, 彼, it, they, his) stands for what was just said: a question
# with one leans back even with words the previous passages lack (その時期の行事は?, How much will
# they cost?), unless it names something they lack (What did he say about Gaza?). A connective
# alone (じゃあ, and) does not: じゃあ富士山の弾丸登山については? starts afresh.
_PRONOUN_JA = re.compile(r"それ|その|そこ|これ|この|あれ|あの|彼|同氏|同国|同社")
_PRONOUN_EN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her|hers)\b", re.I)
# 他には?・what else?: the asker has read the previous answer and wants what it left out (詳しく
# and "more" want the same thing told at length: its sentences may come again).
_OTHER = re.compile(r"他には|ほかには|他に|ほかに|それ以外|\b(else|other)\b", re.I)
# 「エネルギーについては?」「国境は?」: a topic named in passing, asked of what came before.
_TOPIC_ONLY_JA = re.compile(
    r"^(?P<topic>.{1,14}?)"
    r"(について(は|も)?|に関して(は)?|の方は|の件は|はどう|はどうなの|はどうですか|は|も)"
    r"(どう|どうなった|どうなっている|ですか|なの)?[?？。.!！\s]*$"
)
_TOPIC_ONLY_EN = re.compile(
    r"^(and|what|how)?\s*(about|regarding|on)\s+(?P<topic>.{1,40}?)[?.!\s]*$", re.I
)


def leans_on(query: Query, context: str) -> bool:
    """Whether the question needs the turn before it to be understood.

    It does when it brings no subject of its own (なぜ?, 期間は?, 詳しく), or when it points back
    (それ, その, it, that, and …) or names in passing (〜については?, what about …?) only things
    the previous answer's passages hold (context: their text). A question with a subject of its
    own that the previous turn never mentioned starts afresh, even when short (ガザについては?).
    """
    own = query.own_terms
    if not own:
        return True
    pointer, topic = _shape(query)
    if not (pointer or topic):
        return False
    context = normalize(context)
    crossing = query.lang == "en" and language(context) == "ja"
    names, words = terms.missing(own, context, query.lang, crossing)
    if pointer and (_PRONOUN_EN if query.lang == "en" else _PRONOUN_JA).search(query.normal):
        return not names
    return not (names or words)


def _shape(query: Query) -> tuple[bool, re.Match | None]:
    """Whether the question points back (それ, it); its topic named in passing (〜については?)."""
    q = query.normal.strip()
    en = query.lang == "en"
    pointer = bool((_ANAPHOR_EN if en else _ANAPHOR_JA).search(q))
    return pointer, (_TOPIC_ONLY_EN if en else _TOPIC_ONLY_JA).match(q)


# The longest context a follow-up carries: the questions it stands on, newest kept.
MAX_CONTEXT = 300
# A topic this short (期間は?, 数は?) is a word of a kind; a longer one is a subject the term
# rules miss (へたりの別名は？), asked as it is.
SHORT_TOPIC = 4
# A question word alone (なぜ?, いつ?, who?) or asking for more (詳しく): nothing to answer
# without the turn before (m5Cとは何か, with a subject the rules miss, is asked as it is).
_QUESTION_ONLY = re.compile(
    r"^(なぜ|どうして|なんで|いつ|どこ|どこで|誰|だれ|誰が|だれが|何|なに|何で|どのくらい|どれくらい|"
    r"詳しく|くわしく|他には|ほかには|もっと|続き|why|when|where|who|what|how|how long|how much|"
    r"how many|what else|more|details)(ですか|なの|か)?(\s*(not|so|then))?[?？。.!！\s]*$",
    re.I,
)


def frame(query: Query, turn: Turn | None) -> Query:
    """The query as asked in this conversation: framed by the turn it leans on, marked as
    lacking a subject when it leans on nothing, or as it is.

    After a refused turn, a pointer or a bare question (Why not?, それは?) leans on the last
    answered turn the conversation remembers; a question with a subject starts afresh.
    """
    if turn is not None and turn.answer.no_answer and turn.answered is not None:
        if _shape(query)[0] or _bare(query):
            turn = turn.answered
    answered = turn is not None and not turn.answer.no_answer and turn.answer.hits
    context = _context_text(turn.answer) if answered else None
    if context is None:
        return replace(query, lacks_subject=_bare(query))
    if not leans_on(query, context):
        return query
    return replace(
        query,
        context=turn.context[-MAX_CONTEXT:],
        prefer=_articles(turn.answer),
        continued=turn.question,
        seen=turn.answer.sentences if _OTHER.search(query.normal) else (),
        said=turn.answer.sentences,
    )


def ask_for_subject(query: Query) -> Answer:
    """The reply to a follow-up with nothing to follow: asked to name the subject (worded by
    the adapters, with an example)."""
    return Answer(query.text, "", True, (), lang=query.lang, reason=Reason.NO_SUBJECT)


def framed(query: Query, answer: Answer) -> Answer:
    """The answer marked as a follow-up's (what it continued, what it was asked about)."""
    if not query.follow_up:
        return answer
    return replace(answer, continued=query.continued, asked_about=query.searched)


def _bare(query: Query) -> bool:
    """A question that cannot stand alone: no subject of its own, and a pointer, a topic named
    in passing, or a question word alone."""
    if query.own_terms:
        return False
    pointer, topic = _shape(query)
    short = topic is not None and len(topic.group("topic")) <= SHORT_TOPIC
    return bool(pointer or short or _QUESTION_ONLY.match(query.normal.strip()))


def _context_text(answer: Answer) -> str:
    return "\n".join(f"{h.title}\n{h.section}\n{h.text}" for h in answer.hits)


def _articles(answer: Answer) -> tuple[str, ...]:
    cited = [answer.hits[n - 1].article for n in answer.citations if 0 < n <= len(answer.hits)]
    return tuple(dict.fromkeys(cited or [h.article for h in answer.hits]))
