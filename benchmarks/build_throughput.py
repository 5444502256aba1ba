"""Passages/s of a full build of jsquad-dev against the model's raw encode throughput, same run."""

# .venv/bin/python benchmarks/build_throughput.py [--runs 3] [--json]
#
# Raw: the encoder's own call (onnxruntime, or SentenceTransformer.encode with --encoder torch)
# on the very texts the build embeds (the passage prompt, batch size 32, sorted by length).
# Build: index.build.build(..., rebuild=True) into a temporary folder, timed from the call to its
# return (load, chunk, embed, lexical, write, checksums). The two alternate so drifting load
# hits both alike.

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import JSQUAD, emit, median, options, parser, raw_encode, real_embedder, setup

from index.build import build, embed_text
from index.corpus.chunker import chunk_article
from index.corpus.loader import load_articles


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=3)
    p.add_argument("--batch-size", type=int, default=32, help="raw encode's batch size")
    p.add_argument("--encoder", choices=("onnx", "torch"), default="onnx")
    args = p.parse_args()
    setup(args)
    opts = options(encoder=args.encoder)
    embedder = real_embedder(opts)
    articles, _ = load_articles(JSQUAD / "articles")
    texts = [embed_text(x) for a in articles for x in chunk_article(a, opts.max_passage_chars)]

    def raw() -> float:
        started = time.perf_counter()
        raw_encode(embedder, texts, embedder.passage_prompt, args.batch_size)
        return len(texts) / (time.perf_counter() - started)

    def full_build() -> tuple[float, dict]:
        with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
            stages: dict[str, float] = {}
            started = time.perf_counter()

            def progress(stage: str, done: int, total: int) -> None:
                if done >= total:  # the last slice of an embedding stage
                    stages[f"{stage}_done_s"] = round(time.perf_counter() - started, 2)

            report = build(opts, embedder, JSQUAD / "articles", Path(tmp), True, progress)
            elapsed = time.perf_counter() - started
        stages["total_s"] = round(elapsed, 2)
        return report.passages / elapsed, stages

    raw()  # warm up: first batches pay for allocations and thread-pool start
    raws, builds, ratios, stages = [], [], [], []
    for run in range(args.runs):
        order = (raw, full_build) if run % 2 == 0 else (full_build, raw)
        got = {}
        for fn in order:
            got[fn.__name__] = fn()
        builds.append(got["full_build"][0])
        stages.append(got["full_build"][1])
        raws.append(got["raw"])
        ratios.append(builds[-1] / raws[-1])
    emit(
        "build_throughput",
        {
            "encoder": embedder.identity,
            "passages": len(texts),
            "runs": args.runs,
            "raw_passages_per_s": round(median(raws), 2),
            "build_passages_per_s": round(median(builds), 2),
            "ratio": round(median(ratios), 3),
            "ratios": [round(r, 3) for r in ratios],
            "build_stages": stages,
            "batch_size": {"raw": args.batch_size, "build": embedder.batch_size},
            "goal": "build >= 0.9 x raw encode",
        },
        args.json,
    )


if __name__ == "__main__":
    main()
