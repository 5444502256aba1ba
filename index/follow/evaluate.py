"""How well topics match: precision and recall on labelled (topic, article, match) pairs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .match import MATCH_MARGIN, Match, judge, passages_of, topics


@dataclass(frozen=True)
class Pair:
    topic: str
    article: str
    match: bool


def load_pairs(path: Path) -> list[Pair]:
    """One JSON object a line: {"topic", "article" (file name), "match" (true/false)}."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(Pair(row["topic"], row["article"], bool(row["match"])))
    return out


def judged(
    searcher, pairs: Sequence[Pair], margin: float = MATCH_MARGIN
) -> list[tuple[Pair, Match]]:
    """Each pair with its Match, every one judged in full (no first pass)."""
    index = searcher.index
    texts = list(dict.fromkeys(p.topic for p in pairs))
    by_text = dict(zip(texts, topics(index, searcher.embedder, texts, searcher.options)))
    out = []
    for p in pairs:
        pids = passages_of(index, p.article)
        out.append((p, judge(index, by_text[p.topic], p.article, pids, searcher.options, margin)))
    return out


def figures(rows: Sequence[tuple[Pair, Match]], margin: float = MATCH_MARGIN) -> dict:
    """Precision, recall and the pairs each error is made on (rows judged at margin)."""
    said = [(p, m.matched) for p, m in rows]
    tp = sum(1 for p, s in said if s and p.match)
    fp = [p for p, s in said if s and not p.match]
    fn = [p for p, s in said if not s and p.match]
    return {
        "pairs": len(rows),
        "matching": sum(1 for p, *_ in rows if p.match),
        "margin": margin,
        "precision": tp / (tp + len(fp)) if tp + len(fp) else 1.0,
        "recall": tp / (tp + len(fn)) if tp + len(fn) else 1.0,
        "false_matches": [(p.topic, p.article) for p in fp],
        "missed": [(p.topic, p.article) for p in fn],
    }
