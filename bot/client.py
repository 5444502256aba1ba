"""The composition root: the bot gets its settings and searcher, loads its cogs, syncs commands."""

from __future__ import annotations

import asyncio
import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from index import Answer, BuildProgress, BuildReport, Conversations, Filters, Hit, Searcher, Turn

from . import errors
from .searchers import OpenSearcher, open_searcher
from .settings import Settings, load_settings
from .threads import AnswerTurns
from .ui.i18n import Translator
from .usage import UsageLog

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.topics",
    "bot.cogs.admin",
    "bot.cogs.ingest",
    "bot.cogs.report",
    "bot.cogs.follow",
)


class NewsTree(app_commands.CommandTree):
    """Every slash command error goes to bot/errors.py."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError):
        await errors.handle(interaction, error)


class NewsBot(commands.Bot):
    """Answers questions about news coverage from a `Searcher`, in slash commands and DMs."""

    def __init__(self, *, settings: Settings, searcher: Searcher, **options):
        intents = discord.Intents.default()
        # DMs, mentions and replies that ping the bot carry their text without message_content;
        # with it (privileged), messages in the bot's threads need no mention.
        intents.message_content = settings.discord.message_content
        super().__init__(
            # Required by commands.Bot; there are no prefix commands (see on_message).
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            # Questions are echoed back: nothing the bot sends may ever ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=NewsTree,
            **options,
        )
        self.settings = settings
        self.searcher = searcher
        # Questions and votes go to data/usage.db from a thread of its own (bot/usage.py).
        self.usage = UsageLog.open(settings)
        self.command_ids: dict[str, int] = {}
        # Follow-ups: each asker's last turns and each answer's turn, in memory.
        talk = settings.conversation
        self.conversations = Conversations(
            window=talk.window_seconds, turns=talk.turns, clock=_monotonic
        )
        # What each answer answered is kept in the data folder: a reply after a restart
        # continues it (bot/asked.py).
        self.answers = AnswerTurns(folder=settings.index.data_dir)

    async def setup_hook(self) -> None:
        # With the database, other processes' reindexes are served here as they go live.
        self.searcher.watch()
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.tree.set_translator(Translator())
        guild_id = self.settings.discord.dev_guild_id
        if guild_id:
            # A guild sync shows up at once; a global one can take a while to reach clients.
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        self.command_ids = {c.name: c.id for c in synced}
        where = f"to guild {guild_id}" if guild_id else "globally"
        log.info("Synced %d commands %s", len(synced), where)

    async def close(self) -> None:
        await super().close()
        await asyncio.to_thread(self.searcher.close)
        await asyncio.to_thread(self.usage.close)  # what is queued is written first
        self.answers.close()

    async def on_ready(self) -> None:
        info = self.searcher.info()
        log.info(
            "Ready as %s (%s) in %d guilds; index %s with %d passages",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
            info.get("version"),
            info.get("passages", 0),
        )

    async def on_message(self, message: discord.Message, /) -> None:
        """Prefix commands are off; the Ask cog's listener answers DMs and mentions."""

    def command_mention(self, name: str) -> str:
        """`</ask:id>` is a clickable command in the client; plain `/ask` before the first sync."""
        command_id = self.command_ids.get(name)
        return f"</{name}:{command_id}>" if command_id else f"/{name}"

    # The model and index are CPU-bound: they run in a thread so the gateway keeps its heartbeat.
    async def answer(
        self, question: str, *, context: Turn | None = None, filters: Filters | None = None
    ) -> Answer:
        started = time.perf_counter()
        answer = await asyncio.to_thread(
            self.searcher.ask, question, context=context, filters=filters
        )
        self.usage.searched(answer, (time.perf_counter() - started) * 1000)
        return answer

    async def more(self, answer: Answer, k: int, filters: Filters | None = None) -> list[Hit]:
        """「他の結果」: what the answer was asked, ranked again (Searcher.more)."""
        return await asyncio.to_thread(self.searcher.more, answer, k, filters)

    async def reindex(
        self, *, rebuild: bool = False, progress: BuildProgress | None = None
    ) -> BuildReport:
        return await asyncio.to_thread(self.searcher.reindex, rebuild=rebuild, progress=progress)


def _monotonic() -> float:
    # Looked up on each call, as the cooldown's clock: the loop's (and a test's virtual one).
    return time.monotonic()


class ShardedNewsBot(NewsBot, commands.AutoShardedBot):
    """The same bot over several gateway shards (one process runs some or all of them)."""


def create_bot(
    settings: Settings | None = None,
    searcher: Searcher | None = None,
    open_searcher: OpenSearcher = open_searcher,
    **sharding,
) -> NewsBot:
    """Return the unstarted bot; loads settings and opens (or builds) the index when not given.

    open_searcher: how the index is opened when no searcher is given (bot/searchers.py).
    sharding: shard_ids and shard_count for discord.py's AutoShardedBot (shard_count None:
    Discord's recommendation, all shards in this process).
    """
    settings = settings or load_settings()
    searcher = searcher or open_searcher(settings.index, load=True)
    if sharding:
        return ShardedNewsBot(settings=settings, searcher=searcher, **sharding)
    return NewsBot(settings=settings, searcher=searcher)
