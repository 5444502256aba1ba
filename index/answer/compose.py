"""Compose a short answer from the top passages' own sentences: the fact first, each cited."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..corpus.text import char_ngrams, find_urls, language, normalize
from ..retrieval.terms import Term
from ..types import Answer, Hit, Reason
from . import answer_types, lead

# Sentences that ask, exclaim, muse in the first person or carry page furniture are never
# quoted: they state no fact, or not the coverage's own.
_NOT_A_STATEMENT = re.compile(
    r"[?？!！][」』）)]*[。.]?$"  # questions and exclamations
    r"|(かな|かなぁ|ですね|ですよね|でしょうか|ましょう|ちゃう|やろ|ように感じます|と思います)"
    r"[?？!！。.]*$"
    r"|^(公開日|更新日|配信日|さらに読む|関連記事|出典|画像元|写真|Photo)"
)
# A headline that ends in a noun and an exclamation mark (…を警告!) states a fact: it is quoted
# without the mark. An exclamation that ends in kana (ですね!, すごい!) stays unquoted.
_WORD_CHAR = r"[\u3400-\u9fff\u30a0-\u30ffA-Za-z0-9]"  # kanji, katakana, Latin, digits
_HEADLINE = re.compile(rf"(?<={_WORD_CHAR})[!！]$")
# A sentence that leans on the one before it cannot open an answer as it stands.
CONNECTIVE = re.compile(
    r"^(しかしながら|しかし|ただし|また|一方で|一方|さらに|そのため|このため|それでも|ところが|"
    r"だが|なお|つまり|加えて|そして|ちなみに|その結果|結果として|これに対し|これに対して|"
    r"具体的には|とはいえ|もっとも|However|Also|Meanwhile|But)[、,，]\s*"
)
# A sentence that spells out the one before it (the lead says "concessions", this one which).
ELABORATION = re.compile(r"^(具体的には|つまり|すなわち|例えば|たとえば)[、,，]")
# A line with no sentence end must be this long to count as a statement (not a heading-like
# fragment such as 「得られていません」).
MIN_FRAGMENT = 20
MIN_SENTENCE = 8
# A title that names a thing (ドミニカ国, RKBラジオ, Google 検索) rather than a headline: short,
# no sentence punctuation, spaces only beside Latin letters or digits (日銀 利上げへ is a headline).
MAX_NAME_TITLE = 25
_HEADLINE_MARK = re.compile(r"[、。，,？?！!:：;；「」『』…|｜]|\s\s")
_SPACE_IN_WORDS = re.compile(r"(?<![A-Za-z0-9])\s(?![A-Za-z0-9])")

# What kind of fact the question asks for, and how a sentence that states one looks.
_DATE = re.compile(r"\d+年|\d+月|\d+日|[明大昭平令][治正和成]|世紀|年代|\d{4}")
_NUMBER = re.compile(r"[0-9０-９一二三四五六七八九十百千万億]+(?:\.\d+)?\s*[^\s、。,.]")
_PLACE = re.compile(
    r"[都道府県市区町村国州島山川湖駅港]|地方|大陸|海峡|半島|地域"
    r"|[ァ-ヺー]{2,}(?:で|にて)|で開催|で開か|で行われ"  # サウジアラビアでの開催
)
_DURATION = re.compile(
    r"[0-9０-９一二三四五六七八九十百]+\s*(?:日間|週間|か月|ヶ月|カ月|年間|時間|分間)|期間"
)
_PERSON = re.compile(r"氏|さん|大統領|首相|長官|大臣|選手|監督|王|皇帝|天皇|将軍|博士|教授|社長")
_CUES = (
    (
        re.compile(r"何日間|何年間|何時間|何週間|何か月|どのくらいの期間|いつまで|how long", re.I),
        _DURATION,
    ),
    (re.compile(r"いつ|何年|何月|何日|何時|いつ頃|when|what year", re.I), _DATE),
    (
        re.compile(
            r"何人|何歳|何回|何個|何本|何台|何件|何割|何キロ|何メートル|いくら|"
            r"どのくらい|どれくらい|何パーセント|how many|how much",
            re.I,
        ),
        _NUMBER,
    ),
    (re.compile(r"どこ|何処|where", re.I), _PLACE),
    (re.compile(r"誰|だれ|who", re.I), _PERSON),
)


# The word a question asks with; the words beside it are what the answer sentence repeats.
_QUESTION_WORD = re.compile(
    r"何|どこ|誰|だれ|いつ|どの|どう|いくつ|どれ|なに|いくら|どんな|どれくらい|どのくらい"
)
_CONTENT_CHAR = re.compile(_WORD_CHAR)


@dataclass(frozen=True)
class Weights:
    """A linear score of candidate sentences, fitted on jsquad-dev and keyfacts' tune half."""

    meaning: float = 22.1  # cosine of the sentence's own vector to the question's
    words: float = 3.38  # share of the question's bigrams (idf-weighted) the sentence holds
    chars: float = 2.45  # share of the question's content characters (idf-weighted)
    density: float = -1.87  # held bigram idf per character: restating the question is not answering
    context: float = 3.04  # share of the bigrams beside the question word (何・どこ・いつ…)
    cue: float = 0.36  # the sentence looks like the kind of answer asked for
    rank: float = 0.33  # per place a passage stands lower in the ranking
    passage: float = 5.47  # the passage's fused score, relative to the top passage's
    length: float = 1.96  # per 100 characters
    connective: float = 0.3  # leans on the sentence before (しかし、…): a prior, not fitted
    # An English question's passage rank and fused score count this much: its ranking rests on
    # cross-lingual cosines and glossary terms, weaker than a Japanese question's (key facts in
    # English 11/14 at 1.0, 14/14 at 0.5; unseen English questions 9/12 and 10/12).
    crosslingual: float = 0.5
    slack: float = 3.0  # supporting sentences within this of the lead's score
    max_chars: int = 140  # stop adding support once the answer is this long
    # A follow-up leads with a sentence the previous answer did not hold when one scores within
    # this of the best (tuned on the dialogue sets; see README "Conversations").
    new_slack: float = 0.75


