"""Issue 26: many processes, one coverage: articles, feeds and reindex shared through PostgreSQL.

A real PostgreSQL with pgvector (conftest's pg_server); each test gets a fresh database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from bot.cli import main
from index import Searcher
from index.errors import IndexNotBuiltError, StoreUnavailableError
from index.ingest.articles import destination, write
from index.ingest.extract import Extracted
from index.ingest.feeds import poll, state_of
from index.options import StoreOptions
from index.storage.postgres.articles import INGEST, legacy_origin, origin_of
from index.storage.postgres.lease import POLL_LOCK
from index.storage.postgres.store import PgStore

from .conftest import MODEL_CACHE, ROOT, cli_for, make_options
from .test_faults import NEW_ARTICLE, QUESTIONS, TINY


def folder_with(path, names: dict[str, str]):
    path.mkdir(parents=True, exist_ok=True)
    for name, text in names.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def store(pg_url) -> PgStore:
    return PgStore(StoreOptions("postgres", pg_url))


def test_a_folder_removes_only_what_it_added_itself(store, tmp_path):
    a = folder_with(tmp_path / "a", {"deer.md": TINY["deer.md"]})
    b = folder_with(tmp_path / "b", {"shogi.md": TINY["shogi.md"]})
    first = store.articles.sync(a, 1_000_000, tmp_path)
    assert (first.added, first.removed, first.origin) == (["deer.md"], [], origin_of(a, tmp_path))
    second = store.articles.sync(b, 1_000_000, tmp_path)
    assert (second.added, second.removed) == (["shogi.md"], [])  # deer.md is a's: it stays
    assert sorted(store.articles.checksums()) == ["deer.md", "shogi.md"]

    # b edits its own article; a syncs again without it: nothing of b's goes.
    (b / "shogi.md").write_text(TINY["shogi.md"] + "\n追記。\n", encoding="utf-8")
    assert store.articles.sync(b, 1_000_000, tmp_path).updated == ["shogi.md"]
    again = store.articles.sync(a, 1_000_000, tmp_path)
    assert (again.added, again.updated, again.removed, again.unchanged) == ([], [], [], 1)

    # a deletes its own file: its sync removes it from everyone's coverage.
    (a / "deer.md").unlink()
    assert store.articles.sync(a, 1_000_000, tmp_path).removed == ["deer.md"]
    # An article written by /add or a feed belongs to no folder: only --prune removes it.
    store.articles.put("2025-04-01-fuji.md", NEW_ARTICLE)
    assert store.articles.checksums()["2025-04-01-fuji.md"][1] == INGEST
    assert store.articles.sync(a, 1_000_000, tmp_path).removed == []
    pruned = store.articles.sync(a, 1_000_000, tmp_path, prune=True)
    assert pruned.removed == ["2025-04-01-fuji.md", "shogi.md"]
    assert store.articles.checksums() == {}


def test_a_broken_file_keeps_its_shared_copy(store, tmp_path):
    a = folder_with(tmp_path / "a", dict(TINY))
    store.articles.sync(a, 1_000_000, tmp_path)
    (a / "deer.md").write_bytes(b"\xff\xfe broken")
    report = store.articles.sync(a, 1_000_000, tmp_path)
    assert report.removed == [] and [s.file for s in report.skipped] == ["deer.md"]
    assert "deer.md" in store.articles.checksums()


def test_two_machines_with_one_host_name_and_path_keep_each_others_articles(store, tmp_path):
    """Cloned VMs or containers: the same host name and articles path, each its own data."""
    shared_path = folder_with(tmp_path / "articles", {"deer.md": TINY["deer.md"]})
    first = store.articles.sync(shared_path, 1_000_000, tmp_path / "vm1-data")
    # The second machine's folder at the very same path (and this same host name).
    (shared_path / "deer.md").unlink()
    folder_with(shared_path, {"shogi.md": TINY["shogi.md"]})
    second = store.articles.sync(shared_path, 1_000_000, tmp_path / "vm2-data")
    assert first.origin != second.origin
    assert (second.added, second.removed) == (["shogi.md"], [])
    assert sorted(store.articles.checksums()) == ["deer.md", "shogi.md"]
    # Each id is made once and kept: the first machine's next sync is still the first's.
    again = store.articles.sync(shared_path, 1_000_000, tmp_path / "vm1-data")
    assert again.origin == first.origin and again.removed == ["deer.md"]
    assert sorted(store.articles.checksums()) == ["shogi.md"]


def test_rows_a_folder_added_before_it_had_an_id_stay_its_own(store, tmp_path):
    a = folder_with(tmp_path / "a", {"deer.md": TINY["deer.md"]})
    store.articles.put("deer.md", TINY["deer.md"], legacy_origin(a))  # newsbot before the id
    store.articles.put("old.md", TINY["shogi.md"], legacy_origin(a))  # deleted from a since
    report = store.articles.sync(a, 1_000_000, tmp_path / "data")
    assert report.removed == ["old.md"] and report.unchanged == 1
    assert store.articles.checksums()["deer.md"][1] == report.origin


def pg_config(tmp_path, name: str, articles, backend: str = "postgres"):
    """A settings file for one machine: its articles folder and data folder, the backend."""
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'[index]\narticles_dir = "{articles}"\ndata_dir = "{tmp_path / name}-data"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[store]\nbackend = "{backend}"\n'
        "[fetch]\nallow_private = true\n",
        encoding="utf-8",
    )
    return str(config)


def test_db_import_brings_the_articles_so_an_add_elsewhere_keeps_them(
    pg_url, tmp_path, embedder, monkeypatch, capsys
):
    """Issue 31: the imported index's articles go with it; the next build keeps them all."""
    from .page_server import Site

    cli = cli_for(embedder)
    a = folder_with(tmp_path / "a", dict(TINY))
    b = folder_with(tmp_path / "b", {})
    assert cli(["--config", pg_config(tmp_path, "a", a, "local"), "index"]) == 0
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", pg_url)
    assert cli(["--config", pg_config(tmp_path, "a", a), "db", "import"]) == 0
    out = capsys.readouterr().out
    assert "2 added, 0 updated, 0 removed" in out and "imported v-" in out
    with Site() as site:
        typhoon = site.url("/articles/typhoon")
        assert cli(["--config", pg_config(tmp_path, "b", b), "add", typhoon]) == 0
        assert "added: " in capsys.readouterr().out
    store = PgStore(StoreOptions("postgres", pg_url))
    names = set(store.current(verify=False).manifest["articles"])
    assert set(TINY) < names and len(names) == len(TINY) + 1  # a's two and b's page
    assert set(TINY) < set(store.articles.checksums())


