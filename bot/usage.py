"""The bot's use data: each question and vote handed to the writer thread, never awaited."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import secrets
import sqlite3
import threading
import weakref
from pathlib import Path

import discord

from index import Answer
from index.errors import UsageStoreError
from index.usage import (
    Forgotten,
    QuestionRecord,
    UsageWriter,
    VoteRecord,
    forget,
    question_record,
    retain,
)

from .settings import Settings

log = logging.getLogger(__name__)
VOTES = {"up": 1, "down": -1}
FLUSH_SECONDS = 5.0  # /forget-me waits this long for the member's queued records to land


class UsageLog:
    """Records questions (where asked, answered or not, latency) and one vote per user per answer.

    An answer is known by identity: the bot's `answer()` notes its id and search time, `asked()`
    queues its row, and a vote on the view holding that same Answer refers to the row.
    """

    def __init__(
        self, writer: UsageWriter | None, data_dir: Path | None = None, keep_text: bool = True
    ):
        self.writer = writer
        self.data_dir = Path(data_dir) if data_dir is not None else writer and writer.data_dir
        self.keep_text = keep_text
        self.retention: threading.Thread | None = None  # the one pass made when disabled
        self._answers: dict[int, tuple[weakref.ref, str, float | None]] = {}

    @classmethod
    def open(cls, settings: Settings) -> UsageLog:
        """The writer for [usage]; disabled, or unusable (logged), it records nothing."""
        u, data_dir = settings.usage, settings.index.data_dir
        if not u.enabled:
            # Nothing new is kept, but what was kept before still goes after retention_days.
            usage = cls(None, data_dir, u.keep_text)
            usage.retention = threading.Thread(
                target=_retain_quietly, args=(data_dir, u.retention_days), daemon=True
            )
            usage.retention.start()
            return usage
        try:
            return cls(UsageWriter(data_dir, u.retention_days), data_dir, u.keep_text)
        except (UsageStoreError, OSError) as e:  # the bot still answers; the admin sees why
            log.warning("Use data is not recorded: %s", e)
            return cls(None, data_dir, u.keep_text)

    def forget_user(self, user_id: int) -> Forgotten:
        """Delete one member's questions and votes everywhere (blocking: run in a thread)."""
        from index.usage import keyed_hash, load_key

        if self.writer is not None:
            self.writer.flush(FLUSH_SECONDS)  # their last question must not land afterwards
        if self.data_dir is None:
            return Forgotten()
        user = keyed_hash(load_key(self.data_dir), "user", user_id)
        return forget(self.data_dir, user_hash=user)

    def searched(self, answer: Answer, latency_ms: float) -> None:
        """Note an answer's search time, for its row when it is asked."""
        self._note(answer, latency_ms)

    def asked(
        self,
        answer: Answer,
        origin: discord.Interaction | discord.Message,
        *,
        follow_up: bool = False,
        reason: str | None = None,
    ) -> None:
        """Queue the question's row (returns at once)."""
        if self.writer is None:
            return
        answer_id, latency = self._note(answer)
        user = origin.user if isinstance(origin, discord.Interaction) else origin.author
        channel = origin.channel_id if isinstance(origin, discord.Interaction) else None
        channel = channel or getattr(origin.channel, "id", None)
        guild = guild_id(origin)
        fields = {
            "answer_id": answer_id,
            "place": place(origin),
            "asked_at": dt.datetime.now(dt.UTC),
            "latency_ms": latency,
            "is_dm": guild is None,
            "follow_up": follow_up,
            "reason": reason,
            "keep_text": self.keep_text,
        }
        # Only the facts are taken on the event loop; the hashes and the row are made by the
        # writer thread (the loop's share of an ask stays one queue put).
        ids = (user.id, guild, channel)
        self.writer.put(functools.partial(_row, self.writer, answer, ids, fields))

    def voted(self, answer: Answer, user_id: int, vote: str) -> None:
        """Queue a 👍 or 👎 on an answer; the user's later vote replaces it."""
        if self.writer is None:
            return
        answer_id, _ = self._note(answer)
        user = self.writer.hash("user", user_id)
        self.writer.put(VoteRecord(answer_id, user, VOTES[vote], dt.datetime.now(dt.UTC)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def _note(self, answer: Answer, latency_ms: float | None = None) -> tuple[str, float | None]:
        key = id(answer)
        known = self._answers.get(key)
        if known is not None and known[0]() is answer:
            return known[1], known[2]
        answer_id = f"{_PREFIX}-{next(_SERIAL)}"
        # The entry goes with the answer (the view holding it expires after 10 minutes).
        ref = weakref.ref(answer, lambda _, key=key: self._answers.pop(key, None))
        self._answers[key] = (ref, answer_id, latency_ms)
        return answer_id, latency_ms


# Answer ids: a random prefix per process and a counter, unique across processes without a
# system call per answer on the event loop.
_PREFIX = secrets.token_hex(8)
_SERIAL = itertools.count(1)


def _row(writer: UsageWriter, answer: Answer, ids: tuple, fields: dict) -> QuestionRecord:
    """The question's row, made in the writer thread: the raw ids go no further than here."""
    user, guild, channel = ids
    return question_record(
        answer,
        user_hash=writer.hash("user", user),
        guild_hash=writer.hash("guild", guild),
        place_hash=writer.hash("place", channel),
        **fields,
    )


def privacy_note(usage, forget: str, lang: str = "ja") -> str:
    """What the help tells members is kept of their questions, how long, how to erase it."""
    if not usage.enabled:
        return "・Questions are not recorded." if lang == "en" else "・質問は記録していません。"
    days = usage.retention_days
    if lang == "en":
        what = "your questions" if usage.keep_text else "when you asked (not the words)"
        return (
            f"・Kept for the admins' report: {what}, whether they were answered, and 👍/👎, with "
            f"your account as a code (not your id), for {days} days. {forget} erases yours."
        )
    what = "質問の文" if usage.keep_text else "質問した日時と件数（文は残しません）"
    return (
        f"・管理者の利用レポートのため、{what}・回答できたか・👍/👎 を、アカウントを符号にして"
        f"（IDは残さず）{days}日間保存します。{forget} で自分の記録を削除できます。"
    )


def _retain_quietly(data_dir: Path, days: int) -> None:
    try:
        retain(data_dir, days)
    except (sqlite3.Error, UsageStoreError, OSError) as e:
        log.warning("Old use data not deleted this time: %s", e)


def guild_id(origin: discord.Interaction | discord.Message) -> int | None:
    # A user-installed /ask in a server the bot is not in has a guild_id but no guild object.
    if isinstance(origin, discord.Interaction):
        return origin.guild_id
    return origin.guild.id if origin.guild else None


def place(origin: discord.Interaction | discord.Message) -> str:
    """Where a question was asked: "dm" (private or group DM), "thread" or "channel"."""
    if guild_id(origin) is None:
        return "dm"
    return "thread" if isinstance(origin.channel, discord.Thread) else "channel"
