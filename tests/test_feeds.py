"""Feeds and /add: RSS and Atom polls, state across restarts, the bot's poll loop and /add."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace
from urllib.parse import quote

import discord
import pytest

from bot.cli import main
from bot.client import NewsBot, create_bot
from bot.cogs.ingest import CANCELLED, new_articles_text
from bot.errors import ADMIN_ONLY
from bot.settings import DiscordSettings, FeedSettings, Settings
from index import Searcher
from index.corpus.loader import load_articles
from index.ingest.articles import Added
from index.ingest.feeds import poll
from index.ingest.fetch import FetchLimits

from .conftest import MODEL_CACHE, cli_for, make_options
from .discord_fixtures import ARTICLES
from .page_server import Site

LIMITS = FetchLimits(timeout_seconds=2.0, max_bytes=1_000_000, allow_private=True)
FROM_FEEDS = {"boj-rate", "typhoon", "tech-blog", "sports-graph", "culture-modified"}
CANNOT = "⚠️ このページは追加できません:"
BOJ_QUESTION = "日銀は短期金利の誘導目標を何%に引き上げた?"


@pytest.fixture(scope="module")
def site():
    with Site() as s:
        yield s


def feeds(site: Site) -> list[str]:
    return [site.url("/feeds/rss.xml"), site.url("/feeds/atom.xml")]


def page_requests(site: Site, since: int = 0) -> list[str]:
    return [path for path, _ in site.requests[since:] if path.startswith("/articles/")]


def current(data) -> str:
    return (data / "index" / "CURRENT").read_text()


def test_poll_adds_new_items_once_then_only_what_changed(site, tmp_path):
    articles, state = tmp_path / "articles", tmp_path / "data" / "feeds.json"
    start = len(site.requests)
    first = poll(feeds(site), articles, state, LIMITS)
    # Relative links (RSS path, Atom xml:base + ../) resolve; boj-rate is in both feeds.
    assert {a.file.split("-127-0-0-1-")[1][:-3] for a in first.changed} == FROM_FEEDS
    assert page_requests(site, start).count("/articles/boj-rate") == 1
    assert first.failed == [(site.url("/articles/paywall"), "paywalled: only a teaser is public")]
    assert {a.url for a in load_articles(articles)[0]} == {
        site.url(f"/articles/{n}") for n in FROM_FEEDS
    }

    start = len(site.requests)
    second = poll(feeds(site), articles, state, LIMITS)  # the state file is all it remembers
    assert (second.not_modified, second.results, second.failed) == (2, [], [])
    assert [p for p, etag in site.requests[start:] if etag] == ["/feeds/rss.xml", "/feeds/atom.xml"]
    assert page_requests(site, start) == []  # 304 for both feeds: no page is fetched

    # boj-rate changes and the RSS feed dates it anew: only it is fetched, and its file updated.
    html, ctype = site.page("boj-rate")
    rss, rss_type = site.feed("rss.xml")
    site.overrides["/articles/boj-rate"] = (html.replace(b"0.5%", b"0.75%"), ctype)
    site.overrides["/feeds/rss.xml"] = (rss.replace(b"04:05:00 GMT", b"09:00:00 GMT"), rss_type)
    try:
        start = len(site.requests)
        third = poll(feeds(site), articles, state, LIMITS)
    finally:
        site.overrides.clear()
    assert [(a.status, a.url) for a in third.results] == [
        ("updated", site.url("/articles/boj-rate"))
    ]
    assert page_requests(site, start) == ["/articles/boj-rate"]
    (boj,) = articles.glob("*boj-rate.md")
    assert "0.75%" in boj.read_text(encoding="utf-8")
    assert len(list(articles.glob("*.md"))) == len(FROM_FEEDS)


def test_forgotten_or_damaged_state_never_duplicates_articles(site, tmp_path, caplog):
    articles, state = tmp_path / "articles", tmp_path / "feeds.json"
    poll(feeds(site), articles, state, LIMITS)
    files = sorted(p.name for p in articles.glob("*.md"))
    state.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="index.ingest.feed_state"):
        again = poll(feeds(site), articles, state, LIMITS)
    assert "starting afresh" in caplog.text
    assert again.changed == [] and {a.status for a in again.results} == {"unchanged"}
    assert sorted(p.name for p in articles.glob("*.md")) == files
    assert json.loads(state.read_text(encoding="utf-8"))["items"]  # rewritten whole


def test_feed_that_fails_or_is_not_a_feed_is_reported(site, tmp_path):
    report = poll(
        [site.url("/status/404"), site.url("/articles/typhoon")],
        tmp_path / "articles",
        tmp_path / "feeds.json",
        LIMITS,
    )
    assert report.failed == [
        (site.url("/status/404"), "HTTP 404 Not Found"),
        (site.url("/articles/typhoon"), "not an RSS or Atom feed"),
    ]
    assert not (tmp_path / "articles").exists()


def write_config(folder, site: Site, urls: list[str]):
    path = folder / "settings.toml"
    path.write_text(
        f'[index]\narticles_dir = "{folder / "articles"}"\ndata_dir = "{folder / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[fetch]\nallow_private = true\n'
        f"[feeds]\nurls = {json.dumps(urls)}\n",
        encoding="utf-8",
    )
    return path


def test_newsbot_feeds_reindexes_only_when_something_changed(
    site, tmp_path, embedder, monkeypatch, capsys
):
    cli = cli_for(embedder)
    config = write_config(tmp_path, site, feeds(site))
    assert cli(["--config", str(config), "feeds"]) == 0  # a refused item is not an error
    out = capsys.readouterr().out
    assert "2 feeds (0 not modified): 5 new or updated, 1 failed" in out
    assert f"failed: {site.url('/articles/paywall')}: paywalled" in out
    assert "5 articles, " in out  # the reindex summary
    built = current(tmp_path / "data")

    assert cli(["--config", str(config), "feeds"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "2 feeds (2 not modified): 0 new or updated, 0 failed, 0 already seen"
    ]
    assert current(tmp_path / "data") == built

    assert cli(["--config", str(config), "ask", BOJ_QUESTION]) == 0
    assert f"    {site.url('/articles/boj-rate')}" in capsys.readouterr().out.splitlines()


def test_newsbot_feeds_without_feeds_or_with_a_broken_one(site, tmp_path, capsys):
    config = write_config(tmp_path, site, [])
    assert main(["--config", str(config), "feeds"]) == 2
    assert "no feeds to poll" in capsys.readouterr().err
    config = write_config(tmp_path, site, [site.url("/status/500")])
    assert main(["--config", str(config), "feeds"]) == 1
    assert f"failed: {site.url('/status/500')}: HTTP 500" in capsys.readouterr().out


def test_new_articles_note_escapes_titles_and_fits_a_message():
    from index.ingest.extract import Extracted

    article = Extracted(
        "**太字** [括弧] @everyone", "https://e.jp/a", "2025-01-02", None, "紙", "x"
    )
    text = new_articles_text([Added("https://e.jp/a", "added", "a.md", article)] * 200)
    assert text.startswith("📰 フィードから記事を200件取り込みました。")
    assert (
        "・[\\*\\*太字\\*\\* ［括弧］ @\u200beveryone](<https://e.jp/a>)（紙・2025-01-02）" in text
    )
    assert len(text) <= 2000


# --- hostile feeds, state and concurrency -------------------------------------------------


def many_pages(site: Site, count: int, prefix: str = "many") -> str:
    """`count` distinct pages and an RSS feed listing them; returns the feed's URL."""
    html = site.page("boj-rate")[0].decode("utf-8")
    items = []
    for i in range(count):
        page = html.replace(site.url("/articles/boj-rate"), site.url(f"/{prefix}/{i}"))
        page = page.replace("日本銀行は24日", f"日本銀行は第{i}回の会合で")
        site.overrides[f"/{prefix}/{i}"] = (page.encode(), "text/html; charset=utf-8")
        items.append(f"<item><title>記事{i}</title><link>/{prefix}/{i}</link></item>")
    rss = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    rss += "".join(items) + "</channel></rss>"
    site.overrides[f"/{prefix}.xml"] = (rss.encode(), "application/rss+xml; charset=utf-8")
    return site.url(f"/{prefix}.xml")


