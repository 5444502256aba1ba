"""The seam between ranking and storage: what search reads from one index version.

`local.LocalStore` (a folder per version) is the default backend; `postgres.store.PgStore`
(PostgreSQL with pgvector) implements the same protocols. This seam imports neither: the
backends import it, and factory.py opens the one the settings name (as txtai's factories do).
Importing this module loads no array library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import PurePath
from typing import TYPE_CHECKING, Protocol

from .manifest import FORMAT

if TYPE_CHECKING:
    import numpy as np

    from ..retrieval.lexical import Lexical


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
    location: PurePath  # where it lives, for reports: its folder, or postgres/<schema>/<name>
    format: int
    # model, dim, articles {file: {digest, title}}, counts, build time, dense_index (the kind
    # of dense index the store built: "flat" or "hnsw"), ...
    manifest: dict
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


class Records(Sequence):
    """Section records read one at a time: subclasses say how to read record i (0 <= i < len)."""

    def _record(self, i: int) -> dict:
        raise NotImplementedError

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + len(self) if i < 0 else int(i)
        if not 0 <= i < len(self):
            raise IndexError("section index out of range")
        return self._record(i)


class Writer(AbstractContextManager, Protocol):
    """A new version being written (Store.writer()): nothing of it is live before commit().

    Used as a context manager: leaving it by an exception discards what was written, and the
    live version stays. Each part below is given once, in any order, before commit().
    """

    def sections(self, sections: Sequence[dict], passage_section: np.ndarray) -> None:
        """Section records ({article, title, section, ...}) and the section id of each passage."""

    def texts(self, texts: Iterable[str]) -> None:
        """Each passage's text, by passage id."""

    def keys(self, keys: Sequence[bytes] | np.ndarray) -> None:
        """Each passage's 16-byte embedding cache key."""

    def sentences(self, vectors: Sequence[np.ndarray], dim: int) -> None:
        """Each passage's (sentences × dim) vectors.

        dim: their width, for a version with no passages (no row to tell it); a database
        learns it from the passage vectors instead.
        """

    def dense_vectors(self, vectors: np.ndarray, flat_max: int) -> None:
        """The (passages × dim) unit vectors, indexed for nearest-neighbour search.

        flat_max: up to this many vectors a store that can choose searches them exactly (the
        folder: FAISS flat, HNSW beyond). A database indexes them its own way (pgvector HNSW at
        every size) and ignores it. Either way commit() records the kind it built in the
        manifest's dense_index: the store tells, the caller never guesses.
        """

    def lexical(self, lex: Lexical) -> None:
        """The BM25 index of the passages (read through Lexical.rows by a database)."""

    def anchors(self, vectors: np.ndarray) -> None:
        """The off-topic anchor vectors (index/answer/anchors.txt)."""

    def commit(self, manifest: dict) -> PurePath:
        """Make the version live atomically; returns its location (see Version.location).

        The stored manifest is the given one plus what the writer knows: dense_index (and, in
        a folder, the format and every file's size and checksum).
        """


class Lease(Protocol):
    """Who polls the feeds: acquire() is True while this process may."""

    def acquire(self, raise_errors: bool = False) -> bool: ...

    def release(self) -> None: ...


class Store(Protocol):
    """Where index versions live: the live one, one build at a time, and new ones."""

    root: PurePath  # the folder, or postgres/<schema> (for reports)
    # True when other processes may switch the live version (a database): readers then ask
    # live_name() once per question and reload when it changed.
    shared: bool
    # The coverage it indexes, owned by the store and decided where it is opened (factory.py):
    # the articles folder and data/feeds.json, or the database's articles and feed_state
    # tables (shared by every process; then `shared` is True).
    articles: object
    feed_state: object

    def lease(self) -> Lease:
        """The feed poller's lease: held by one process of all (a folder's: always)."""

    def live_name(self) -> str | None:
        """The live version's name (cheap), or None when there is none."""

    def current(self, verify: bool = True, formats: Sequence[int] = (FORMAT,)) -> Version:
        """The live version; raises IndexNotBuiltError or IndexCorruptError.

        verify: check every stored byte (checksums, row counts) before serving it.
        formats: the manifest formats the caller can read; a build reuses older local
            layouts (manifest.READABLE). A database holds one layout (FORMAT's data), so it
            has no older one to refuse and ignores this.
        """

    def lock(self, wait: bool = False) -> AbstractContextManager[None]:
        """Held for a whole build, across processes; BuildInProgressError when not waiting."""

    def writer(self) -> Writer:
        """A new version being written; its commit(manifest) makes it live atomically."""

    def tidy(self, keep: str) -> None:
        """Remove what killed builds and superseded versions left (not `keep`)."""
