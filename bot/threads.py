"""Which question a Discord message continues: the conversation's key, the turn each of the bot's
answers holds (by message id), and a turn rebuilt from an answer it no longer remembers (its
question looked up by message id in asked.py, never read back from the rendered text).

Plain parameters, no bot: the composition root (client.py) imports this, never the reverse.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path

import discord

from index import Answer, Turn

from .asked import AskedLog

log = logging.getLogger(__name__)

# Answers (message ids) whose turns are kept for replies and threads: beyond this, the oldest
# go and a reply to one is rebuilt from its message like one after a restart.
ANSWERS = 10_000


def key_of(channel: discord.abc.Messageable | None, user: discord.abc.User) -> Hashable:
    """A DM is the user's one conversation; elsewhere each user has one per channel (a thread
    is a channel), so a second user in the channel never continues the first one's."""
    if channel is None or getattr(channel, "type", None) is discord.ChannelType.private:
        return ("dm", user.id)
    return ("ch", channel.id, user.id)


class AnswerTurns:
    """The turn each of the bot's answer messages holds, by message id (bounded, in memory);
    with a folder, also what each answered, kept across restarts (asked.py)."""

    def __init__(self, limit: int = ANSWERS, folder: Path | None = None):
        self.limit = limit
        self._turns: OrderedDict[int, Turn] = OrderedDict()
        self.asked = AskedLog(folder) if folder is not None else None

    def get(self, message_id: int) -> Turn | None:
        turn = self._turns.get(message_id)
        if turn is not None:
            self._turns.move_to_end(message_id)
        return turn

    def remember(self, message_id: int, turn: Turn) -> None:
        self._turns[message_id] = turn
        self._turns.move_to_end(message_id)
        while len(self._turns) > self.limit:
            self._turns.popitem(last=False)
        if self.asked is not None:
            self.asked.put(message_id, turn.question, turn.answer.continued)

    def question_of(self, message_id: int) -> tuple[str, str | None] | None:
        """(question, the question it continued) an answer answered, even after a restart."""
        return self.asked.get(message_id) if self.asked is not None else None

    def clear(self) -> None:
        """Forget the turns in memory (what a restart loses; the recorded questions stay)."""
        self._turns.clear()

    def close(self) -> None:
        if self.asked is not None:
            self.asked.close()

    def __len__(self) -> int:
        return len(self._turns)


def question_of(message: discord.Message, me: int) -> str:
    """A user's question as written: the bot's mention taken out."""
    return re.sub(rf"<@!?{me}>", " ", message.content or "").strip()


async def referenced(message: discord.Message) -> discord.Message | None:
    """The message this one replies to (from the gateway's copy, else fetched), or None."""
    ref = message.reference
    if ref is None or ref.message_id is None or message.type is not discord.MessageType.reply:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    if isinstance(ref.resolved, discord.DeletedReferencedMessage):
        return None
    try:
        return await message.channel.fetch_message(ref.message_id)
    except discord.HTTPException as e:
        log.info("Cannot read message %s replied to: %s", ref.message_id, e)
        return None


async def turn_of(
    answer: discord.Message,
    answers: AnswerTurns,
    ask: Callable[..., Awaitable[Answer]],
    clock: Callable[[], float],
) -> Turn | None:
    """The turn of one of the bot's answers: remembered, else rebuilt by asking its question
    again (in the frame of the question it continued); None when that does not answer.

    answers: the turns and questions by message id; ask(question, context=None): the bot's
    answer; clock: the conversations' clock.
    """
    turn = answers.get(answer.id)
    if turn is not None or not answer.embeds:  # no embed: help or a line, not an answer
        return turn
    asked = answers.question_of(answer.id)
    if asked is None:  # not recorded (or beyond asked.ROWS): the reply starts afresh
        return None
    question, previous = asked
    log.info("Rebuilding the context of answer %s from its question", answer.id)
    context = None
    if previous:
        earlier = await ask(previous)
        if not earlier.no_answer:
            context = Turn(previous, earlier, clock())
    reply = await ask(question, context=context)
    if reply.no_answer:
        return None
    turn = Turn(question, reply, clock())
    answers.remember(answer.id, turn)
    return turn
