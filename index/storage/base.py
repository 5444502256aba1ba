"""The seam between ranking and storage: what search reads from one index version.

`local.LocalStore` (a folder per version) is the default backend; `postgres.store.PgStore`
(PostgreSQL with pgvector) implements the same protocols. Nothing outside `index/` sees them:
`Searcher` is the way in, and `open_store` picks the backend the settings name.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import StoreUnavailableError

if TYPE_CHECKING:
    from ..options import IndexOptions


class DenseSide(Protocol):
    """Nearest passages by inner product of unit vectors."""

    size: int
    dim: int
    kind: str
    remote: bool  # a search waits on a server: Index.rank runs it beside the BM25 sums

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids are -1 where fewer than k exist."""


class LexicalSide(Protocol):
    """BM25 over character n-grams (see index.retrieval.lexical)."""

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
    anchors: np.ndarray  # off-topic anchor vectors (index/answer/anchors.txt)

    @property
    def size(self) -> int:
        """Number of passages."""

    def text(self, i: int) -> str:
        """Passage i's text as written."""

    def sentence_vectors(self, i: int) -> np.ndarray:
        """(sentences × dim) vectors of passage i's sentences (see text.sentence_spans)."""

    def passage_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors and sentence vectors of many passages at once (a build reusing them)."""


class Store(Protocol):
    """Where index versions live: the live one, one build at a time, and new ones."""

    root: Path
    # True when other processes may switch the live version (a database): readers then ask
    # live_name() once per question and reload when it changed.
    shared: bool

    def live_name(self) -> str | None:
        """The live version's name (cheap), or None when there is none."""

    def current(self, verify: bool = True) -> Version:
        """The live version; raises IndexNotBuiltError or IndexCorruptError."""

    def lock(self, wait: bool = False) -> AbstractContextManager[None]:
        """Held for a whole build, across processes; BuildInProgressError when not waiting."""

    def writer(self) -> AbstractContextManager:
        """A new version being written; its commit(manifest) makes it live atomically."""

    def tidy(self, keep: str) -> None:
        """Remove what killed builds and superseded versions left (not `keep`)."""


def open_store(options: IndexOptions, root: Path) -> Store:
    """The store the settings name: the folder at root, or the PostgreSQL database."""
    from .local import LocalStore

    if options.store.backend == "local":  # else "postgres": StoreOptions allows no other
        return LocalStore(root)
    try:
        from .postgres.store import PgStore
    except ImportError as e:  # the drivers are an extra: pip install 'newsbot[postgres]'
        raise StoreUnavailableError(
            f"[store] backend = \"postgres\" needs pip install 'newsbot[postgres]' ({e})"
        ) from None
    return PgStore(options.store)
