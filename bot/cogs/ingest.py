"""Coverage that keeps itself current: /add a page by URL, and poll news feeds in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from index.errors import BuildInProgressError, FetchError, PageError
from index.ingest import (
    Added,
    AddStatus,
    PollReport,
    shown,
)

from .. import errors
from ..ui.build_progress import report_summary
from ..ui.escape import escaped as _safe
from ..ui.format import CONTENT, DESCRIPTION, TITLE, clip
from ..ui.i18n import _
from .admin import Progress, finish, is_admin

if TYPE_CHECKING:
    from ..client import NewsBot

log = logging.getLogger(__name__)

CANCELLED = "キャンセルしました。記事は追加していません。"
UNEXPECTED = "⚠️ このページは追加できません: ページの読み取り中に予期しないエラーが起きました。"
EXCERPT = 300


def _link(text: str, url: str) -> str:
    # Brackets would end the masked link early; full-width ones read the same.
    text = _safe(text).replace("[", "［").replace("]", "］")
    ok = url.startswith(("https://", "http://")) and len(url) <= 512 and " " not in url
    return f"[{text}](<{url}>)" if ok else text


def preview_embed(added: Added, where: str = "articles/") -> discord.Embed:
    """What /add extracted: title, outlet, date, sections and the first lines.

    where: what the footer names as the destination (the folder, or the shared database).
    """
    a = added.article
    assert a is not None
    embed = discord.Embed(
        title=clip(a.title, TITLE),
        url=a.url if len(a.url) <= 512 else None,
        description=clip(_safe(a.plain()), EXCERPT),
        colour=discord.Colour(0x2B6CB0),
    )
    embed.add_field(name="媒体", value=clip(_safe(a.outlet), 256))
    embed.add_field(name="日付", value=a.published or "不明")
    embed.add_field(name="見出し", value=f"{a.sections}件")
    embed.set_footer(text=clip(f"保存先: {where}{added.file}", 2048))
    return embed


def new_articles_text(changed: Sequence[Added]) -> str:
    """The admin channel's note on what a feed poll added or updated."""
    lines = [f"📰 フィードから記事を{len(changed)}件取り込みました。"]
    for added in changed:
        a = added.article
        if a is None:
            continue
        meta = "・".join(_safe(x) for x in (a.outlet, a.published) if x)
        mark = "（更新）" if added.status is AddStatus.UPDATED else ""
        lines.append(f"・{_link(a.title, a.url)}{mark}（{meta}）")
    return clip("\n".join(lines), CONTENT)


