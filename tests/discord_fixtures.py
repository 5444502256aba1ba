"""Shared by the Discord tests: the bot fixtures, a guild, oversized answers, a limit checker,
and searchers that implement the real interface with one part changed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import math
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import discord
import pytest
from simcord import Env

from bot.client import NewsBot, create_bot
from bot.cogs import ask as ask_module
from bot.settings import DiscordSettings, Settings
from index import Answer, Hit, IndexOptions, Searcher, Topic
from index.types import BuildReport

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = Path(__file__).resolve().parent / "data" / "articles"
SEED = ROOT / "articles" / "2025-03-19-us-russia-ceasefire.md"
MAINICHI = "https://mainichi.jp/articles/20250319/k00/00m/030/319000c"
TBS = "https://newsdig.tbs.co.jp/articles/-/1729431"
FNN = "https://www.fnn.jp/articles/-/844910"
RUSSIA = "ロシアの停戦条件は?"


def huge_hit(n: int = 1) -> Hit:
    """A passage that breaks every limit: long title, section, text, outlet and many sources."""
    sentence = f"これは{n}番目のとても長い記事の文章で、制限を試すために何度も繰り返されます。"
    return Hit(
        article=f"huge-{n}.md",
        title="長い見出し[括弧]" * 60,
        section="長い小見出し(丸括弧)" * 60,
        text=sentence * 400,  # about 14,000 characters
        sources=tuple(f"https://example.com/a_(b)/{n}/{i}?q=" + "x" * 300 for i in range(40)),
        published="2025-03-19",
        outlet="とても長い媒体名@everyone" * 100,
        score=1.0,
        passage_id=n,
    )


def huge_answer(hits: int = 12) -> Answer:
    many = tuple(huge_hit(i) for i in range(1, hits + 1))
    text = " ".join(f"とても長い回答の文です。[{i % 3 + 1}]" for i in range(1500))
    return Answer("@everyone " + "長い質問" * 700, text, False, many, (1, 2, 3))


def assert_within_discord_limits(content: str | None, embeds: list[discord.Embed]) -> None:
    """Every documented Discord limit on one message's content and embeds."""
    assert len(content or "") <= 2000
    assert len(embeds) <= 10
    assert sum(len(e) for e in embeds) <= 6000
    for e in embeds:
        assert len(e.title or "") <= 256
        assert len(e.description or "") <= 4096
        assert len(e.fields) <= 25
        assert all(len(f.name) <= 256 and len(f.value) <= 1024 for f in e.fields)
        assert len(e.footer.text or "") <= 2048
        assert len(e.author.name or "") <= 256


