"""Conversations: follow-ups answered in the previous turn's frame, and only those."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from datetime import date

import pytest

from bot.ui.wording import refusal_text
from index import Filters, IndexOptions, Reason, Searcher
from index.conversation import Conversations
from index.conversation.evaluate import load_dialogues, score
from index.errors import QuestionError

from .conftest import DATA, MODEL_CACHE, ROOT, SEED_ARTICLE, read_jsonl

SEED = SEED_ARTICLE.name


class Clock:
    """A clock the test moves by hand (Conversations takes any clock)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def dialogue(searcher: Searcher, *questions: str, conversations=None, key="alice"):
    """Ask the questions in one conversation; the answers in order."""
    conversations = conversations or Conversations()
    out = []
    for q in questions:
        answer = searcher.ask(q, context=conversations.last(key))
        conversations.add(key, q, answer)
        out.append(answer)
    return out


def cited_articles(answer) -> set[str]:
    return {answer.hits[n - 1].article for n in answer.citations}


# -- the store -------------------------------------------------------------------------------


def test_a_conversation_is_forgotten_after_its_window():
    clock = Clock()
    memory = Conversations(window=600, clock=clock)
    memory.add("alice", "q", _answer("q"))
    clock.now += 599
    assert memory.last("alice").question == "q"
    clock.now += 2
    assert memory.last("alice") is None
    assert len(memory) == 0  # expired conversations do not pile up


def test_conversations_never_cross_keys_and_keep_a_few_turns():
    memory = Conversations(turns=2, limit=2)
    for q in ("a", "b", "c"):
        memory.add("alice", q, _answer(q))
    assert [t.question for t in memory.history("alice")] == ["b", "c"]
    assert memory.last("bob") is None
    memory.add("bob", "x", _answer("x"))
    memory.add("carol", "y", _answer("y"))  # over the limit: the least recent (alice) goes
    assert memory.last("alice") is None and memory.last("carol").question == "y"


def _answer(question: str):
    from index import Answer

    return Answer(question, "text", False, ())


# -- follow-ups over the seed and the test articles ------------------------------------------


@pytest.mark.parametrize(
    ("first", "then", "key"),
    [
        ("米ロ首脳は何を攻撃しないことで合意した?", "期間は?", "30日間"),
        ("クレムリンは何が課題として残ると言っている?", "エネルギーについては?", "エネルギー"),
        ("What did Hegseth say about NATO?", "And about the borders?", "国境"),
        ("奈良公園の鹿は何頭いる?", "どうして守られてきたの?", ("神の使い", "天然記念物")),
    ],
)
def test_a_follow_up_is_answered_from_the_same_story(searcher, first, then, key):
    a, b = dialogue(searcher, first, then)
    assert not a.no_answer and not b.no_answer, b.text
    assert b.follow_up and b.continued == first
    keys = (key,) if isinstance(key, str) else key
    assert any(k in squash(b.shown) for k in keys), b.shown
    assert cited_articles(b) <= cited_articles(a) | {SEED}


def test_a_follow_up_with_nothing_to_follow_asks_for_the_subject(searcher):
    for question in ("期間は?", "なぜ?", "Why?", "それはいつ?"):
        answer = searcher.ask(question)
        assert answer.no_answer and answer.reason == Reason.NO_SUBJECT and not answer.hits
        worded = refusal_text(answer)  # the adapters' words for the code, with an example
        assert "たとえば" in worded or "for example" in worded


def test_after_the_window_a_follow_up_asks_for_the_subject(searcher):
    clock = Clock()
    memory = Conversations(window=600, clock=clock)
    dialogue(searcher, "米ロ首脳は何を攻撃しないことで合意した?", conversations=memory)
    clock.now += 601
    (late,) = dialogue(searcher, "期間は?", conversations=memory)
    assert late.reason == "no_subject"


def test_a_second_asker_does_not_inherit_the_first_askers_context(searcher):
    memory = Conversations()
    dialogue(searcher, "米ロ首脳は何を攻撃しないことで合意した?", conversations=memory, key="alice")
    (bob,) = dialogue(searcher, "期間は?", conversations=memory, key="bob")
    assert bob.reason == "no_subject"


@pytest.mark.parametrize(
    ("then", "article"),
    [
        ("富士山の登山ルートはいくつある?", "fuji-climbing.md"),
        ("将棋のタイトルはいくつある?", "shogi-titles.md"),
    ],
)
def test_a_question_with_its_own_subject_starts_afresh(searcher, then, article):
    _, b = dialogue(searcher, "ロシアの停戦条件は?", then)
    assert not b.follow_up and not b.no_answer
    assert article in cited_articles(b)


@pytest.mark.parametrize("then", ["ガザの停戦は?", "ガザについては?", "今日の東京の天気は?"])
def test_other_news_after_an_answer_is_still_refused(searcher, then):
    _, b = dialogue(searcher, "ロシアの停戦条件は?", then)
    assert b.no_answer and not b.follow_up, b.text


def test_a_three_turn_chain_stands_on_both_earlier_questions(searcher):
    a, b, c = dialogue(searcher, "米ロ首脳は何を攻撃しないことで合意した?", "期間は?", "なぜ?")
    assert c.follow_up and c.continued == "期間は?"
    assert "米ロ首脳" in c.asked_about and "期間" in c.asked_about
    assert SEED in cited_articles(c)


# -- narrowing -------------------------------------------------------------------------------


