"""A real feed poll (a loopback site) reaches followed topics: the poller's one dispatch, the
follow cog's matching in a thread, the alert in the member's DMs."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from types import SimpleNamespace

import pytest

from bot.client import create_bot
from bot.settings import DiscordSettings, FeedSettings, FollowSettings, Settings

from .test_feeds import LIMITS, built_once, feeds, fresh, site  # noqa: F401 (fixtures)

# The feed's items are dated January 2025: the alert window is that day.
NOW = dt.datetime(2025, 1, 24, 12, tzinfo=dt.UTC)


@pytest.fixture
def settings(fresh, tmp_path) -> Settings:  # noqa: F811
    return Settings(
        index=dataclasses.replace(fresh.options, data_dir=tmp_path / "data"),
        discord=DiscordSettings(page_size=2),
        fetch=LIMITS,
        follow=FollowSettings(max_age_hours=24 * 3650),  # the other items are older
    )


@pytest.fixture
def simcord_bot(settings, fresh):  # noqa: F811
    return create_bot(settings=settings, searcher=fresh)


@pytest.mark.simcord(settle_timeout=120)
async def test_a_feed_poll_alerts_a_member_who_follows_its_subject(
    simcord_env,
    site,  # noqa: F811
    monkeypatch,
):
    env = simcord_env
    guild = env.create_guild("報道")
    alice = guild.add_member(env.create_user("alice"))
    w = SimpleNamespace(bot=env.bot, follow=env.bot.get_cog("Follow"))
    w.follow.clock = lambda: NOW
    done = asyncio.Event()
    real = w.follow.send_pending

    async def spied() -> int:
        sent = await real()
        done.set()
        return sent

    monkeypatch.setattr(w.follow, "send_pending", spied)
    await alice.user.slash("follow", topic="日銀の利上げ")
    # The feeds come after the follow (with them at start, the poller would run at once).
    feeds_now = FeedSettings(urls=tuple(feeds(site)))
    env.bot.settings = dataclasses.replace(env.bot.settings, feeds=feeds_now)
    report = await env.bot.get_cog("Coverage").poll_once()
    assert report.changed
    await asyncio.wait_for(done.wait(), 120)  # a safety net, not the check
    dm = alice.user.dm_channel
    alerts = [m for m in dm.history(viewer=alice) if (m.content or "").startswith("🔔")]
    assert len(alerts) == 1
    assert "日銀" in alerts[0].embeds[0].title and "東都新聞" in alerts[0].embeds[0].fields[0].value