def copy_articles(folder: Path, *names: str) -> Path:
    """An articles folder holding the seed article and the named test articles."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED, folder / SEED.name)
    for name in names:
        shutil.copy(ARTICLES / name, folder / name)
    return folder


class SearcherWrapper(Searcher):
    """The real Searcher's interface, method by method, forwarding to a real one.

    Subclasses change one part (a failing or counted build). No __getattr__: a method the
    Searcher gains and this class lacks fails test_wrapper_covers_the_searcher_interface.
    """

    def __init__(self, searcher: Searcher):  # no super().__init__: it owns no model or index
        self.real = searcher

    @property
    def options(self) -> IndexOptions:
        return self.real.options

    @property
    def root(self) -> Path:
        return self.real.root

    @property
    def embedder(self):
        return self.real.embedder

    @property
    def store(self):
        return self.real.store

    @property
    def listening(self) -> bool:
        return self.real.listening

    @property
    def stopped(self):
        return self.real.stopped

    @property
    def index(self):
        return self.real.index

    def load(self):
        return self.real.load()

    def use(self, index):
        return self.real.use(index)

    def reindex(self, rebuild: bool = False, progress=None) -> BuildReport:
        return self.real.reindex(rebuild=rebuild, progress=progress)

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        return self.real.search(question, k)

    def more(self, answer, k: int, filters=None) -> list[Hit]:
        return self.real.more(answer, k, filters)

    def batch_search(self, questions, k: int | None = None) -> list[list[Hit]]:
        return self.real.batch_search(questions, k)

    @property
    def coverage(self):
        return self.real.coverage

    def ask(self, question: str, k: int | None = None, *, context=None, filters=None) -> Answer:
        return self.real.ask(question, k, context=context, filters=filters)

    def batch_ask(self, questions, k: int | None = None, *, contexts=None, filters=None):
        return self.real.batch_ask(questions, k, contexts=contexts, filters=filters)

    def query(self, question: str, context=None):
        return self.real.query(question, context)

    def rank(self, queries, filters=None, vectors=None):
        return self.real.rank(queries, filters, vectors)

    def respond(self, index, ranking, k: int | None = None) -> Answer:
        return self.real.respond(index, ranking, k)

    def topics(self, limit: int = 5, offset: int = 0) -> list[Topic]:
        return self.real.topics(limit, offset)

    def topic_count(self) -> int:
        return self.real.topic_count()

    def outlets(self) -> list[str]:
        return self.real.outlets()

    def info(self) -> dict:
        return self.real.info()

    def sync_articles(self, folder=None, prune: bool = False):
        return self.real.sync_articles(folder, prune)

    def watch(self) -> None:
        self.real.watch()

    def close(self) -> None:
        self.real.close()


class BrokenBuild(SearcherWrapper):
    """A Searcher whose reindex fails unexpectedly; everything else is the real searcher."""

    def __init__(self, searcher: Searcher, error: Exception):
        super().__init__(searcher)
        self.error = error

    def reindex(self, rebuild: bool = False, progress=None) -> BuildReport:
        raise self.error


class QuickBuild(SearcherWrapper):
    """A Searcher whose reindex reports progress once and succeeds at once, counting builds."""

    def __init__(self, searcher: Searcher):
        super().__init__(searcher)
        self.builds = 0

    def reindex(self, rebuild: bool = False, progress=None) -> BuildReport:
        self.builds += 1
        if progress:
            progress("embed", 1, 2)
        return BuildReport(added=["new.md"], articles=3, passages=30, embedded=5, seconds=0.1)


class CountingBuild(SearcherWrapper):
    """The real Searcher, counting the builds that reach it."""

    def __init__(self, searcher: Searcher):
        super().__init__(searcher)
        self.builds = 0

    def reindex(self, rebuild: bool = False, progress=None) -> BuildReport:
        self.builds += 1
        return self.real.reindex(rebuild=rebuild, progress=progress)


def lose_response(monkeypatch, method: str, template: str, times: int = 1) -> None:
    """Discord applies the request, but the bot gets a 500: a response lost on its way back.

    simcord's `inject_error` fails a request before Discord acts on it; a duplicate reply comes
    from the other case. This wraps the handler of one route in simcord's route table (3.2.1),
    e.g. ("POST", "/webhooks/{webhook_id}/{token}") for interaction followups.
    """
    from simcord.backend.errors import BackendError
    from simcord.http import router

    segments = template.strip("/").split("/")
    routes = list(router._ROUTES[method])
    (i,) = [n for n, (t, _) in enumerate(routes) if t == segments]
    real = routes[i][1]
    left = [times]

    def lossy(ctx):
        result = real(ctx)
        if left[0] > 0:
            left[0] -= 1
            raise BackendError(500, 0, "response lost after the request was applied (test)")
        return result

    routes[i] = (segments, lossy)
    monkeypatch.setitem(router._ROUTES, method, routes)


# ------------------------------------------------------------ the bot, its settings, a guild
def settings_for(options, tmp_path, token: str | None = None, **discord_settings) -> Settings:
    # Feedback goes to data_dir: each test writes its own file, never the shared index's folder.
    index = dataclasses.replace(options, data_dir=tmp_path)
    return Settings(
        index=index, discord=DiscordSettings(**{"page_size": 2, **discord_settings}), token=token
    )


def make_world(env) -> SimpleNamespace:
    """A guild with a channel, two members and a server manager."""
    guild = env.create_guild("報道")
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return SimpleNamespace(
        env=env,
        bot=env.bot,
        guild=guild,
        mods=mods,
        ch=guild.create_text_channel("general"),
        alice=guild.add_member(env.create_user("alice")),
        bob=guild.add_member(env.create_user("bob")),
        admin=guild.add_member(env.create_user("admin"), roles=[mods]),
    )


@pytest.fixture
def settings(options, tmp_path) -> Settings:
    return settings_for(options, tmp_path)


@pytest.fixture
def simcord_bot(settings, searcher) -> NewsBot:
    """The bot simcord starts: the project's own factory over the session index."""
    return create_bot(settings=settings, searcher=searcher)


