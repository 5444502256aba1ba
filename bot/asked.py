"""Which question each of the bot's answers answered, by message id, kept across restarts.

A reply to an answer the bot no longer holds in memory (after a restart, or beyond
threads.ANSWERS) is rebuilt by asking that answer's question again, in the frame of the one it
continued: both are looked up here by the answer's message id, never read back from its
rendered text (which is clipped, escaped and worded per language).

People's data: message ids are stored only as a keyed hash (the key beside the file, both
0600), and the rows are bounded (the oldest go first).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import sqlite3
import threading
from pathlib import Path

from index.usage import key_file

log = logging.getLogger(__name__)

FILE, KEY = "asked.db", "asked.key"
ROWS = 100_000  # answers whose question is kept; a reply to an older one starts afresh


class AskedLog:
    """message id -> (question, the question it continued); one SQLite file in the data folder."""

    def __init__(self, folder: Path, rows: int = ROWS):
        self.folder, self.rows = Path(folder), rows
        self._lock = threading.Lock()  # one connection, used by the writer and by get()
        self._db: sqlite3.Connection | None = None
        self._key = b""
        # put() runs on the event loop: a commit waits for the disk, so a thread writes, and
        # what it has not written yet is answered from memory.
        self._pending: dict[int, tuple[str, str | None]] = {}
        self._pending_lock = threading.Lock()  # held only for a dict step, never for the disk
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def put(self, message_id: int, question: str, continued: str | None) -> None:
        """Record what an answer answered (written by a thread; a failure costs this record)."""
        with self._pending_lock:
            self._pending[message_id] = (question, continued or None)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="newsbot-asked")
                self._writer.daemon = True
                self._writer.start()
        self._queue.put(message_id)

    def _write(self) -> None:
        while (message_id := self._queue.get()) is not None:
            with self._pending_lock:
                row = self._pending.get(message_id)
            if row is None:  # put twice: the first write took both
                continue
            try:
                with self._lock:
                    db = self._open()
                    with db:
                        db.execute(
                            "insert or replace into asked (id, question, continued)"
                            " values (?, ?, ?)",
                            (self._hash(message_id), *row),
                        )
                        db.execute(
                            "delete from asked where seq <= (select max(seq) from asked) - ?",
                            (self.rows,),
                        )
            except (sqlite3.Error, OSError) as e:
                log.warning("Cannot keep what answer %s answered: %s", "(hashed)", e)
            with self._pending_lock:
                if self._pending.get(message_id) == row:
                    del self._pending[message_id]

    def get(self, message_id: int) -> tuple[str, str | None] | None:
        """(question, the question it continued or None), or None when not recorded."""
        with self._pending_lock:
            if message_id in self._pending:
                return self._pending[message_id]
        try:
            with self._lock:
                row = (
                    self._open()
                    .execute(
                        "select question, continued from asked where id = ?",
                        (self._hash(message_id),),
                    )
                    .fetchone()
                )
        except (sqlite3.Error, OSError) as e:
            log.warning("Cannot read what an answer answered: %s", e)
            return None
        return (row[0], row[1]) if row else None

    def close(self) -> None:
        """Write what is pending, then close the file."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._key = _key(self.folder / KEY)
            path = self.folder / FILE
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # 0600 before any row
            db = sqlite3.connect(path, check_same_thread=False)
            db.execute(
                "create table if not exists asked (seq integer primary key autoincrement,"
                " id text unique not null, question text not null, continued text)"
            )
            self._db = db
        return self._db

    def _hash(self, message_id: int) -> str:
        return hmac.new(self._key, str(message_id).encode(), hashlib.sha256).hexdigest()[:32]


def _key(path: Path) -> bytes:
    """The hashing key, made once (0600); another process making it first wins."""
    return bytes.fromhex(key_file(path).strip())
