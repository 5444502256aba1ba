"""The use-data store on real SQLite files: concurrency, kills, damage, locks, retention, report."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from bot.cli import main
from index.errors import UsageStoreError
from index.types import Answer, Hit
from index.usage import QuestionRecord, UsageStore, UsageWriter, VoteRecord
from index.usage.chart import render_chart
from index.usage.report import build_report, group_questions

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime.now(dt.UTC)
# Waits that end as soon as the condition holds; the bound only keeps a broken run finite.
PATIENCE = 60.0


def record(n: int, when: dt.datetime = NOW, answered: bool = True, **kw) -> QuestionRecord:
    cited = (("a.md", "記事A"),) if answered else ()
    return QuestionRecord(f"id-{n}", when, f"質問{n}", "channel", answered, cited=cited, **kw)


def count(data: Path, sql: str = "SELECT count(*) FROM questions"):
    conn = sqlite3.connect(data / "usage.db")
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def run_python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# The bot's way: threads hand records to the writer thread (what asking does).
BOT = """
import datetime as dt, sys, threading, time
from pathlib import Path
from index.usage import QuestionRecord, UsageWriter
data, n = Path(sys.argv[1]), int(sys.argv[2])
while not (data / "go").exists():
    time.sleep(0.001)
w = UsageWriter(data, 90)
def ask(t):
    for i in range(n):
        w.put(QuestionRecord(f"bot-{t}-{i}", dt.datetime.now(dt.UTC), f"q{i}", "channel", True,
                             cited=(("a.md", "A"),), user_hash=w.hash("user", t)))
