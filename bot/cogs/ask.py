"""Questions: the /ask slash command, direct messages, mentions of the bot in a channel, replies
to its answers and messages in the threads started from them; follow-ups continue a turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Hashable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from index import Answer, Filters, Reason, Turn, check_question
from index.errors import QuestionError

from .. import errors
from ..cooldown import UserCooldown
from ..mentions import clean
from ..threads import key_of, question_of, referenced, turn_of
from ..ui.format import Reply, answer_reply, clip, refusal_reply, subject_reply, usage
from ..ui.i18n import _, text
from ..ui.views import AnswerView
from ..usage import privacy_note

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)

HELP_WORDS = {"ヘルプ", "へるぷ", "help", "使い方", "?", "？"}
# Seconds a slash question may search before the reply is deferred (Discord allows 3).
ANSWER_BUDGET = 2.0
TOPICS = 4
WAIT = "⏳"
CHOICES = 25  # Discord shows at most 25 autocomplete choices of at most 100 characters


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
        """/ask, its question option as long as the settings allow, and its filters."""

        async def ask(
            interaction: discord.Interaction,
            question: str,
            outlet: str | None = None,
            since: str | None = None,
            until: str | None = None,
        ) -> None:
            await self.ask(interaction, question, outlet, since, until)

        # A real annotation: this module's annotations are strings, which cannot name max_chars.
        ask.__annotations__["question"] = app_commands.Range[str, None, max_chars]
        ask = app_commands.allowed_installs(guilds=True, users=True)(ask)
        ask = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(ask)
        names = ("question", "outlet", "since", "until")
        ask = app_commands.describe(**{n: _(f"ask.{n}.description") for n in names})(ask)
        ask = app_commands.rename(**{n: _(f"ask.{n}.name") for n in names})(ask)
        command = app_commands.command(name=_("ask.name"), description=_("ask.description"))(ask)
        command.autocomplete("outlet")(self.outlet_choices)
        return command

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

    async def ask(
        self,
        interaction: discord.Interaction,
        question: str,
        outlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        """/ask: answer in time, deferring when the search is slow."""
        me = self.bot.user.id if self.bot.user else None
        question = clean(question, me=me, guild=interaction.guild, client=self.bot)
        self.check(question)
        filters = self.filters(outlet, since, until)
        key = key_of(interaction.channel, interaction.user)

        async def work() -> Answer:
            context = await self.context(interaction.channel, key)
            return await self.bot.answer(question, context=context, filters=filters)

        # Visibility is fixed by the first response: a quick search lets a refusal be seen by
        # the asker alone; a slow one is deferred (publicly) within Discord's 3 seconds.
        task = asyncio.ensure_future(work())
        task.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({task}, timeout=ANSWER_BUDGET)  # never cancels the search
        if not done:
            await interaction.response.defer(thinking=True)
        answer = await task
        turn = self.bot.conversations.add(key, question, answer)
        self.bot.usage.asked(answer, interaction)
        thread = _threads(interaction.channel)
        reply, view = self.reply(answer, echo_question=True, thread=thread, filters=filters)
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
        if sent is not None:
            self.bot.answers.remember(sent.id, turn)

    async def outlet_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The index's outlets (most articles first) that what was typed may mean."""
        names = Filters.choices(current, self.bot.searcher.outlets())[:CHOICES]
        return [app_commands.Choice(name=clip(n, 100), value=n[:100]) for n in names]

    def reply(
        self,
        answer: Answer,
        *,
        echo_question: bool,
        thread: bool = False,
        filters: Filters | None = None,
    ) -> tuple[Reply, AnswerView | None]:
        """The answer with its buttons, or a refusal that helps (and has nothing to vote on)."""
        if answer.reason == Reason.NO_SUBJECT:
            return subject_reply(answer, echo_question=echo_question), None
        if answer.no_answer or not answer.hits:
            topics = self.bot.searcher.topics(TOPICS)
            return refusal_reply(answer, topics, echo_question=echo_question), None
        page = self.bot.settings.discord.page_size
        view = AnswerView(answer, page, thread=thread, filters=filters)
        return answer_reply(answer, echo_question=echo_question), view

    def filters(self, outlet: str | None, since: str | None, until: str | None) -> Filters | None:
        """/ask's narrowing options, checked by the core: dates, and the outlet as the index
        names it (OutletError offers the choices; bot/errors.py words it)."""
        return Filters.parse(outlet, since, until).resolve(self.bot.searcher.outlets()) or None

    async def context(
        self, channel, key: Hashable, replied: discord.Message | None = None
    ) -> Turn | None:
        """The turn a question continues: the answer it replies to (rebuilt if forgotten, else
        none), else the asker's last turn here, else in the bot's thread the answer it began at."""
        if replied is not None:
            return await self.turn_of(replied)
        turn = self.bot.conversations.last(key)
        if turn is None and self.own_thread(channel):
            starter = await _starter(self.bot, channel)
            turn = await self.turn_of(starter) if starter else None
        return turn

    async def turn_of(self, answer: discord.Message) -> Turn | None:
        bot = self.bot
        return await turn_of(answer, bot.answers, bot.answer, bot.conversations.clock)

    def own_thread(self, channel) -> bool:
        """A thread the bot started (from an answer, by its 「スレッドで続ける」 button)."""
        me = self.bot.user
        return isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id

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
        me = self.bot.user
        mentioned = re.search(rf"<@!?{me.id}>", message.content or "") is not None
        # Only what may be for the bot: a reply elsewhere is not fetched.
        maybe = message.guild is None or mentioned or me in message.mentions or message.content
        replied = await referenced(message) if maybe else None
        if replied is not None and replied.author.id != me.id:
            replied = None  # a reply to someone else: only a mention makes it a question
        # In a server: a mention, a reply to the bot, or anything in the bot's own thread (its
        # text is readable there only with the message_content intent or a mention).
        if message.guild is not None and not (
            mentioned or replied or self.own_thread(message.channel)
        ):
            return
        question = clean(question_of(message, me.id), me=me.id, message=message, client=self.bot)
        if not question and message.guild is not None and not mentioned:
            if replied is not None and me in message.mentions:
                # A reply that pings the bot but whose text Discord withheld (see README).
                await self._reply(message, content=text("ja", "reply.mention", me=me.mention))
            return
        if not question or question.lower() in HELP_WORDS:
            lang = "en" if question == "help" else "ja"
            name = me.mention if message.guild else me.name
            await self._reply(message, content=self.help(name, lang))
            return
        await self._answer_message(message, question, replied)

    def help(self, me: str, lang: str = "ja") -> str:
        d = self.bot.settings.discord
        topics = self.bot.searcher.topics(TOPICS)
        ask = self.bot.command_mention("ask")
        forget = self.bot.command_mention("forget-me")
        return usage(
            ask,
            me,
            lang=lang,
            topics=topics,
            rate=d.cooldown_rate,
            per=d.cooldown_seconds,
            privacy=privacy_note(self.bot.settings.usage, forget, lang),
        )

    async def _answer_message(
        self, message: discord.Message, question: str, replied: discord.Message | None
    ) -> None:
        retry_after = self.cooldown.hit(message.author.id)
        if retry_after:
            await self._cooling(message, retry_after)
            return
        key = key_of(message.channel, message.author)
        try:
            self.check(question)
            with contextlib.suppress(discord.HTTPException):
                await message.channel.typing()
            context = await self.context(message.channel, key, replied)
            answer = await self.bot.answer(question, context=context)
            self.bot.usage.asked(answer, message)
        except Exception as e:  # mapped to a polite line; unexpected ones are logged there
            await self._reply(message, content=errors.user_message(e, "message"))
            return
        turn = self.bot.conversations.add(key, question, answer)
        # The message itself and the reply's quote of it already show the question.
        reply, view = self.reply(answer, echo_question=False, thread=_threads(message.channel))
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
        self.bot.answers.remember(sent.id, turn)

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


def _threads(channel) -> bool:
    """Whether an answer here can start a thread (a server text channel, not a DM or thread)."""
    return isinstance(channel, discord.TextChannel)


async def _starter(bot: NewsBot, thread: discord.Thread) -> discord.Message | None:
    """The message a thread was started from (its id is the thread's), or None."""
    if thread.starter_message is not None:
        return thread.starter_message
    try:
        return await bot.get_partial_messageable(thread.parent_id).fetch_message(thread.id)
    except discord.HTTPException as e:
        log.info("Cannot read the message thread %s started from: %s", thread.id, e)
        return None


async def _original(interaction: discord.Interaction) -> discord.Message | None:
    """The message a direct response created, for the view to remove its buttons later."""
    try:
        return await interaction.original_response()
    except discord.HTTPException as e:
        log.debug("Cannot read the reply of interaction %s: %s", interaction.id, e)
        return None


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