def test_a_slow_feed_times_out_and_the_next_feed_is_still_polled(site, tmp_path):
    limits = dataclasses.replace(LIMITS, timeout_seconds=1.0)
    urls = [site.url("/slowheaders/"), site.url("/feeds/atom.xml")]
    report = poll(urls, tmp_path / "articles", tmp_path / "feeds.json", limits)
    assert report.failed[0] == (urls[0], "timed out after 1s")
    assert len(report.changed) >= 3  # the Atom feed's items
    assert json.loads((tmp_path / "feeds.json").read_text("utf-8"))["feeds"][urls[1]]


@pytest.mark.parametrize("where", ["header", "declaration"])
@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode"])
def test_a_feed_declaring_no_text_encoding_is_read(site, tmp_path, where, charset):
    rss, kind = site.feed("rss.xml")
    if where == "header":
        served = (rss, f"application/rss+xml; charset={charset}")
    else:
        served = (rss.replace(b'encoding="UTF-8"', f'encoding="{charset}"'.encode()), kind)
    site.overrides["/odd.xml"] = served
    try:
        state = tmp_path / "feeds.json"
        report = poll([site.url("/odd.xml")], tmp_path / "articles", state, LIMITS)
        again = poll([site.url("/odd.xml")], tmp_path / "articles", state, LIMITS)
    finally:
        site.overrides.clear()
    assert len(report.changed) == 3 and report.failed[0][1].startswith("paywalled")
    assert again.not_modified == 1 and again.failed == []


