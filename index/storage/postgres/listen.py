"""Reindexes reach every process: LISTEN on the channel a build NOTIFYs, in a daemon thread.

The build sends `pg_notify('newsbot_live', <version name>)` when a version goes live, and a
migration sends `schema:<n>`. A process that listens swaps to the new version at once (its caches
are per version, so they go with it) instead of at its next question. While the connection is
lost, `connected` is clear and the Searcher checks the live version per question, as before;
after reconnecting, the listener checks once, for what it may have missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg

from ...errors import StoreUnavailableError
from ...redact import one_line

if TYPE_CHECKING:
    from .connection import Database

log = logging.getLogger(__name__)

RETRY_SECONDS = (1, 2, 5, 10, 30)  # waits between reconnects, the last one repeated


class Listener:
    """Calls on_change(payload) for each notice; payload None after every (re)connect."""

    def __init__(self, store: Database, channel: str, on_change: Callable[[str | None], None]):
        self.store, self.channel, self.on_change = store, channel, on_change
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="newsbot-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as e:  # psycopg's, the store's, a bug: reconnect and catch up
                was = self.connected.is_set()
                self.connected.clear()
                if was or failures == 0:  # one line per outage, not one per retry
                    log.warning(
                        "Lost the LISTEN connection (%s: %s); each question checks the live "
                        "index until it is back",
                        type(e).__name__,
                        one_line(e),  # psycopg's messages span lines; a log line does not
                    )
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                self._stop.wait(wait)
            finally:
                self._close()

    def _listen(self) -> None:
        self._conn = conn = self.store.connect()
        conn.execute(f"listen {self.channel}")
        self._catch_up()
        self.connected.set()  # from here on, questions leave the live version to this thread
        while not self._stop.is_set():
            for note in conn.notifies(timeout=1.0):
                # A failure here (its query connection lost) reconnects and catches up: while
                # connected is set, no question checks for itself.
                self.on_change(note.payload)
            conn.execute("select 1")  # a dead server is noticed within a second or so

    def _catch_up(self) -> None:
        """What changed while no one listened; once more when the first try met a dead
        connection (the store then reopens its connections)."""
        try:
            self.on_change(None)
        except StoreUnavailableError:
            self.on_change(None)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.connected.clear()
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass
