"""What the use data records: a question, a vote, and who asked as a keyed hash (never an ID)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field


@dataclass(frozen=True)
class QuestionRecord:
    """One asked question as stored: who is a keyed hash, never an ID."""

    answer_id: str
    asked_at: dt.datetime
    text: str
    place: str
    answered: bool
    reason: str | None = None
    follow_up: bool = False
    latency_ms: float | None = None
    user_hash: str | None = None
    guild_hash: str | None = None
    answer: str = ""
    cited: tuple[tuple[str, str], ...] = field(default=())  # (article, title)
    place_hash: str | None = None  # the channel or thread, keyed like users
    is_dm: bool | None = None  # None: not known (rows from before the place was kept)


@dataclass(frozen=True)
class VoteRecord:
    """A 👍 (1) or 👎 (-1) on one answer; a later vote of the same user replaces it."""

    answer_id: str
    user_hash: str
    vote: int
    voted_at: dt.datetime


def keyed_hash(key: bytes, kind: str, value: int | str | None) -> str | None:
    """Enough to count distinct users or servers; the ID cannot be read back without the key."""
    if value is None:
        return None
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:20]
