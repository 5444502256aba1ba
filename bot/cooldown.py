"""A per-user question limit shared by /ask, direct messages and mentions."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


def _now() -> float:
    # Looked up on each call: the event loop's clock (and a test's virtual one) is time.monotonic.
    return time.monotonic()


class UserCooldown:
    """At most `rate` questions per user in any `per` seconds (a sliding window).

    discord.py's `app_commands.checks.cooldown` keeps one mapping per decorated function for the
    whole process, so every bot built in one process would share it, and it reads the wall clock;
    this one belongs to a bot and reads the loop's clock.
    """

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = _now):
        self.rate = max(1, rate)
        self.per = per
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> float:
        """Count one question; return 0 if allowed, else the seconds until the next is."""
        now = self._clock()
        recent = self._recent.setdefault(user_id, deque())
        while recent and now - recent[0] >= self.per:
            recent.popleft()
        if len(recent) >= self.rate:
            return self.per - (now - recent[0])
        recent.append(now)
        # Forget idle users so the table does not grow with everyone who ever asked.
        if len(self._recent) > 10_000:
            self._recent = {u: d for u, d in self._recent.items() if d and now - d[-1] < self.per}
        return 0.0