def test_feed_state_of_the_wrong_shape_is_repaired_not_fatal(site, tmp_path, caplog):
    state = tmp_path / "feeds.json"
    url = site.url("/feeds/rss.xml")
    page = site.url("/articles/typhoon")
    state.write_text(
        json.dumps(
            {
                "version": 1,
                "feeds": {url: None, "x": "text", "y": {"etag": ["a"], "last_modified": 3}},
                "items": {page: "text", "z": {"updated": ["a"], "etag": {}, "file": 1}},
            }
        ),
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="index.ingest.feed_state"):
        report = poll([url], tmp_path / "articles", state, LIMITS)
    assert "repaired" in caplog.text
    assert len(report.changed) == 3
    saved = json.loads(state.read_text("utf-8"))
    assert saved["feeds"][url]["etag"] and saved["items"][page]["updated"] == {
        url: "Tue, 27 Aug 2024 21:10:00 GMT"
    }
    assert poll([url], tmp_path / "articles", state, LIMITS).not_modified == 1


def test_an_item_that_is_not_an_http_link_is_reported_once(site, tmp_path):
    rss, kind = site.feed("rss.xml")
    odd = b"<item><title>x</title><link>file:///etc/passwd</link></item></channel>"
    site.overrides["/file-item.xml"] = (rss.replace(b"</channel>", odd), kind)
    try:
        state = tmp_path / "feeds.json"
        first = poll([site.url("/file-item.xml")], tmp_path / "articles", state, LIMITS)
        second = poll([site.url("/file-item.xml")], tmp_path / "articles", state, LIMITS)
    finally:
        site.overrides.clear()
    refused = [(u, why) for u, why in first.failed if u.startswith("file:")]
    assert refused and refused[0][1] == "only http and https links are fetched, not 'file'"
    assert second.failed == [] and second.not_modified == 1


def test_items_over_the_limit_are_fetched_at_the_next_polls(site, tmp_path, monkeypatch):
    monkeypatch.setattr("index.ingest.feeds.MAX_ITEMS", 3)
    url = many_pages(site, 7, "over")
    state = tmp_path / "feeds.json"
    try:
        polls = [poll([url], tmp_path / "articles", state, LIMITS) for _ in range(4)]
    finally:
        site.overrides.clear()
    assert [(len(p.changed), p.deferred) for p in polls[:3]] == [(3, 4), (3, 1), (1, 0)]
    assert polls[3].not_modified == 1  # all taken: the feed's ETag is kept again
    assert len(list((tmp_path / "articles").glob("*.md"))) == 7


POLL_SCRIPT = """
import sys
from pathlib import Path
from index.ingest.feeds import poll
from index.ingest.fetch import FetchLimits

limits = FetchLimits(timeout_seconds=10, allow_private=True)
report = poll([sys.argv[1]], Path(sys.argv[2]), Path(sys.argv[3]), limits)
print(len(report.changed), len(report.failed))
"""


