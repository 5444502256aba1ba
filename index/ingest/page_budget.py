"""A page's share of CPU time: extraction checks it between steps and refuses a page over it."""

from __future__ import annotations

import time

from ..errors import PageError

DEADLINE_SECONDS = 2.0  # CPU time one page may take to extract (a poll must not stall on one)


class Budget:
    """CPU time left for one page; check() refuses the page once it is spent."""

    def __init__(self, seconds: float = DEADLINE_SECONDS) -> None:
        self.seconds = seconds
        # CPU time of this thread: a loaded machine or a waiting thread does not spend it.
        self._end = time.thread_time() + seconds

    def check(self) -> None:
        """Raise PageError when the page has taken longer than its share."""
        if time.thread_time() > self._end:
            raise PageError(f"the page takes too long to read (over {self.seconds:g} s)")
