"""`newsbot run`: start the Discord bot with the token from $DISCORD_TOKEN."""

from __future__ import annotations

import logging
import sys

import discord

from index import redact

from .searchers import OpenSearcher, open_searcher
from .settings import Settings

log = logging.getLogger(__name__)


def run(
    settings: Settings,
    shards: list[int] | str | None = None,
    shard_count: int | None = None,
    open_searcher: OpenSearcher = open_searcher,
) -> int:
    """Run the bot until it is stopped; returns the exit status.

    Args:
        shards: the shard ids this process runs, or "all"; None runs unsharded unless
            [discord] shard_count is set.
        shard_count: total shards over every process (default: [discord] shard_count; 0 with
            "all" asks Discord for its recommendation).
    """
    count = shard_count or settings.discord.shard_count or None
    if isinstance(shards, list) and count is None:
        print(
            "newsbot: error: --shards with shard ids needs the total: --shard-count N or "
            "[discord] shard_count (every process must use the same)",
            file=sys.stderr,
        )
        return 2
    if isinstance(shards, list) and shards[-1] >= count:
        print(f"newsbot: error: shard ids must be below the shard count ({count})", file=sys.stderr)
        return 2
    if not settings.token:
        print(
            "newsbot: error: DISCORD_TOKEN is not set; export the bot token from the Discord "
            "Developer Portal (Bot → Reset Token) and try again",
            file=sys.stderr,
        )
        return 2
    _setup_logging(settings)
    from .client import create_bot

    sharding = {}
    if shards is not None or count is not None:
        sharding = {"shard_ids": shards if isinstance(shards, list) else None, "shard_count": count}
    bot = create_bot(settings, open_searcher=open_searcher, **sharding)
    try:
        # log_handler=None: logging is configured once, above; discord.py must not add its own.
        bot.run(settings.token, log_handler=None)
    except discord.LoginFailure:
        print(
            "newsbot: error: Discord rejected the token in DISCORD_TOKEN; "
            "reset it in the Developer Portal and try again",
            file=sys.stderr,
        )
        return 2
    return 0


def _setup_logging(settings: Settings) -> None:
    # The `newsbot` CLI may already have configured logging; adding a second handler would
    # print every line twice.
    if not logging.getLogger().handlers:
        level = getattr(logging, settings.log_level, logging.INFO)
        discord.utils.setup_logging(level=level, root=True)
    redact.install()  # a connection string in any log line shows no password
    # Every REST call at INFO drowns what the bot itself says.
    logging.getLogger("discord.http").setLevel(logging.WARNING)
