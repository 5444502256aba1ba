"""Use data in one SQLite file: questions, their cited articles and votes, no raw user IDs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import UsageStoreError
from .files import DB_NAME, key_file, move_aside, private_dir, private_file
from .records import QuestionRecord, VoteRecord

log = logging.getLogger(__name__)

KEY_NAME = "usage.key"
FEEDBACK_NAME = "feedback.jsonl"
PLACES = ("dm", "channel", "thread", "cli", "imported")
REASONS = ("other_news", "off_topic", "no_subject")  # as Answer.reason names them
# Seconds a write waits for another process's lock before it is retried later.
BUSY_SECONDS = 5.0
# Each entry moves the schema from its index to the next version (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        answer_id TEXT NOT NULL UNIQUE,
        asked_at TEXT NOT NULL,
        text TEXT NOT NULL,
        place TEXT NOT NULL,
        answered INTEGER NOT NULL,
        reason TEXT,
        follow_up INTEGER NOT NULL DEFAULT 0,
        latency_ms REAL,
        user_hash TEXT,
        guild_hash TEXT,
        answer TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX questions_asked_at ON questions (asked_at);
    CREATE TABLE citations (
        question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
        article TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX citations_question ON citations (question_id);
    CREATE TABLE votes (
        answer_id TEXT NOT NULL REFERENCES questions (answer_id) ON DELETE CASCADE,
        user_hash TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        voted_at TEXT NOT NULL,
        PRIMARY KEY (answer_id, user_hash)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # Where a question was asked: the place (channel or thread) as a keyed hash, and whether it
    # was a DM. Older rows keep is_dm NULL: their place is unknown, so no server's report shows
    # them (only the operator's and an owner's in a DM).
    """
    ALTER TABLE questions ADD COLUMN place_hash TEXT;
    ALTER TABLE questions ADD COLUMN is_dm INTEGER;
    CREATE INDEX questions_guild ON questions (guild_hash, asked_at);
    CREATE INDEX questions_user ON questions (user_hash);
    CREATE INDEX votes_user ON votes (user_hash);
    """,
)
# SQLite's primary result codes that mean the file itself is damaged (not full, locked or I/O).
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
# Files whose integrity was checked by this process: once per process, not on every open.
_CHECKED: set[Path] = set()
_CHECKED_LOCK = threading.Lock()
SCHEMA_VERSION = len(MIGRATIONS)


def utc(when: dt.datetime) -> str:
    """Times are stored as UTC ISO text, which sorts as it should."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def load_key(data_dir: Path) -> bytes:
    """The hashing key, created once (only this folder's owner may read it)."""
    path = Path(data_dir) / KEY_NAME
    try:
        return bytes.fromhex(key_file(path).strip())
    except ValueError:
        raise UsageStoreError(f"usage key {path} is damaged; delete it (counts restart)") from None


class Damaged(sqlite3.DatabaseError):
    """The integrity check failed: the only fault that moves a file aside."""


