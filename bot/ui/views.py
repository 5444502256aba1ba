"""Buttons under an answer (its evidence, related results, a 👍 / 👎 vote, a thread to continue
in) and under /topics (pages)."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from index import Answer, Filters, Hit, Searcher

from .. import errors
from .format import Reply, clip, evidence_reply, results_reply, topics_reply
from .i18n import text

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)


# 「他の結果」 shows passages that score at least this share of the top one: lower for the
# articles the answer cites, higher for other articles, which must earn their place.
RELATED_SHARE = 0.35
OTHER_SHARE = 0.5
MAX_RESULTS = 50
# Discord: a thread's name has at most 100 characters; 160004, a message has its thread already.
THREAD_NAME = 100
THREAD_EXISTS = 160004
# Articles per page of /topics: a page reads on one phone screen.
TOPICS_PAGE = 5


def related_hits(hits: Sequence[Hit], answer: Answer) -> tuple[list[Hit], bool]:
    """The hits worth showing after the answer (not cited, above the cut-off), and whether the
    cut-off ended the list (rather than the number of hits searched)."""
    if not hits:
        return [], True
    top = hits[0].score
    cited = {answer.hits[n - 1] for n in answer.citations if 1 <= n <= len(answer.hits)}
    articles = {h.article for h in cited}
    shown = {(h.article, h.passage_id) for h in cited}
    out = []
    for hit in hits:
        share = RELATED_SHARE if hit.article in articles else OTHER_SHARE
        if (hit.article, hit.passage_id) not in shown and hit.score >= share * top:
            out.append(hit)
    return out, hits[-1].score < min(RELATED_SHARE, OTHER_SHARE) * top


class AnswerView(discord.ui.View):
    """Shared by everyone who sees the answer; each person pages through the results alone."""

    message: discord.Message | None = None

    def __init__(
        self,
        answer: Answer,
        page_size: int,
        timeout: float = 600,
        thread: bool = False,
        filters: Filters | None = None,
    ):
        # 10 minutes keeps edits inside the 15 minutes an interaction token lives.
        super().__init__(timeout=timeout)
        self.answer = answer
        self.filters = filters  # what the answer was asked with: 「他の結果」 keeps them
        self.page_size = max(1, min(page_size, 10))
        self._shown: dict[int, int] = {}  # user id → related passages already shown
        self.evidence.label = text(answer.lang, "evidence")
        self.more.label = text(answer.lang, "more")
        self.continue_thread.label = text(answer.lang, "thread")
        if not thread:  # a DM or a thread already: the conversation goes on where it is
            self.remove_item(self.continue_thread)

    @discord.ui.button(label="根拠", style=discord.ButtonStyle.primary)
    async def evidence(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        reply = evidence_reply(self.answer)
        await interaction.response.send_message(**reply.kwargs(), ephemeral=True)

    @discord.ui.button(label="他の結果", style=discord.ButtonStyle.secondary)
    async def more(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        start = self._shown.get(interaction.user.id, 0)
        # Claim the page before any await: a double click is two interactions handled at
        # once, and the second must get the next page, not the same one again.
        self._shown[interaction.user.id] = start + self.page_size
        await interaction.response.defer(ephemeral=True, thinking=True)
        k = min(MAX_RESULTS, len(self.answer.hits) + start + self.page_size + 1)
        hits = await interaction.client.more(self.answer, k, self.filters)
        related, cut = related_hits(hits, self.answer)
        page = related[start : start + self.page_size]
        end = len(related) <= start + self.page_size and (cut or len(hits) < k or k == MAX_RESULTS)
        reply = results_reply(page, self.answer.lang, end=end)
        await interaction.followup.send(**reply.kwargs(), ephemeral=True)

    @discord.ui.button(label="👍", style=discord.ButtonStyle.secondary)
    async def up(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        await self._vote(interaction, "up")

    @discord.ui.button(label="👎", style=discord.ButtonStyle.secondary)
    async def down(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        await self._vote(interaction, "down")

    @discord.ui.button(label="スレッドで続ける", emoji="🧵", row=1)
    async def continue_thread(
        self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button
    ):
        """A thread from this answer: what is asked in it follows up on the answer."""
        message, lang = interaction.message, self.answer.lang
        thread = interaction.guild.get_thread(message.id) if interaction.guild else None
        if thread is not None:  # already started (by anyone): send them there
            await interaction.response.send_message(
                text(lang, "thread.there", thread=thread.mention), ephemeral=True
            )
            return
        try:
            thread = await message.create_thread(name=clip(self.answer.question, THREAD_NAME))
        except discord.HTTPException as e:
            log.info("Cannot start a thread from answer %s: %s", message.id, e)
            there = e.code == THREAD_EXISTS  # another click won the race
            line = text(lang, "thread.there", thread=f"<#{message.id}>") if there else None
            await errors.send(interaction, line or errors.THREAD_FAILED)
            return
        bot = interaction.client
        if bot.user is not None:
            intro = "thread.intro" if bot.settings.discord.message_content else "thread.mention"
            with contextlib.suppress(discord.HTTPException):  # the thread is there all the same
                await thread.send(text(lang, intro, me=bot.user.mention))
        await interaction.response.send_message(
            text(lang, "thread.opened", thread=thread.mention), ephemeral=True
        )

    async def _vote(self, interaction: discord.Interaction[NewsBot], vote: str) -> None:
        interaction.client.usage.voted(self.answer, interaction.user.id, vote)
        await interaction.response.send_message(text(self.answer.lang, "thanks"), ephemeral=True)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await errors.handle(interaction, error)

    async def on_timeout(self) -> None:
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except discord.HTTPException as e:  # deleted, or the token expired: nothing to tidy
            log.debug("Cannot remove expired buttons: %s", e)


class TopicsView(discord.ui.View):
    """◀ ▶ through the articles, newest first; the list is the asker's own (ephemeral)."""

    def __init__(self, searcher: Searcher, page_size: int = TOPICS_PAGE, timeout: float = 600):
        super().__init__(timeout=timeout)
        self.searcher = searcher
        self.page_size = page_size
        self.page = 0
        self.interaction: discord.Interaction | None = None  # the /topics that showed it

    def render(self) -> Reply:
        """The current page (kept within the pages a reindex may have changed), buttons set."""
        total = self.searcher.topic_count()
        pages = max(1, math.ceil(total / self.page_size))
        self.page = min(max(self.page, 0), pages - 1)
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= pages - 1
        topics = self.searcher.topics(self.page_size, self.page * self.page_size)
        return topics_reply(topics, self.page, pages, total)

    @discord.ui.button(label="◀ 前へ", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button):
        self.page -= 1
        await interaction.response.edit_message(**self.render().kwargs(), view=self)

    @discord.ui.button(label="次へ ▶", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button):
        self.page += 1
        await interaction.response.edit_message(**self.render().kwargs(), view=self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await errors.handle(interaction, error)

    async def on_timeout(self) -> None:
        if self.interaction is None:
            return
        try:
            await self.interaction.edit_original_response(view=None)
        except discord.HTTPException as e:
            log.debug("Cannot remove expired /topics buttons: %s", e)