def test_db_import_of_an_index_its_folder_no_longer_matches_is_refused(
    pg_url, tmp_path, embedder, monkeypatch, capsys
):
    cli = cli_for(embedder)
    a = folder_with(tmp_path / "a", dict(TINY))
    assert cli(["--config", pg_config(tmp_path, "a", a, "local"), "index"]) == 0
    (a / "deer.md").write_text(TINY["deer.md"] + "\n追記。\n", encoding="utf-8")
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", pg_url)
    capsys.readouterr()
    assert cli(["--config", pg_config(tmp_path, "a", a), "db", "import"]) != 0
    err = capsys.readouterr().err
    assert "not imported" in err and "deer.md" in err and err.count("\n") == 1
    store = PgStore(StoreOptions("postgres", pg_url))
    assert store.live_name() is None and store.articles.count() == 0  # nothing written


def test_feeds_with_the_database_down_says_so(tmp_path, monkeypatch, capsys):
    """Not "another process polls the feeds": nothing listens on port 1 of loopback."""
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{tmp_path}"\ndata_dir = "{tmp_path}"\n[store]\n'
        'backend = "postgres"\n[feeds]\nurls = ["http://127.0.0.1:1/feed.xml"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", "postgresql://newsbot@127.0.0.1:1/newsbot")
    assert main(["--config", str(config), "feeds"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to the index database" in err and "another process" not in err


def test_db_dev_stop_finds_its_server_whatever_the_settings_file(tmp_path, monkeypatch, capsys):
    """Started with one settings file (its data folder), stopped with another: the URL says
    where the server's data is (its socket folder's lock file)."""
    started = tmp_path / "a.toml"
    started.write_text(f'[index]\ndata_dir = "{tmp_path / "a-data"}"\n', encoding="utf-8")
    other = tmp_path / "b.toml"
    other.write_text(f'[index]\ndata_dir = "{tmp_path / "b-data"}"\n', encoding="utf-8")
    assert main(["--config", str(started), "db", "dev"]) == 0
    url = capsys.readouterr().out.split("NEWSBOT_DATABASE_URL='")[1].split("'")[0]
    folder = (tmp_path / "a-data" / "pg-dev").resolve()
    try:
        monkeypatch.setenv("NEWSBOT_DATABASE_URL", url)
        assert main(["--config", str(other), "db", "dev", "--stop"]) == 0
        assert capsys.readouterr().out.strip() == f"stopped the server in {folder}"
        assert not (folder / "postmaster.pid").exists()
    finally:
        main(["--config", str(started), "db", "dev", "--stop"])  # a failed test leaves none


def test_index_on_another_machine_keeps_the_first_ones_articles(
    pg_url, tmp_path, capsys, monkeypatch
):
    """The CLI: machine b's `newsbot index` adds its own and removes nothing of a's."""
    a = folder_with(tmp_path / "a", {"deer.md": TINY["deer.md"]})
    b = folder_with(tmp_path / "b", {"shogi.md": TINY["shogi.md"]})
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", pg_url)
    configs = {}
    for folder in (a, b):
        configs[folder.name] = config = tmp_path / f"{folder.name}.toml"
        config.write_text(
            f'[index]\narticles_dir = "{folder}"\ndata_dir = "{tmp_path / folder.name}-data"\n'
            f'model_cache_dir = "{make_options(tmp_path, a).model_cache}"\n'
            '[store]\nbackend = "postgres"\n',
            encoding="utf-8",
        )
    assert main(["--config", str(configs["a"]), "index"]) == 0
    assert main(["--config", str(configs["b"]), "index"]) == 0
    out = capsys.readouterr().out
    assert "1 added, 0 updated, 0 removed" in out and "removed:" not in out
    assert main(["--config", str(configs["a"]), "ask", "--json", *QUESTIONS]) == 0
    answers = capsys.readouterr().out
    assert "米ぬかと小麦粉" in answers and "2日制" in answers  # a's article and b's
    export = tmp_path / "export"
    assert main(["--config", str(configs["b"]), "articles", "export", str(export)]) == 0
    assert sorted(p.name for p in export.iterdir()) == ["deer.md", "shogi.md"]
    assert (export / "deer.md").read_text(encoding="utf-8") == TINY["deer.md"]


def test_added_pages_go_to_the_shared_articles_once(store, pg_url, tmp_path):
    options = make_options(tmp_path, tmp_path / "none", store=StoreOptions("postgres", pg_url))
    shelf = destination(options, store)
    page = Extracted(
        title="富士山の山開き",
        url="https://example.com/news/fuji",
        published="2025-04-01",
        modified=None,
        outlet="Example",
        body="## 概要\n\n富士山の山開きは7月1日です。登山道が開かれます。\n",
    )
    now = dt.datetime(2025, 4, 2, tzinfo=dt.UTC)
    first = write(page, shelf, now=now)
    assert first.status == "added" and first.file == "2025-04-01-example-fuji.md"
    assert write(page, shelf, now=now).status == "unchanged"
    assert not (tmp_path / "none").exists()  # nothing written to any folder
    other = dataclasses.replace(page, url="https://example.com/copy")
    assert write(other, shelf, now=now).status == "duplicate"  # the same text under another url
    assert sorted(store.articles.checksums()) == ["2025-04-01-example-fuji.md"]


def test_an_empty_database_and_no_folder_is_one_clear_line(pg_url, tmp_path, embedder):
    options = make_options(tmp_path, tmp_path / "missing", store=StoreOptions("postgres", pg_url))
    with pytest.raises(IndexNotBuiltError, match="holds no articles yet; run 'newsbot index'"):
        Searcher.open(options, embedder=embedder)


# --- two processes, two folders, one database (the done-when) -------------------------

CHILD = textwrap.dedent(
    '''
    """A newsbot process: its own folder, the shared database; commands on stdin, JSON out."""
    import json, os, sys, threading
    from pathlib import Path

    from index import Searcher
    from index.ingest.articles import destination, write
    from index.ingest.extract import Extracted
    from index.ingest.feeds import poll, poller_lease, state_of
    from index.options import IndexOptions, StoreOptions

    articles, data, cache, url, ticks, interval = sys.argv[1:7]
    options = IndexOptions(
        articles_dir=Path(articles), data_dir=Path(data), model_cache_dir=Path(cache),
        store=StoreOptions("postgres", url),
    )
    searcher = Searcher.open(options)
    searcher.watch()
    lease = poller_lease(searcher.store)


    def poller():  # the bot's feed loop (bot/cogs/ingest.py), one tick per interval
        while True:
            got = lease.acquire()
            if got:  # no feeds: the poll still reads and writes the shared state
                store = searcher.store
                poll([], destination(options, store), state_of(options, store), None)
            with open(ticks, "a") as f:
                f.write(f"{os.getpid()} {'got' if got else 'miss'}\\n")
            threading.Event().wait(float(interval))


    def say(**reply):
        print(json.dumps(reply, ensure_ascii=False), flush=True)


    say(ready=searcher.index.name, pid=os.getpid())
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "name":  # no question: the name this process serves right now
            say(name=searcher.index.name)
        elif command == "reindex":
            report = searcher.reindex(wait=True)
            say(name=searcher.index.name, added=report.added, removed=report.removed)
        elif command == "add":
            page = Extracted(
                title="富士山の山開き", url="https://example.com/fuji", published="2025-04-01",
                modified=None, outlet="Example",
                body="富士山の吉田ルートは7月1日に山開きを迎える。\\n",
            )
            added = write(page, destination(options, searcher.store))
            searcher.reindex(wait=True, sync=False)
            say(status=added.status, name=searcher.index.name)
        elif command == "ask":
            answer = searcher.ask(arg)
            say(no_answer=answer.no_answer, text=answer.text)
        elif command == "poll":
            threading.Thread(target=poller, daemon=True).start()
            say(polling=True)
    '''
)


class Process:
    """One child newsbot process, driven line by line."""

    def __init__(self, tmp_path, name: str, folder, url: str, ticks):
        script = tmp_path / "child.py"
        script.write_text(CHILD, encoding="utf-8")
        args = [str(folder), str(tmp_path / f"{name}-data"), str(MODEL_CACHE), url, str(ticks)]
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args, str(INTERVAL)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / f"{name}.log", "wb"),  # noqa: SIM115 (closed with the child)
            text=True,
        )
        self.log = tmp_path / f"{name}.log"
        self.hello = self.read()
        self.pid = self.hello["pid"]

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended: {self.log.read_text()[-3000:]}")
        return json.loads(line)

    def do(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


INTERVAL = 0.5  # the poller's tick, seconds (the bot's is [feeds] interval_minutes)


def wait_for(check, seconds: float, what: str):
    """Poll check() until it is truthy; fail naming `what` after the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"not within {seconds} s: {what}")


def ticks_of(path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    return [(int(p), s) for p, s in (line.split() for line in path.read_text().splitlines())]


def lease_taken(url: str) -> bool:
    """Whether a session holds the poller's lease (an advisory lock with a 32-bit key)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) > 0 from pg_locks where locktype = 'advisory' and objid = %s"
            " and granted and pid <> pg_backend_pid()",
            (POLL_LOCK,),
        ).fetchone()[0]


