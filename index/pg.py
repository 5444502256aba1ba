"""The PostgreSQL backend of index.version: versions as tables, pgvector HNSW, BM25 postings.

A version is a row of `versions` plus three tables named by its id: `s<id>` (sections),
`p<id>` (passages: section, cache key, text, vector, sentence vectors) and `t<id>` (BM25
postings: one row per n-gram with its passages and weights, exactly index.lexical's matrix
rows). A build writes them and flips the one-row `live` table in one transaction, so a killed
build leaves nothing and readers see the old version or the new one. Readers never load the
corpus: each read is a query, so a bot process's memory does not grow with the index.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from .errors import (
    BuildInProgressError,
    IndexCorruptError,
    IndexNotBuiltError,
    IndexWriteError,
    StoreUnavailableError,
)
from .format import FORMAT
from .lexical import Lexical
from .options import StoreOptions
from .text import char_ngrams

log = logging.getLogger(__name__)

SCHEMA = 1  # the version of the tables below; `meta` records the one a database holds
# pg_advisory_lock keys: one build at a time per database; one migration at a time.
BUILD_LOCK, MIGRATE_LOCK = 0x6E657773, 0x6E657774
CHANNEL = "newsbot_live"  # NOTIFY'd with the new version's name when one goes live
SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
MIGRATIONS = {
    1: """
    create table meta (schema_version int not null);
    create table versions (
        id serial primary key,
        name text unique not null,
        manifest text not null,
        anchors bytea not null,
        dim int not null,
        size int not null,
        sections int not null,
        created timestamptz not null default now()
    );
    create table live (
        one bool primary key default true check (one),
        version int not null references versions (id)
    );
    insert into meta values (0);
    """,
}
_CACHE = 4096  # passages and sections kept per version (texts, sentence vectors): a few MB
POSTINGS_CACHE = 64 << 20  # bytes of BM25 postings rows kept per version (see PgLexical)


def url_error(url_missing: bool = False) -> str:
    return (
        '[store] backend = "postgres" needs the connection string in NEWSBOT_DATABASE_URL'
        if url_missing
        else "check NEWSBOT_DATABASE_URL and that the database is running"
    )


class PgStore:
    """Index versions in a PostgreSQL database (see the module docstring); a version.Store."""

    shared = True  # other processes switch versions: readers check the live one per question

    def __init__(self, options: StoreOptions):
        if not options.url:
            raise StoreUnavailableError(url_error(url_missing=True))
        if not SCHEMA_RE.fullmatch(options.schema):
            raise StoreUnavailableError(f"[store] schema {options.schema!r} is not a plain name")
        self.options = options
        self.root = PurePosixPath("postgres", options.schema)  # for reports and `info`
        self._local = threading.local()  # one connection per thread: psycopg's are not shared
        self._ready = False

    # --- connections -------------------------------------------------------------------------

    def connect(self) -> psycopg.Connection:
        """A new connection with the vector type and this store's schema; the caller closes it."""
        try:
            conn = psycopg.connect(self.options.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as e:
            raise StoreUnavailableError(
                f"cannot connect to the index database ({_reason(e)}); {url_error()}"
            ) from None
        try:
            conn.execute(f"set search_path = {self.options.schema}, public")
            if not self._ready:
                migrate(conn, self.options.schema)
                self._ready = True
            register_vector(conn)
            # HNSW returns at most ef_search rows: never fewer than the candidates asked for.
            conn.execute(f"set hnsw.ef_search = {int(self.options.ef_search)}")
        except psycopg.Error as e:
            conn.close()
            raise StoreUnavailableError(f"cannot use the index database ({_reason(e)})") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self.connect()
        return conn

    def query(self, sql: str, params: Sequence | dict = (), binary: bool = True) -> list[tuple]:
        """Rows of one statement on this thread's connection; a lost one is reopened next time."""
        try:
            with self._conn().cursor(binary=binary) as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            self.close_thread()
            raise StoreUnavailableError(f"lost the index database ({_reason(e)})") from None
        except psycopg.errors.UndefinedTable:
            # A version tidied away under a long question: the next one reads the live one.
            raise StoreUnavailableError(
                "the index changed during the question; ask again"
            ) from None

    def close_thread(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    # --- version.Store -----------------------------------------------------------------------

    def init(self) -> int:
        """Create or migrate the schema (also done on first use); returns its version."""
        self._ready = False
        self.close_thread()
        return int(self.query("select schema_version from meta")[0][0])

    def live_name(self) -> str | None:
        """The live version's name: one cheap query, asked once per question."""
        rows = self.query("select v.name from live join versions v on v.id = live.version")
        return rows[0][0] if rows else None

    def current(self, verify: bool = True, formats: Sequence[int] = (FORMAT,)) -> PgVersion:
        rows = self.query(
            "select v.id, v.name, v.manifest, v.anchors, v.dim, v.size, v.sections"
            " from live join versions v on v.id = live.version"
        )
        if not rows:
            raise IndexNotBuiltError(
                "the index database holds no index yet; run 'newsbot index' or 'newsbot db import'"
            )
        version = PgVersion(self, *rows[0])
        if verify:
            count = self.query(f"select count(*) from p{version.id}")[0][0]
            if count != version.size:
                raise IndexCorruptError(
                    f"index {version.name} has {count} passages, its manifest says {version.size}"
                )
        return version

    @contextmanager
    def lock(self, wait: bool = False) -> Iterator[None]:
        """One build at a time per database: a session advisory lock, gone if the process dies."""
        conn = self.connect()
        try:
            got = conn.execute("select pg_try_advisory_lock(%s)", (BUILD_LOCK,)).fetchone()[0]
            if not got:
                if not wait:
                    raise BuildInProgressError("another reindex is already running")
                log.info("Another build is running in the database; waiting for it")
                conn.execute("select pg_advisory_lock(%s)", (BUILD_LOCK,))
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise StoreUnavailableError(f"lost the index database ({_reason(e)})") from None
        finally:
            conn.close()  # releases the lock with the session

    def writer(self) -> PgWriter:
        return PgWriter(self)

    def tidy(self, keep: str) -> None:
        """Drop versions other than `keep` and the newest one before it.

        The one before stays: another process may be in the middle of a question on it (it
        switches at its next question). Two builds later it goes.
        """
        rows = self.query("select id, name from versions order by id desc")
        live = self.live_name()
        spare = [vid for vid, name in rows if name not in (keep, live)]
        for vid in spare[1:]:
            drop_version(self, vid)


class PgVersion:
    """One version in the database; rows are fetched as a question needs them."""

    def __init__(self, store, vid, name, manifest, anchors, dim, size, sections):
        self.store, self.id, self.name = store, int(vid), name
        self.manifest = json.loads(manifest)
        self.format = FORMAT  # the same data as a local version of this format
        self.folder = store.root / name  # where it lives, for reports (not a real folder)
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
                f"select id, embedding <#> %(q)s from {table} order by embedding <#> %(q)s"
                " limit %(k)s",
                {"q": q, "k": k},
            )
            for m, (i, distance) in enumerate(rows):
                ids[n, m], scores[n, m] = i, -distance
        return scores, ids


class PgLexical:
    """index.lexical's BM25 with its matrix rows in the database, fetched per query term."""

    def __init__(self, version: PgVersion):
        self.version = version
        # Common n-grams (の, は, する) come back in nearly every question: their rows are
        # the largest to read, so the most recent ones stay here, up to POSTINGS_CACHE bytes.
        self._cache: OrderedDict[str, tuple | None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self.version.size

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
            while self._bytes > POSTINGS_CACHE and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._bytes -= 2 * len(old[1]) * 4 if old else 0
        return out

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.float32)
        grams = sorted(set(char_ngrams(query)))
        postings = self._postings(grams) if grams else {}
        for g in grams:  # code point order, as Lexical adds them: the same float32 sums
            if postings[g] is not None:
                out[postings[g][1]] += postings[g][2]
        return out

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


class _Sections(Sequence):
    """Section metadata rows, fetched when a hit asks for one (all at once for topics)."""

    def __init__(self, version: PgVersion, size: int):
        self.version, self._size = version, size
        self._get = functools.lru_cache(maxsize=_CACHE)(self._fetch)

    def __len__(self) -> int:
        return self._size

    def _fetch(self, i: int) -> dict:
        rows = self.version.store.query(f"select doc from s{self.version.id} where id = %s", (i,))
        return json.loads(rows[0][0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + len(self) if i < 0 else int(i)
        if not 0 <= i < len(self):
            raise IndexError("section index out of range")
        return self._get(i)

    def __iter__(self) -> Iterator[dict]:
        rows = self.version.store.query(f"select doc from s{self.version.id} order by id")
        return (json.loads(doc) for (doc,) in rows)


class PgWriter:
    """A new version gathered in memory, written and made live by commit() in one transaction.

    The methods are index.format.VersionWriter's; nothing reaches the database before commit,
    so a build that fails or is killed leaves no trace there.
    """

    def __init__(self, store: PgStore):
        self.store = store
        self.parts: dict[str, object] = {}

    def __enter__(self) -> PgWriter:
        return self

    def __exit__(self, kind, error, tb) -> None:
        self.parts.clear()

    def save(self, name: str, array: np.ndarray) -> None:
        if name != "anchors.npy":
            raise ValueError(f"{name!r} is not part of a database version")
        self.parts["anchors"] = np.asarray(array, dtype=np.float32)

    def texts(self, texts: Iterable[str]) -> None:
        self.parts["texts"] = list(texts)

    def sections(self, sections: Iterable[dict], passage_section: np.ndarray) -> None:
        self.parts["sections"] = list(sections)
        self.parts["passage_section"] = np.asarray(passage_section, dtype=np.int32)

    def sentences(self, vectors: Sequence[np.ndarray], dim: int) -> None:
        self.parts["sentences"] = [np.asarray(v, dtype=np.float16) for v in vectors]

    def keys(self, keys: Sequence[bytes] | np.ndarray) -> None:
        self.parts["keys"] = (
            [bytes(k) for k in keys]
            if not isinstance(keys, np.ndarray)
            else [k.tobytes() for k in keys]
        )

    def dense_vectors(self, vectors: np.ndarray, flat_max: int) -> None:
        """The passage vectors; the database indexes them (HNSW at every size)."""
        self.parts["vectors"] = np.asarray(vectors, dtype=np.float32)

    def lexical(self, lex: Lexical) -> None:
        self.parts["lexical"] = lex

    def commit(self, manifest: dict) -> PurePosixPath:
        """Write every table and make the version live in one transaction; returns its place."""
        missing = {"anchors", "texts", "sections", "sentences", "keys", "vectors", "lexical"}
        missing -= set(self.parts)
        if missing:  # a bug in a writer, never a user's doing
            raise ValueError(f"incomplete index version: missing {sorted(missing)}")
        name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}-{os.getpid()}"
        conn = self.store.connect()
        try:
            with conn.transaction():
                write_version(conn, name, manifest, self.parts)
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise StoreUnavailableError(
                f"lost the index database while writing ({_reason(e)}); the previous index "
                "stays live"
            ) from None
        except psycopg.Error as e:
            raise IndexWriteError(
                f"cannot write the new index to the database ({_reason(e)}); the previous "
                "index stays live"
            ) from None
        finally:
            conn.close()
        log.info("Index %s is live in the database", name)
        # Live from here on; what follows only tidies and must not undo it.
        try:
            self.store.tidy(keep=name)
        except StoreUnavailableError as e:
            log.warning("Index %s is live, but tidying old versions failed: %s", name, e)
        return self.store.root / name


def write_version(conn: psycopg.Connection, name: str, manifest: dict, parts: dict) -> int:
    """Insert one version's rows and point `live` at it (the caller holds a transaction)."""
    vectors: np.ndarray = parts["vectors"]
    dim, n = vectors.shape[1], len(vectors)
    sections, owner = parts["sections"], parts["passage_section"]
    texts, keys, sentences = parts["texts"], parts["keys"], parts["sentences"]
    lex: Lexical = parts["lexical"]
    if not len(texts) == len(keys) == len(sentences) == len(owner) == n == lex.size:
        raise ValueError("index version parts disagree on the number of passages")
    manifest_text = json.dumps(manifest, ensure_ascii=False)
    anchors = np.ascontiguousarray(parts["anchors"], dtype=np.float32).tobytes()
    vid = conn.execute(
        "insert into versions (name, manifest, anchors, dim, size, sections)"
        " values (%s, %s, %s, %s, %s, %s) returning id",
        (name, manifest_text, anchors, dim, n, len(sections)),
    ).fetchone()[0]
    conn.execute(f"create table s{vid} (id int primary key, doc text not null)")
    conn.execute(
        f"create table p{vid} (id int primary key, section int not null, key bytea not null,"
        f" text text not null, embedding vector({dim}) not null, sentences bytea not null)"
    )
    # Postings are read whole per term: stored uncompressed, they are read without inflating.
    conn.execute(
        f'create table t{vid} (term text collate "C" primary key, idf real not null,'
        " passages bytea storage external not null, weights bytea storage external not null)"
    )
    with conn.cursor() as cur:
        with cur.copy(f"copy s{vid} (id, doc) from stdin (format binary)") as copy:
            copy.set_types(["int4", "text"])
            for i, s in enumerate(sections):
                copy.write_row((i, json.dumps(s, ensure_ascii=False)))
        cols = "id, section, key, text, embedding, sentences"
        with cur.copy(f"copy p{vid} ({cols}) from stdin (format binary)") as copy:
            copy.set_types(["int4", "int4", "bytea", "text", "vector", "bytea"])
            for i in range(n):
                copy.write_row(
                    (i, int(owner[i]), keys[i], texts[i], vectors[i], sentences[i].tobytes())
                )
        matrix = lex.matrix
        indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
        terms = f"copy t{vid} (term, idf, passages, weights) from stdin (format binary)"
        with cur.copy(terms) as c:
            c.set_types(["text", "float4", "bytea", "bytea"])
            for r, term in enumerate(lex.terms):
                a, b = int(indptr[r]), int(indptr[r + 1])
                c.write_row(
                    (
                        str(term),
                        float(lex.idf[r]),
                        np.ascontiguousarray(indices[a:b], dtype=np.int32).tobytes(),
                        np.ascontiguousarray(data[a:b], dtype=np.float32).tobytes(),
                    )
                )
    # The graph is built once, in memory when it fits (pgvector warns and slows otherwise).
    conn.execute("set local maintenance_work_mem = '1GB'")
    conn.execute(f"create index on p{vid} using hnsw (embedding vector_ip_ops)")
    conn.execute(
        "insert into live (one, version) values (true, %s)"
        " on conflict (one) do update set version = excluded.version",
        (vid,),
    )
    conn.execute("select pg_notify(%s, %s)", (CHANNEL, name))
    return vid


def drop_version(store: PgStore, vid: int) -> None:
    """Drop a version's tables and row (never the live one: `live` references it)."""
    store.query(f"drop table if exists s{vid}, p{vid}, t{vid}")
    store.query("delete from versions where id = %s", (vid,))


def schema_version(conn: psycopg.Connection, schema: str) -> int:
    """The schema version the database holds (0: none yet)."""
    exists = conn.execute("select to_regclass(%s) is not null", (f"{schema}.meta",)).fetchone()[0]
    return conn.execute("select schema_version from meta").fetchone()[0] if exists else 0


def migrate(conn: psycopg.Connection, schema: str) -> int:
    """Bring the schema up to SCHEMA, one migration at a time, across processes."""
    have = schema_version(conn, schema)
    if have > SCHEMA:
        raise IndexCorruptError(
            f"the index database has schema {have}, newer than this newsbot's ({SCHEMA}); "
            "upgrade newsbot"
        )
    if have == SCHEMA:  # the usual case writes nothing: a read replica can be used as is
        return have
    conn.execute("select pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        conn.execute("create extension if not exists vector")
        conn.execute(f"create schema if not exists {schema}")
        have = schema_version(conn, schema)  # another process may have migrated meanwhile
        for step in range(have + 1, SCHEMA + 1):
            with conn.transaction():
                conn.execute(MIGRATIONS[step])
                conn.execute("update meta set schema_version = %s", (step,))
            log.info("Index database schema migrated to %d", step)
        return max(have, SCHEMA)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def import_version(local, store: PgStore) -> str:
    """Copy a local version (index.format.LocalVersion) into the database and make it live."""
    with store.lock(), store.writer() as writer:
        copy_version(local, writer, flat_max=0)
        where = writer.commit(dict(local.manifest, imported_from=local.name))
    return where.name


def copy_version(version, writer, flat_max: int) -> None:
    """Write everything of a version read from a LocalVersion into a writer (of either store)."""
    n = version.size
    writer.sections(list(version.sections), np.asarray(version.passage_section))
    writer.sentences([np.asarray(version.sentence_vectors(i)) for i in range(n)], version.dense.dim)
    writer.keys(np.asarray(version.keys))
    writer.texts(version.text(i) for i in range(n))
    writer.dense_vectors(np.asarray(version.vectors), flat_max)
    writer.lexical(version.lexical)
    writer.save("anchors.npy", np.asarray(version.anchors))


def _reason(error: BaseException) -> str:
    """psycopg's message on one line, without the connection string (it may hold a password)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return re.sub(r"postgres(ql)?://\S+", "<NEWSBOT_DATABASE_URL>", text)[:300]