@dataclass(frozen=True)
class Asked:
    """What the scorer knows of the question: its words, question-word context and cue.

    A Japanese question's words are its bigrams; an English question's are its words, each
    matched when the sentence holds any of its Japanese terms.
    """

    bigrams: dict[str, float]  # bigram -> idf
    terms: tuple[tuple[tuple[str, ...], float], ...]  # (Japanese terms, weight) per English word
    chars: dict[str, float]
    context: frozenset[str]
    cue: re.Pattern | None

    @property
    def total(self) -> float:
        return sum(self.bigrams.values()) + sum(v for _, v in self.terms)

    @classmethod
    def of(cls, question: str, grams: dict[str, float]) -> Asked:
        """From the question and the idf of its 1-2 grams in the corpus (lexical side)."""
        text = normalize(question)
        context: set[str] = set()
        if m := _QUESTION_WORD.search(text):
            for part in (text[max(0, m.start() - 5) : m.start()], text[m.end() : m.end() + 4]):
                context |= {g for g in char_ngrams(part) if len(g) == 2}
        return cls(
            {g: v for g, v in grams.items() if len(g) == 2},
            (),
            {g: v for g, v in grams.items() if len(g) == 1 and _CONTENT_CHAR.match(g)},
            frozenset(context),
            answer_cue(question),
        )

    @classmethod
    def english(
        cls,
        question: str,
        terms: Sequence[Term],
        idf: dict[str, float] | None = None,
    ) -> Asked:
        """From an English question's words and their Japanese terms (retrieval/crosslingual.py).

        A word weighs as much as its most common term in the corpus is rare: a name the
        coverage repeats everywhere (Trump → トランプ) says little, and a vague word is as
        common as its everyday sense (conditions → 条件, not the rare 情勢). idf: the corpus
        idf of the terms' 1-2 grams; without it each word weighs the same.
        """
        words = []
        for term in terms:
            forms = tuple(normalize(j) for j in term.ja)
            if forms:
                known = [_term_idf(f, idf) for f in forms] if idf else [1.0]
                known = [w for w in known if w is not None]
                words.append((forms, min(known, default=0.0)))
        return cls({}, tuple(words), {}, frozenset(), answer_cue(question))


def _term_idf(term: str, idf: dict[str, float]) -> float | None:
    """A term's corpus idf (mean over its bigrams, or its character's), None if it never occurs."""
    grams = [term[i : i + 2] for i in range(len(term) - 1)] or [term]
    found = [idf[g] for g in grams if g in idf]
    return sum(found) / len(found) if len(found) == len(grams) else None


@dataclass(frozen=True)
class Candidate:
    """A sentence that may be quoted, with where it comes from and its score parts."""

    hit: int  # 0-based: the ranked hit it belongs to (its section)
    passage: int  # passage id (the hit's own passage or a sibling in its section)
    pos: int  # position within the passage
    text: str
    cosine: float


def no_answer(
    question: str,
    nearby: tuple[str, ...] = (),
    missing: tuple[str, ...] = (),
    *,
    lang: str | None = None,
    filtered: bool = False,
) -> Answer:
    """The honest reply when nothing in the coverage answers: why, as a code (the adapters
    word it in the question's language), what the question lacks and what is nearby.

    lang: the Query's; read from the question only by callers without one (benchmarks).
    filtered: the asker narrowed the coverage (outlet, dates): nothing there answers.
    """
    lang = lang or language(question)
    reason = Reason.FILTERED if filtered else Reason.OTHER_NEWS if missing else Reason.OFF_TOPIC
    return Answer(question, "", True, (), lang=lang, nearby=nearby, missing=missing, reason=reason)


