"""The PostgreSQL backend of index.storage.base: versions as tables, pgvector HNSW, BM25 postings.

A version is a row of `versions` plus three tables named by its id: `s<id>` (sections),
`p<id>` (passages: section, cache key, text, vector, sentence vectors) and `t<id>` (BM25
postings: one row per n-gram with its passages and weights, as Lexical.rows yields them). A
build writes them and flips the one-row `live` table in one transaction, so a killed build
leaves nothing and readers see the old version or the new one. Readers never load the corpus:
each read is a query, so a bot process's memory does not grow with the index.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from ...errors import (
    DATABASE_URL,
    UPGRADE,
    BuildInProgressError,
    IndexCorruptError,
    IndexNotBuiltError,
    IndexWriteError,
    StoreUnavailableError,
)
from ...options import StoreOptions
from ...redact import mask
from ...retrieval.lexical import Lexical
from ..base import Version, Writer
from ..manifest import FORMAT
from .articles import MIGRATION as ARTICLES_MIGRATION
from .articles import PgArticles, PgFeedState
from .listen import Listener
from .version import PgDense, PgVersion

log = logging.getLogger(__name__)

SCHEMA = 2  # the version of the tables below; `meta` records the one a database holds
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
    2: ARTICLES_MIGRATION,  # the shared articles and feed state (articles.py)
}


class PgStore:
    """Index versions in PostgreSQL (see the module docstring; read via .version)."""

    shared = True  # other processes switch versions: readers check the live one per question

    def __init__(self, options: StoreOptions):
        if not options.url:
            raise StoreUnavailableError(
                "the index database has no connection string", hint=DATABASE_URL
            )
        if not SCHEMA_RE.fullmatch(options.schema):
            raise StoreUnavailableError(
                f"the database schema name {options.schema!r} is not a plain name"
                " (lowercase letters, digits and _)",
                setting="store.schema",
            )
        self.options = options
        self.root = PurePosixPath("postgres", options.schema)  # for reports and `info`
        self._local = threading.local()  # one connection per thread: psycopg's are not shared
        self._ready = False
        # A connection lost on one thread means the others are likely gone too (a restart, the
        # network): each thread reopens its own when it next sees a newer generation.
        self._generation = 0
        # The coverage itself, shared by every process (articles.py).
        self.articles = PgArticles(self)
        self.feed_state = PgFeedState(self)

    # --- connections -------------------------------------------------------------------------

    def connect(self) -> psycopg.Connection:
        """A new connection with the vector type and this store's schema; the caller closes it."""
        try:
            conn = psycopg.connect(self.options.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as e:
            # The hint: check the connection string, and that the database is running.
            raise StoreUnavailableError(
                f"cannot connect to the index database ({_reason(e)})", hint=DATABASE_URL
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
        if conn is not None and self._local.generation != self._generation:
            self.close_thread()
            conn = None
        if conn is None or conn.closed:
            generation = self._generation
            conn = self._local.conn = self.connect()
            self._local.generation = generation
        return conn

    def query(self, sql: str, params: Sequence | dict = (), binary: bool = True) -> list[tuple]:
        """Rows of one statement on this thread's connection; a lost one is reopened next time."""
        try:
            with self._conn().cursor(binary=binary) as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            self._generation += 1
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

    # --- storage.base.Store ------------------------------------------------------------------

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
        """The live version (formats: a database holds one layout; see base.Store.current)."""
        rows = self.query(
            "select v.id, v.name, v.manifest, v.anchors, v.dim, v.size, v.sections"
            " from live join versions v on v.id = live.version"
        )
        if not rows:
            raise IndexNotBuiltError("the index database holds no index yet")
        version = PgVersion(self, rows[0], self.options.postings_cache_mb)
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

    def listen(self, on_change) -> Listener:
        """Follow NOTIFYs of new versions and migrations in a daemon thread (listen.py)."""
        return Listener(self, CHANNEL, on_change).start()

    def newer_schema(self) -> str | None:
        """Why this process must stop answering, when the database was migrated past it."""
        have = int(self.query("select schema_version from meta")[0][0])
        if have <= SCHEMA:
            return None
        return (
            f"the index database was migrated to schema {have}, newer than this newsbot's "
            f"({SCHEMA}); upgrade newsbot and restart it"
        )

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


class PgWriter:
    """A new version gathered in memory, written and made live by commit() in one transaction.

    A storage.base.Writer: nothing reaches the database before commit, so a build that fails or
    is killed leaves no trace there.
    """

    def __init__(self, store: PgStore):
        self.store = store
        self.parts: dict[str, object] = {}

    def __enter__(self) -> PgWriter:
        return self

    def __exit__(self, kind, error, tb) -> None:
        self.parts.clear()

    def anchors(self, vectors: np.ndarray) -> None:
        self.parts["anchors"] = np.asarray(vectors, dtype=np.float32)

    def texts(self, texts: Iterable[str]) -> None:
        self.parts["texts"] = list(texts)

    def sections(self, sections: Iterable[dict], passage_section: np.ndarray) -> None:
        self.parts["sections"] = list(sections)
        self.parts["passage_section"] = np.asarray(passage_section, dtype=np.int32)

    def sentences(self, vectors: Sequence[np.ndarray], dim: int) -> None:
        # dim is not needed: a version with no passages has no sentence rows to type.
        self.parts["sentences"] = [np.asarray(v, dtype=np.float16) for v in vectors]

    def keys(self, keys: Sequence[bytes] | np.ndarray) -> None:
        self.parts["keys"] = (
            [bytes(k) for k in keys]
            if not isinstance(keys, np.ndarray)
            else [k.tobytes() for k in keys]
        )

    def dense_vectors(self, vectors: np.ndarray, flat_max: int) -> None:
        """The passage vectors; the database indexes them with HNSW at every size.

        flat_max is ignored: pgvector's exact search is a scan of every row per question, and
        the HNSW index costs little at a small size (see base.Writer.dense_vectors).
        """
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
        manifest = dict(manifest, dense_index=PgDense.kind)
        conn = self.store.connect()
        try:
            with conn.transaction():
                write_version(conn, name, manifest, self.parts)
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise StoreUnavailableError(
                f"lost the index database while writing ({_reason(e)}); the previous index "
                "stays live",
                hint=DATABASE_URL,
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
    _copy_rows(conn, vid, parts)
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


def _copy_rows(conn: psycopg.Connection, vid: int, parts: dict) -> None:
    """COPY a version's sections, passages and postings into its new tables."""
    vectors, owner, keys = parts["vectors"], parts["passage_section"], parts["keys"]
    texts, sentences, lex = parts["texts"], parts["sentences"], parts["lexical"]
    with conn.cursor() as cur:
        with cur.copy(f"copy s{vid} (id, doc) from stdin (format binary)") as copy:
            copy.set_types(["int4", "text"])
            for i, s in enumerate(parts["sections"]):
                copy.write_row((i, json.dumps(s, ensure_ascii=False)))
        cols = "id, section, key, text, embedding, sentences"
        with cur.copy(f"copy p{vid} ({cols}) from stdin (format binary)") as copy:
            copy.set_types(["int4", "int4", "bytea", "text", "vector", "bytea"])
            for i in range(len(vectors)):
                copy.write_row(
                    (i, int(owner[i]), keys[i], texts[i], vectors[i], sentences[i].tobytes())
                )
        terms = f"copy t{vid} (term, idf, passages, weights) from stdin (format binary)"
        with cur.copy(terms) as copy:
            copy.set_types(["text", "float4", "bytea", "bytea"])
            for term, idf, ids, weights in lex.rows():
                copy.write_row((term, idf, ids.tobytes(), weights.tobytes()))


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
            f"the index database has schema {have}, newer than this newsbot's ({SCHEMA})",
            hint=UPGRADE,
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
        # Running processes of another newsbot hear of it (listen.py) and stop if it is newer.
        conn.execute("select pg_notify(%s, %s)", (CHANNEL, f"schema:{SCHEMA}"))
        return max(have, SCHEMA)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def import_version(local: Version, store: PgStore) -> str:
    """Copy a version (a local one: `newsbot db import`) into the database and make it live."""
    with store.lock(), store.writer() as writer:
        copy_version(local, writer, flat_max=0)
        where = writer.commit(dict(local.manifest, imported_from=local.name))
    return where.name


def copy_version(version: Version, writer: Writer, flat_max: int) -> None:
    """Write everything of a version into a writer (of either store)."""
    n = version.size
    writer.sections(list(version.sections), np.asarray(version.passage_section))
    writer.sentences([np.asarray(version.sentence_vectors(i)) for i in range(n)], version.dense.dim)
    writer.keys(np.asarray(version.keys))
    writer.texts(version.text(i) for i in range(n))
    writer.dense_vectors(np.asarray(version.vectors), flat_max)
    writer.lexical(version.lexical)
    writer.anchors(np.asarray(version.anchors))


def _reason(error: BaseException) -> str:
    """psycopg's message on one line, without the connection string (it may hold a password)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return mask(text)[:300]
