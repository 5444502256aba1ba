"""Change one article in a corpus of 1,000+ articles: reindex time and passages re-embedded."""

# .venv/bin/python benchmarks/incremental.py [--runs 5] [--json]
#
# The corpus is jsquad-dev and one perturbed copy of it, one file per section (1,300 articles,
# 2,300 passages), indexed by the real model. Each run edits a different article (one sentence
# appended to its section) and calls build() as `newsbot index` does; the full build is a
# rebuild of the same corpus.

from __future__ import annotations

import shutil
import time
from collections import defaultdict

from _common import CACHE, emit, median, options, parser, real_embedder, setup
from _synth import synth_articles

from index.build import build


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--full-runs", type=int, default=1, help="full builds to time (slow)")
    args = p.parse_args()
    setup(args)
    opts = options()
    embedder = real_embedder(opts)
    work = CACHE / "incremental"
    shutil.rmtree(work, ignore_errors=True)
    articles = work / "articles"
    count = synth_articles(articles, copies=2, articles_per_source=20)
    root = work / "index"
    # Time the model's share of each build, and count what it is asked to embed.
    clock: dict[str, float] = defaultdict(float)
    real_encode = embedder.encode_passages

    def encode_passages(texts, *a, **kw):
        started = time.perf_counter()
        try:
            return real_encode(texts, *a, **kw)
        finally:
            clock["encode_s"] += time.perf_counter() - started
            clock["encoded_texts"] += len(texts)

    embedder.encode_passages = encode_passages
    fulls = []
    for _ in range(args.full_runs):
        clock.clear()
        started = time.perf_counter()
        report = build(opts, embedder, articles, root, rebuild=True)
        fulls.append(time.perf_counter() - started)
        full_split = dict(clock)
    files = sorted(articles.rglob("*.md"))
    incs, embedded, splits = [], [], []
    for run in range(args.runs):
        victim = files[(run * 97) % len(files)]
        text = victim.read_text(encoding="utf-8").rstrip("\n")
        victim.write_text(text + f"この段落は更新{run}回目の追記である。\n", encoding="utf-8")
        clock.clear()
        started = time.perf_counter()
        inc = build(opts, embedder, articles, root)
        incs.append(time.perf_counter() - started)
        embedded.append(inc.embedded)
        splits.append({k: round(v, 3) for k, v in clock.items()})
        assert inc.changed == [victim.relative_to(articles).as_posix()], inc.changed
    full, one = median(fulls), median(incs)
    emit(
        "incremental",
        {
            "articles": count,
            "passages": report.passages,
            "full_build_s": round(full, 2),
            "full_build_encode": {k: round(v, 2) for k, v in full_split.items()},
            "incremental_s": round(one, 3),
            "incremental_runs_s": [round(x, 3) for x in incs],
            "incremental_encode": splits,
            "passages_reembedded": embedded,
            "ratio": round(one / full, 4),
            "goal": "incremental <= 3 % of the full build's time",
        },
        args.json,
    )


if __name__ == "__main__":
    main()
