"""English conversations over English stories: follow-ups lean on the turn before, never crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ui.wording import refusal_text
from index import Answer, Reason
from index.conversation import Conversations
from index.errors import QuestionError


def dialogue(searcher, *questions: str, conversations=None, key="u"):
    """Ask the questions in one conversation; the answers in order."""
    conversations = conversations or Conversations()
    out = []
    for q in questions:
        answer = searcher.ask(q, context=conversations.last(key))
        conversations.add(key, q, answer)
        out.append(answer)
    return out


def test_an_english_follow_up_with_words_of_its_own_is_answered(english):
    """It crashed: the English terms were (word, name, terms) tuples tested with `in`."""
    first, then = dialogue(english, "Who discovered the comet?", "When will it come closest?")
    assert not first.no_answer
    assert then.follow_up and not then.no_answer
    assert "April" in then.shown


@pytest.mark.parametrize(
    ("first", "then", "key"),
    [
        ("Who discovered the comet?", "What is it called?", "Varga"),
        ("Who kept the Gannet Point lighthouse?", "What was his job?", "lamp"),
        ("When is the Ashford lantern festival?", "Where is it celebrated?", "harbour"),
    ],
)
def test_an_english_question_that_asks_with_generic_words_leans_on_the_turn_before(
    english, first, then, key
):
    """called, job, celebrated say how it is asked, not what about: the previous turn's story."""
    answers = dialogue(english, first, then)
    assert answers[1].follow_up and not answers[1].no_answer, answers[1].text
    assert key in answers[1].shown


# -- every shape of question, as a first turn and as a follow-up ------------------------------

SUBJECTS_JA = ["奈良の鹿", "富士山", "桜前線", "将棋のタイトル", "東京の地下鉄", "ランタン祭り"]
SUBJECTS_EN = ["the comet", "the footbridge", "the lantern festival", "Nara's deer", "Mount Fuji"]
SHAPES = {
    # pointers: they name nothing and point back
    "pointer": ["それはいつ?", "その理由は?", "彼は何をした?", "When did it happen?",
                "What was his job?", "Where is it celebrated?", "What is it called?"],
    # bare: a question word or a kind of answer alone
    "bare": ["なぜ?", "期間は?", "詳しく", "他には?", "Why?", "Why not?", "How long?",
             "What else?", "More"],
    # a topic named in passing, asked of what came before
    "topic": ["{ja}については?", "{ja}は?", "What about {en}?", "And {en}?"],
    # a subject of its own
    "own": ["{ja}の歴史は?", "{ja}はいつ始まった?", "What is the history of {en}?",
            "Who runs {en}?", "今日の占いは?", "ガザは?", "What about Gaza?"],
    # mixed scripts: an English question with a Japanese word, and the other way round
    "mixed": ["When is {ja}?", "{en}はいつ?", "What influenced 禪?", "NATOの首脳会議は?"],
}  # fmt: skip


@st.composite
def questions(draw):
    shape = draw(st.sampled_from(sorted(SHAPES)))
    template = draw(st.sampled_from(SHAPES[shape]))
    ja, en = draw(st.sampled_from(SUBJECTS_JA)), draw(st.sampled_from(SUBJECTS_EN))
    return template.format(ja=ja, en=en)


FIRST = [
    "When will the footbridge open?",
    "Who discovered the comet?",
    "奈良の鹿はいつ天然記念物に指定された?",
    "富士山の山開きはいつ?",
    "Will it snow on Mars?",  # refused: the follow-up leans on no answer
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.sampled_from(FIRST), then=questions(), noise=st.text(max_size=12))
def test_every_shape_of_question_gets_an_answer_first_and_as_a_follow_up(
    english, first, then, noise
):
    """Japanese, English and mixed; pointer, bare, topic in passing, own subject; after an
    answer over Japanese or English stories or after a refusal: an Answer, never an error."""
    conversations = Conversations()
    for q in (then, first, then, then + noise):
        try:
            answer = english.ask(q, context=conversations.last("u"))
        except QuestionError:
            assert q.endswith(noise) and noise  # only the noise can make a question unaskable
            continue
        assert isinstance(answer, Answer)
        if answer.no_answer:  # refused with a reason the adapters word
            assert answer.reason != Reason.ANSWERED and refusal_text(answer)
        else:
            assert answer.sentences and answer.citations
        assert answer.lang in ("ja", "en")
        conversations.add("u", q, answer)