@pytest.fixture
def world(simcord_env) -> SimpleNamespace:
    return make_world(simcord_env)


def labels(message) -> list[str]:
    return [c["label"] for row in message.components for c in row["components"]]


def all_text(message) -> str:
    """Everything a reader sees in a message: content, embed titles, texts, fields, footers."""
    parts = [message.content or ""]
    for e in message.embeds:
        parts += [e.title or "", e.description or "", e.footer.text or ""]
        parts += [f"{f.name}\n{f.value}" for f in e.fields]
    return "\n".join(parts)


# ------------------------------------------------- a burst of questions during a reindex
class TappedEmbedder:
    """The real session model behind Embedder's interface; a `Burst` may hold its calls."""

    def __init__(self, real):
        self.real = real
        self.name, self.dim, self.model_dir = real.name, real.dim, real.model_dir
        self.identity = real.identity  # its vectors are the real model's: same index identity
        self.burst: Burst | None = None

    def encode_queries(self, texts):
        if self.burst:
            self.burst.in_query()
        return self.real.encode_queries(texts)

    def encode_passages(self, texts, progress=None, spans=None):
        if self.burst:
            self.burst.in_build()
        return self.real.encode_passages(texts, progress=progress, spans=spans)


class Burst(SearcherWrapper):
    """Stands in for the Searcher (forwarding to the real one) and times a burst of questions.

    All in real threads, on the real clock (perf_counter: simcord virtualizes time.monotonic):
    - the build embeds only once `overlap` questions have started, so they overlap it;
    - `straddle` questions about the deer article take the live index, then are held inside
      the model until the new version is live: they must still answer wholly from the old one;
    - questions from the `late`-th on wait for the swap before starting: they see the new one.
    """

    WAIT = 20.0  # a safety net; a choreography that times out fails the test

    def __init__(self, searcher: Searcher, *, overlap=10, straddle=3, late=35, build_delay=0.0):
        super().__init__(searcher)
        self.overlap, self.straddle, self.late = overlap, straddle, late
        self.build_delay = build_delay
        self.started: list[str] = []
        self.held: list[str] = []
        self.seen: dict[str, str] = {}  # question → index version live when it began
        self.builds = 0
        self.build_window = (math.inf, -math.inf)
        self.answered_during_build = 0
        self.timeouts = 0
        self.swapped = threading.Event()
        self._enough = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()
        searcher.embedder.burst = self

    def _wait(self, event: threading.Event) -> None:
        if not event.wait(self.WAIT):
            self.timeouts += 1

    def ask(self, question: str, k: int | None = None, *, context=None, filters=None):
        with self._lock:
            n = len(self.started)
            self.started.append(question)
            if len(self.started) >= self.overlap:
                self._enough.set()
            hold = not question.startswith(RUSSIA) and "鹿" in question
            hold = hold and n < self.late and len(self.held) < self.straddle
            if hold:
                self.held.append(question)
        if n >= self.late:
            self._wait(self.swapped)
        self.seen[question] = self.real.info()["version"]
        self._local.hold = hold
        try:
            return self.real.ask(question, k, context=context, filters=filters)
        finally:
            self._local.hold = False
            now = time.perf_counter()
            with self._lock:
                if self.build_window[0] <= now and not self.swapped.is_set():
                    self.answered_during_build += 1

    def in_query(self) -> None:
        if getattr(self._local, "hold", False):
            self._wait(self.swapped)  # the old index is already taken: hold across the swap

    def in_build(self) -> None:
        self.build_window = (time.perf_counter(), math.inf)
        self._wait(self._enough)
        if self.build_delay:  # the benchmark's: long enough that a build on the loop would show
            time.sleep(self.build_delay)

    def reindex(self, rebuild: bool = False, progress=None):
        with self._lock:
            self.builds += 1
        try:
            return self.real.reindex(rebuild=rebuild, progress=progress)
        finally:
            self.build_window = (self.build_window[0], time.perf_counter())
            self.swapped.set()


