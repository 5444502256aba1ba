"""/report: what people asked, what went unanswered, the answers voted down (admins only)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import zoneinfo
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from index.usage import Scope, UsageReport, build_report, keyed_hash, load_key, render_chart

from ..ui.i18n import _
from ..ui.usage_report import CHART, FORGET_ASK, ForgetView, report_embed
from .admin import is_admin

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0  # the report waits this long for questions still queued to be written


class Report(commands.Cog):
    """The usage report, privately for server managers and the bot's owners."""

    def __init__(self, bot: NewsBot):
        self.bot = bot

    @app_commands.command(name=_("report.name"), description=_("report.description"))
    @app_commands.rename(days=_("report.days.name"))
    @app_commands.describe(days=_("report.days.description"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.check(is_admin)
    async def report(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 30
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        # Who asked is not logged (no raw ids in the logs); where, only as server or DM.
        where = "a DM" if interaction.guild_id is None else "a server"
        log.info("Usage report (%d days) asked in %s", days, where)
        scope = await self.scope(interaction)
        report, png = await asyncio.to_thread(self.build, days, scope)
        embed = report_embed(report)
        chart = discord.File(io.BytesIO(png), filename=CHART)
        await interaction.followup.send(embed=embed, file=chart, ephemeral=True)

    async def scope(self, interaction: discord.Interaction) -> Scope:
        """A server's report covers that server; in a DM only an owner sees the DMs."""
        data_dir = self.bot.settings.index.data_dir
        if interaction.guild_id is not None:
            key = await asyncio.to_thread(load_key, data_dir)
            return Scope(guild_hash=keyed_hash(key, "guild", interaction.guild_id))
        return Scope(dms=True)  # is_admin lets only owners run it in a DM

    def build(self, days: int, scope: Scope) -> tuple[UsageReport, bytes]:
        """The figures and the chart (SQLite and matplotlib: run in a worker thread)."""
        writer = self.bot.usage.writer
        if writer is not None:
            writer.flush(FLUSH_SECONDS)  # include the questions asked a moment ago
        zone = self.bot.settings.usage.timezone
        today = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
        since = today - dt.timedelta(days=days - 1)
        report = build_report(
            self.bot.settings.index.data_dir,
            since,
            today,
            scope=scope,
            timezone=zone,
            encode=self.bot.searcher.embedder.encode_queries,
        )
        return report, render_chart(report)

    @app_commands.command(name=_("forget.name"), description=_("forget.description"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.allowed_installs(guilds=True, users=True)
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """/forget-me: a member erases what they asked and voted, after one confirming click."""
        log.info("A member asked to erase their use data")  # who, never: no ids in the logs
        user_id = interaction.user.id

        async def erase():
            return await asyncio.to_thread(self.bot.usage.forget_user, user_id)

        view = ForgetView(user_id, erase)
        await interaction.response.send_message(FORGET_ASK, view=view, ephemeral=True)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Report(bot))