def quotable(sentence: str) -> bool:
    """Whether a sentence can be quoted as (part of) an answer."""
    s = quote_form(sentence.strip())
    if len(s) < MIN_SENTENCE or find_urls(s) or _NOT_A_STATEMENT.search(s):
        return False
    return bool(re.search(r"[。．.]$", s)) or len(s) >= MIN_FRAGMENT


def quote_form(sentence: str) -> str:
    """The sentence as quoted: a headline without its exclamation mark."""
    return _HEADLINE.sub("", sentence)


def lead_form(sentence: str) -> str:
    """The sentence as an answer's first sentence: without a connective that needs a before."""
    return CONNECTIVE.sub("", quote_form(sentence), count=1)


@lru_cache(maxsize=32768)
def _view(sentence: str) -> tuple[frozenset[str], str, frozenset[str]]:
    """A sentence's n-grams, normalized text and bigrams (the corpus's sentences recur)."""
    grams = frozenset(char_ngrams(sentence))
    return grams, normalize(sentence), frozenset(g for g in grams if len(g) == 2)


def features(
    c: Candidate, asked: Asked, top: float, fused: float, total: float | None = None
) -> tuple[float, ...]:
    """The score's inputs, in Weights' field order (meaning … length); total: asked.total."""
    total = asked.total if total is None else total
    have, text, _ = _view(c.text)
    held = sum(asked.bigrams[g] for g in have.intersection(asked.bigrams))
    held += sum(v for forms, v in asked.terms if any(f in text for f in forms))
    chars = sum(asked.chars[g] for g in have.intersection(asked.chars))
    return (
        c.cosine,
        held / (total or 1.0),
        chars / (sum(asked.chars.values()) or 1.0),
        held / max(20, len(c.text)),
        len(asked.context & have) / len(asked.context) if asked.context else 0.0,
        1.0 if asked.cue is not None and asked.cue.search(c.text) else 0.0,
        -float(c.hit),
        fused / top if top else 1.0,
        -min(len(c.text), 300) / 100,
        -1.0 if CONNECTIVE.match(c.text) else 0.0,
    )


FEATURES = ("meaning", "words", "chars", "density", "context", "cue", "rank", "passage")
FEATURES += ("length", "connective")


def score(
    c: Candidate, asked: Asked, hits: Sequence[Hit], w: Weights, total: float | None = None
) -> float:
    """Meaning, the question's words and its question word's context, the kind of fact, rank."""
    x = features(c, asked, hits[0].score, hits[c.hit].score, total)
    return sum(getattr(w, name) * v for name, v in zip(FEATURES, x))


def answer_cue(question: str) -> re.Pattern | None:
    """What a sentence stating the asked-for kind of fact looks like, if the question asks one."""
    for asks, looks in _CUES:
        if asks.search(question):
            return looks
    return None


def compose(
    question: str,
    hits: Sequence[Hit],
    candidates: Sequence[Candidate],
    grams: dict[str, float],
    max_sentences: int = 3,
    weights: Weights = Weights(),
    extra_hit=None,
    asked: Asked | None = None,
    lang: str | None = None,
    said: Sequence[str] = (),
    ranker: lead.Model | None = None,
) -> Answer:
    """Lead with the sentence that best states the fact, then its closest support, each cited.

    Args:
        question: the user's question.
        hits: ranked passages; citation [n] points to hits[n-1].
        candidates: quotable sentences of those passages and their sections (see Candidate).
        grams: idf of the question's 1-2 grams in the corpus (its lexical query's).
        max_sentences: at most this many sentences.
        weights: the scoring weights.
        extra_hit: passage id -> Hit, for a sentence quoted from a passage not in hits.
        asked: the question as the scorer sees it, when not Asked.of(question, grams).
        lang: the Query's language; read from the question only by callers without one.
        said: the previous answer's sentences (a follow-up's): a new one leads when it answers
            within the slack, else the answer says it repeats (Answer.repeated).
        ranker: the lead ranker for a Japanese question (default: the shipped one); an English
            question is scored by weights.
    """
    lang = lang or language(question)
    asked = asked or Asked.of(question, grams)
    if lang == "en":
        f = weights.crosslingual
        weights = replace(weights, rank=weights.rank * f, passage=weights.passage * f)
    scored, weights = _ranked(question, candidates, asked, hits, weights, lang, ranker)
    scored, repeated = _new_first(scored, said, weights.new_slack)
    hits = list(hits)
    chosen = _choose(_elaborated(scored), hits, weights, max_sentences, extra_hit)
    if not chosen:
        return Answer(question, "", False, tuple(hits), lang=lang)
    about = subject(hits[chosen[0][1] - 1].title, question, " ".join(s for s, _ in chosen))
    text = " ".join(f"{s}[{n}]" for s, n in chosen)
    return Answer(
        question,
        f"【{about}】{text}" if about else text,
        False,
        tuple(hits),
        tuple(n for _, n in chosen),
        tuple(s for s, _ in chosen),
        lang,
        subject=about,
        repeated=repeated,
    )


