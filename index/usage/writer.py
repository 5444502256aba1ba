"""One writer thread per process: asking hands its row to a queue and never waits on disk."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path

from .erase import forget_aside
from .store import (
    BUSY_SECONDS,
    QuestionRecord,
    UsageStore,
    VoteRecord,
    damaged,
    keyed_hash,
    load_key,
)

log = logging.getLogger(__name__)

BATCH = 500  # rows per transaction at most
# Records kept in memory while the database refuses them; beyond this, new ones are dropped.
MAX_QUEUED = 100_000
RETENTION_EVERY = 3600.0  # seconds between retention passes of a running writer
# Seconds the writer lets records gather after the first one wakes it: a burst of questions
# costs one wake-up and one transaction, not one each, and the thread takes the GIL less often
# while the event loop is busiest (benchmarks/discord_load.py).
LINGER = 0.25
_STOP = object()


class UsageWriter:
    """Queues question and vote records from any thread and writes them in batches.

    A locked, full, unwritable or unopenable database keeps the records queued (up to
    MAX_QUEUED) and retries, leaving the file as it is; only a file that fails the integrity
    check is moved aside and a fresh one started. Nothing a caller does waits for the disk.
    """

    def __init__(
        self,
        data_dir: Path | str,
        retention_days: int,
        *,
        busy_seconds: float = BUSY_SECONDS,
        retry_seconds: float = 1.0,
        linger: float = LINGER,
    ):
        self.data_dir = Path(data_dir)
        self.retention_days = retention_days
        self.busy_seconds = busy_seconds
        self.retry_seconds = retry_seconds
        self.linger = linger
        self.key = load_key(self.data_dir)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._queued = self._written = 0
        self._stopped = False
        self._dropping = False
        self._failing = False  # in a fault episode: warned once, quiet until it ends
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self._thread.start()

    def hash(self, kind: str, value: int | str | None) -> str | None:
        return keyed_hash(self.key, kind, value)

    def put(self, record) -> None:
        """Hand a record (or a callable making one, run in the writer thread) to the writer
        thread; returns at once."""
        if self._queue.qsize() >= MAX_QUEUED:
            if not self._dropping:  # once per outage, not once per question
                log.error("Use data is not being written; dropping new records until it is")
            self._dropping = True
            return
        self._dropping = False
        with self._cond:
            self._queued += 1
        self._queue.put(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything put so far is written; False on timeout or a stopped writer."""
        with self._cond:
            target = self._queued
            return self._cond.wait_for(
                lambda: self._written >= target or self._stopped, timeout
            ) and (self._written >= target)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most `timeout`), then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        with self._cond:
            left = self._queued - self._written  # the batch in hand included
        if self._thread.is_alive() or left:
            log.warning("Usage writer stopped with about %d records unwritten", left)

    def _run(self) -> None:
        store, pending, stopping = None, [], False
        last_retention, delay = -RETENTION_EVERY, self.retry_seconds
        while True:
            # The store opens at once (import, retention, damage check), not at the first row.
            if store is not None and not pending and not stopping:
                item = self._get(RETENTION_EVERY)
                stopping = item is _STOP
                if item is not None and not stopping:
                    pending.append(item)
                    time.sleep(self.linger)
            stopping = self._drain(pending) or stopping
            pending = self._made(pending)
            try:
                if store is None:
                    store = self._open()
                if time.monotonic() - last_retention >= RETENTION_EVERY:
                    self._retain(store)
                    last_retention = time.monotonic()
                if pending:
                    self._write(store, pending)
                    pending = []
                self._recovered()
            except (sqlite3.IntegrityError, sqlite3.ProgrammingError) as e:
                # A bad record would block every later one: it is dropped, loudly.
                log.error("Dropped %d use-data records that cannot be stored: %s", len(pending), e)
                self._done(len(pending))
                pending = []
                continue
            except Exception as e:
                # A locked, full or damaged database: the records stay queued and are retried
                # (close() waits for them only so long; the thread is a daemon).
                store = self._failed(store, e, len(pending))
                time.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = self.retry_seconds
            if stopping and self._queue.empty():
                break
        if store is not None:
            store.close()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _drain(self, pending: list) -> bool:
        """Take what else is queued, up to a batch; True when the stop mark was among it."""
        while len(pending) < BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            pending.append(item)
        return False

    def _made(self, pending: list) -> list:
        """Records handed over as callables made now, in this thread; a failing one is dropped."""
        made = []
        for item in pending:
            if not callable(item):
                made.append(item)
                continue
            try:
                made.append(item())
            except Exception:
                log.exception("Dropped a use-data record that could not be made")
                self._done(1)
        return made

    def _get(self, timeout: float):
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None  # time for a retention pass

    def _open(self) -> UsageStore:
        store = UsageStore(self.data_dir, busy_seconds=self.busy_seconds)
        store.import_feedback()
        return store

    def _retain(self, store: UsageStore) -> None:
        """Retention in usage.db and in the files moved aside."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.retention_days)
        store.forget_before(cutoff)
        forget_aside(self.data_dir, before=cutoff)

    def _write(self, store: UsageStore, pending: list) -> None:
        questions = [r for r in pending if isinstance(r, QuestionRecord)]
        votes = [r for r in pending if isinstance(r, VoteRecord)]
        store.write(questions, votes)
        self._done(len(pending))

    def _done(self, n: int) -> None:
        with self._cond:
            self._written += n
            self._cond.notify_all()

    def _failed(self, store: UsageStore | None, error: Exception, waiting: int):
        """One warning per fault episode; the connection is dropped and opened again next time.

        Only damage is checked further: the next open runs the integrity check, which moves the
        file aside if it fails. A full disk, an I/O error or a lock leave the file untouched.
        """
        if not self._failing:
            log.warning(
                "Cannot write use data (%s: %s); %d records wait and are retried",
                type(error).__name__,
                error,
                waiting,
            )
        self._failing = True
        if store is not None:
            if damaged(error):
                store.recheck()
            try:
                store.close()
            except Exception as e:  # a connection in a failed state: nothing left to keep
                log.debug("Closing the use-data connection failed: %s", e)
        return None

    def _recovered(self) -> None:
        if self._failing:
            log.warning("Use data is written again")
        self._failing = False
