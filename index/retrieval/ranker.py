"""Ranking: dense and lexical scores of one index version fused per query."""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..corpus.text import char_ngrams, normalize
from ..options import IndexOptions
from ..storage.base import Version
from ..types import Hit
from . import crosslingual
from .lexical import top_k

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranked:
    """A question's ranking: one passage per section, best first."""

    ids: np.ndarray  # passage ids
    fused: np.ndarray
    dense: np.ndarray  # raw cosine of each


class Index:
    """A read-only index version, ranked against; swap a new one in to update."""

    def __init__(self, version: Version):
        # Everything stored comes through the version (index/storage/base.py): a local folder
        # (storage/local.py) or a database (storage/postgres/).
        self.version = version
        self.manifest = version.manifest
        self.dense = version.dense
        self.lexical = version.lexical
        self.vectors = version.vectors
        self.passage_section = version.passage_section
        self.sections = version.sections
        self.anchors = version.anchors
        # The corpus's katakana words by their consonants: English names the glossary lacks.
        self.katakana = crosslingual.Katakana(self.manifest.get("katakana", ()))
        # A question reads the same few sections and texts several times (hits, evidence,
        # the answer's citations); parsed once per version, up to a bound.
        self._section_cache: dict[int, dict] = {}
        self._text_cache: dict[int, str] = {}

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def size(self) -> int:
        return self.dense.size

    def text(self, i: int) -> str:
        i = int(i)
        text = self._text_cache.get(i)
        if text is None:
            text = self.version.text(i)
            _remember(self._text_cache, i, text)
        return text

    def section(self, j: int) -> dict:
        """Section j's record (article, title, section, sources, published, outlet)."""
        j = int(j)
        record = self._section_cache.get(j)
        if record is None:
            record = self.sections[j]
            _remember(self._section_cache, j, record)
        return record

    def section_of(self, i: int) -> tuple[str, str]:
        """(article file, section heading) of passage i."""
        s = self.section(self.passage_section[i])
        return s["article"], s["section"]

    def hit(self, i: int, score: float) -> Hit:
        s = self.section(self.passage_section[i])
        return Hit(
            article=s["article"],
            title=s["title"],
            section=s["section"],
            text=self.text(i),
            sources=tuple(s["sources"]),
            published=s["published"],
            outlet=s["outlet"],
            score=float(score),
            passage_id=int(i),
        )

    def rank(self, query: str, qvec: np.ndarray, options: IndexOptions) -> Ranked:
        """Fuse dense and lexical scores over both sides' candidates; best passage per section."""
        if self.size == 0:
            empty = np.zeros(0)
            return Ranked(empty.astype(np.int64), empty, empty)
        m = options.candidates
        if self.dense.remote:
            # The server searches while this process adds up the BM25 postings.
            pending = _pool().submit(self.dense.search, qvec[None, :], m)
            lex = self.lexical.scores(query)
            dense_scores, dense_ids = pending.result()
        else:
            dense_scores, dense_ids = self.dense.search(qvec[None, :], m)
            lex = self.lexical.scores(query)
        found = dense_ids[0] >= 0
        dense_ids, dense_scores = dense_ids[0][found], dense_scores[0][found]
        # The dense side's candidates come with their inner products; only the lexical side's
        # others need their vectors read (a query per question on a database version).
        others = np.setdiff1d(top_k(lex, m), dense_ids)
        cand = np.concatenate([dense_ids, others])
        d = np.concatenate([dense_scores, self.vectors[others] @ qvec]).astype(np.float32)
        order = np.argsort(cand, kind="stable")  # id order, as ties have always been broken
        cand, d = cand[order], d[order]
        lx = lex[cand]
        d_n = (d - d.min()) / max(float(d.max() - d.min()), 1e-6)
        l_n = lx / max(float(lx.max()), 1e-6)
        w = options.dense_weight
        fused = w * d_n + (1 - w) * l_n
        order = np.argsort(-fused, kind="stable")
        cand, fused, d = cand[order], fused[order], d[order]
        # One passage per section: the best one speaks for it.
        # Only the candidates' sections are read: a database version holds no column in memory.
        _, first = np.unique(np.asarray(self.passage_section[cand]), return_index=True)
        keep = np.sort(first)
        return Ranked(cand[keep], fused[keep], d[keep])

    def sentence_scores(self, i: int, qvec: np.ndarray) -> np.ndarray:
        """Cosine of the question with each sentence of passage i (see text.sentence_spans)."""
        rows = self.version.sentence_vectors(i)
        return np.asarray(rows, dtype=np.float32) @ qvec

    def siblings(self, i: int, limit: int = 4) -> list[int]:
        """Passage i, then the nearest other passages of its section (stored side by side)."""
        section = self.passage_section[i]
        out, lo, hi = [i], i - 1, i + 1
        while len(out) < limit:
            grew = False
            if hi < self.size and self.passage_section[hi] == section:
                out.append(hi)
                hi += 1
                grew = True
            if len(out) < limit and lo >= 0 and self.passage_section[lo] == section:
                out.append(lo)
                lo -= 1
                grew = True
            if not grew:
                break
        return out

    def coverage(self, query: str, i: int, weights: dict[str, float] | None = None) -> float:
        """Idf-weighted share of the question's bigrams found in passage i and its title.

        weights: the query's term weights when the caller has them (lexical.term_weights).
        """
        grams = {g for g in char_ngrams(query) if len(g) == 2} or set(char_ngrams(query))
        weights = self.lexical.term_weights(query) if weights is None else weights
        # A bigram the corpus never uses is as telling as the rarest one.
        rare = float(np.log1p((self.size + 0.5) / 0.5))
        hit = self.hit(i, 0.0)
        text = normalize(f"{hit.title}\n{hit.text}")
        total = sum(weights.get(g, rare) for g in grams)
        found = sum(weights.get(g, rare) for g in grams if g in text)
        return found / total if total else 0.0


_CACHE_BOUND = 4096


# Process-wide on purpose: an Index is swapped on every reindex while older ones may still be
# answering, so no Index knows when a pool of its own could be shut down; one lazy pool of 4
# idle-waiting threads serves them all and concurrent.futures joins it at interpreter exit.
@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads that wait on a remote dense side's searches (each keeps its own connection)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="dense")


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= _CACHE_BOUND:
        cache.clear()  # a bound, not a policy: the next questions refill what they use
    cache[key] = value
