"""The full jsquad-dev evaluation (slow: builds an index of 1,162 passages with the real model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Answer, Searcher
from index.evaluate import answer_metrics, evaluate, metrics

from .conftest import ROOT

JSQUAD = ROOT.parent / "shared" / "eval" / "jsquad-dev"


def test_metrics_count_section_level_hits():
    ranked = [[("a", "1"), ("a", "2")], [("b", "9"), ("a", "1")], [("c", "1")]]
    gold = [("a", "1"), ("a", "1"), ("a", "1")]
    m = metrics(ranked, gold)
    assert (m["recall@1"], m["recall@5"], m["mrr@10"]) == (0.3333, 0.6667, 0.5)


def test_an_answer_counts_as_the_reader_sees_it_with_its_subject():
    """The gold may be the article the sentence leaves implicit; the length counts its name."""
    questions = [{"answers": ["ドミニカ国"]}, {"answers": ["１９４５年"]}, {"answers": ["x"]}]
    replies = [
        Answer("q", "", False, (), (1,), ("植物園と呼ばれている。",), subject="ドミニカ国"),
        Answer("q", "", False, (), (1,), ("戦争は1945 年に終わった。",)),
        Answer("q", "", True, ()),
    ]
    m = answer_metrics(questions, replies, ["", "", ""])
    assert m["gold_in_answer"] == 0.6667 and m["answered"] == 0.6667
    shown = ("【ドミニカ国】植物園と呼ばれている。", "戦争は1945 年に終わった。")
    assert m["median_answer_chars"] == (len(shown[0]) + len(shown[1])) / 2


@pytest.mark.slow
@pytest.mark.skipif(not JSQUAD.is_dir(), reason="../shared/eval/jsquad-dev is not beside the repo")
def test_jsquad_dev_quality_bar(options, embedder, tmp_path: Path):
    """recall@5 ≥ 0.975, MRR@10 ≥ 0.945, ≥ 98 % answered, the gold in ≥ 93 % of the answers."""
    result = evaluate(JSQUAD, Searcher(options, embedder=embedder))
    hybrid = result[f"dense_weight={options.dense_weight:g}"]
    assert hybrid["recall@5"] >= 0.975 and hybrid["mrr@10"] >= 0.945, hybrid
    # The subject check (issue 14) refuses a few jsquad-dev questions whose words the passages
    # lack (0.982 answered), the price of refusing other news.
    assert hybrid["answered"] >= 0.98, hybrid
    assert hybrid["gold_in_answer"] >= 0.93 and hybrid["median_answer_chars"] <= 120, hybrid