class AddView(discord.ui.View):
    """追加 writes the previewed article and reindexes; キャンセル drops it."""

    def __init__(self, cog: Coverage, added: Added, user_id: int, timeout: float = 600):
        super().__init__(timeout=timeout)
        self.cog, self.added, self.user_id = cog, added, user_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # The preview is ephemeral, but the rule is the same as for the command itself.
        if interaction.user.id != self.user_id or not await is_admin(interaction):
            raise app_commands.CheckFailure("not the admin who asked")
        return True

    @discord.ui.button(label="追加", style=discord.ButtonStyle.success)
    async def confirm(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        self.stop()
        await interaction.response.edit_message(content="⏳ 記事を保存しています…", view=None)
        text = await self.cog.write_and_reindex(interaction, self.added)
        await finish(interaction, text)

    @discord.ui.button(label="キャンセル", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[NewsBot], button: discord.ui.Button):
        self.stop()
        await interaction.response.edit_message(content=CANCELLED, embed=None, view=None)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await errors.handle(interaction, error)


class Coverage(commands.Cog):
    """Adds pages on an admin's request and follows the configured feeds."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self.pending = False  # articles written but not yet indexed (a build was running)
        self._polling = asyncio.Lock()
        minutes = bot.settings.feeds.interval_minutes
        self.poller = tasks.loop(minutes=minutes)(self._tick)
        self.poller.before_loop(self.bot.wait_until_ready)

    async def cog_load(self) -> None:
        if self.bot.settings.feeds.urls:
            self.poller.start()

    async def cog_unload(self) -> None:
        self.poller.cancel()
        await asyncio.to_thread(self.bot.searcher.coverage.stop_polling)

    async def _tick(self) -> None:
        try:
            await self.poll_once()
        except Exception:  # the loop must outlive one bad poll
            log.exception("Feed poll failed")

    async def poll_once(self) -> PollReport | None:
        """Poll the feeds; reindex only when something was written; tell the admin channel.

        None while another process polls (with the database, one of all holds the lease).
        """
        async with self._polling:
            s = self.bot.settings
            report = await asyncio.to_thread(
                self.bot.searcher.coverage.poll_feeds,
                s.feeds.urls,
                s.fetch,
                deadline_seconds=s.feeds.poll_deadline_seconds,
                keep_lease=True,  # held from tick to tick until this cog unloads
            )
            if report is None:
                log.debug("Another process holds the feed poller's lease; not polling")
                return None
            for url, reason in report.failed:
                log.warning("Feed item %s: %s", url, reason)
            if report.changed or self.pending:
                await self._reindex()
            if report.changed:
                await self._announce(report.changed)
                if not self.pending:  # followed topics (cogs/follow.py) hear of what is indexed
                    self.bot.dispatch("articles_added", report.changed)
            return report

    async def _reindex(self) -> None:
        self.pending = True
        try:
            await self.bot.reindex()
        except BuildInProgressError:
            log.info("A reindex is running; new articles are indexed at the next poll")
            return
        except Exception:
            log.exception("Reindex after a feed poll failed; the old index keeps serving")
            return
        self.pending = False

    async def _announce(self, changed: Sequence[Added]) -> None:
        channel_id = self.bot.settings.feeds.admin_channel_id
        if not channel_id:
            return
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            await channel.send(new_articles_text(changed))
        except discord.HTTPException as e:
            log.warning("Cannot post new articles to channel %s: %s", channel_id, e)

    async def write_and_reindex(self, interaction: discord.Interaction, added: Added) -> str:
        """Write a previewed article, then reindex with progress; the outcome in one message."""
        assert added.article is not None
        try:
            coverage = self.bot.searcher.coverage
            written = await asyncio.to_thread(coverage.write, added.article, added.url)
        except OSError as e:
            log.error("Cannot write article %s: %s", added.file, e)
            return "⚠️ 記事を保存できませんでした（ディスクの空きや権限を確認してください）。"
        if not written.changed:
            return f"この記事はすでにあります（{_safe(written.file or '')}）。"
        saved = f"✅ 記事を追加しました: {_safe(written.article.title)}（{_safe(written.file)}）"
        progress = Progress(interaction)
        try:
            report = await self.bot.reindex(progress=progress)
        except BuildInProgressError:
            self.pending = True
            text = f"{saved}\n再構築が実行中のため、次の再構築で検索できるようになります。"
        except Exception as e:
            self.pending = True
            text = f"{saved}\n{errors.build_failure(e)}"
        else:
            text = f"{saved}\n{report_summary(report)}"
            self.bot.dispatch("articles_added", [written])  # followed topics (cogs/follow.py)
        await progress.flush()
        return clip(text, CONTENT)

    @app_commands.command(name=_("add.name"), description=_("add.description"))
    @app_commands.rename(url=_("add.url.name"))
    @app_commands.describe(url=_("add.url.description"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.check(is_admin)
    async def add(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        s = self.bot.settings
        try:
            coverage = self.bot.searcher.coverage
            added = await asyncio.to_thread(
                coverage.add, url.strip().strip("<>"), s.fetch, dry_run=True
            )
        except (FetchError, PageError) as e:
            reason = clip(_safe(" ".join(str(e).split())), DESCRIPTION // 4)
            await interaction.followup.send(f"⚠️ このページは追加できません: {reason}")
            return
        except Exception as e:  # a page the extractor trips on: said, and logged for a fix
            log.debug("Adding %s failed", shown(url), exc_info=True)
            log.warning("Cannot add %s: %s: %s", shown(url), type(e).__name__, e)
            await interaction.followup.send(UNEXPECTED)
            return
        if added.status not in (AddStatus.ADDED, AddStatus.UPDATED):
            already = f"この記事はすでにあります（{_safe(added.file or '')}）。"
            await interaction.followup.send(already)
            return
        verb = "更新" if added.status is AddStatus.UPDATED else "追加"
        await interaction.followup.send(
            f"次の内容で記事を{verb}しますか？",
            embed=preview_embed(
                added, "共有データベース: " if coverage.store.shared else "articles/"
            ),
            view=AddView(self, added, interaction.user.id),
        )


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Coverage(bot))
