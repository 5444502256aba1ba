"""Mentions in a question made readable: `<@id>` becomes the member's name, `<#id>` the channel's,
`<@&id>` the role's, or nothing when unknown; the bot's own mention goes. Done before a question
is asked, logged, stored or echoed, so no raw id travels further and a mention never changes
the answer."""

from __future__ import annotations

import re

import discord

# <@id> and <@!id> (members), <#id> (channels), <@&id> (roles); Discord ids are 17-20 digits.
MENTION = re.compile(r"<(@!?|#|@&)(\d{5,25})>")


def clean(
    text: str,
    *,
    me: int | None = None,
    message: discord.Message | None = None,
    guild: discord.Guild | None = None,
    client: discord.Client | None = None,
) -> str:
    """The text with every mention replaced by a name, or dropped when the name is unknown."""
    if "<" not in text:
        return text
    guild = guild or (message.guild if message is not None else None)
    names = _resolved(message) if message is not None else {}

    def name(match: re.Match) -> str:
        kind, raw = match.group(1), int(match.group(2))
        if kind.startswith("@") and kind != "@&" and raw == me:
            return " "
        found = names.get((kind.rstrip("!"), raw)) or _cached(kind, raw, guild, client)
        return f" {found} " if found else " "

    out = MENTION.sub(name, text)
    return " ".join(out.split())


def _resolved(message: discord.Message) -> dict[tuple[str, int], str]:
    """The names Discord sent with the message itself (its resolved mentions)."""
    names: dict[tuple[str, int], str] = {}
    for user in message.mentions:
        names["@", user.id] = user.display_name
    for channel in message.channel_mentions:
        names["#", channel.id] = channel.name
    for role in message.role_mentions:
        names["@&", role.id] = role.name
    return names


def _cached(kind: str, raw: int, guild: discord.Guild | None, client) -> str | None:
    """The name from the guild's (or the client's) cache, for text without resolved mentions
    (a slash command's option)."""
    if kind == "#":
        channel = guild.get_channel_or_thread(raw) if guild else None
        channel = channel or (client.get_channel(raw) if client else None)
        return getattr(channel, "name", None)
    if kind == "@&":
        role = guild.get_role(raw) if guild else None
        return role.name if role else None
    member = guild.get_member(raw) if guild else None
    user = member or (client.get_user(raw) if client else None)
    return user.display_name if user else None
