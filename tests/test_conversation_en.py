"""English conversations over English stories: follow-ups lean on the turn before, never crash."""

from __future__ import annotations

import pytest

from index.conversation import Conversations


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