def test_two_polls_at_once_never_write_an_article_twice(site, tmp_path):
    url = many_pages(site, 60, "twice")
    articles, state = tmp_path / "articles", tmp_path / "data" / "feeds.json"
    args = [sys.executable, "-c", POLL_SCRIPT, url, str(articles), str(state)]
    try:
        runs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [run.communicate(timeout=300)[0].split() for run in runs]
    finally:
        site.overrides.clear()
    assert all(run.returncode == 0 for run in runs)
    assert sum(int(changed) for changed, _ in outs) == 60  # each page written by one of them
    names = sorted(f.name for f in articles.glob("*.md"))  # no "-2" copies beside them
    assert names == sorted(f"2025-01-24-127-0-0-1-twice-{i}.md" for i in range(60))
    urls = Counter(a.url for a in load_articles(articles)[0])
    assert len(urls) == 60 and set(urls.values()) == {1}


# --- Discord ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_once(tmp_path_factory, embedder):
    """One short article, indexed once; each test gets a copy."""
    folder = tmp_path_factory.mktemp("built")
    (folder / "articles").mkdir()
    shutil.copy(ARTICLES / "nara-deer.md", folder / "articles")
    Searcher.open(make_options(folder, folder / "articles"), embedder=embedder)
    return folder


@pytest.fixture
def fresh(built_once, tmp_path, embedder) -> Searcher:
    """An index of its own: these tests add to it."""
    shutil.copytree(built_once / "articles", tmp_path / "articles")
    shutil.copytree(built_once / "data" / "index", tmp_path / "data" / "index")
    options = make_options(tmp_path, tmp_path / "articles")
    return Searcher.open(options, build_missing=False, embedder=embedder)


@pytest.fixture
def settings(fresh, tmp_path) -> Settings:
    return Settings(
        index=dataclasses.replace(fresh.options, data_dir=tmp_path / "data"),
        discord=DiscordSettings(page_size=2),
        fetch=LIMITS,
    )


@pytest.fixture
def simcord_bot(settings, fresh) -> NewsBot:
    return create_bot(settings=settings, searcher=fresh)


@pytest.fixture
def world(simcord_env):
    env = simcord_env
    guild = env.create_guild("報道")
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return SimpleNamespace(
        env=env,
        bot=env.bot,
        guild=guild,
        ch=guild.create_text_channel("general"),
        news=guild.create_text_channel("news-admin"),
        alice=guild.add_member(env.create_user("alice")),
        admin=guild.add_member(env.create_user("admin"), roles=[mods]),
    )


def labels(message) -> list[str]:
    return [c["label"] for row in message.components for c in row["components"]]