def test_two_processes_two_folders_one_coverage(pg_url, tmp_path):
    a = folder_with(tmp_path / "a", {"deer.md": TINY["deer.md"]})
    b = folder_with(tmp_path / "b", {"shogi.md": TINY["shogi.md"]})
    ticks = tmp_path / "ticks"
    first = Process(tmp_path, "a", a, pg_url, ticks)  # an empty database: a's folder seeds it
    second = Process(tmp_path, "b", b, pg_url, ticks)
    try:
        assert first.hello["ready"] == second.hello["ready"]
        # b's index adds its folder's article and removes none of a's.
        built = second.do("reindex")
        assert built["removed"] == [] and built["added"] == ["shogi.md"]
        # a serves it without a question in between (the build's NOTIFY).
        wait_for(lambda: first.do("name")["name"] == built["name"], 2.0, "a follows b's reindex")
        for proc in (first, second):
            assert "米ぬかと小麦粉" in proc.do(f"ask {QUESTIONS[0]}")["text"]
            assert "2日制" in proc.do(f"ask {QUESTIONS[1]}")["text"]
        # An article added through b (as /add does) is answered by a; a's own index keeps it.
        added = second.do("add")
        assert added["status"] == "added"
        wait_for(lambda: first.do("name")["name"] == added["name"], 2.0, "a follows b's /add")
        assert "7月1日" in first.do("ask 富士山の山開きはいつ?")["text"]
        again = first.do("reindex")
        assert again["removed"] == [] and again["added"] == []
        assert "2日制" in first.do(f"ask {QUESTIONS[1]}")["text"]

        # One poller: both tick, only one holds the lease; kill it and the other takes over.
        first.do("poll")
        second.do("poll")
        wait_for(lambda: len(ticks_of(ticks)) >= 8, 60, "both pollers tick")
        holders = {pid for pid, state in ticks_of(ticks) if state == "got"}
        assert len(holders) == 1 and {pid for pid, _ in ticks_of(ticks)} == {first.pid, second.pid}
        holder, survivor = (first, second) if first.pid in holders else (second, first)
        holder.stop()  # SIGKILL: no goodbye, the server drops its session and lock
        before = len(ticks_of(ticks))

        def dropped() -> bool:  # the lock is free, or the survivor already has it
            taken = [s for pid, s in ticks_of(ticks)[before:] if pid == survivor.pid]
            return "got" in taken or not lease_taken(pg_url)

        wait_for(dropped, 30, "the server drops the dead session")
        missed = [s for pid, s in ticks_of(ticks) if pid == survivor.pid]
        wait_for(
            lambda: [s for pid, s in ticks_of(ticks) if pid == survivor.pid][len(missed) :],
            60,
            "the survivor ticks again",
        )
        after = [s for pid, s in ticks_of(ticks) if pid == survivor.pid][len(missed) :]
        assert after[0] == "got"  # its first tick after the holder died: within one interval
    finally:
        first.stop()
        second.stop()


