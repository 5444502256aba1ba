"""/follow: topics followed by members (alerts by DM) and channels, alerts paced, a daily digest."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands, tasks

from index import Turn
from index.errors import FollowError
from index.follow import Limits, NewArticle, as_answer, on_new_articles, open_for, recent

from ..ui.follow import (
    CHANNEL_ONLY,
    DIGEST_HELP,
    TOO_MANY,
    alert_reply,
    digest_reply,
    followed_text,
    following_reply,
    paused_text,
    preview_reply,
)
from ..ui.i18n import _

if TYPE_CHECKING:
    from index.ingest import Added

    from ..client import NewsBot

log = logging.getLogger(__name__)

# Discord's code for a DM to a member who accepts none from the bot.
DM_CLOSED = 50007
_HHMM = re.compile(r"^\s*on\s+([01]?\d|2[0-3]):([0-5]\d)(?:\s+(\S+))?\s*$", re.I)


class Follow(commands.Cog):
    """Follows topics for members and channels and sends what the feed poller brings."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        s = bot.settings.follow
        self.limits = Limits(
            s.channel_per_hour, s.channel_per_day, s.member_per_hour, s.member_per_day,
            s.max_age_hours,
        )  # fmt: skip
        self.store = open_for(
            bot.searcher.store,
            bot.settings.index.data_dir,
            bot.settings.follow_key,
            bot.settings.token,
        )
        self._sending = asyncio.Lock()
        self.clock = discord.utils.utcnow  # what "now" is (a test's fixed day)
        self.sender = tasks.loop(seconds=s.send_seconds)(self._tick)
        self.sender.before_loop(self.bot.wait_until_ready)

    async def cog_load(self) -> None:
        self.sender.start()

    async def cog_unload(self) -> None:
        self.sender.cancel()
        await asyncio.to_thread(self.store.close)

    async def _holds_lease(self) -> bool:
        """With the database, only the feed poller (the lease's holder) sends alerts; the lease
        is taken here when free, so alerts go out even where no feeds are polled (/add)."""
        coverage = self.bot.get_cog("Coverage")
        lease = getattr(coverage, "lease", None)
        if lease is None or lease.held:
            return True
        return await asyncio.to_thread(lease.acquire)

    async def _tick(self) -> None:
        try:
            if await self._holds_lease():
                await self.send_pending()
                await self.send_digests()
        except Exception:  # the loop must outlive one bad round
            log.exception("Sending follow alerts failed")

    @commands.Cog.listener()
    async def on_articles_added(self, changed: Sequence[Added]) -> None:
        """A poll (or /add) wrote and indexed these: plan alerts, then send them."""
        new = [NewArticle(a.file, a.content or "") for a in changed if a.file]
        if not new:
            return
        now = self.clock()
        # Matching runs the model and the index: off the event loop, as answers do.
        out = await asyncio.to_thread(
            on_new_articles, self.bot.searcher, self.store, new, now, self.limits
        )
        log.info("Follow: %d alerts, %d for the digest, %d seen before", out.alerts, out.digest,
                 len(out.known))  # fmt: skip
        if await self._holds_lease():
            await self.send_pending()

    async def send_pending(self) -> int:
        """Post queued alerts one at a time (discord.py paces them); returns how many went."""
        sent = 0
        async with self._sending:
            while True:
                batch = await asyncio.to_thread(self.store.claim, 5)
                if not batch:
                    return sent
                for d in batch:
                    sent += await self._deliver(d)

    async def _deliver(self, d) -> int:
        sub = d.subscription
        reply = alert_reply(d.payload)
        try:
            where = await self._destination(sub.kind, sub.target)
            message = await where.send(**reply.kwargs())
        except discord.Forbidden as e:
            await asyncio.to_thread(self.store.mark, sub.id, d.story, "failed")
            await self._paused(
                sub.kind, sub.target, "dm_closed" if e.code == DM_CLOSED else "forbidden"
            )
            return 0
        except (discord.NotFound, discord.HTTPException) as e:
            log.warning("Follow alert not sent (%s); kept for the next round", e)
            await asyncio.to_thread(self.store.mark, sub.id, d.story, "queued")
            return 0
        await asyncio.to_thread(self.store.mark, sub.id, d.story, "sent")
        answer = await asyncio.to_thread(as_answer, self.bot.searcher, d.payload)
        if not answer.no_answer:  # a reply to the alert asks about its story
            self.bot.answers.remember(
                message.id, Turn(answer.question, answer, self.bot.conversations.clock())
            )
        return 1

    async def _destination(self, kind: str, target: int) -> discord.abc.Messageable:
        if kind == "member":
            user = self.bot.get_user(target) or await self.bot.fetch_user(target)
            return user.dm_channel or await user.create_dm()
        return self.bot.get_channel(target) or await self.bot.fetch_channel(target)

    async def _paused(self, kind: str, target: int, reason: str) -> None:
        """Pause the member's or channel's alerts; say so once (the admin channel for a channel)."""
        untold = await asyncio.to_thread(self.store.pause_target, kind, target, reason)
        log.warning("Follow alerts paused for a %s: %s", kind, reason)
        if not untold:
            return
        channel_id = self.bot.settings.feeds.admin_channel_id
        if kind == "channel" and channel_id:
            try:
                channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(
                    channel_id
                )
                await channel.send(paused_text(kind, [s.topic for s in untold]))
            except discord.HTTPException as e:
                log.warning("Cannot tell the admin channel about a paused follow: %s", e)
        # A member whose DMs are closed hears it in /following and /follow (the pause is shown).

    async def send_digests(self, now: dt.datetime | None = None) -> int:
        """Each digest whose time has come today: the day's folded stories, if any."""
        now = now or self.clock()
        sent = 0
        for kind, target, at, tz, last in await asyncio.to_thread(self.store.digests):
            local = now.astimezone(zoneinfo.ZoneInfo(tz))
            day = local.date().isoformat()
            if last == day or local.strftime("%H:%M") < at:
                continue
            items = await asyncio.to_thread(self.store.digest_items, kind, target)
            if items:  # nothing new: nothing sent
                try:
                    where = await self._destination(kind, target)
                    await where.send(**digest_reply(items, day).kwargs())
                    sent += 1
                except discord.Forbidden as e:
                    await self._paused(
                        kind, target, "dm_closed" if e.code == DM_CLOSED else "forbidden"
                    )
                    continue
            await asyncio.to_thread(self.store.digest_sent, kind, target, day, items)
        return sent

    # Commands --------------------------------------------------------------------------------

    async def _target(self, interaction: discord.Interaction, where: str) -> tuple[str, int] | None:
        """Who gets the alerts; None (and said) when a channel is asked for without the right."""
        if where == "channel":
            perms = interaction.permissions
            if interaction.guild_id is None or not (perms.manage_channels or perms.administrator):
                await interaction.response.send_message(CHANNEL_ONLY, ephemeral=True)
                return None
            return "channel", interaction.channel_id
        return "member", interaction.user.id

    @app_commands.command(name=_("follow.name"), description=_("follow.description"))
    @app_commands.rename(
        topic=_("follow.topic.name"), where=_("follow.where.name"), preview=_("follow.preview.name")
    )
    @app_commands.describe(
        topic=_("follow.topic.description"),
        where=_("follow.where.description"),
        preview=_("follow.preview.description"),
    )
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def follow(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 100],
        where: Literal["me", "channel"] = "me",
        preview: bool = False,
    ) -> None:
        place = await self._target(interaction, where)
        if place is None:
            return
        kind, target = place
        await interaction.response.defer(ephemeral=True, thinking=True)
        topic = " ".join(topic.split())
        try:
            # Query.of checks it as a question (QuestionError says what is wrong, in Japanese).
            await asyncio.to_thread(self.bot.searcher.query, topic)
            _sub, created = await asyncio.to_thread(
                self.store.follow, kind, target, topic, self.clock()
            )
        except FollowError:
            await interaction.followup.send(TOO_MANY, ephemeral=True)
            return
        place = "DM" if kind == "member" else "このチャンネル"
        head = (
            "フォローしました"
            if created
            else "すでにフォロー中です（一時停止していたら再開しました）"
        )
        text = followed_text(topic, head, place)
        if not preview:
            await interaction.followup.send(text, ephemeral=True)
            return
        found = await asyncio.to_thread(recent, self.bot.searcher, topic, None, 3)
        reply = preview_reply([f.payload for f in found], topic)
        await interaction.followup.send(
            f"{text}\n{reply.content}", embeds=reply.embeds, ephemeral=True
        )

    @app_commands.command(name=_("following.name"), description=_("following.description"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def following(
        self, interaction: discord.Interaction, where: Literal["me", "channel"] = "me"
    ) -> None:
        kind, target = (
            ("member", interaction.user.id)
            if where == "me"
            else ("channel", interaction.channel_id)
        )
        subs = await asyncio.to_thread(self.store.subscriptions, kind, target)
        digests = await asyncio.to_thread(self.store.digests)
        at = next(
            (f"毎日 {a}（{tz}）" for k, t, a, tz, _l in digests if (k, t) == (kind, target)), None
        )
        reply = following_reply(subs, at, "DM" if kind == "member" else "このチャンネル")
        await interaction.response.send_message(**reply.kwargs(), ephemeral=True)

    @app_commands.command(name=_("unfollow.name"), description=_("unfollow.description"))
    @app_commands.rename(topic=_("follow.topic.name"), where=_("follow.where.name"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def unfollow(
        self, interaction: discord.Interaction, topic: str, where: Literal["me", "channel"] = "me"
    ) -> None:
        place = await self._target(interaction, where)
        if place is None:
            return
        kind, target = place
        gone = await asyncio.to_thread(self.store.unfollow, kind, target, " ".join(topic.split()))
        text = (
            "フォローを解除しました。"
            if gone
            else "その話題はフォローしていません（`/フォロー一覧` で確認できます）。"
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name=_("digest.name"), description=_("digest.description"))
    @app_commands.rename(when=_("digest.when.name"), where=_("follow.where.name"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def digest(
        self, interaction: discord.Interaction, when: str, where: Literal["me", "channel"] = "me"
    ) -> None:
        place = await self._target(interaction, where)
        if place is None:
            return
        kind, target = place
        if when.strip().lower() == "off":
            await asyncio.to_thread(self.store.set_digest, kind, target, None, "")
            await interaction.response.send_message("ダイジェストを止めました。", ephemeral=True)
            return
        m = _HHMM.match(when)
        tz = (m.group(3) if m else None) or self.bot.settings.usage.timezone
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            m = None
        if m is None:
            await interaction.response.send_message(
                DIGEST_HELP,
                ephemeral=True,
            )
            return
        at = f"{int(m.group(1)):02d}:{m.group(2)}"
        await asyncio.to_thread(self.store.set_digest, kind, target, at, tz)
        await interaction.response.send_message(
            f"毎日 {at}（{tz}）にダイジェストを送ります。新しい記事がない日は送りません。",
            ephemeral=True,
        )


async def setup(bot: NewsBot) -> None:
    if not bot.settings.follow.enabled:
        return
    try:
        cog = Follow(bot)
    except FollowError as e:  # no key to seal ids with: the bot answers, /follow is off
        log.warning("Following topics is off: %s", e)
        return
    await bot.add_cog(cog)
