"""/follow end to end through simcord: DMs and channels, one story one alert, edits, caps and
the digest, closed DMs, and a reply to an alert asking about its story."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import discord
import pytest

from bot.client import create_bot
from bot.settings import FollowSettings
from index import Searcher
from index.ingest import Added

from .conftest import DATA, make_options
from .discord_fixtures import make_world, settings_for

STORIES = DATA / "follow" / "stories"
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
MANY = 50


def shogi_cup(n: int) -> str:
    """One of many distinct shogi events, three days apart (never one story)."""
    day = dt.date(2020, 1, 1) + dt.timedelta(days=3 * n)
    return (
        f'---\ntitle: "将棋の第{n}回テスト杯、棋士{n}号が優勝"\n'
        f"url: https://example.com/news/cup-{n}\npublished: {day.isoformat()}\n"
        f"outlet: テスト新聞\n---\n将棋の第{n}回テスト杯の決勝が行われ、棋士{n}号が"
        f"{n + 100}手で勝って優勝した。賞金は{n}0万円。\n"
    )


@pytest.fixture(scope="module")
def grown(embedder, corpus_dir, tmp_path_factory) -> Searcher:
    """The test corpus, the day's stories and fifty shogi cups, built once for the module."""
    folder = tmp_path_factory.mktemp("follow-discord")
    for path in [*corpus_dir.glob("*.md"), *STORIES.glob("*.md")]:
        shutil.copy(path, folder / path.name)
    for n in range(MANY):
        (folder / f"cup-{n}.md").write_text(shogi_cup(n), encoding="utf-8")
    options = make_options(tmp_path_factory.mktemp("follow-discord-data"), folder)
    return Searcher.open(options, embedder=embedder)


@pytest.fixture
def follow_settings() -> FollowSettings:
    return FollowSettings(max_age_hours=24 * 3650)  # the cups are years old


@pytest.fixture
def simcord_bot(options, tmp_path, grown, follow_settings):
    settings = dataclasses.replace(settings_for(options, tmp_path), follow=follow_settings)
    return create_bot(settings=settings, searcher=grown)


@pytest.fixture
def world(simcord_env):
    w = make_world(simcord_env)
    w.cog = w.bot.get_cog("Follow")
    w.cog.clock = lambda: NOW
    editors = w.guild.create_role("editors", permissions=discord.Permissions(manage_channels=True))
    w.editor = w.guild.add_member(simcord_env.create_user("editor"), roles=[editors])
    return w


def added(*names: str, text: dict[str, str] | None = None) -> list[Added]:
    out = []
    for name in names:
        body = (text or {}).get(name) or (STORIES / name).read_text(encoding="utf-8")
        out.append(Added(f"https://example.com/{name}", "added", name, content=body))
    return out


def from_bot(channel, viewer, bot) -> list[discord.Message]:
    return [m for m in channel.history(viewer=viewer) if m.author.id == bot.user.id]


def alerts(channel, viewer, bot) -> list[discord.Message]:
    """The bot's alerts (not the commands' own replies)."""
    return [m for m in from_bot(channel, viewer, bot) if (m.content or "").startswith("🔔")]


async def test_follow_in_a_dm_and_in_a_channel_brings_one_alert_naming_three_outlets(world):
    r = await world.alice.user.slash("follow", topic="将棋")
    assert "フォローしました" in r.response.content
    r = await world.editor.slash(world.ch, "follow", topic="将棋", where="channel")
    assert "このチャンネル" in r.response.content
    await world.cog.on_articles_added(added("ryuo-a1.md", "ryuo-a2.md", "ryuo-a3.md"))
    (dm,) = alerts(world.alice.user.dm_channel, world.alice, world.bot)
    (posted,) = alerts(world.ch, world.alice, world.bot)
    for message in (dm, posted):
        embed = message.embeds[0]
        names = embed.fields[0].value
        assert embed.fields[0].name == "3社が報道"
        assert all(o in names for o in ("テスト新聞", "サンプル日報", "例示通信"))
        assert embed.description.startswith("> ") and "](" in embed.description
    r = await world.alice.user.slash("following")
    assert "将棋" in r.response.embeds[0].description


async def test_a_channel_follow_needs_manage_channels(world):
    r = await world.bob.slash(world.ch, "follow", topic="将棋", where="channel")
    assert "チャンネルの管理" in r.response.content
    assert world.cog.store.subscriptions() == []