# --- feeds, LISTEN and a newer schema, in one process ------------------------------------------


def test_feed_items_and_state_go_to_the_database(store, pg_url, tmp_path):
    from .page_server import Site
    from .test_feeds import FROM_FEEDS, LIMITS, feeds

    options = make_options(tmp_path, tmp_path / "none", store=StoreOptions("postgres", pg_url))
    with Site() as site:
        first = poll(feeds(site), destination(options, store), state_of(options, store), LIMITS)
        assert len(first.changed) == len(FROM_FEEDS)
        # Another process (a new store, the same database) remembers what this one saw.
        other = PgStore(StoreOptions("postgres", pg_url))
        again = poll(feeds(site), destination(options, other), state_of(options, other), LIMITS)
    assert (again.not_modified, again.changed) == (2, [])
    assert not (tmp_path / "none").exists() and not (tmp_path / "data" / "feeds.json").exists()
    rows = store.articles.checksums()
    assert len(rows) == len(FROM_FEEDS) and {o for _, o in rows.values()} == {INGEST}


@pytest.fixture
def watched(pg_url, tmp_path, embedder):
    """A Searcher over a fresh database that follows other processes' reindexes."""
    articles = folder_with(tmp_path / "articles", dict(TINY))
    options = make_options(tmp_path, articles, store=StoreOptions("postgres", pg_url))
    searcher = Searcher.open(options, embedder=embedder)
    searcher.watch()
    wait_for(lambda: searcher.listening, 30, "the listener connects")
    yield searcher
    searcher.close()