async def test_add_is_an_admin_command_named_in_japanese(world):
    put = [r for r in world.env.http_requests if r.method == "PUT" and "/commands" in r.path][-1]
    add = next(c for c in put.json if c["name"] == "add")
    assert add["name_localizations"]["ja"] == "記事追加"
    assert int(add["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert "add" not in world.alice.available_commands(world.ch)
    world.guild.set_command_permissions(world.bot.command_ids["add"], {world.alice: True})
    r = await world.alice.slash(world.ch, "add", url="https://example.com/")
    assert r.ephemeral and r.response.content == ADMIN_ONLY
    world.env.errors.clear()


@pytest.mark.simcord(settle_timeout=60)
async def test_add_previews_then_writes_reindexes_and_ask_cites_the_page(world, site, fresh):
    url = site.url("/articles/boj-rate")
    r = await world.admin.slash(world.ch, "add", url=url)
    preview = r.response
    assert preview.ephemeral and preview.content == "次の内容で記事を追加しますか？"
    (embed,) = preview.embeds
    assert (embed.title, embed.url) == ("日銀、追加利上げを決定 政策金利0.5%に", url)
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {"媒体": "東都新聞", "日付": "2025-01-24", "見出し": "3件"}
    assert embed.description.startswith("日本銀行は24日の金融政策決定会合で")
    assert labels(preview) == ["追加", "キャンセル"]
    assert not list(fresh.options.articles_dir.glob("*boj-rate.md"))  # nothing written yet

    done = await world.admin.click(preview, label="追加")
    (written,) = fresh.options.articles_dir.glob("*boj-rate.md")
    summary = done.response.content
    assert summary.startswith("✅ 記事を追加しました: 日銀、追加利上げを決定")
    assert f"追加 1件: {written.name}" in summary and done.response.components == []

    asked = await world.alice.slash(world.ch, "ask", question=BOJ_QUESTION)
    assert any(f"]({url})" in (e.description or "") for e in asked.response.embeds)


async def test_add_cancel_writes_nothing_and_refused_pages_say_why(world, site, fresh):
    r = await world.admin.slash(world.ch, "add", url=site.url("/articles/typhoon"))
    cancelled = await world.admin.click(r.response, label="キャンセル")
    assert (cancelled.response.content, cancelled.response.embeds) == (CANCELLED, [])
    assert not list(fresh.options.articles_dir.glob("*typhoon.md"))

    refused = await world.admin.slash(world.ch, "add", url=site.url("/articles/paywall"))
    assert (
        refused.response.content
        == "⚠️ このページは追加できません: paywalled: only a teaser is public"
    )
    bad = await world.admin.slash(world.ch, "add", url="ftp://example.com/x")
    assert bad.response.content.startswith(f"{CANNOT} only http and https")


async def test_add_takes_a_link_as_people_write_it_and_shows_no_password(world, site, fresh):
    path = "/記事/discord?kw=東京"
    html = site.page("boj-rate")[0].decode("utf-8").replace(site.url("/articles/boj-rate"), "")
    site.overrides[quote(path, safe="/?=")] = (html.encode(), "text/html; charset=utf-8")
    try:
        url = site.url(path).replace("http://", "http://user:s3cret@")
        r = await world.admin.slash(world.ch, "add", url=url)
    finally:
        site.overrides.clear()
    (embed,) = r.response.embeds
    assert r.response.content == "次の内容で記事を追加しますか？"
    assert embed.url == site.url(path)  # as written, without the user name and password
    assert "s3cret" not in repr(embed.to_dict())


@pytest.mark.simcord(settle_timeout=60)
async def test_background_poll_reindexes_on_news_tells_the_channel_and_idles_otherwise(
    world, site, settings
):
    cog = world.bot.get_cog("Coverage")
    assert not cog.poller.is_running()  # no feeds configured at start
    world.bot.settings = dataclasses.replace(
        settings, feeds=FeedSettings(urls=tuple(feeds(site)), admin_channel_id=world.news.id)
    )
    data = settings.index.data_dir
    before = current(data)
    report = await cog.poll_once()
    assert len(report.changed) == 5 and current(data) != before
    (note,) = [m for m in world.news.history() if m.author.id == world.bot.user.id]
    assert note.content.startswith("📰 フィードから記事を5件取り込みました。")
    assert f"(<{site.url('/articles/sports-graph')}>)" in note.content

    built = current(data)
    quiet = await cog.poll_once()
    assert (quiet.changed, quiet.not_modified) == ([], 2)
    assert current(data) == built  # nothing new: no reindex
    assert len([m for m in world.news.history() if m.author.id == world.bot.user.id]) == 1


@pytest.mark.simcord(settle_timeout=30)
class TestPollLoop:
    """The loop starts with the bot when feeds are set, polls, and stops with the cog."""

    @pytest.fixture
    def simcord_bot(self, settings, fresh, site) -> NewsBot:
        feeds_on = FeedSettings(urls=(site.url("/feeds/gone.xml"),), interval_minutes=7)
        return create_bot(settings=dataclasses.replace(settings, feeds=feeds_on), searcher=fresh)

    async def test_poll_loop_runs_on_the_configured_interval(self, world, site):
        cog = world.bot.get_cog("Coverage")
        assert cog.poller.is_running() and cog.poller.minutes == 7
        task = cog.poller.get_task()
        for _ in range(100):  # the first poll runs as soon as the bot is ready
            if ("/feeds/gone.xml", None) in site.requests:
                break
            await asyncio.wait([task], timeout=0.05)
        assert site.requests.count(("/feeds/gone.xml", None)) == 1
        assert not task.done()  # a failed feed is logged; the loop goes on
        await world.bot.unload_extension("bot.cogs.ingest")
        await asyncio.wait([task], timeout=5)
        assert task.done() and not cog.poller.is_running()