threads = [threading.Thread(target=ask, args=(t,)) for t in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
assert w.flush(120), "not flushed"
w.close()
"""
# The CLI's way (log_cli): one short-lived connection and transaction per `newsbot ask`.
CLI = """
import sys, time
from pathlib import Path
from bot.cli.usage import log_questions
from bot.settings import Settings, UsageSettings
from index import IndexOptions
from index.types import Answer
data, n = Path(sys.argv[1]), int(sys.argv[2])
settings = Settings(IndexOptions(data_dir=data), usage=UsageSettings(log_cli=True))
while not (data / "go").exists():
    time.sleep(0.001)
for i in range(n):
    log_questions(settings, [Answer(f"cli {i}", "", True, ())], 0.05)
"""


def test_concurrent_writers_in_two_processes_lose_nothing(tmp_path):
    UsageStore(tmp_path).close()  # the key and schema exist; both processes start together
    procs = [run_python(BOT, str(tmp_path), "300"), run_python(CLI, str(tmp_path), "300")]
    (tmp_path / "go").touch()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "not recorded" not in err  # no CLI write was given up
    assert count(tmp_path) == 4 * 300 + 300
    assert count(tmp_path, "SELECT count(*) FROM questions WHERE place = 'cli'") == 300
    assert count(tmp_path, "SELECT count(*) FROM citations") == 4 * 300
    assert count(tmp_path, "SELECT count(DISTINCT user_hash) FROM questions") == 4
    assert count(tmp_path, "PRAGMA integrity_check") == "ok"


KILLED = """
import datetime as dt, sys
from pathlib import Path
from index.usage import QuestionRecord, UsageWriter
w = UsageWriter(Path(sys.argv[1]), 90)
i = 0
while True:
    w.put(QuestionRecord(f"k-{i}", dt.datetime.now(dt.UTC), f"q{i}", "dm", True,
                         cited=(("a.md", "A"), ("b.md", "B"))))
    i += 1
"""


def test_a_process_killed_while_writing_leaves_whole_rows_and_a_sound_file(tmp_path):
    UsageStore(tmp_path).close()
    proc = run_python(KILLED, str(tmp_path))
    try:
        deadline = time.monotonic() + PATIENCE
        while count(tmp_path) < 2000 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-transaction, as likely as not
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    store = UsageStore(tmp_path)  # runs quick_check: a damaged file would be moved aside
    assert not list(tmp_path.glob("usage.db.corrupt-*"))
    n = store.conn.execute("SELECT count(*) FROM questions").fetchone()[0]
    assert n >= 2000
    # Every committed question has both citations: no half-written row.
    assert store.conn.execute("SELECT count(*) FROM citations").fetchone()[0] == 2 * n
    store.write([record(1)])
    assert store.conn.execute("SELECT count(*) FROM questions").fetchone()[0] == n + 1
    store.close()


def test_a_corrupted_file_is_moved_aside_with_a_warning_and_a_fresh_one_started(tmp_path, caplog):
    store = UsageStore(tmp_path)
    store.write([record(1)])
    store.close()
    raw = (tmp_path / "usage.db").read_bytes()
    # Keep SQLite's header, scramble the pages: the damage quick_check finds.
    (tmp_path / "usage.db").write_bytes(raw[:100] + bytes(b ^ 0x5A for b in raw[100:]))
    caplog.set_level(logging.WARNING, logger="index.usage")
    writer = UsageWriter(tmp_path, 90)
    writer.put(record(2))
    assert writer.flush(PATIENCE)
    writer.close()
    (aside,) = tmp_path.glob("usage.db.corrupt-*")
    assert aside.read_bytes()[100:] == bytes(b ^ 0x5A for b in raw[100:])
    assert any("damaged" in m for m in caplog.messages)
    assert count(tmp_path, "SELECT group_concat(answer_id) FROM questions") == "id-2"


def test_a_locked_database_keeps_records_queued_until_it_is_free(tmp_path, caplog):
    UsageStore(tmp_path).close()
    holder = sqlite3.connect(tmp_path / "usage.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing and does not let go
    caplog.set_level(logging.WARNING, logger="index.usage")
    writer = UsageWriter(tmp_path, 90, busy_seconds=0.05, retry_seconds=0.05)
    try:
        for n in range(10):
            writer.put(record(n))  # asking goes on: put never waits for the lock
        assert not writer.flush(1.0)
        assert count(tmp_path) == 0
        assert any("locked" in m and "are retried" in m for m in caplog.messages)
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert writer.flush(PATIENCE)
    writer.close()
    assert count(tmp_path) == 10


def test_retention_and_forget_before_take_votes_and_citations_along(tmp_path):
    store = UsageStore(tmp_path)
    old, recent = NOW - dt.timedelta(days=100), NOW - dt.timedelta(days=10)
    store.write(
        [record(1, old), record(2, recent), record(3)],
        [VoteRecord("id-1", "u", -1, old), VoteRecord("id-2", "u", 1, recent)],
    )
    assert store.apply_retention(90) == 1
    assert store.conn.execute("SELECT answer_id FROM votes").fetchall() == [("id-2",)]
    assert store.conn.execute("SELECT count(*) FROM citations").fetchone()[0] == 2
    assert store.forget_before(NOW - dt.timedelta(days=1)) == 1
    assert store.conn.execute("SELECT count(*) FROM votes").fetchone()[0] == 0
    assert [r for (r,) in store.conn.execute("SELECT answer_id FROM questions")] == ["id-3"]
    store.close()
    # A writer applies the retention setting when it starts.
    store = UsageStore(tmp_path)
    store.write([record(4, NOW - dt.timedelta(days=8))])
    store.close()
    writer = UsageWriter(tmp_path, 7)
    writer.put(record(5))
    assert writer.flush(PATIENCE)
    writer.close()
    assert count(tmp_path, "SELECT group_concat(answer_id) FROM questions") == "id-3,id-5"


def test_one_vote_per_user_per_answer(tmp_path):
    store = UsageStore(tmp_path)
    store.write([record(1)])
    store.write(votes=[VoteRecord("id-1", "alice", 1, NOW), VoteRecord("id-1", "bob", 1, NOW)])
    store.write(votes=[VoteRecord("id-1", "alice", -1, NOW)])  # alice changes her mind
    store.write(votes=[VoteRecord("id-unknown", "alice", -1, NOW)])  # no such answer: dropped
    votes = store.conn.execute("SELECT user_hash, vote FROM votes ORDER BY 1").fetchall()
    assert votes == [("alice", -1), ("bob", 1)]
    store.close()


FEEDBACK = [
    {"time": "2025-03-20T01:00:00+00:00", "user_id": 11, "question": "停戦は?", "answer": "A",
     "vote": "up", "sources": []},
    {"time": "2025-03-20T01:01:00+00:00", "user_id": 11, "question": "停戦は?", "answer": "A",
     "vote": "down", "sources": []},
    {"time": "2025-03-20T01:02:00+00:00", "user_id": 22, "question": "停戦は?", "answer": "A",
     "vote": "up", "sources": []},
    {"time": "2025-03-21T09:00:00+00:00", "user_id": 22, "question": "関税は?", "answer": "B",
     "vote": "down", "sources": []},
]  # fmt: skip


def test_feedback_jsonl_is_imported_once_and_kept(tmp_path, caplog):
    lines = [json.dumps(r, ensure_ascii=False) for r in FEEDBACK] + ["{not json", ""]
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="index.usage")
    for _ in range(2):  # a restart must not import it again
        writer = UsageWriter(tmp_path, 100_000)
        assert writer.flush(PATIENCE)
        writer.close()
    assert count(tmp_path) == 2
    assert count(tmp_path, "SELECT count(*) FROM votes") == 3
    assert count(tmp_path, "SELECT sum(vote) FROM votes") == -1  # 11's vote was changed to down
    assert count(tmp_path, "SELECT min(asked_at) FROM questions").startswith("2025-03-20T01:00")
    dump = "\n".join(map(str, sqlite3.connect(tmp_path / "usage.db").iterdump()))
    assert "'11'" not in dump and "'22'" not in dump  # keyed hashes only
    assert path.read_text(encoding="utf-8").count("\n") == 6  # the file is left as it was
    assert sum("Skipped 1 unreadable lines" in m for m in caplog.messages) == 1


def test_schema_versions_migrate_and_a_newer_one_is_refused(tmp_path):
    store = UsageStore(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 2
    store.conn.execute("PRAGMA user_version = 99")
    store.close()
    with pytest.raises(UsageStoreError, match="schema 99, newer"):
        UsageStore(tmp_path)
    assert not list(tmp_path.glob("usage.db.corrupt-*"))  # a newer file is not damage


UNANSWERED = [
    "ガザの停戦は?",
    "ガザの停戦は?",
    "ガザ停戦の最新情報を教えて",
    "ガザで停戦交渉はどうなった?",
    "火星の今日の天気は?",
    "火星の天気",
    "円安の理由は?",
    "円安はなぜ進む?",
    "今日の占いは?",
    "Gaza ceasefire news",
    "What is happening in Gaza?",
]


def test_unanswered_near_duplicates_are_grouped_with_their_key_terms():
    rows = [(q, f"user{i % 5}", "other_news") for i, q in enumerate(UNANSWERED)]
    groups, _ = group_questions(rows)
    got = [(g.count, g.users, g.wordings, g.key_terms) for g in groups]
    assert got == [
        (4, 4, 3, ["ガザ", "停戦"]),
        (2, 2, 2, ["gaza", "ceasefire"]),
        (2, 2, 2, ["円安"]),
        (2, 2, 2, ["天気", "火星"]),
        (1, 1, 1, ["占い"]),  # the core's subject terms name it (issue 33: other news)
    ]
    assert groups[0].questions[0] == "ガザの停戦は?"  # the most asked wording leads
    assert groups[-1].questions == ["今日の占いは?"]


def test_report_figures_and_a_chart_without_missing_glyphs(tmp_path):
    day = dt.datetime(2025, 3, 20, 12, tzinfo=dt.UTC)
    store = UsageStore(tmp_path)
    store.write(
        [
            record(1, day, latency_ms=100.0, user_hash="a"),
            record(2, day, latency_ms=300.0, user_hash="b"),
            record(3, day + dt.timedelta(days=2), False, reason="other_news", latency_ms=200.0),
            record(4, day - dt.timedelta(days=5)),  # before the report's window
        ],
        [VoteRecord("id-2", "a", -1, day), VoteRecord("id-2", "b", -1, day)],
    )
    store.close()
    report = build_report(tmp_path, day.date(), day.date() + dt.timedelta(days=2))
    assert (report.questions, report.answered, report.users) == (3, 2, 2)
    assert report.days == [("2025-03-20", 2, 2), ("2025-03-21", 0, 0), ("2025-03-22", 1, 0)]
    assert report.reasons == {"other_news": 1}
    assert report.downvoted == [{"question": "質問2", "answer": "", "down": 2, "up": 0}]
    assert report.cited == [("a.md", "記事A", 2)]
    assert (report.latency_p50_ms, report.latency_p95_ms) == (200.0, 300.0)
    assert [g.questions for g in report.groups] == [["質問3"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_chart(report)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert not [w for w in caught if "missing from font" in str(w.message)]  # no tofu boxes


def test_cli_report_and_forget_before(tmp_path, capsys):
    store = UsageStore(tmp_path / "data")
    store.write([record(1, NOW - dt.timedelta(days=3)), record(2, NOW, False, reason="off_topic")])
    store.close()
    config = tmp_path / "settings.toml"
    config.write_text('[index]\ndata_dir = "data"\n', encoding="utf-8")
    since = (NOW - dt.timedelta(days=6)).date().isoformat()
    png = tmp_path / "chart.png"
    args = ["--config", str(config), "report", "--since", since, "--json", "--png", str(png)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["questions"], out["answered_share"], len(out["days"])) == (2, 0.5, 7)
    assert out["groups"][0]["questions"] == ["質問2"] and png.read_bytes().startswith(b"\x89PNG")
    assert main(["--config", str(config), "report"]) == 0
    text = capsys.readouterr().out
    assert "questions: 2, answered: 50% (1)" in text and "  1 (0 users) 質問2" in text
    cutoff = (NOW - dt.timedelta(days=1)).date().isoformat()
    assert main(["--config", str(config), "usage", "--forget-before", cutoff]) == 0
    assert capsys.readouterr().out.startswith(f"forgot 1 questions asked before {cutoff}")
    assert count(tmp_path / "data") == 1
    with pytest.raises(SystemExit) as e:
        main(["--config", str(config), "usage", "--forget-before", "yesterday"])
    assert e.value.code == 2 and "YYYY-MM-DD" in capsys.readouterr().err


def test_cli_questions_are_logged_only_when_the_setting_says_so(
    tmp_path, searcher, monkeypatch, capsys
):
    # The session's index answers (handed in); this test's data folder is its own.
    def cli(argv):
        return main(argv, open_searcher=lambda options, **kwargs: searcher)

    data = tmp_path / "data"
    config = tmp_path / "settings.toml"
    config.write_text(f'[index]\ndata_dir = "{data}"\n', encoding="utf-8")
    assert cli(["--config", str(config), "ask", "ロシアの停戦条件は?"]) == 0
    assert not (data / "usage.db").exists()
    config.write_text(f'[index]\ndata_dir = "{data}"\n[usage]\nlog_cli = true\n', encoding="utf-8")
    assert cli(["--config", str(config), "ask", "ロシアの停戦条件は?", "火星の天気は?"]) == 0
    assert "停戦" in capsys.readouterr().out
    got = sqlite3.connect(data / "usage.db").execute(
        "SELECT text, place, answered, reason, user_hash FROM questions ORDER BY id"
    )
    assert got.fetchall() == [
        ("ロシアの停戦条件は?", "cli", 1, None, None),
        ("火星の天気は?", "cli", 0, "other_news", None),
    ]


def test_a_follow_up_and_the_cores_reason_are_kept():
    from index.usage.store import question_record

    follow = Answer("それはいつ?", "", True, (), reason="no_subject", continued="停戦は?")
    row = question_record(follow, answer_id="f", place="dm", asked_at=NOW)
    assert (row.answered, row.reason, row.follow_up, row.cited) == (False, "no_subject", True, ())
    hit = Hit("a.md", "記事A", "", "本文", (), None, None, 1.0)
    answered = Answer("停戦は?", "本文。[1]", False, (hit,), (1,))
    row = question_record(answered, answer_id="g", place="cli", asked_at=NOW, reason="off_topic")
    assert (row.answered, row.reason, row.follow_up) == (True, None, False)
    assert row.cited == (("a.md", "記事A"),) and row.answer == "本文。[1]"