def test_a_lost_listen_connection_falls_back_to_the_per_question_check(
    watched, embedder, monkeypatch, caplog
):
    from index.storage.postgres import listen

    from .test_pg import drop_connections

    # A restart or a network cut: the listener notices and connects again on its own.
    assert drop_connections(watched.options.store.url) >= 1
    wait_for(lambda: not watched.listening, 30, "the listener notices")
    wait_for(lambda: watched.listening, 60, "the listener reconnects")
    lost = [r.getMessage() for r in caplog.records if "LISTEN" in r.getMessage()]
    assert lost and all("\n" not in line for line in lost), lost  # one line each

    # While it is away, each question checks the live version itself.
    monkeypatch.setattr(listen, "RETRY_SECONDS", (3600,))
    assert drop_connections(watched.options.store.url) >= 1
    wait_for(lambda: not watched.listening, 30, "the listener notices")
    try:
        watched.ask(QUESTIONS[0])
    except StoreUnavailableError:  # its own connection was cut too, and not yet reopened
        pass
    other = Searcher(watched.options, embedder=embedder)
    other.store.articles.put("fuji.md", NEW_ARTICLE)
    built = other.reindex(sync=False)
    assert "7月1日" in watched.ask("富士山の山開きはいつ?").text
    assert watched.index.name == built.path.rsplit("/", 1)[-1]


