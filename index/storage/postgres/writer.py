"""A new index version written to PostgreSQL: gathered in memory, made live in one transaction.

A version is a row of `versions` plus three tables named by its id: `s<id>` (sections),
`p<id>` (passages: section, cache key, text, vector, sentence vectors) and `t<id>` (BM25
postings: one row per n-gram with its passages and weights, as Lexical.rows yields them). A
build writes them and flips the one-row `live` table in one transaction, so a killed build
leaves nothing and readers see the old version or the new one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import psycopg

from ...errors import DATABASE_URL, IndexWriteError, StoreUnavailableError
from ...retrieval.lexical import Lexical
from .connection import reason
from .migrations import CHANNEL
from .version import PgDense

if TYPE_CHECKING:
    from .connection import Database

log = logging.getLogger(__name__)


class PgWriter:
    """A new version gathered in memory, written and made live by commit() in one transaction.

    A storage.base.Writer: nothing reaches the database before commit, so a build that fails or
    is killed leaves no trace there.
    """

    def __init__(self, store: Database):
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
                f"lost the index database while writing ({reason(e)}); the previous index "
                "stays live",
                hint=DATABASE_URL,
            ) from None
        except psycopg.Error as e:
            raise IndexWriteError(
                f"cannot write the new index to the database ({reason(e)}); the previous "
                "index stays live"
            ) from None
        finally:
            conn.close()
        log.info("Index %s is live in the database", name)
        # Live from here on; what follows only tidies and must not undo it.
        try:
            tidy(self.store, keep=name)
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


def drop_version(store: Database, vid: int) -> None:
    """Drop a version's tables and row (never the live one: `live` references it)."""
    store.query(f"drop table if exists s{vid}, p{vid}, t{vid}")
    store.query("delete from versions where id = %s", (vid,))


def tidy(store: Database, keep: str) -> None:
    """Drop versions other than `keep` and the newest one before it.

    The one before stays: another process may be in the middle of a question on it (it
    switches at its next question). Two builds later it goes.
    """
    rows = store.query("select id, name from versions order by id desc")
    live = store.query("select v.name from live join versions v on v.id = live.version")
    spare = [vid for vid, name in rows if name not in (keep, live[0][0] if live else None)]
    for vid in spare[1:]:
        drop_version(store, vid)
