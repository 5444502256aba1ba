"""Use data under faults and its promises to people: file modes, faults that keep the file and
the rows, retention everywhere (the CLI, disabled, moved-aside files), forgetting one person,
the scope of a report, the schema migration."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import Settings, UsageSettings
from bot.usage import UsageLog
from index import IndexOptions
from index.usage import QuestionRecord, UsageStore, UsageWriter, VoteRecord, keyed_hash
from index.usage import writer as writer_module
from index.usage.files import moved_at
from index.usage.report import Scope, build_report, rows_for_csv
from index.usage.store import MIGRATIONS, transaction

NOW = dt.datetime.now(dt.UTC)
ROOT = Path(__file__).resolve().parent.parent
PATIENCE = 60.0  # a safety net only: the waits end as soon as their condition holds


def record(n: int, when: dt.datetime = NOW, **kw) -> QuestionRecord:
    return QuestionRecord(f"id-{n}", when, f"質問{n}", "channel", False, **kw)


def count(data: Path, sql: str = "SELECT count(*) FROM questions", path: Path | None = None):
    conn = sqlite3.connect(path or data / "usage.db")
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def config(tmp_path: Path, usage: str = "") -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(f'[index]\ndata_dir = "data"\n[usage]\n{usage}\n', encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ files
def test_the_database_its_wal_and_a_folder_newsbot_makes_are_private(tmp_path):
    data = tmp_path / "new"
    store = UsageStore(data)
    store.write([record(1)])
    assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    parts = [data / "usage.db", data / "usage.db-wal", data / "usage.db-shm", data / "usage.key"]
    assert all(p.exists() for p in parts)
    assert [mode(p) for p in parts] == [0o600] * 4
    assert mode(data) == 0o700
    store.close()


def test_files_an_older_newsbot_left_readable_are_narrowed(tmp_path):
    UsageStore(tmp_path).close()
    (tmp_path / "usage.db").chmod(0o644)
    UsageStore(tmp_path).close()
    assert mode(tmp_path / "usage.db") == 0o600


def test_a_damaged_file_moved_aside_is_private(tmp_path):
    (tmp_path / "usage.db").write_bytes(b"not a database at all\n" * 100)
    (tmp_path / "usage.db").chmod(0o644)
    UsageStore(tmp_path).close()
    (aside,) = tmp_path.glob("usage.db.corrupt-*")
    assert mode(aside) == 0o600 and moved_at(aside) is not None


# ------------------------------------------------------------------------------ faults
class Faulty(UsageStore):
    """The real store, whose writes (or opens) fail with SQLite's own error while `fault` is
    set: a full disk or an I/O error cannot be made on demand here."""

    fault: str | None = None
    on_open = False
    attempts = 0
    tried = threading.Event()

    def connect(self):
        if Faulty.on_open and Faulty.fault:
            self.attempt()
        return super().connect()

    def write(self, questions=(), votes=()):
        if Faulty.fault and not Faulty.on_open:
            self.attempt()
        return super().write(questions, votes)

    @staticmethod
    def attempt():
        Faulty.attempts += 1
        if Faulty.attempts >= 3:
            Faulty.tried.set()
        raise sqlite3.OperationalError(Faulty.fault)


@pytest.fixture
def faulty(monkeypatch):
    monkeypatch.setattr(writer_module, "UsageStore", Faulty)
    Faulty.attempts, Faulty.tried, Faulty.on_open = 0, threading.Event(), False
    yield Faulty
    Faulty.fault = None


@pytest.mark.parametrize(
    ("error", "on_open"),
    [
        ("database or disk is full", False),
        ("disk I/O error", False),
        ("attempt to write a readonly database", False),
        ("unable to open database file", True),
        ("disk I/O error", True),
    ],
)
def test_a_fault_keeps_the_file_and_the_rows_arrive_once_it_ends(
    tmp_path, caplog, faulty, error, on_open
):
    UsageStore(tmp_path).close()
    store = UsageStore(tmp_path)
    store.write([record(0)])
    store.close()
    caplog.set_level(logging.WARNING, logger="index.usage")
    faulty.fault, faulty.on_open = error, on_open
    writer = UsageWriter(tmp_path, 90, retry_seconds=0.01)
    for n in range(1, 6):
        writer.put(record(n))
    assert faulty.tried.wait(PATIENCE)  # three attempts failed
    assert not list(tmp_path.glob("usage.db.corrupt-*"))
    faulty.fault = None  # space came back
    assert writer.flush(PATIENCE)
    writer.close()
    assert count(tmp_path) == 6
    assert not list(tmp_path.glob("usage.db.corrupt-*"))
    warned = [m for m in caplog.messages if "Cannot write use data" in m]
    assert len(warned) == 1 and error in warned[0]  # one warning per episode
    assert "Use data is written again" in caplog.messages


def test_the_shutdown_count_includes_the_batch_in_hand(tmp_path, caplog, faulty):
    UsageStore(tmp_path).close()
    faulty.fault = "database or disk is full"
    caplog.set_level(logging.WARNING, logger="index.usage")
    writer = UsageWriter(tmp_path, 90, retry_seconds=0.01)
    for n in range(7):
        writer.put(record(n))
    assert faulty.tried.wait(PATIENCE)
    writer.close(timeout=0.2)
    assert any("about 7 records unwritten" in m for m in caplog.messages)


def test_rollback_only_when_sqlite_has_not_already_rolled_back(tmp_path):
    store = UsageStore(tmp_path)
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        with transaction(store.conn):
            store.conn.execute("INSERT INTO meta VALUES ('a', 'b')")
            store.conn.execute("ROLLBACK")  # what SQLite does itself on a full disk
            raise sqlite3.OperationalError("database or disk is full")
    assert not store.conn.in_transaction
    store.close()


# ------------------------------------------------------------------------------ retention
def old_aside(data: Path, days: int, rows: list[QuestionRecord]) -> Path:
    """A moved-aside file as the store names it, moved `days` ago, holding `rows`."""
    stamp = (NOW - dt.timedelta(days=days)).strftime("%Y%m%dT%H%M%S")
    aside = data / f"usage.db.corrupt-{stamp}-beef"
    scratch = data / "scratch"
    store = UsageStore(scratch)
    store.write(rows)
    store.close()
    shutil.copy(scratch / "usage.db", aside)
    shutil.rmtree(scratch)
    return aside


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_the_cli_applies_retention_on_every_open_also_when_disabled(tmp_path, capsys, enabled):
    data = tmp_path / "data"
    store = UsageStore(data)
    store.write([record(1, NOW - dt.timedelta(days=100)), record(2)])
    store.close()
    gone = old_aside(data, 120, [record(3, NOW - dt.timedelta(days=130))])
    kept = old_aside(data, 10, [record(4, NOW - dt.timedelta(days=95)), record(5)])
    cfg = config(tmp_path, f"enabled = {enabled}\nretention_days = 90")
    assert main(["--config", str(cfg), "report", "--json"]) == 0
    capsys.readouterr()
    assert count(data) == 1
    assert not gone.exists()
    assert count(data, path=kept) == 1  # the old row in a recent file went, the new one stays


def test_the_bot_applies_retention_when_disabled(tmp_path):
    store = UsageStore(tmp_path)
    store.write([record(1, NOW - dt.timedelta(days=100)), record(2)])
    store.close()
    gone = old_aside(tmp_path, 100, [record(3, NOW - dt.timedelta(days=130))])
    settings = Settings(IndexOptions(data_dir=tmp_path), usage=UsageSettings(enabled=False))
    usage = UsageLog.open(settings)
    usage.retention.join(PATIENCE)
    assert usage.writer is None and count(tmp_path) == 1 and not gone.exists()


def test_forget_user_reaches_moved_aside_files_and_names_those_it_cannot_read(tmp_path, capsys):
    data = tmp_path / "data"
    store = UsageStore(data)
    alice, bob = keyed_hash(store.key, "user", 111), keyed_hash(store.key, "user", 222)
    store.write(
        [record(1, user_hash=alice), record(2, user_hash=bob)],
        [VoteRecord("id-2", alice, 1, NOW), VoteRecord("id-2", bob, 1, NOW)],
    )
    store.close()
    aside = old_aside(data, 5, [record(3, user_hash=alice), record(4, user_hash=bob)])
    broken = data / f"usage.db.corrupt-{NOW:%Y%m%dT%H%M%S}-dead"
    broken.write_bytes(b"garbage\n" * 50)
    assert main(["--config", str(config(tmp_path)), "usage", "--forget-user", "111"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("forgot 2 questions of that user and 1 votes")
    assert broken.name in err and "could not be searched" in err
    assert count(data, "SELECT count(*) FROM questions WHERE user_hash = 'x' OR 1") == 1
    assert count(data, "SELECT count(*) FROM votes") == 1
    assert count(data, path=aside) == 1
    dump = "\n".join(sqlite3.connect(data / "usage.db").iterdump())
    assert alice not in dump and "111" not in dump


def test_forget_before_on_a_locked_file_is_one_line_and_exit_2(tmp_path, capsys):
    data = tmp_path / "data"
    UsageStore(data).close()
    holder = sqlite3.connect(data / "usage.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code = main(["--config", str(config(tmp_path)), "usage", "--forget-before", "2030-01-01"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert code == 2 and "locked" in err and len(err.strip().splitlines()) == 1
    assert "internal error" not in err


# ------------------------------------------------------------------------------ scope
def test_old_rows_migrate_with_an_unknown_place_seen_only_by_the_operator_and_owners(tmp_path):
    conn = sqlite3.connect(tmp_path / "usage.db", isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO questions (answer_id, asked_at, text, place, answered, guild_hash) "
        "VALUES ('old', ?, '古い質問', 'channel', 0, 'g1')",
        (NOW.isoformat(),),
    )
    conn.close()
    store = UsageStore(tmp_path)
    store.write(
        [
            record(1, guild_hash="g1", is_dm=False),
            record(2, guild_hash="g2", is_dm=False),
            record(3, is_dm=True),
        ]
    )
    store.close()
    today = dt.datetime.now(dt.UTC).date()

    def texts(scope):
        since = today - dt.timedelta(days=1)
        report = build_report(tmp_path, since, today, scope=scope)
        _, rows = rows_for_csv(tmp_path, since, today, scope=scope)
        assert report.questions == len(rows)
        return sorted(r[1] for r in rows)

    assert texts(Scope(guild_hash="g1")) == ["質問1"]
    assert texts(Scope(guild_hash="g2")) == ["質問2"]
    assert texts(Scope(dms=True)) == ["古い質問", "質問3"]
    assert texts(Scope()) == ["古い質問", "質問1", "質問2", "質問3"]


def test_report_days_follow_the_time_zone_and_compare_with_the_period_before(tmp_path):
    store = UsageStore(tmp_path)
    evening = dt.datetime(2025, 3, 19, 16, 30, tzinfo=dt.UTC)  # 3/20 01:30 in Tokyo
    store.write([record(1, evening), record(2, evening - dt.timedelta(days=2))])
    store.close()
    day = dt.date(2025, 3, 20)
    tokyo = build_report(tmp_path, day, day, timezone="Asia/Tokyo")
    utc = build_report(tmp_path, day, day, timezone="UTC")
    assert (tokyo.questions, utc.questions) == (1, 0)
    assert tokyo.timezone == "Asia/Tokyo" and tokyo.previous == (0, 0)
    two = build_report(tmp_path, day, day + dt.timedelta(days=1), timezone="Asia/Tokyo")
    assert two.previous == (1, 0)  # 3/18-3/19 in Tokyo holds question 2


def test_cli_report_narrows_to_one_server_and_exports_its_rows(tmp_path, capsys):
    data = tmp_path / "data"
    store = UsageStore(data)
    mine = keyed_hash(store.key, "guild", 123456789)
    store.write([record(1, guild_hash=mine, is_dm=False), record(2, is_dm=True)])
    store.close()
    csv = tmp_path / "rows.csv"
    cfg = str(config(tmp_path))
    assert main(["--config", cfg, "report", "--server", "123456789", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "questions: 1," in out and "(Asia/Tokyo)" in out
    lines = csv.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("asked_at,text,") and len(lines) == 2 and "質問1" in lines[1]
    assert "123456789" not in csv.read_text(encoding="utf-8")


def test_the_integrity_check_runs_once_per_process_not_on_every_open(tmp_path):
    store = UsageStore(tmp_path)  # checked here, once
    store.write([record(n) for n in range(400)])
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = tmp_path / "usage.db"
    raw = path.read_bytes()
    page = 4096  # damage the last page only: the schema page stays readable
    path.write_bytes(raw[:-page] + bytes(b ^ 0x5A for b in raw[-page:]))
    UsageStore(tmp_path).close()  # the same process: not checked again, not moved
    assert not list(tmp_path.glob("usage.db.corrupt-*"))
    code = f"from index.usage import UsageStore; UsageStore({str(tmp_path)!r}).close()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
    assert len(list(tmp_path.glob("usage.db.corrupt-*"))) == 1  # a new process checks it