async def test_an_edited_article_is_not_alerted_again(world):
    await world.alice.user.slash("follow", topic="富士山")
    await world.cog.on_articles_added(added("fuji-b1.md"))
    text = (STORIES / "fuji-b1.md").read_text(encoding="utf-8")
    edited = text.replace("明らかにした。", "明らかにした。詳細は後日発表する。")
    await world.cog.on_articles_added(added("fuji-b1.md", text={"fuji-b1.md": edited}))
    assert len(alerts(world.alice.user.dm_channel, world.alice, world.bot)) == 1


@pytest.mark.parametrize("follow_settings", [FollowSettings(max_age_hours=24 * 3650)])
async def test_fifty_matches_post_the_cap_and_fold_the_rest_into_the_digest(world):
    await world.alice.user.slash("follow", topic="将棋")
    r = await world.alice.user.slash("digest", when="on 21:00")
    assert "21:00（Asia/Tokyo）" in r.response.content
    cups = {f"cup-{n}.md": shogi_cup(n) for n in range(MANY)}
    await world.cog.on_articles_added(added(*cups, text=cups))
    dm = world.alice.user.dm_channel
    assert len(alerts(dm, world.alice, world.bot)) == 3  # member_per_hour
    minute = dt.timedelta(minutes=1)
    assert await world.cog.send_digests(NOW - minute) == 0  # 21:00 in Tokyo is 12:00 UTC
    assert await world.cog.send_digests(NOW) == 1
    digest = from_bot(dm, world.alice, world.bot)[-1].embeds[0]
    assert "ダイジェスト" in digest.title and "テスト杯" in digest.description
    assert await world.cog.send_digests(NOW + dt.timedelta(minutes=2)) == 0  # once a day
    assert await world.cog.send_digests(NOW + dt.timedelta(days=1, minutes=1)) == 0  # nothing new


async def test_closed_dms_pause_the_follow_and_say_so_once(world):
    await world.alice.user.slash("follow", topic="将棋")
    dm = world.alice.user.dm_channel
    world.env.inject_error(
        "POST", f"/channels/{dm.id}/messages", status=403, code=50007, times=None,
        message="Cannot send messages to this user",
    )  # fmt: skip
    await world.cog.on_articles_added(added("meijin-c.md"))
    await world.cog.on_articles_added(added("ryuo-a1.md"))
    (sub,) = world.cog.store.subscriptions()
    assert sub.paused == "dm_closed" and sub.told
    assert [d.state for d in world.cog.store.deliveries()] == ["failed"]  # paused: no more
    r = await world.alice.user.slash("following")
    assert "DMを受け取れない" in r.response.embeds[0].description
    world.env.errors.clear()


async def test_a_reply_to_an_alert_asks_about_its_story(world):
    await world.alice.user.slash("follow", topic="将棋")
    await world.cog.on_articles_added(added("ryuo-a1.md", "ryuo-a2.md", "ryuo-a3.md"))
    dm = world.alice.user.dm_channel
    (alert,) = alerts(dm, world.alice, world.bot)
    await world.alice.user.send_dm(
        "何手で決着した?", reference={"channel_id": dm.id, "message_id": alert.id}
    )
    reply = from_bot(dm, world.alice, world.bot)[-1]
    assert reply.id != alert.id
    assert "159" in (reply.embeds[0].description if reply.embeds else reply.content)


async def test_follow_with_a_preview_shows_the_latest_matches_only_to_the_member(world):
    r = await world.alice.user.slash("follow", topic="富士山", preview=True)
    assert "最新" in r.response.content and r.response.embeds
    assert all("富士" in e.title for e in r.response.embeds) and len(r.response.embeds) <= 3
    assert r.response.ephemeral
    assert alerts(world.alice.user.dm_channel, world.alice, world.bot) == []  # nothing sent


async def test_unfollow_stops_the_alerts(world):
    await world.alice.user.slash("follow", topic="将棋")
    r = await world.alice.user.slash("unfollow", topic="将棋")
    assert "解除" in r.response.content
    await world.cog.on_articles_added(added("meijin-c.md"))
    assert alerts(world.alice.user.dm_channel, world.alice, world.bot) == []
