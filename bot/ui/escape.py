"""Text from pages, files and people shown as written in Discord: no Markdown, no pings."""

from __future__ import annotations

import discord


def escaped(text: str) -> str:
    """text with Discord's Markdown and its @mentions made literal (the one escape rule)."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))