def _ranked(question, candidates, asked, hits, weights, lang, ranker):
    """(score, candidate) best first, and the weights with the slack the scores are in."""
    total = asked.total
    if lang == "ja":  # the learned ranker (lead.py): trained on Japanese questions
        base = np.array(
            [features(c, asked, hits[0].score, hits[c.hit].score, total) for c in candidates]
        )
        ranker = ranker or lead.model()
        kind = answer_types.asks(question)
        scored = lead.order(
            base, candidates, hits, asked.bigrams, kind, ranker, normalize(question)
        )
        weights = replace(weights, slack=ranker.slack)
    else:
        scored = sorted(
            ((score(c, asked, hits, weights, total), c) for c in candidates),
            key=lambda x: (-x[0], x[1].hit, x[1].pos),
        )
    return scored, weights


def _new_first(
    scored: list[tuple[float, Candidate]], said: Sequence[str], slack: float
) -> tuple[list[tuple[float, Candidate]], bool]:
    """A follow-up's sentences with the best one the previous answer did not say first, when
    it scores within slack of the best; the rest as they were (what was said may support it).
    Else as they are, and whether the lead repeats the previous answer.

    Said sentences stay as support: the reason a なぜ? wants was often the previous answer's
    support (dialogues.jsonl 0.745 with them left out, 0.891 kept; see docs/guide.md)."""
    if not said or not scored:
        return scored, False
    old = {quote_form(x) for x in said} | {lead_form(x) for x in said}
    new = next((x for x in scored if quote_form(x[1].text) not in old), None)
    if new is not None and new[0] >= scored[0][0] - slack:
        return [new, *(x for x in scored if x is not new)], False
    best = scored[0][1].text
    return scored, quote_form(best) in old or lead_form(best) in old


def _elaborated(scored: list[tuple[float, Candidate]]) -> list[tuple[float, Candidate]]:
    """The lead's own next sentence, when it spells the lead out, moved up as its first support."""
    if scored:
        lead = scored[0][1]
        for i, (_, c) in enumerate(scored):
            if c.passage == lead.passage and c.pos == lead.pos + 1 and ELABORATION.match(c.text):
                scored.insert(1, (scored[0][0], scored.pop(i)[1]))
                break
    return scored


def _choose(
    scored: list[tuple[float, Candidate]], hits: list[Hit], weights: Weights, n: int, extra_hit
) -> list[tuple[str, int]]:
    """The lead and its support within the slack and length, repeats left out, each cited
    (hits grows by a sibling passage quoted from)."""
    chosen: list[tuple[str, int]] = []
    seen: list[frozenset[str]] = []
    length = 0
    best = scored[0][0] if scored else 0.0
    for s, c in scored:
        if len(chosen) == n or s < best - weights.slack:
            break
        if chosen and length >= weights.max_chars:
            break
        grams2 = _view(c.text)[2]
        if any(_similar(grams2, x) for x in seen):
            continue  # the coverage repeats points (summary bullets and body)
        text = lead_form(c.text) if not chosen else quote_form(c.text)
        chosen.append((text, _cite(c, hits, extra_hit)))
        seen.append(grams2)
        length += len(text)
    return chosen


def subject(title: str, question: str, quoted: str) -> str:
    """The article's name when the answer leaves it implicit, else "".

    Japanese drops a sentence's subject when it is the article's (ドミニカ国: 「『カリブ海の植物園』
    と呼ばれている。」), so a question asking for it (カリブ海の植物園と呼ばれる国は?) is answered
    only once the article is named. A headline is not a name and is never used.
    """
    title = title.strip()
    if (
        not title
        or len(title) > MAX_NAME_TITLE
        or _HEADLINE_MARK.search(title)
        or _SPACE_IN_WORDS.search(title)
    ):
        return ""
    name = normalize(title)
    return "" if name in normalize(question) or name in normalize(quoted) else title


def _cite(c: Candidate, hits: list[Hit], extra_hit) -> int:
    """The 1-based number of the hit holding c's passage; a sibling passage is appended."""
    for n, h in enumerate(hits, 1):
        if h.passage_id == c.passage:
            return n
    hits.append(extra_hit(c.passage, hits[c.hit].score))
    return len(hits)


def _similar(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) > 0.6
