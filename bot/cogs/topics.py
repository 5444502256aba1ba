"""/topics: what the coverage holds, newest first, a page at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from ..ui.i18n import _
from ..ui.views import TopicsView

if TYPE_CHECKING:
    from ..client import NewsBot


class Topics(commands.Cog):
    """Lists the articles the bot answers from, with outlet, date and sections."""

    def __init__(self, bot: NewsBot):
        self.bot = bot

    @app_commands.command(name=_("topics.name"), description=_("topics.description"))
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.allowed_installs(guilds=True, users=True)
    async def topics(self, interaction: discord.Interaction) -> None:
        # Only the asker sees it, as with the other lookups (根拠, 他の結果): each person pages
        # alone and the channel is not filled with lists.
        view = TopicsView(self.bot.searcher)
        reply = view.render()
        pages = not (view.previous.disabled and view.next.disabled)
        extra = {"view": view} if pages else {}
        await interaction.response.send_message(**reply.kwargs(), **extra, ephemeral=True)
        view.interaction = interaction
        if not pages:
            view.stop()


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Topics(bot))