def test_a_newer_schema_stops_answering_with_one_log_line(watched, caplog):
    from bot.errors import user_message
    from index.errors import OutdatedError

    assert not watched.ask(QUESTIONS[0]).no_answer
    with psycopg.connect(watched.options.store.url, autocommit=True) as conn:
        conn.execute("update newsbot.meta set schema_version = schema_version + 1")
        conn.execute("select pg_notify('newsbot_live', 'schema:99')")
    wait_for(lambda: watched.stopped, 30, "the process notices the migration")
    for _ in range(2):
        with pytest.raises(OutdatedError, match="upgrade newsbot and restart") as e:
            watched.ask(QUESTIONS[0])
    assert user_message(e.value).startswith("このボットは更新が必要")  # not the operator's words
    stops = [r for r in caplog.records if r.getMessage().startswith("Stopped answering")]
    assert len(stops) == 1 and "schema 3, newer than this newsbot's (2)" in stops[0].getMessage()


# --- /add in Discord writes to the shared articles ---------------------------------------------


class TestAddOnPostgres:
    @pytest.fixture
    def pg_fresh(self, tmp_path, embedder, pg_url) -> Searcher:
        articles = folder_with(tmp_path / "articles", {"deer.md": TINY["deer.md"]})
        options = make_options(tmp_path, articles, store=StoreOptions("postgres", pg_url))
        return Searcher.open(options, embedder=embedder)

    @pytest.fixture
    def simcord_bot(self, pg_fresh):
        from bot.client import create_bot
        from bot.settings import DiscordSettings, Settings

        from .test_feeds import LIMITS

        settings = Settings(index=pg_fresh.options, discord=DiscordSettings(), fetch=LIMITS)
        return create_bot(settings=settings, searcher=pg_fresh)

    @pytest.fixture
    def world(self, simcord_env):
        from .test_feeds import world

        return world.__wrapped__(simcord_env)

    @pytest.fixture
    def site(self):
        from .page_server import Site

        with Site() as s:
            yield s

    @pytest.mark.simcord(settle_timeout=60)
    async def test_add_previews_the_database_and_writes_there(self, world, site, pg_fresh):
        from .test_feeds import BOJ_QUESTION

        url = site.url("/articles/boj-rate")
        r = await world.admin.slash(world.ch, "add", url=url)
        footer = r.response.embeds[0].footer.text
        assert footer.startswith("保存先: 共有データベース: ") and footer.endswith("boj-rate.md")
        done = await world.admin.click(r.response, label="追加")
        assert done.response.content.startswith("✅ 記事を追加しました: 日銀、追加利上げを決定")
        assert not list(pg_fresh.options.articles_dir.glob("*boj-rate.md"))  # no folder write
        assert any(p.endswith("boj-rate.md") for p in pg_fresh.store.articles.checksums())
        asked = await world.alice.slash(world.ch, "ask", question=BOJ_QUESTION)
        assert any(f"]({url})" in (e.description or "") for e in asked.response.embeds)