def test_filters_keep_only_that_outlet_and_those_dates(searcher):
    question = "富士山の登山ルートはいくつある?"
    assert not searcher.ask(question, filters=Filters.parse("テスト新聞", None, None)).no_answer
    other = searcher.ask(question, filters=Filters.parse("毎日新聞", None, None))
    assert other.no_answer and other.reason == "filtered"
    inside = searcher.ask(question, filters=Filters(since=date(2025, 4, 1), until=date(2025, 4, 1)))
    assert {h.article for h in inside.hits} == {"fuji-climbing.md"}
    later = searcher.ask(question, filters=Filters(since=date(2025, 4, 2)))
    assert "fuji-climbing.md" not in {h.article for h in later.hits}


@pytest.mark.parametrize(
    ("outlet", "since", "until", "message"),
    [
        (None, "2025/04/01", None, "YYYY-MM-DD"),
        (None, "2025-02-30", None, "YYYY-MM-DD"),
        (None, "2025-05-01", "2025-04-01", "逆"),
    ],
)
def test_a_bad_filter_is_refused_with_what_to_write(outlet, since, until, message):
    with pytest.raises(QuestionError, match=message):
        Filters.parse(outlet, since, until)


def test_topics_are_newest_first_with_their_sections_and_page(searcher):
    topics = searcher.topics(limit=100)
    assert len(topics) == searcher.topic_count() == 7
    dates = [t.published for t in topics]
    assert dates == sorted(dates, reverse=True)
    fuji = next(t for t in topics if t.article == "fuji-climbing.md")
    assert "4つの登山ルート" in fuji.sections
    assert searcher.topics(limit=2, offset=2) == topics[2:4]
    assert "テスト新聞" in searcher.outlets() and "毎日新聞" in searcher.outlets()


@pytest.fixture(scope="module")
def latest(embedder, tmp_path_factory) -> Searcher:
    """The test corpus plus two stories told twice, a year apart (tests/data/latest/)."""
    folder = tmp_path_factory.mktemp("latest-articles")
    for path in [SEED_ARTICLE, *(DATA / "articles").glob("*.md"), *(DATA / "latest").glob("*.md")]:
        shutil.copy(path, folder / path.name)
    options = IndexOptions(
        articles_dir=folder,
        data_dir=tmp_path_factory.mktemp("latest-data"),
        model_cache_dir=MODEL_CACHE,
    )
    return Searcher.open(options, embedder=embedder)


def test_a_question_for_the_latest_cites_the_newest_article_first(latest):
    """how-it-works.md: without the rule 4 of these 8 led with the newer article, with it 8 of 8."""
    for q in read_jsonl("latest_questions.jsonl"):
        answer = latest.ask(q["question"])
        first = answer.hits[answer.citations[0] - 1].article
        assert first == q["newest"], (q["question"], answer.shown)


# -- the command line and the dialogue report ------------------------------------------------


def test_chat_reads_a_conversation_from_stdin(options):
    config = _config(options)
    stdin = "米ロ首脳は何を攻撃しないことで合意した?\n期間は?\n\n期間は?\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "chat", "--json"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["follow_up"] for r in rows] == [False, True, False]
    assert rows[1]["continued"] == "米ロ首脳は何を攻撃しないことで合意した?"
    assert "30日間" in rows[1]["answer"]
    assert rows[2]["no_answer"]  # the blank line started a new conversation
    fields = {"question", "answer", "subject", "no_answer", "lang", "passages"}
    assert fields <= set(rows[0])


def _config(options) -> object:
    path = options.data_dir / "chat-settings.toml"
    path.write_text(
        f'[index]\narticles_dir = "{options.articles_dir}"\ndata_dir = "{options.data_dir}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n',
        encoding="utf-8",
    )
    return path


def test_the_dialogue_report_counts_each_kind_of_turn():
    from index import Answer

    dialogues = [
        {"id": "a", "turns": [{"q": "x", "expect": "answer"}, {"q": "y", "expect": "answer",
                                                                "follow_up": True, "key": ["k"]}]},
        {"id": "b", "turns": [{"q": "x", "expect": "answer"}, {"q": "z", "expect": "refuse"}]},
        {"id": "c", "turns": [{"q": "w", "expect": "ask_subject"}]},
    ]  # fmt: skip
    results = [
        [Answer("x", "t", False, ()), Answer("y", "k!", False, (), sentences=("k!",),
                                             continued="x")],
        [Answer("x", "t", False, ()), Answer("z", "t", False, (), sentences=("t",))],
        [Answer("w", "t", True, (), reason="no_subject")],
    ]  # fmt: skip
    got = score(dialogues, results)
    assert got["follow_up_key_rate"] == 1.0
    assert got["wrong_inheritance"] == 1  # z must be refused and was answered
    assert got["ask_subject_rate"] == 1.0


def test_the_shipped_dialogue_sets_are_well_formed():
    dialogues = load_dialogues(DATA / "dialogues.jsonl")
    assert len(dialogues) >= 40
    english = [d for d in dialogues if d["lang"] == "en"]
    must_not = [d for d in dialogues if any(not t.get("follow_up") for t in d["turns"][1:])]
    assert len(english) >= 10 and len(must_not) >= 10
    assert len(load_dialogues(DATA / "dialogues_holdout.jsonl")) >= 10


def test_more_results_rank_what_was_asked_with_the_answers_filters(searcher):
    """「他の結果」 ranks the framed question (期間は? about the ceasefire), not the bare words,
    and keeps the filters the answer was asked with."""
    _, then = dialogue(searcher, "米ロ首脳は何を攻撃しないことで合意した?", "期間は?")
    assert then.follow_up
    assert searcher.more(then, 5)[0].article == SEED
    deer = searcher.ask("奈良の鹿は何頭いる?", filters=Filters(outlet="テスト新聞"))
    hits = searcher.more(deer, 10, Filters(outlet="テスト新聞"))
    assert hits and all("テスト新聞" in (h.outlet or "") for h in hits)
