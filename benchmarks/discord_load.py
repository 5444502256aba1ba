"""Discord under load: how long the event loop stalls while 50 questions and a reindex run.

# .venv/bin/python benchmarks/discord_load.py [--runs 3] [--users 50] [--json]

The real bot in simcord over a real index (the seed and the deer article): an admin's /reindex
of a changed corpus and `--users` questions are released at once (tests/test_discord_reliability.py
TestLoad's choreography, which checks that each is answered once from one index version). The
build holds its first embedding for 1 s, long enough that a build on the event loop would show.
A probe on the loop wakes every 10 ms and records how late each wake-up is. Baseline, in the
same run: the same probe on the same loop with nothing else to do, for as long.

The loop must never stop for the model's work: the searches and the build run in threads, so
its gaps are the loop thread waiting for the GIL and a core, not callbacks of its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit, parser, setup

sys.path.insert(0, str(ROOT))

from simcord import Env  # noqa: E402

from bot import create_bot  # noqa: E402
from index import IndexOptions, Searcher  # noqa: E402
from index.encoders.embedder import Embedder  # noqa: E402
from tests.discord_fixtures import (  # noqa: E402
    ARTICLES,
    SEED,
    Burst,
    TappedEmbedder,
    make_world,
    questions_during_a_reindex,
    settings_for,
)


class LoopLagProbe:
    """Wakes every 10 ms on the real clock and records how late each wake-up was."""

    def __init__(self, period: float = 0.01):
        self.period = period
        self.gaps: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            self.gaps.append(max(0.0, now - last - self.period))
            last = now

    def __enter__(self) -> LoopLagProbe:
        # Created here, not by the bot: simcord leaves these timers on the real clock.
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        self.seconds = time.perf_counter() - self.started

    def figures(self) -> dict:
        gaps = sorted(self.gaps) or [0.0]
        return {
            "wakeups": len(self.gaps),
            "max_gap_ms": round(gaps[-1] * 1000, 1),
            "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))] * 1000, 1),
            "median_gap_ms": round(statistics.median(gaps) * 1000, 2),
        }


def base_index(root: Path, embedder: Embedder) -> None:
    articles = root / "articles"
    articles.mkdir(parents=True)
    shutil.copy(SEED, articles / SEED.name)
    shutil.copy(ARTICLES / "nara-deer.md", articles / "nara-deer.md")
    Searcher.open(options(root), embedder=embedder)


def options(root: Path) -> IndexOptions:
    return IndexOptions(
        articles_dir=root / "articles",
        data_dir=root / "data",
        model_cache_dir=ROOT / "data" / "models",
    )


async def one_run(base: Path, embedder: Embedder, users: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="newsbot-load-"))
    try:
        shutil.copytree(base, work, dirs_exist_ok=True)
        own = Searcher.open(options(work), build_missing=False, embedder=TappedEmbedder(embedder))
        burst = Burst(own, build_delay=1.0)
        bot = create_bot(settings=settings_for(own.options, work), searcher=burst)
        env = Env(bot, settle_timeout=300)
        await env.start()
        try:
            world = make_world(env)
            probe = LoopLagProbe()  # from the release of the burst until all is answered
            run = await questions_during_a_reindex(world, own, users, probe=probe)
            seconds = probe.seconds
            with LoopLagProbe() as idle:  # the baseline: the same loop, nothing to do
                await asyncio.sleep(seconds)
            answered = sum(1 for r in run.asked.values() if r.response and r.response.embeds)
            assert burst.timeouts == 0 and answered == users, (burst.timeouts, answered)
            return {
                "seconds": round(seconds, 2),
                "answered": answered,
                "answered_during_build": burst.answered_during_build,
                "load": probe.figures(),
                "idle": idle.figures(),
            }
        finally:
            await env.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = parser("Event-loop stalls while questions and a reindex run at once")
    p.add_argument("--users", type=int, default=50)
    p.set_defaults(runs=3)
    args = p.parse_args()
    setup(args)
    embedder = Embedder(IndexOptions().model, ROOT / "data" / "models")
    base = Path(tempfile.mkdtemp(prefix="newsbot-load-base-"))
    try:
        base_index(base, embedder)
        runs = [asyncio.run(one_run(base, embedder, args.users)) for _ in range(args.runs)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    worst = max(r["load"]["max_gap_ms"] for r in runs)
    figures = {
        "users": args.users,
        "runs": runs,
        "max_gap_ms_under_load": worst,
        "max_gap_ms_idle": max(r["idle"]["max_gap_ms"] for r in runs),
        "goal": "max gap < 750 ms (a build or a search on the loop stalls it for > 1 s)",
        "met": worst < 750,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    emit("discord_load", figures, args.json)


if __name__ == "__main__":
    main()
