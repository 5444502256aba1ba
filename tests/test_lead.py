"""The answer leads with what was asked: answer types, the learned lead ranker, real answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.answer import answer_types as at
from index.answer import lead
from index.answer.compose import Candidate
from index.types import Hit


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("日本初の地下鉄が開業したのはいつ?", at.TIME),
        ("叡王戦がタイトル戦に昇格したのは何年度?", at.TIME),
        ("When did the first subway open?", at.TIME),
        ("米ロ首脳会談はどこで開かれる可能性がある?", at.PLACE),
        ("Where will the summit be held?", at.PLACE),
        ("奈良の鹿の保護活動を担っているのは誰?", at.PERSON),
        ("どの国が停戦案を拒否した?", at.PERSON),
        ("Who founded the first subway company?", at.PERSON),
        ("吉田ルートの通行料はいくら?", at.QUANTITY),
        ("攻撃停止は何日間?", at.QUANTITY),
        ("How many deer live in Nara Park?", at.QUANTITY),
        ("なぜロシアは即時停戦を拒否したの?", at.REASON),
        ("どうして輪作をするのですか", at.REASON),
        ("Why did Russia reject the ceasefire?", at.REASON),
        ("桜の開花はどのように判断される?", at.WAY),
        ("How do weather offices decide that cherry trees bloomed?", at.WAY),
        ("鹿せんべいは何で作られている?", at.THING),
        ("What did Russia demand?", at.THING),
        ("ウクライナ情勢について", None),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert at.asks(question) == kind


@pytest.mark.parametrize(
    ("kind", "holds", "lacks"),
    [
        (at.TIME, "1927年12月30日に開業した。", "地下鉄は人気がある。"),
        (at.PLACE, "サウジアラビアでの開催の可能性が高い。", "会談は有意義だった。"),
        (at.PERSON, "トランプ大統領は述べた。", "会談は有意義だった。"),
        (at.QUANTITY, "通行料として1人2,000円を徴収した。", "通行料を徴収した。"),
        (at.REASON, "メリットが少ないため、攻撃を続ける。", "ロシアは停戦案を拒否した。"),
        (at.WAY, "標本木を観察することで開花を判断する。", "開花が発表された。"),
    ],
)
def test_whether_a_sentence_states_that_kind(kind, holds, lacks):
    assert at.holds(kind, holds)
    assert not at.holds(kind, lacks)
    assert not at.holds(at.THING, holds)  # a thing has no form of its own


@given(st.text(max_size=80))
def test_any_text_is_read_without_error(text):
    kind = at.asks(text)
    assert kind is None or kind in at.KINDS
    assert at.holds(kind, text) in (True, False)


def _candidates(texts: list[str]) -> tuple[list[Candidate], list[Hit]]:
    hits = [Hit("a.md", "題", "節", "本文", (), None, None, 1.0, passage_id=0)]
    return [Candidate(0, 0, i, t, 0.8 - 0.01 * i) for i, t in enumerate(texts)], hits


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=12))
def test_the_ranker_orders_every_candidate_once(texts):
    cands, hits = _candidates(texts)
    base = np.zeros((len(cands), len(lead.BASE)))
    base[:, 0] = [c.cosine for c in cands]
    ranked = lead.order(base, cands, hits, {"停戦": 3.0}, at.asks(texts[0]))
    assert sorted(c.pos for _, c in ranked) == list(range(len(cands)))
    scores = [s for s, _ in ranked]
    assert all(np.isfinite(scores))


def test_a_reason_question_leads_with_a_reason_within_the_slack():
    cands, hits = _candidates(["ロシアは停戦案を拒否した。", "停戦を急ぐメリットは少ないため。"])
    n = len(lead.NAMES)
    flat = lead.Model(np.zeros(n), np.ones(n), np.zeros(n), 1.0)  # every candidate ties
    base = np.zeros((2, len(lead.BASE)))
    first = lead.order(base, cands, hits, {}, at.REASON, flat)[0][1]
    assert first.pos == 1
    other = lead.order(base, cands, hits, {}, at.THING, flat)[0][1]
    assert other.pos == 0


def test_the_shipped_model_has_every_feature():
    m = lead.model()
    assert m.coef.shape == (len(lead.NAMES),) and np.all(m.scale > 0) and m.slack > 0


def _lead(answer) -> str:
    assert not answer.no_answer, answer.text
    return answer.sentences[0]


def test_the_seed_place_question_leads_with_the_place(shipped):
    assert "サウジアラビア" in _lead(shipped.ask("米ロ首脳会談はどこで開かれる可能性がある?"))


def test_the_seed_why_question_leads_with_the_reason(shipped):
    first = _lead(shipped.ask("なぜロシアは即時停戦を拒否したの?"))
    assert at.holds(at.REASON, first)
    assert "メリット" in first or "時間" in first, first


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("日本初の地下鉄が開業したのはいつ?", "1927年"),  # time
        ("東京の標本木はどこにある?", "靖国神社"),  # place
        ("奈良の鹿の保護活動を担っているのは誰?", "愛護会"),  # person or body
        ("吉田ルートの通行料はいくら?", "2,000円"),  # quantity
        ("十勝地方ではなぜ輪作が行われているの?", "連作障害"),  # reason
        ("桜の開花はどのように判断される?", "標本木"),  # way
        ("鹿せんべいは何で作られている?", "米ぬか"),  # thing
    ],
)
def test_each_kind_of_question_leads_with_its_fact(searcher, question, fact):
    assert fact in _lead(searcher.ask(question))
