"""Which sentence leads the answer: a linear ranker over each candidate's features.

lead.json beside this file holds, per feature, a mean, a scale and a weight. The shipped file is
the hand weights (compose.Weights) plus a prior per answer-type match; benchmarks/train_lead.py
fits the same form listwise (a softmax over each question's candidates) on public Japanese
reading-comprehension data and writes it here with --write. Inference is one matrix product.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..corpus.text import char_ngrams, normalize
from . import answer_types

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).with_name("lead.json")

RUNS = (3, 4, 6)

# compose.features' columns (the hand-weighted score's inputs), then the ranker's own.
BASE = ("meaning", "words", "chars", "density", "context", "cue", "rank", "passage")
BASE += ("length", "connective")
OWN = (
    "meaning_best",  # the best cosine among the candidates, minus this one's
    "words_best",  # likewise for the share of the question's words held
    "top_meaning",  # 1 for the candidate with the best cosine
    "top_words",  # 1 for the candidate holding most of the question's words
    "first_hit",  # from the top-ranked passage
    "sibling",  # from another passage of the hit's section, not the ranked one
    "position",  # the sentence's place in its passage (capped)
    "opening",  # the passage's first sentence
    "title",  # share of the question's words in the hit's title and section
    *(f"is_{k}" for k in answer_types.KINDS if k != answer_types.THING),
    "novel",  # share of the sentence's bigrams the question does not hold
    *(f"run{n}" for n in RUNS),  # share of the question's n-character runs the sentence holds
    "after_restated",  # the sentence before it (same passage) holds most of the question's runs
    "before_restated",  # likewise the sentence after it
)
NAMES = BASE + OWN
MAX_POSITION = 8
_NOT_WORD = re.compile(r"[^\w]|_")


@dataclass(frozen=True)
class Model:
    """Standardization and weights per feature (NAMES order), and the support slack."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    slack: float  # support within this many logits of the lead's score

    def scores(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef

    def to_dict(self, **about) -> dict:
        rows = zip(NAMES, self.mean, self.scale, self.coef)
        weights = {n: [round(float(x), 6) for x in (m, s, c)] for n, m, s, c in rows}
        return {**about, "slack": self.slack, "features": weights}

    @classmethod
    def from_dict(cls, d: dict) -> Model:
        rows = np.array([d["features"][n] for n in NAMES], dtype=np.float64)
        return cls(rows[:, 0], rows[:, 1], rows[:, 2], float(d["slack"]))


@lru_cache(maxsize=1)
def model() -> Model:
    """The shipped model (read once)."""
    return Model.from_dict(json.loads(MODEL_FILE.read_text(encoding="utf-8")))


def features(
    base: np.ndarray,
    candidates: Sequence,
    hits: Sequence,
    question_grams: dict[str, float],
    kind: str | None,
    question: str = "",
) -> np.ndarray:
    """The ranker's rows: base (compose.features per candidate) and the ranker's own columns.

    question_grams: the question's bigrams and their idf; kind: answer_types.asks(question);
    question: the question's normal form.
    """
    n = len(candidates)
    own = np.zeros((n, len(OWN)))
    if not n:
        return np.hstack([base.reshape(0, len(BASE)), own])
    meaning, words = base[:, 0], base[:, 1]
    own[:, 0] = meaning.max() - meaning
    own[:, 1] = words.max() - words
    own[np.argmax(meaning), 2] = 1.0
    own[np.argmax(words), 3] = 1.0
    total = sum(question_grams.values()) or 1.0
    titles: dict[int, float] = {}
    kinds = [k for k in answer_types.KINDS if k != answer_types.THING]
    runs = [_runs(question, n) for n in RUNS]
    for i, c in enumerate(candidates):
        hit = hits[c.hit]
        own[i, 4] = c.hit == 0
        own[i, 5] = c.passage != hit.passage_id
        own[i, 6] = min(c.pos, MAX_POSITION)
        own[i, 7] = c.pos == 0
        if c.hit not in titles:
            held = set(char_ngrams(f"{hit.title} {hit.section}"))
            titles[c.hit] = sum(v for g, v in question_grams.items() if g in held) / total
        own[i, 8] = titles[c.hit]
        if kind in kinds and answer_types.holds(kind, c.text):
            own[i, 9 + kinds.index(kind)] = 1.0
        grams = _bigrams(c.text)
        own[i, OWN.index("novel")] = len(grams - question_grams.keys()) / (len(grams) or 1)
        for j, (n, found) in enumerate(zip(RUNS, runs)):
            if found:
                own[i, j - len(RUNS) - 2] = len(found & _grams(c.text, n)) / len(found)
    _neighbours(own, candidates, OWN.index("run4"))
    return np.hstack([base, own])


def _neighbours(own: np.ndarray, candidates: Sequence, column: int) -> None:
    """The last two columns: how much of the question the sentence before and after restate."""
    at = {(c.passage, c.pos): i for i, c in enumerate(candidates)}
    for i, c in enumerate(candidates):
        before, after = at.get((c.passage, c.pos - 1)), at.get((c.passage, c.pos + 1))
        own[i, -2] = own[before, column] if before is not None else 0.0
        own[i, -1] = own[after, column] if after is not None else 0.0


def _runs(question: str, n: int) -> set[str]:
    """The question's n-character runs of word characters (no punctuation or space inside)."""
    words = [w for w in _NOT_WORD.split(question) if len(w) >= n]
    return {w[i : i + n] for w in words for i in range(len(w) - n + 1)}


@lru_cache(maxsize=65536)
def _grams(sentence: str, n: int) -> frozenset[str]:
    """Every n-character substring of a sentence's normal form (cached, as _bigrams)."""
    text = normalize(sentence)
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


@lru_cache(maxsize=32768)
def _bigrams(sentence: str) -> frozenset[str]:
    """A sentence's character bigrams (the corpus's sentences recur across questions)."""
    return frozenset(g for g in char_ngrams(sentence) if len(g) == 2)


def order(
    base: np.ndarray,
    candidates: Sequence,
    hits: Sequence,
    question_grams: dict[str, float],
    kind: str | None,
    m: Model | None = None,
    question: str = "",
) -> list[tuple[float, object]]:
    """(score, candidate), best first; a reason question leads with a reason the evidence has."""
    m = m or model()
    s = m.scores(features(base, candidates, hits, question_grams, kind, question))
    ranked = sorted(zip(s.tolist(), candidates), key=lambda x: (-x[0], x[1].hit, x[1].pos))
    if kind == answer_types.REASON and ranked:
        ranked = _reason_first(ranked, m.slack)
    return ranked


def _reason_first(ranked: list[tuple[float, object]], slack: float) -> list[tuple[float, object]]:
    """The best sentence stating a reason moved up to lead: one within slack of the best score,
    or the lead's own neighbour in its passage (the restated question, then its reason)."""
    best, top = ranked[0][0], ranked[0][1]
    for i, (s, c) in enumerate(ranked):
        beside = c.passage == top.passage and abs(c.pos - top.pos) == 1
        if (s >= best - slack or beside) and answer_types.holds(answer_types.REASON, c.text):
            if i:
                ranked.insert(0, (best, ranked.pop(i)[1]))
            break
    return ranked
