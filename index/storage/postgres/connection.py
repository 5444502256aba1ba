"""Connections to the index database: one per thread, reopened after a loss, errors worded once.

The articles, the lease, LISTEN, the writer and the versions all read and write through a
`Database` (the store is one); none of them imports the store, so the store can import them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import PurePosixPath

import psycopg
from pgvector.psycopg import register_vector

from ...errors import DATABASE_URL, StoreUnavailableError
from ...options import StoreOptions
from ...redact import one_line
from .migrations import migrate

SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Database:
    """The connection string's database, one connection per thread (psycopg's are not shared)."""

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
        self._local = threading.local()
        self._ready = False
        # A connection lost on one thread means the others are likely gone too (a restart, the
        # network): each thread reopens its own when it next sees a newer generation.
        self._generation = 0

    def connect(self) -> psycopg.Connection:
        """A new connection with the vector type and this store's schema; the caller closes it."""
        try:
            conn = psycopg.connect(self.options.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as e:
            # The hint: check the connection string, and that the database is running.
            raise StoreUnavailableError(
                f"cannot connect to the index database ({reason(e)})", hint=DATABASE_URL
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
            raise StoreUnavailableError(f"cannot use the index database ({reason(e)})") from None
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
            raise StoreUnavailableError(f"lost the index database ({reason(e)})") from None
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


def reason(error: BaseException) -> str:
    """psycopg's message on one line, without the connection string (it may hold a password)."""
    return one_line(error)[:300]
