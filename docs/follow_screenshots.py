"""Screenshots of /follow's replies: an alert, a merged story, the digest and /following.

Run from the project folder: `.venv/bin/python docs/follow_screenshots.py` (needs what
docs/screenshots.py needs). It builds a throwaway index of `articles/`, the test articles and
tests/data/follow/stories, drives the real bot through simcord on a fixed day, and writes
`docs/follow-<name>-phone.png` and `-desktop.png`, printing each reply's height and length.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

import discord
from simcord import Env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from screenshots import shoot, text_of  # noqa: E402

from bot import create_bot  # noqa: E402
from bot.settings import DiscordSettings, FollowSettings, Settings, load_settings  # noqa: E402
from index import Searcher  # noqa: E402
from index.ingest import Added  # noqa: E402

STORIES = ROOT / "tests" / "data" / "follow" / "stories"
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def added(*names: str) -> list[Added]:
    return [
        Added(f"https://example.com/{n}", "added", n, content=(STORIES / n).read_text("utf-8"))
        for n in names
    ]


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="newsbot-follow-shots-"))
    articles = work / "articles"
    shutil.copytree(ROOT / "articles", articles)
    for path in [*(ROOT / "tests" / "data" / "articles").glob("*.md"), *STORIES.glob("*.md")]:
        shutil.copy(path, articles)
    base = load_settings()
    index = dataclasses.replace(base.index, articles_dir=articles, data_dir=work / "data")
    follow = FollowSettings(member_per_hour=1)  # the second story goes to the digest
    settings = Settings(index=index, discord=DiscordSettings(), follow=follow)
    searcher = Searcher.open(index)
    bot = create_bot(settings=settings, searcher=searcher)
    env = Env(bot, settle_timeout=120)
    await env.start()
    report = []
    try:
        guild = env.create_guild("ニュース")
        ch = guild.create_text_channel("将棋ニュース")
        editors = guild.create_role(
            "editors", permissions=discord.Permissions(manage_channels=True)
        )
        alice = guild.add_member(env.create_user("alice"))
        editor = guild.add_member(env.create_user("editor"), roles=[editors])
        cog = bot.get_cog("Follow")
        cog.clock = lambda: NOW
        dm = alice.user.dm_channel

        async def snap(name, target, channel, viewer) -> None:
            chars = len(text_of(getattr(target, "response", target)))
            report.append((name, chars, await shoot(env, channel, viewer, target, name)))

        await editor.slash(ch, "follow", topic="将棋", where="channel")
        await alice.user.slash("follow", topic="富士山")
        await alice.user.slash("follow", topic="ceasefire")
        await alice.user.slash("digest", when="on 21:00")
        await cog.on_articles_added(added("ryuo-a1.md", "ryuo-a2.md", "ryuo-a3.md"))
        await snap("follow-merged", ch.history()[-1], ch, editor)
        await cog.on_articles_added(added("fuji-b1.md", "fuji-b2.md", "fuji-d.md"))
        alerts = [m for m in dm.history(viewer=alice) if (m.content or "").startswith("🔔")]
        await snap("follow-alert", alerts[-1], dm, alice.user)
        await cog.send_digests(NOW)
        await snap("follow-digest", dm.history(viewer=alice)[-1], dm, alice.user)
        await snap("follow-following", await alice.user.slash("following"), dm, alice.user)
    finally:
        await env.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    for name, chars, heights in report:
        sizes = ", ".join(f"{k} {v} px" for k, v in heights.items())
        print(f"{name:17} {chars:5} chars  {sizes}")


if __name__ == "__main__":
    asyncio.run(main())
