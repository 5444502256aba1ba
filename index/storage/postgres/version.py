"""One index version read from PostgreSQL (.store): rows fetched as a question needs them.

Nothing here holds the corpus: passages, sections, sentence vectors and BM25 postings are read per
question, with bounded caches of what recurs, so a bot process's memory does not grow with the
index. Implements storage.base's Version, DenseSide and LexicalSide. It reads through a Database
(PgStore implements it) and never imports the store: the store opens versions, not the reverse.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Protocol

import numpy as np

from ...corpus.text import char_ngrams
from ...retrieval.lexical import sum_postings
from ..base import Records
from ..manifest import FORMAT

_CACHE = 4096  # passages and sections kept per version (texts, sentence vectors): a few MB


class Database(Protocol):
    """What a version reads through (PgStore): one statement at a time on this thread."""

    root: PurePosixPath  # postgres/<schema>: where its versions are, for reports

    def query(self, sql: str, params: Sequence | dict = (), binary: bool = True) -> list[tuple]:
        """The rows of one statement."""


class PgVersion:
    """One version in the database; rows are fetched as a question needs them."""

    def __init__(self, store: Database, row: Sequence, postings_cache_mb: int):
        """row: the `versions` columns id, name, manifest, anchors, dim, size, sections."""
        vid, name, manifest, anchors, dim, size, sections = row
        self.store, self.id, self.name = store, int(vid), name
        self.format = FORMAT  # the same data as a local version of this format
        self.location = store.root / name
        # What the database built, whatever the manifest copied from elsewhere says: versions
        # imported or built before the writer recorded it say "flat" for a small index.
        self.manifest = dict(json.loads(manifest), dense_index=PgDense.kind)
        self.postings_cache_mb = postings_cache_mb
        self.dim, self._size = int(dim), int(size)
        self.anchors = np.frombuffer(bytes(anchors), dtype=np.float32).reshape(-1, self.dim)
        self.dense = PgDense(self)
        self.lexical = PgLexical(self)
        self.vectors = _Vectors(self)
        self.keys = _Keys(self)
        self.passage_section = _PassageSections(self)
        self.sections = _Sections(self, int(sections))
        self._row = functools.lru_cache(maxsize=_CACHE)(self._fetch_row)

    @property
    def size(self) -> int:
        return self._size

    def _fetch_row(self, i: int) -> tuple[str, bytes]:
        rows = self.store.query(f"select text, sentences from p{self.id} where id = %s", (i,))
        if not rows:
            raise IndexError(f"passage {i} out of range")
        return rows[0][0], bytes(rows[0][1])

    def text(self, i: int) -> str:
        return self._row(int(i))[0]

    def sentence_vectors(self, i: int) -> np.ndarray:
        raw = self._row(int(i))[1]
        return np.frombuffer(raw, dtype=np.float16).reshape(-1, self.dim)

    def passage_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors and sentence vectors of many passages in one query (a build reusing them)."""
        ids = [int(i) for i in ids]
        rows = self.store.query(
            f"select id, embedding, sentences from p{self.id} where id = any(%s)", (ids,)
        )
        by_id = {r[0]: r for r in rows}
        vectors = np.zeros((len(ids), self.dim), dtype=np.float32)
        sentences = []
        for n, i in enumerate(ids):
            _, vec, sent = by_id[i]
            vectors[n] = vec.to_numpy()
            sentences.append(np.frombuffer(bytes(sent), np.float16).reshape(-1, self.dim))
        return vectors, sentences


class PgDense:
    """pgvector HNSW over the passage vectors: `<#>` is the negative inner product."""

    kind = "hnsw"
    remote = True  # a search waits on the server: Index.rank overlaps it with BM25

    def __init__(self, version: PgVersion):
        self.version, self.dim = version, version.dim

    @property
    def size(self) -> int:
        return self.version.size

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, self.size))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        table = f"p{self.version.id}"
        for n, q in enumerate(np.asarray(queries, dtype=np.float32)):
            rows = self.version.store.query(
                f"select id, section, embedding <#> %(q)s from {table}"
                " order by embedding <#> %(q)s limit %(k)s",
                {"q": q, "k": k},
            )
            for m, (i, _, distance) in enumerate(rows):
                ids[n, m], scores[n, m] = i, -distance
            # Ranking reads the hits' sections next: they come with the search.
            self.version.passage_section.remember({i: section for i, section, _ in rows})
        return scores, ids


