"""The PostgreSQL backend of index.storage.base: versions as tables, pgvector HNSW, BM25 postings.

The pieces, one job each: connection.py (a connection per thread), migrations.py (the schema),
writer.py (a new version in one transaction), version.py (reading one), articles.py (the shared
coverage), lease.py (one feed poller), listen.py (NOTIFY of new versions), importer.py (`newsbot
db import`). Readers never load the corpus: each read is a query, so a bot process's memory does
not grow with the index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from ...errors import (
    BuildInProgressError,
    IndexCorruptError,
    IndexNotBuiltError,
    StoreUnavailableError,
)
from ...options import StoreOptions
from ..manifest import FORMAT
from .articles import PgArticles, PgFeedState
from .connection import Database, reason
from .lease import Lease
from .listen import Listener
from .migrations import BUILD_LOCK, CHANNEL, SCHEMA
from .version import PgVersion
from .writer import PgWriter, tidy

log = logging.getLogger(__name__)


class PgStore(Database):
    """Index versions in PostgreSQL (see the module docstring; read via .current())."""

    shared = True  # other processes switch versions: readers check the live one per question

    def __init__(self, options: StoreOptions):
        super().__init__(options)
        # The coverage itself, shared by every process (articles.py).
        self.articles = PgArticles(self)
        self.feed_state = PgFeedState(self)

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
            raise StoreUnavailableError(f"lost the index database ({reason(e)})") from None
        finally:
            conn.close()  # releases the lock with the session

    def lease(self) -> Lease:
        """The feed poller's lease: one process of all polls (lease.py)."""
        return Lease(self)

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
        """Drop superseded versions (writer.tidy: the live one and the one before stay)."""
        tidy(self, keep)
