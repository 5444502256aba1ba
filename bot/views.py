"""Buttons under an answer: more results, the full passages, and a 👍 / 👎 vote."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from index import Answer

from . import errors
from .format import NO_MORE, THANKS, passages_reply

if TYPE_CHECKING:
    from .client import NewsBot

log = logging.getLogger(__name__)


class AnswerView(discord.ui.View):
    """Shared by everyone who sees the answer; each person pages through the results alone."""

    message: discord.Message | None = None

    def __init__(self, answer: Answer, page_size: int, timeout: float = 600):
        # 10 minutes keeps edits inside the 15 minutes an interaction token lives.
        super().__init__(timeout=timeout)
        self.answer = answer
        self.page_size = max(1, min(page_size, 10))
        self._next: dict[int, int] = {}  # user id → number of the next passage to show
        if answer.no_answer or not answer.hits:
            self.remove_item(self.more)
            self.remove_item(self.full)

    @discord.ui.button(label="他の結果", style=discord.ButtonStyle.primary)
    async def more(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        start = self._next.get(interaction.user.id, len(self.answer.hits) + 1)
        # Claim the page before any await: a double click is two interactions handled at
        # once, and the second must get the next page, not the same one again.
        self._next[interaction.user.id] = start + self.page_size
        await interaction.response.defer(ephemeral=True, thinking=True)
        hits = await interaction.client.search(self.answer.question, start - 1 + self.page_size)
        page = hits[start - 1 : start - 1 + self.page_size]
        if not page:
            await interaction.followup.send(NO_MORE, ephemeral=True)
            return
        note = f"**他の結果**（{start}〜{start + len(page) - 1}件目）"
        reply = passages_reply(page, start, note=note)
        await interaction.followup.send(**reply.kwargs(), ephemeral=True)

    @discord.ui.button(label="全文", style=discord.ButtonStyle.secondary)
    async def full(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        reply = passages_reply(self.answer.hits, 1, full=True, note="**引用元の全文**")
        await interaction.response.send_message(**reply.kwargs(), ephemeral=True)

    @discord.ui.button(label="👍", style=discord.ButtonStyle.secondary)
    async def up(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        await self._vote(interaction, "up")

    @discord.ui.button(label="👎", style=discord.ButtonStyle.secondary)
    async def down(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        await self._vote(interaction, "down")

    async def _vote(self, interaction: discord.Interaction[NewsBot], vote: str) -> None:
        record = feedback_record(self.answer, interaction.user.id, vote, discord.utils.utcnow())
        await asyncio.to_thread(append_jsonl, interaction.client.feedback_path, record)
        await interaction.response.send_message(THANKS, ephemeral=True)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await errors.handle(interaction, error)

    async def on_timeout(self) -> None:
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except discord.HTTPException as e:  # deleted, or the token expired: nothing to tidy
            log.debug("Cannot remove expired buttons: %s", e)


def feedback_record(answer: Answer, user_id: int, vote: str, when) -> dict:
    sources = list(dict.fromkeys(url for hit in answer.hits for url in hit.sources))
    return {
        "time": when.isoformat(),
        "user_id": user_id,
        "question": answer.question,
        "answer": answer.text,
        "vote": vote,
        "sources": sources,
    }


def append_jsonl(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write per line keeps concurrent appends from interleaving.
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
