"""Questions: the /ask slash command, direct messages, and mentions of the bot in a channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from index import Answer, check_question
from index.errors import QuestionError

from .. import errors
from ..cooldown import UserCooldown
from ..ui.format import Reply, answer_reply, refusal_reply, usage
from ..ui.i18n import _
from ..ui.views import AnswerView

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)

HELP_WORDS = {"ヘルプ", "へるぷ", "help", "使い方", "?", "？"}
# Seconds a slash question may search before the reply is deferred (Discord allows 3).
ANSWER_BUDGET = 2.0
TOPICS = 4
WAIT = "⏳"


class Ask(commands.Cog):
    """Answers questions with cited passages, wherever they are asked."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        d = bot.settings.discord
        self.cooldown = UserCooldown(d.cooldown_rate, d.cooldown_seconds)
        # The option's max length is a setting, which a decorator in the class body cannot
        # read: each cog builds its own /ask from its settings and adds it with itself.
        self.command = self._slash(d.max_question_chars)
        self.command.add_check(self.interaction_check)  # not bound to the cog: added by hand

    def _slash(self, max_chars: int) -> app_commands.Command:
        """/ask, its question option as long as the settings allow."""

        async def ask(interaction: discord.Interaction, question: str) -> None:
            await self.ask(interaction, question)

        # A real annotation: this module's annotations are strings, which cannot name max_chars.
        ask.__annotations__["question"] = app_commands.Range[str, None, max_chars]
        ask = app_commands.allowed_installs(guilds=True, users=True)(ask)
        ask = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(ask)
        ask = app_commands.describe(question=_("ask.question.description"))(ask)
        ask = app_commands.rename(question=_("ask.question.name"))(ask)
        return app_commands.command(name=_("ask.name"), description=_("ask.description"))(ask)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.command.name)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """The per-user cooldown, shared with DMs and mentions."""
        retry_after = self.cooldown.hit(interaction.user.id)
        if retry_after:
            d = self.bot.settings.discord
            raise app_commands.CommandOnCooldown(
                app_commands.Cooldown(d.cooldown_rate, d.cooldown_seconds), retry_after
            )
        return True

    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        """/ask: answer in time, deferring when the search is slow."""
        self.check(question)
        # Visibility is fixed by the first response: a quick search lets a refusal be seen by
        # the asker alone; a slow one is deferred (publicly) within Discord's 3 seconds.
        task = asyncio.ensure_future(self.bot.answer(question))
        task.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({task}, timeout=ANSWER_BUDGET)  # never cancels the search
        if not done:
            await interaction.response.defer(thinking=True)
        answer = await task
        reply, view = self.reply(answer, echo_question=True)
        extra = {"view": view} if view else {}
        if interaction.response.is_done():
            sent = await interaction.followup.send(**reply.kwargs(), **extra, wait=True)
        else:
            await interaction.response.send_message(
                **reply.kwargs(), **extra, ephemeral=answer.no_answer
            )
            sent = await _original(interaction) if view else None
        if view:
            view.message = sent

    def reply(self, answer: Answer, *, echo_question: bool) -> tuple[Reply, AnswerView | None]:
        """The answer with its buttons, or a refusal that helps (and has nothing to vote on)."""
        if answer.no_answer or not answer.hits:
            topics = self.bot.searcher.topics(TOPICS)
            return refusal_reply(answer, topics, echo_question=echo_question), None
        view = AnswerView(answer, self.bot.settings.discord.page_size)
        return answer_reply(answer, echo_question=echo_question), view

    def check(self, question: str) -> None:
        """Refuse a question before any work: too long for the settings, or nothing to search."""
        limit = self.bot.settings.discord.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"質問が長すぎます（{len(question)}文字、上限{limit}文字）。")
        check_question(question, self.bot.searcher.options)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.bot.user is None:
            return  # other bots, webhooks and our own replies
        if message.guild is None:
            question = message.content
        else:
            # Only an explicit @mention: a reply ping or @everyone is not a question for us.
            mention = re.compile(rf"<@!?{self.bot.user.id}>")
            if not mention.search(message.content):
                return
            question = mention.sub(" ", message.content)
        question = question.strip()
        if not question or question.lower() in HELP_WORDS:
            me = self.bot.user.mention if message.guild else self.bot.user.name
            await self._reply(message, content=self.help(me, "en" if question == "help" else "ja"))
            return
        await self._answer_message(message, question)

    def help(self, me: str, lang: str = "ja") -> str:
        d = self.bot.settings.discord
        topics = self.bot.searcher.topics(TOPICS)
        ask = self.bot.command_mention("ask")
        return usage(
            ask, me, lang=lang, topics=topics, rate=d.cooldown_rate, per=d.cooldown_seconds
        )

    async def _answer_message(self, message: discord.Message, question: str) -> None:
        retry_after = self.cooldown.hit(message.author.id)
        if retry_after:
            await self._cooling(message, retry_after)
            return
        try:
            self.check(question)
            with contextlib.suppress(discord.HTTPException):
                await message.channel.typing()
            answer = await self.bot.answer(question)
        except Exception as e:  # mapped to a polite line; unexpected ones are logged there
            await self._reply(message, content=errors.user_message(e, "message"))
            return
        # The message itself and the reply's quote of it already show the question.
        reply, view = self.reply(answer, echo_question=False)
        extra = {"view": view} if view else {}
        reference = message.to_reference(fail_if_not_exists=False)
        try:
            sent = await message.channel.send(reference=reference, **reply.kwargs(), **extra)
        except discord.HTTPException as e:
            if view:
                view.stop()
            log.warning("Cannot send an answer in channel %s: %s", message.channel.id, e)
            # Discord refused it, so nothing was posted: say so in a plain line. A 5xx, which
            # discord.py has already retried, may have posted it after all: no second reply.
            if e.status < 500:
                await self._reply(message, content=errors.SEND_FAILED)
            return
        if view:
            view.message = sent

    async def _cooling(self, message: discord.Message, retry_after: float) -> None:
        """In a channel a ⏳ on the question says "wait" without a message for everyone to read;
        a DM (or a channel where the bot may not react) gets a line with a live countdown."""
        if message.guild is not None:
            try:
                await message.add_reaction(WAIT)
                return
            except discord.HTTPException as e:
                log.info("Cannot react in channel %s: %s", message.channel.id, e)
        await self._reply(message, content=errors.cooldown_message(retry_after))

    async def _reply(self, message: discord.Message, **kwargs) -> discord.Message | None:
        # A reply ties the answer to its question; it must not fail if the question was deleted.
        reference = message.to_reference(fail_if_not_exists=False)
        try:
            return await message.channel.send(reference=reference, **kwargs)
        except discord.HTTPException as e:
            log.warning("Cannot reply in channel %s: %s", message.channel.id, e)
            return None


def _retrieve(task: asyncio.Task) -> None:
    # An answer abandoned because its reply failed must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


async def _original(interaction: discord.Interaction) -> discord.Message | None:
    """The message a direct response created, for the view to remove its buttons later."""
    try:
        return await interaction.original_response()
    except discord.HTTPException as e:
        log.debug("Cannot read the reply of interaction %s: %s", interaction.id, e)
        return None


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
