"""Administration: /reindex rebuilds the index while the old one keeps answering."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import BuildInProgressError

from .. import errors
from ..ui.build_progress import progress_text, report_summary
from ..ui.i18n import _

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)

PROGRESS_EVERY = 2.0  # seconds between progress edits: Discord rate-limits message edits


async def is_admin(interaction: discord.Interaction[NewsBot]) -> bool:
    """Configured owners and the application owner anywhere; in a guild, server managers too."""
    bot, user = interaction.client, interaction.user
    if user.id in bot.settings.discord.owner_ids or await bot.is_owner(user):
        return True
    if interaction.guild_id is None:
        return False  # DMs and group DMs: owners only
    # default_permissions only hides the command; a server can grant it to anyone, so check again.
    perms = interaction.permissions
    return perms.manage_guild or perms.administrator


class Progress:
    """Build progress callback: edits the admin's reply from the build thread, throttled."""

    def __init__(self, interaction: discord.Interaction):
        self.interaction = interaction
        self.loop = asyncio.get_running_loop()
        self._last = -math.inf
        self._pending: concurrent.futures.Future | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY or (self._pending and not self._pending.done()):
            return
        self._last = now
        text = progress_text(stage, done, total)
        self._pending = asyncio.run_coroutine_threadsafe(self._show(text), self.loop)

    async def _show(self, text: str) -> None:
        try:
            await self.interaction.edit_original_response(content=text)
        except discord.HTTPException as e:  # progress is a courtesy; the build goes on
            log.warning("Cannot show reindex progress: %s", e)

    async def flush(self) -> None:
        """Let an edit in flight land first, so it cannot overwrite the summary."""
        if self._pending is not None:
            await asyncio.wrap_future(self._pending)


async def finish(interaction: discord.Interaction, text: str) -> None:
    """Put the outcome in the admin's reply; if that message cannot be edited, send it anew.

    The reply is ephemeral, so the admin may have dismissed it (10008 Unknown Message) while
    the build ran. An edit is safe to repeat, a new message is not: one attempt each.
    """
    try:
        await interaction.edit_original_response(content=text)
        return
    except discord.HTTPException as e:
        log.warning("Cannot show the reindex outcome in its reply: %s", e)
    try:
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as e:
        log.error("Cannot tell the admin the reindex outcome (%s): %s", e, text)


class Admin(commands.Cog):
    """Index maintenance for server managers and the bot's owners."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        # Refuses a second /reindex on the event loop, before deferring, so its reply is a plain
        # ephemeral line; the index store's file lock is what keeps builds one at a time.
        self._building = asyncio.Lock()

    @app_commands.command(name=_("reindex.name"), description=_("reindex.description"))
    @app_commands.rename(rebuild=_("reindex.rebuild.name"))
    @app_commands.describe(rebuild=_("reindex.rebuild.description"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.check(is_admin)
    async def reindex(self, interaction: discord.Interaction, rebuild: bool = False) -> None:
        # Refuse before deferring so the answer is a plain ephemeral line (bot/errors.py).
        if self._building.locked():
            raise BuildInProgressError("a reindex is already running")
        async with self._building:
            await interaction.response.defer(ephemeral=True, thinking=True)
            progress = Progress(interaction)
            log.info("Reindex (rebuild=%s) started by an admin", rebuild)  # no ids in logs
            try:
                report = await self.bot.reindex(rebuild=rebuild, progress=progress)
            except Exception as e:  # the old index is still live; tell the admin in one line
                text = errors.build_failure(e)
            else:
                text = report_summary(report)
            await progress.flush()
            await finish(interaction, text)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Admin(bot))