class PgLexical:
    """retrieval.lexical's BM25 with its matrix rows in the database, fetched per query term."""

    def __init__(self, version: PgVersion):
        self.version = version
        # Common n-grams (の, は, する) come back in nearly every question: their rows are
        # the largest to read, so the most recent ones stay here, up to [store]
        # postings_cache_mb.
        self._cache: OrderedDict[str, tuple | None] = OrderedDict()
        self._bytes = 0
        self._limit = version.postings_cache_mb << 20
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self.version.size

    @property
    def cached(self) -> int:
        """How many n-grams' postings this process holds (bounded by postings_cache_mb)."""
        return len(self._cache)

    def _postings(self, grams: list[str]) -> dict[str, tuple | None]:
        """(idf, passage ids, weights) of each n-gram; None for one the corpus lacks."""
        with self._lock:
            out = {g: self._cache[g] for g in grams if g in self._cache}
            for g in out:
                self._cache.move_to_end(g)
        missing = [g for g in grams if g not in out]
        if not missing:
            return out
        rows = self.version.store.query(
            f"select term, idf, passages, weights from t{self.version.id} where term = any(%s)",
            (missing,),
        )
        found = {
            term: (float(idf), np.frombuffer(ids, np.int32), np.frombuffer(weights, np.float32))
            for term, idf, ids, weights in rows
        }
        with self._lock:
            for g in missing:
                entry = out[g] = found.get(g)
                if g not in self._cache:
                    self._cache[g] = entry
                    self._bytes += 2 * len(entry[1]) * 4 if entry else 0
            while self._bytes > self._limit and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._bytes -= 2 * len(old[1]) * 4 if old else 0
        return out

    def scores(self, query: str) -> np.ndarray:
        grams = sorted(set(char_ngrams(query)))  # code point order, as Lexical's rows
        postings = self._postings(grams) if grams else {}
        found = [postings[g] for g in grams if postings[g] is not None]
        return sum_postings([(ids, weights) for _, ids, weights in found], self.size)

    def term_weights(self, query: str) -> dict[str, float]:
        grams = sorted(set(char_ngrams(query)))
        if not grams:
            return {}
        with self._lock:
            known = {g: self._cache[g] for g in grams if g in self._cache}
        missing = [g for g in grams if g not in known]
        rows = []
        if missing:
            rows = self.version.store.query(
                f"select term, idf from t{self.version.id} where term = any(%s)", (missing,)
            )
        weights = {g: e[0] for g, e in known.items() if e is not None}
        weights.update({term: float(idf) for term, idf in rows})
        return {g: weights[g] for g in grams if g in weights}


class _Column:
    """A per-passage column read by id: one query per array of ids, a window per single id."""

    column = ""
    window = 16  # neighbours come too: siblings() walks a section passage by passage

    def __init__(self, version: PgVersion):
        self.version = version
        self._cache: dict[int, object] = {}

    def __len__(self) -> int:
        return self.version.size

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self),)

    def _fetch(self, where: str, params) -> dict[int, object]:
        rows = self.version.store.query(
            f"select id, {self.column} from p{self.version.id} where {where}", params
        )
        return {i: self._value(v) for i, v in rows}

    def _value(self, v):
        return v

    def _many(self, ids: np.ndarray) -> list:
        found = self._fetch("id = any(%s)", ([int(i) for i in ids],))
        return [found[int(i)] for i in ids]

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._stack(self._many(np.arange(len(self))[key]))
        if isinstance(key, (list, tuple, np.ndarray)):
            return self._stack(self._many(np.asarray(key, dtype=np.int64)))
        i = int(key)
        if not 0 <= i < len(self):
            raise IndexError(f"passage {i} out of range")
        value = self._cache.get(i)  # threads share the cache: one atomic read, no check-then-get
        if value is None:
            lo, hi = max(0, i - self.window), i + self.window
            fetched = self._fetch("id between %s and %s", (lo, hi))
            self.remember(fetched)
            value = fetched[i]
        return value

    def remember(self, values: dict[int, object]) -> None:
        if len(self._cache) + len(values) > _CACHE:
            self._cache = {}
        self._cache.update(values)

    def _stack(self, values: list) -> np.ndarray:
        return np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        rows = self.version.store.query(f"select {self.column} from p{self.version.id} order by id")
        return np.asarray(self._stack([self._value(v) for (v,) in rows]), dtype=dtype)


class _PassageSections(_Column):
    column = "section"

    def _many(self, ids: np.ndarray) -> list:
        known = {int(i): self._cache.get(int(i)) for i in ids}
        missing = [i for i, v in known.items() if v is None]
        if missing:
            known.update(self._fetch("id = any(%s)", (missing,)))
        return [known[int(i)] for i in ids]

    def _stack(self, values: list) -> np.ndarray:
        return np.asarray(values, dtype=np.int32)


class _Vectors(_Column):
    column = "embedding"
    window = 0

    def _fetch(self, where: str, params) -> dict[int, object]:
        # Ranking reads the candidates' sections right after their vectors: one query for both.
        rows = self.version.store.query(
            f"select id, embedding, section from p{self.version.id} where {where}", params
        )
        self.version.passage_section.remember({i: section for i, _, section in rows})
        return {i: self._value(v) for i, v, _ in rows}

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), self.version.dim)

    def _value(self, v):
        return v.to_numpy()

    def _stack(self, values: list) -> np.ndarray:
        if not values:
            return np.zeros((0, self.version.dim), dtype=np.float32)
        return np.stack(values).astype(np.float32, copy=False)


class _Keys(_Column):
    column = "key"
    window = 0

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), 16)

    def _value(self, v):
        return np.frombuffer(bytes(v), dtype=np.uint8)

    def _stack(self, values: list) -> np.ndarray:
        return np.stack(values) if values else np.zeros((0, 16), dtype=np.uint8)


class _Sections(Records):
    """Section metadata rows, fetched when a hit asks for one (all at once for topics)."""

    def __init__(self, version: PgVersion, size: int):
        self.version, self._size = version, size
        self._get = functools.lru_cache(maxsize=_CACHE)(self._fetch)

    def __len__(self) -> int:
        return self._size

    def _fetch(self, i: int) -> dict:
        rows = self.version.store.query(f"select doc from s{self.version.id} where id = %s", (i,))
        return json.loads(rows[0][0])

    def _record(self, i: int) -> dict:
        return self._get(i)

    def __iter__(self) -> Iterator[dict]:
        rows = self.version.store.query(f"select doc from s{self.version.id} order by id")
        return (json.loads(doc) for (doc,) in rows)
