"""The last turns of each conversation, in memory, bounded and expiring."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ..types import Answer


@dataclass(frozen=True)
class Turn:
    """One question and the answer it got (its articles, sections and passages in hits)."""

    question: str
    answer: Answer
    at: float  # the clock's reading when it was answered
    # A refused turn: the conversation's last answered turn before it, within the window (a
    # pointer or a bare question after a refusal leans on that one: Why not?).
    answered: Turn | None = None

    @property
    def context(self) -> str:
        """What a follow-up to this turn is asked about: the questions it stands on, in order."""
        return self.answer.asked_about or self.question


class Conversations:
    """Turns by conversation key; the caller's key keeps users and channels apart.

    A conversation is forgotten `window` seconds after its last turn; at most `turns` turns are
    kept per conversation and `limit` conversations in all (the least recently used go first).
    """

    def __init__(
        self,
        window: float = 600.0,
        turns: int = 3,
        limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.window = window
        self.turns = max(1, turns)
        self.limit = max(1, limit)
        self.clock = clock
        self._by_key: OrderedDict[Hashable, deque[Turn]] = OrderedDict()
        self._lock = threading.Lock()  # the bot's event loop and the CLI's threads share one

    def last(self, key: Hashable) -> Turn | None:
        """The conversation's last turn, or None when there is none within the window."""
        with self._lock:
            turns = self._by_key.get(key)
            if not turns:
                return None
            if self.clock() - turns[-1].at > self.window:
                del self._by_key[key]
                return None
            return turns[-1]

    def history(self, key: Hashable) -> list[Turn]:
        """The conversation's kept turns, oldest first (empty once expired)."""
        with self._lock:
            turns = self._by_key.get(key)
            if not turns or self.clock() - turns[-1].at > self.window:
                return []
            return list(turns)

    def add(self, key: Hashable, question: str, answer: Answer) -> Turn:
        """Record a turn (a refused question is kept too: it ends what came before, except for
        a pointer or a bare question, which leans on the last answered turn it remembers)."""
        now = self.clock()
        with self._lock:
            turns = self._by_key.pop(key, None) or deque(maxlen=self.turns)
            before = _last_answered(turns, now - self.window) if answer.no_answer else None
            turn = Turn(question, answer, now, before)
            turns.append(turn)
            self._by_key[key] = turns
            while len(self._by_key) > self.limit:
                self._by_key.popitem(last=False)
        return turn

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._by_key.pop(key, None)

    def clear(self) -> None:
        """Forget every conversation (what a restart does)."""
        with self._lock:
            self._by_key.clear()

    def __len__(self) -> int:
        return len(self._by_key)


def _last_answered(turns: deque[Turn], since: float) -> Turn | None:
    """The newest answered turn at or after since (a refused turn's own fallback counts)."""
    for turn in reversed(turns):
        if turn.at < since:
            return None
        if not turn.answer.no_answer and turn.answer.hits:
            return turn
        if turn.answered is not None:
            return turn.answered if turn.answered.at >= since else None
    return None