DEER = "奈良公園には鹿が何頭いる?"
SHOGI = "将棋のタイトル戦の挑戦者はどう決まる?"
SENBEI = "鹿せんべいは何で作られている?"
MARS = "火星の今日の天気は?"
# Far beyond settle_timeout: a parked interaction never wakes on the real-time fallback.
GATE = 600.0
BURST_QUESTIONS = (DEER, SHOGI, SENBEI, RUSSIA, MARS)


def gate(env: Env, bot: NewsBot, name: str) -> None:
    """Park the bot's `name` coroutine on the virtual clock, then run the real one.

    Every call parks until the same virtual instant, GATE after the gate is set: simcord wakes
    the timers of one instant together and settles between instants, so calls parked for GATE
    each (from instants a request's latency apart) would run one after another, never at once.
    """
    real = getattr(bot, name)
    release = env.now() + dt.timedelta(seconds=GATE)

    async def parked(*args, **kwargs):
        await asyncio.sleep((release - env.now()).total_seconds())
        return await real(*args, **kwargs)

    setattr(bot, name, parked)


def snapshot(searcher: Searcher) -> SimpleNamespace:
    """What one index version can cite: its passage texts and source links."""
    index = searcher.index
    hits = [index.hit(i, 0.0) for i in range(index.size)]
    return SimpleNamespace(
        version=index.name,
        texts=[h.text for h in hits],
        urls={u for h in hits for u in h.sources},
    )


async def questions_during_a_reindex(world, own: Searcher, users: int, probe=None):
    """`users` members ask at once while an admin's /reindex builds a changed corpus (the bot's
    searcher is a Burst over `own`).

    The new version differs where a mixed answer would show: the deer article moves to a new
    link and a new head count; a shogi article is added. Returns the versions before and
    after, the /reindex result and each question's result.
    """
    env, bot = world.env, world.bot
    old = snapshot(own)
    articles = own.options.articles_dir
    deer = (ARTICLES / "nara-deer.md").read_text(encoding="utf-8")
    deer = deer.replace("news/nara-deer", "news/nara-deer-2025").replace("1,000頭", "1,300頭")
    (articles / "nara-deer.md").write_text(deer, encoding="utf-8")
    shutil.copy(ARTICLES / "shogi-titles.md", articles / "shogi-titles.md")
    gate(env, bot, "answer")
    gate(env, bot, "reindex")
    # Every /ask defers at once, as a busy bot's would: the clock stays put while the burst is
    # set up, so the build (parked first) is released first, then the questions, in one instant.
    budget, ask_module.ANSWER_BUDGET = ask_module.ANSWER_BUDGET, 0
    try:
        build = await world.admin.slash(world.ch, "reindex")
        asked: dict[str, object] = {}
        for n in range(users):
            member = world.guild.add_member(env.create_user(f"user{n}"))
            # Each copy differs by zero-width spaces, which search ignores and the reply's echo
            # keeps: every reply can be traced to the one interaction that asked it.
            question = BURST_QUESTIONS[n % len(BURST_QUESTIONS)] + "\u200b" * (n // 5)
            asked[question] = await member.slash(world.ch, "ask", question=question)
    finally:
        ask_module.ANSWER_BUDGET = budget
    # Nothing has reached the index yet: every question waits at the gate, deferred.
    parked = build.deferred and all(r.deferred for r in asked.values())
    parked = parked and not bot.searcher.started
    with probe or contextlib.nullcontext():
        await env.advance_time(GATE)  # releases the build and the questions at once
    return SimpleNamespace(old=old, new=snapshot(own), build=build, asked=asked, parked=parked)