class GatedStdin:
    """stdin for `newsbot chat`: the first line, then the second only once the test lets it."""

    def __init__(self, first: str, second: str):
        self.lines, self.waiting, self.go = (first, second), threading.Event(), threading.Event()

    def isatty(self) -> bool:
        return False

    def __iter__(self):
        yield self.lines[0] + "\n"
        self.waiting.set()  # chat has answered the first line and waits for the next
        assert self.go.wait(120), "the test never let the second line come"
        yield self.lines[1] + "\n"


def test_chat_serves_a_version_published_while_it_waits(
    pg_url, tmp_path, embedder, monkeypatch, capsys
):
    """`newsbot chat` LISTENs like the bot: another process's new version is loaded by the
    listener while chat waits for its next line, before that question is asked."""
    articles = folder_with(tmp_path / "articles", dict(TINY))
    options = make_options(tmp_path, articles, store=StoreOptions("postgres", pg_url))
    other = Searcher.open(options, embedder=embedder)
    config = tmp_path / "chat.toml"
    config.write_text(
        f'[index]\narticles_dir = "{articles}"\ndata_dir = "{tmp_path / "chat-data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[store]\nbackend = "postgres"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", pg_url)
    newsbot = cli_for(embedder)  # the model handed in through main, not patched into the core
    first, heard, loaded = other.index.name, threading.Event(), []
    use = Searcher.use

    def spy(self, index):  # which thread loaded which version
        by = threading.current_thread().name
        loaded.append((by, index.name))
        if by == "newsbot-listen" and index.name != first:
            heard.set()
        return use(self, index)

    monkeypatch.setattr(Searcher, "use", spy)
    # Other tests' searchers may still listen in this process: only chat's own must be gone.
    before = {t for t in threading.enumerate() if t.name == "newsbot-listen"}
    stdin = GatedStdin(QUESTIONS[0], "富士山の山開きはいつ?")
    monkeypatch.setattr("sys.stdin", stdin)
    status = []
    chat = threading.Thread(
        target=lambda: status.append(newsbot(["--config", str(config), "chat"]))
    )
    chat.start()
    try:
        assert stdin.waiting.wait(120), "chat did not answer its first line"
        other.store.articles.put("fuji.md", NEW_ARTICLE)
        other.reindex(sync=False)
        heard_it = heard.wait(120)  # a bound for a broken listener, not the synchronisation
    finally:
        stdin.go.set()
        chat.join(120)
    assert heard_it and ("newsbot-listen", other.index.name) in loaded and status == [0]
    out = capsys.readouterr().out
    assert "米ぬかと小麦粉" in out and "7月1日" in out
    after = {t for t in threading.enumerate() if t.name == "newsbot-listen"}
    assert not after - before  # chat closed its listener
