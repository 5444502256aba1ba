"""What a follow-up costs over a fresh question, at 50k passages, in the same run."""

# .venv/bin/python benchmarks/follow_up.py [--passages 50000] [--questions 100] [--json]
#
# Each jsquad-dev question is asked afresh, then a follow-up (他には?, なぜ?, いつ?, 詳しく) with
# that answer as its context; the fresh question and the follow-up alternate order question by
# question, so both see the same load. The follow-up's extra work: deciding that it leans on the
# turn (its own words against the previous passages), a longer text to encode, and the previous
# answer's articles lifted in the ranking.

from __future__ import annotations

import time

import numpy as np
from _common import emit, median, ms, options, parser, questions, real_embedder, setup
from _synth import synth_root

from index import Searcher
from index.conversation import Turn

FOLLOW_UPS = ("他には?", "なぜ?", "いつ?", "詳しく")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--passages", type=int, default=50_000)
    p.add_argument("--questions", type=int, default=100)
    args = p.parse_args()
    setup(args)
    opts = options()
    embedder = real_embedder(opts)
    searcher = Searcher(opts, embedder=embedder, root=synth_root(args.passages, embedder))
    index = searcher.load()
    qs = questions(args.questions, seed=2)
    turns = [Turn(q, searcher.ask(q), 0.0) for q in qs]  # also warms the caches
    fresh, follow, framed = [], [], 0
    for run in range(args.runs):
        for i, (q, turn) in enumerate(zip(qs, turns)):
            then = FOLLOW_UPS[i % len(FOLLOW_UPS)]
            for first in (True, False) if (i + run) % 2 else (False, True):
                started = time.perf_counter()
                if first:
                    searcher.ask(q)
                    fresh.append(time.perf_counter() - started)
                else:
                    framed += searcher.ask(then, context=turn).follow_up
                    follow.append(time.perf_counter() - started)
    f, g = np.array(fresh), np.array(follow)
    emit(
        "follow_up",
        {
            "passages": index.size,
            "questions": len(qs),
            "runs": args.runs,
            "answered_as_follow_up": round(framed / len(g), 3),
            "fresh_ms": ms(median(f)),
            "follow_up_ms": ms(median(g)),
            "extra_ms": ms(median(g) - median(f)),
            "extra_p90_ms": ms(float(np.percentile(g, 90) - np.percentile(f, 90))),
            "goal": "a follow-up costs <= 5 ms more than a fresh question at 50k passages",
        },
        args.json,
    )


if __name__ == "__main__":
    main()
