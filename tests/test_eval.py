"""The full jsquad-dev evaluation (slow: builds an index of 1,162 passages with the real model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Searcher
from index.evaluate import evaluate, metrics

from .conftest import ROOT

JSQUAD = ROOT.parent / "shared" / "eval" / "jsquad-dev"


def test_metrics_count_section_level_hits():
    ranked = [[("a", "1"), ("a", "2")], [("b", "9"), ("a", "1")], [("c", "1")]]
    gold = [("a", "1"), ("a", "1"), ("a", "1")]
    m = metrics(ranked, gold)
    assert (m["recall@1"], m["recall@5"], m["mrr@10"]) == (0.3333, 0.6667, 0.5)


@pytest.mark.slow
@pytest.mark.skipif(not JSQUAD.is_dir(), reason="../shared/eval/jsquad-dev is not beside the repo")
def test_jsquad_dev_quality_bar(options, embedder, tmp_path: Path):
    """recall@5 ≥ 0.975, MRR@10 ≥ 0.945, ≥ 97.5 % answered, the gold in ≥ 89 % of the answers."""
    result = evaluate(JSQUAD, Searcher(options, embedder=embedder))
    hybrid = result[f"dense_weight={options.dense_weight:g}"]
    assert hybrid["recall@5"] >= 0.975 and hybrid["mrr@10"] >= 0.945, hybrid
    # 0.98 before the subject check (issue 14): it refuses a few jsquad-dev questions whose
    # words the passages lack (0.978 answered), the price of refusing other news.
    assert hybrid["answered"] >= 0.975, hybrid
    assert hybrid["gold_in_answer"] >= 0.89 and hybrid["median_answer_chars"] <= 120, hybrid
