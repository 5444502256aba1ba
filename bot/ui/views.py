"""Buttons under an answer: its evidence, related results, and a 👍 / 👎 vote."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from index import Answer, Hit

from .. import errors
from .format import evidence_reply, results_reply
from .i18n import text

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)


# 「他の結果」 shows passages that score at least this share of the top one: lower for the
# articles the answer cites, higher for other articles, which must earn their place.
RELATED_SHARE = 0.35
OTHER_SHARE = 0.5
MAX_RESULTS = 50


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

    def __init__(self, answer: Answer, page_size: int, timeout: float = 600):
        # 10 minutes keeps edits inside the 15 minutes an interaction token lives.
        super().__init__(timeout=timeout)
        self.answer = answer
        self.page_size = max(1, min(page_size, 10))
        self._shown: dict[int, int] = {}  # user id → related passages already shown
        self.evidence.label = text(answer.lang, "evidence")
        self.more.label = text(answer.lang, "more")

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
        hits = await interaction.client.search(self.answer.question, k)
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
