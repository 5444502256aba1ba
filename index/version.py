"""The seam between ranking and storage: what search reads from one index version.

`index.format.LocalStore` (a folder per version) is the first backend; a database backend
implements the same two protocols. Nothing outside `index/` sees them: `Searcher` is the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np


class DenseSide(Protocol):
    """Nearest passages by inner product of unit vectors."""

    size: int
    dim: int
    kind: str

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids are -1 where fewer than k exist."""


class LexicalSide(Protocol):
    """BM25 over character n-grams (see index.lexical)."""

    size: int

    def scores(self, query: str) -> np.ndarray:
        """Score of every passage (float32, one per passage id)."""

    def term_weights(self, query: str) -> dict[str, float]:
        """The query's n-grams that occur in the corpus, with their idf."""


class Version(Protocol):
    """One immutable index version: every read of one question goes to one of these."""

    name: str  # e.g. "v-20250319T120000-ab12cd-42"; unique per build
    format: int
    manifest: dict  # model, dim, articles {file: {digest, title}}, counts, build time, ...
    dense: DenseSide
    lexical: LexicalSide
    vectors: np.ndarray  # (passages × dim) float32 rows by passage id, for exact rescoring
    keys: np.ndarray  # (passages × 16) uint8: the embedding cache key of each passage
    passage_section: np.ndarray  # section id of each passage
    sections: Sequence[dict]  # {article, title, section, sources, published, outlet}
    anchors: np.ndarray  # off-topic anchor vectors (index/anchors.txt)

    @property
    def size(self) -> int:
        """Number of passages."""

    def text(self, i: int) -> str:
        """Passage i's text as written."""

    def sentence_vectors(self, i: int) -> np.ndarray:
        """(sentences × dim) vectors of passage i's sentences (see text.sentence_spans)."""


class Store(Protocol):
    """Where index versions live: the live one, one build at a time, and new ones."""

    root: Path

    def current(self, verify: bool = True) -> Version:
        """The live version; raises IndexNotBuiltError or IndexCorruptError."""

    def lock(self, wait: bool = False) -> AbstractContextManager[None]:
        """Held for a whole build, across processes; BuildInProgressError when not waiting."""

    def writer(self) -> AbstractContextManager:
        """A new version being written; its commit(manifest) makes it live atomically."""

    def tidy(self, keep: str) -> None:
        """Remove what killed builds and superseded versions left (not `keep`)."""