def damaged(error: BaseException) -> bool:
    """A failed integrity check, or SQLite's own "malformed" / "not a database"; never a full
    disk, an I/O error, a read-only folder or a lock, which pass and leave the file sound."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return isinstance(error, Damaged) or code in (SQLITE_CORRUPT, SQLITE_NOTADB)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE .. COMMIT; ROLLBACK only if SQLite has not already rolled back itself."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the first error is the one to report
                conn.execute("ROLLBACK")
        raise


class UsageStore:
    """One connection to data/usage.db; use from one thread at a time."""

    def __init__(self, data_dir: Path | str, *, busy_seconds: float = BUSY_SECONDS):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.busy_seconds = busy_seconds
        self.key = load_key(self.data_dir)
        self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        """Open and migrate; only a file that fails the integrity check is moved aside."""
        try:
            return self.connect()
        except sqlite3.DatabaseError as e:
            if not damaged(e):  # full, I/O, read-only, locked: the file stays as it is
                raise UsageStoreError(f"usage database {self.path} cannot be used now: {e}") from e
            aside = move_aside(self.path)
            log.warning("Usage database %s is damaged (%s); moved to %s", self.path, e, aside.name)
            return self.connect()

    def connect(self) -> sqlite3.Connection:
        """A new connection: private files, pragmas, the schema checked and migrated."""
        private_dir(self.data_dir)
        private_file(self.path)
        conn = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL: a commit survives a killed process; a power cut may lose the last.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Deleted questions are overwritten, not left readable in free pages.
            conn.execute("PRAGMA secure_delete=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise UsageStoreError(
                    f"usage database {self.path} has schema {version}, newer than this newsbot's "
                    f"{SCHEMA_VERSION}"
                )
            self._check(conn)
            self._migrate(conn, version)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        """quick_check once per file per process (it reads the whole file)."""
        path = self.path.resolve()
        with _CHECKED_LOCK:
            if path in _CHECKED:
                return
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise Damaged(f"quick_check: {check}")
        with _CHECKED_LOCK:
            _CHECKED.add(path)

    def recheck(self) -> None:
        """Have the next open check the file again (after an error that may be damage)."""
        with _CHECKED_LOCK:
            _CHECKED.discard(self.path.resolve())

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        with transaction(conn):
            # Another process may have migrated while this one waited for the lock.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for n in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[n].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                log.info("Usage database %s migrated to schema %d", self.path, n + 1)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def write(
        self, questions: Iterable[QuestionRecord] = (), votes: Iterable[VoteRecord] = ()
    ) -> None:
        """Questions and votes in one transaction: all of them land or none."""
        with transaction(self.conn):
            for q in questions:
                self._insert_question(q)
            for v in votes:
                # One vote per user per answer: a changed vote replaces the old one.
                # A vote on an answer that was never recorded (or is forgotten) is dropped.
                self.conn.execute(
                    "INSERT INTO votes (answer_id, user_hash, vote, voted_at) "
                    "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM questions WHERE answer_id = ?) "
                    "ON CONFLICT (answer_id, user_hash) DO UPDATE SET vote = excluded.vote, "
                    "voted_at = excluded.voted_at",
                    (v.answer_id, v.user_hash, v.vote, utc(v.voted_at), v.answer_id),
                )

    def _insert_question(self, q: QuestionRecord) -> None:
        is_dm = None if q.is_dm is None else int(q.is_dm)
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO questions (answer_id, asked_at, text, place, answered, reason, "
            "follow_up, latency_ms, user_hash, guild_hash, answer, place_hash, is_dm) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                q.answer_id,
                utc(q.asked_at),
                q.text,
                q.place,
                int(q.answered),
                q.reason,
                int(q.follow_up),
                q.latency_ms,
                q.user_hash,
                q.guild_hash,
                q.answer,
                q.place_hash,
                is_dm,
            ),
        )
        if cur.rowcount:  # a retried batch must not cite twice
            self.conn.executemany(
                "INSERT INTO citations (question_id, article, title) VALUES (?, ?, ?)",
                [(cur.lastrowid, a, t) for a, t in q.cited],
            )

    def forget_before(self, when: dt.datetime) -> int:
        """Delete questions asked before `when`, their citations and votes; returns how many."""
        with transaction(self.conn):
            n = self.conn.execute("DELETE FROM questions WHERE asked_at < ?", (utc(when),)).rowcount
        if n:
            log.info("Forgot %d questions asked before %s", n, utc(when))
        return n

    def forget_user(self, user_hash: str) -> tuple[int, int]:
        """Delete one person's questions (with their citations and votes) and votes; (q, v)."""
        with transaction(self.conn):
            votes = self.conn.execute("DELETE FROM votes WHERE user_hash = ?", (user_hash,))
            asked = self.conn.execute("DELETE FROM questions WHERE user_hash = ?", (user_hash,))
        return asked.rowcount, votes.rowcount

    def apply_retention(self, days: int, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.UTC)
        return self.forget_before(now - dt.timedelta(days=days))

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def import_feedback(self, path: Path | None = None) -> int:
        """Copy the old feedback.jsonl's votes in, once; the file itself is left as it was."""
        path = path or self.data_dir / FEEDBACK_NAME
        if self.meta("feedback_imported") is not None or not path.is_file():
            return 0
        from .feedback import feedback_rows

        questions, votes, bad = feedback_rows(path, self.key)
        conn = self.conn
        with transaction(conn):
            # Checked again under the write lock: two processes starting at once import once.
            if conn.execute("SELECT 1 FROM meta WHERE key = 'feedback_imported'").fetchone():
                return 0
            for q in questions:
                self._insert_question(q)
            for v in votes:
                conn.execute(
                    "INSERT OR REPLACE INTO votes (answer_id, user_hash, vote, voted_at) "
                    "VALUES (?, ?, ?, ?)",
                    (v.answer_id, v.user_hash, v.vote, utc(v.voted_at)),
                )
            done = json.dumps({"file": str(path), "votes": len(votes), "bad_lines": bad})
            conn.execute("INSERT INTO meta (key, value) VALUES ('feedback_imported', ?)", (done,))
        if bad:
            log.warning("Skipped %d unreadable lines of %s (the file is kept)", bad, path)
        log.info("Imported %d votes on %d answers from %s", len(votes), len(questions), path)
        return len(votes)


def question_record(
    answer,
    *,
    answer_id: str,
    place: str,
    asked_at: dt.datetime,
    latency_ms: float | None = None,
    user_hash: str | None = None,
    guild_hash: str | None = None,
    follow_up: bool = False,
    reason: str | None = None,
    place_hash: str | None = None,
    is_dm: bool | None = None,
    keep_text: bool = True,
) -> QuestionRecord:
    """The row for an `Answer`: answered or why not, and the articles its sentences cite.

    Why not is the core's `Answer.reason` (other_news, off_topic, no_subject) unless the caller
    gives one; without either, a refusal naming terms the coverage lacks (Answer.missing) is
    "other_news" and any other "off_topic". Without `keep_text` ([usage] keep_text = false) the
    row keeps the counts but neither the question's nor the answer's words.
    """
    answered = not answer.no_answer and bool(answer.hits)
    if answered:
        reason = None
    elif reason is None:
        reason = answer.reason or ("other_news" if answer.missing else "off_topic")
    follow_up = follow_up or answer.follow_up
    cited: dict[str, str] = {}
    for n in answer.citations:
        if 1 <= n <= len(answer.hits):
            hit = answer.hits[n - 1]
            cited.setdefault(hit.article, hit.title)
    return QuestionRecord(
        answer_id=answer_id,
        asked_at=asked_at,
        text=answer.question if keep_text else "",
        place=place,
        answered=answered,
        reason=reason,
        follow_up=follow_up,
        latency_ms=latency_ms,
        user_hash=user_hash,
        guild_hash=guild_hash,
        answer=answer.text if answered and keep_text else "",
        cited=tuple(cited.items()),
        place_hash=place_hash,
        is_dm=is_dm,
    )
