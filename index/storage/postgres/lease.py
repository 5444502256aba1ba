"""One poller among many processes: a session advisory lock held on a connection of its own.

Whoever holds the lock polls the feeds (and reindexes after them); the others ask again at
their next tick. The lock lives as long as its session: when the holder dies or its connection
drops, the server releases it and the next process to ask takes over.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import psycopg

from ...errors import StoreUnavailableError
from .connection import reason

if TYPE_CHECKING:
    from .connection import Database

log = logging.getLogger(__name__)

POLL_LOCK = 0x6E657775  # beside store.BUILD_LOCK and MIGRATE_LOCK


class Lease:
    """The feed poller's lease: acquire() is True while this process holds it."""

    def __init__(self, store: Database, key: int = POLL_LOCK):
        self.store, self.key = store, key
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self, raise_errors: bool = False) -> bool:
        """Hold the lease (taking it when free); False while another process holds it.

        A database that cannot be asked is False too, with a warning (the bot's poller asks
        again at its next tick), or StoreUnavailableError with raise_errors (`newsbot feeds`:
        the database is down, which is not "another process polls").
        """
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("select 1")  # the lock lives exactly as long as this
                    return True
                except psycopg.Error:
                    self._close()
                    log.warning("Lost the feed poller's lease with its connection; retrying")
            try:
                conn = self.store.connect()
            except StoreUnavailableError as e:
                if raise_errors:
                    raise
                log.warning("Cannot ask for the feed poller's lease: %s", e)
                return False
            try:
                got = conn.execute("select pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
            except psycopg.Error as e:
                conn.close()
                if raise_errors:
                    raise StoreUnavailableError(
                        f"cannot ask for the feed poller's lease ({reason(e)})"
                    ) from None
                log.warning("Cannot ask for the feed poller's lease: %s", reason(e))
                return False
            if not got:
                conn.close()
                return False
            self._conn = conn
            log.info("This process now polls the feeds (it holds the poller's lease)")
            return True

    def release(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # ends the session: the server releases the lock
            except psycopg.Error:
                pass
