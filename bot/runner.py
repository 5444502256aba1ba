"""`newsbot run`: start the Discord bot with the token from $DISCORD_TOKEN."""

from __future__ import annotations

import logging
import sys

import discord

from .settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    """Run the bot until it is stopped; returns the exit status."""
    if not settings.token:
        print(
            "newsbot: error: DISCORD_TOKEN is not set; export the bot token from the Discord "
            "Developer Portal (Bot → Reset Token) and try again",
            file=sys.stderr,
        )
        return 2
    _setup_logging(settings)
    from .client import create_bot

    bot = create_bot(settings)
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
    # Every REST call at INFO drowns what the bot itself says.
    logging.getLogger("discord.http").setLevel(logging.WARNING)
