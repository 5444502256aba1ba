"""The one place where errors become short, polite Japanese replies (never tracebacks or paths)."""

from __future__ import annotations

import datetime as dt
import logging
import math

import discord
from discord import app_commands

from index.errors import (
    ALLOW_EMPTY,
    UPGRADE,
    ArticlesDirError,
    BuildInProgressError,
    IndexCorruptError,
    IndexNotBuiltError,
    IndexWriteError,
    ModelError,
    NewsbotError,
    OutdatedError,
    OutletError,
    QuestionError,
    StoreUnavailableError,
    UsageStoreError,
)

log = logging.getLogger(__name__)

GENERIC = "エラーが発生しました。しばらくしてからもう一度お試しください。"
ADMIN_ONLY = "このコマンドは管理者だけが使えます。"
BUSY = "再構築はすでに実行中です。"
SEND_FAILED = "返信を送れませんでした。しばらくしてからもう一度お試しください。"
THREAD_FAILED = "ここではスレッドを作れません（ボットにスレッド作成の権限が必要です）。"
# What the core's hint (NewsbotError.hint) asks for, in the bot's words; before the classes below.
_HINTS = {
    ALLOW_EMPTY: "使える記事が1件もないため、索引は空にせず以前のまま残しました。",
    UPGRADE: "索引がより新しい版の newsbot で作られています。管理者に更新を依頼してください。",
}
# Checked in order: the first matching class gives the reply. Core messages are not shown
# because some carry file-system paths.
_MESSAGES: tuple[tuple[type[Exception], str], ...] = (
    (BuildInProgressError, BUSY),
    (ArticlesDirError, "記事フォルダが見つからないか、読めません。"),
    (ModelError, "埋め込みモデルを読み込めません。"),
    (StoreUnavailableError, "検索用のデータベースに接続できません。少し待ってからお試しください。"),
    (IndexWriteError, "新しい索引を保存できません（ディスクの空きや権限を確認してください）。"),
    (IndexNotBuiltError, "検索用の索引がまだありません。管理者に /reindex を依頼してください。"),
    (OutdatedError, "このボットは更新が必要なため、今は答えられません。管理者にお知らせください。"),
    (IndexCorruptError, "検索用の索引が壊れています。管理者に /reindex を依頼してください。"),
    (UsageStoreError, "利用記録を読めません。ログを確認してください。"),
    (NewsbotError, "今はこの操作を実行できません。しばらくしてからもう一度お試しください。"),
)


def cooldown_message(retry_after: float) -> str:
    """Discord shows <t:…:R> as a live countdown ("30秒後"), which never goes stale."""
    when = discord.utils.utcnow() + dt.timedelta(seconds=max(1, math.ceil(retry_after)))
    return f"質問が続いています。{discord.utils.format_dt(when, 'R')}にもう一度お試しください。"


def outlet_message(error: OutletError) -> str:
    """The outlet filter's choices: what was typed could mean several outlets, or none indexed."""
    typed = discord.utils.escape_markdown(_clip(error.typed, 40))
    listed = "、".join(discord.utils.escape_markdown(c) for c in error.choices[:10])
    more = f" ほか{len(error.choices) - 10}件" if len(error.choices) > 10 else ""
    if error.ambiguous:
        return f"「{typed}」に当たる媒体が複数あります。どれか選んでください: {listed}{more}"
    if not error.choices:
        return f"「{typed}」の記事は索引にありません（索引に媒体名のある記事がありません）。"
    return f"「{typed}」の記事は索引にありません。索引にある媒体: {listed}{more}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_message(error: BaseException, where: str = "bot") -> str:
    """The reply for an error; unexpected ones are logged with their traceback."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, OutletError):
        return outlet_message(error)
    if isinstance(error, QuestionError):
        return str(error)  # the core words these for the person who asked, in Japanese
    if isinstance(error, app_commands.CommandOnCooldown):
        return cooldown_message(error.retry_after)
    if isinstance(error, app_commands.CheckFailure):
        return ADMIN_ONLY
    if isinstance(error, discord.HTTPException):
        # Discord refused or failed a reply: its status and code say which, no traceback needed.
        log.warning("%s: Discord error while replying: %s", where, error)
        return SEND_FAILED
    if isinstance(error, NewsbotError) and error.hint in _HINTS:
        log.warning("%s: %s: %s", where, type(error).__name__, error)
        return _HINTS[error.hint]
    for cls, text in _MESSAGES:
        if isinstance(error, cls):
            if not isinstance(error, OutdatedError):  # said once, when it was noticed
                log.warning("%s: %s: %s", where, type(error).__name__, error)
            return text
    log.exception("Unexpected error in %s", where, exc_info=error)
    return GENERIC


def build_failure(error: BaseException) -> str:
    """One line for the admin when a reindex fails; the old index keeps serving."""
    if isinstance(error, BuildInProgressError):
        return BUSY
    if isinstance(error, NewsbotError):
        reason = user_message(error, "reindex")
    else:
        log.exception("Reindex failed", exc_info=error)
        reason = f"予期しないエラー（{type(error).__name__}）。詳細はログを確認してください。"
    return f"⚠️ 再構築できませんでした: {reason} 以前の索引で回答を続けます。"


async def handle(interaction: discord.Interaction, error: BaseException) -> None:
    """Reply to a failed command or button, whatever state the interaction is in."""
    where = interaction.command.qualified_name if interaction.command else "component"
    await send(interaction, user_message(error, where), maybe_sent=_maybe_sent(error))


def _maybe_sent(error: BaseException) -> bool:
    """Whether a reply that seemed to fail may have reached Discord all the same.

    A 5xx can come after Discord stored the reply (discord.py retries it, and its retry then
    meets 40060 "already acknowledged"); a 4xx means Discord refused it.
    """
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    return isinstance(error, discord.HTTPException) and (error.status >= 500 or error.code == 40060)


async def send(interaction: discord.Interaction, text: str, *, maybe_sent: bool = False) -> None:
    """Send text ephemerally, before or after the interaction was deferred or answered.

    An interaction gets one reply: once it has one, an error is only logged. When the bot
    cannot know (maybe_sent, or a "thinking…" message a failed send may have filled), it asks
    Discord rather than risk a second reply or a second acknowledgement (40060).
    """
    response = interaction.response
    try:
        if response.type is discord.InteractionResponseType.channel_message:
            state = "sent"
        elif response.type is discord.InteractionResponseType.deferred_channel_message:
            state = await _reply_state(interaction)
        elif not response.is_done():
            state = await _reply_state(interaction) if maybe_sent else "none"
        else:
            state = "thinking"  # a deferred update: a followup is the one reply
        if state == "sent":
            log.info("Interaction %s already has its reply; not sending: %s", interaction.id, text)
        elif state == "none" or (state == "unknown" and not response.is_done()):
            await response.send_message(text, ephemeral=True)
        else:
            # After a public defer this fills the "thinking…" message, which Discord keeps
            # public: visibility is fixed when deferring. Checks that can fail run before it.
            await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as e:
        log.warning("Cannot send an error reply: %s", e)


async def _reply_state(interaction: discord.Interaction) -> str:
    """What Discord shows for the interaction: "none", "thinking", "sent" or "unknown"."""
    try:
        original = await interaction.original_response()
    except discord.NotFound:
        return "none"
    except discord.HTTPException as e:
        log.warning("Cannot read the reply of interaction %s: %s", interaction.id, e)
        return "unknown"  # rather a rare second line than a "thinking…" that never ends
    return "thinking" if original.flags.loading else "sent"
