"""Per question: the full Searcher.ask path against the floor (one query encode + flat search)."""

# .venv/bin/python benchmarks/query_path.py [--passages 50000] [--questions 200] [--json]
#
# The index is jsquad-dev plus perturbed copies up to --passages (built once, cached; see
# _synth.synth_root). Floor and ask alternate question by question so both see the same load.

from __future__ import annotations

import time
from collections import defaultdict

import faiss
import numpy as np
from _common import (
    emit,
    median,
    ms,
    one_thread,
    options,
    parser,
    questions,
    raw_encode,
    real_embedder,
    setup,
)
from _synth import synth_root

import index.retrieval.query as query_module
from index import Searcher

STEPS = ("normalize", "encode", "dense", "lexical", "rank", "ask")


def instrument(searcher: Searcher, clock: dict[str, float]) -> None:
    """Wrap the steps of ask in timers (instance attributes and the query module's check)."""

    def wrap(name, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock[name] += time.perf_counter() - started

        return timed

    index = searcher.index
    searcher.embedder.encode_queries = wrap("encode", searcher.embedder.encode_queries)
    index.dense.search = wrap("dense", index.dense.search)
    index.lexical.scores = wrap("lexical", index.lexical.scores)
    index.rank = wrap("rank", index.rank)
    query_module.check_question = wrap("normalize", query_module.check_question)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--passages", type=int, default=50_000)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--encoder", choices=("onnx", "torch"), default="onnx")
    args = p.parse_args()
    setup(args)
    opts = options(encoder=args.encoder)
    embedder = real_embedder(opts)
    root = synth_root(args.passages, embedder)
    searcher = Searcher(opts, embedder=embedder, root=root)
    index = searcher.load()
    qs = questions(args.questions, seed=1)
    cleaned = [query_module.check_question(q, opts) for q in qs]
    # The floor: the same model's own encode call and an exact search over the same vectors.
    flat = faiss.IndexFlatIP(index.dense.dim)
    flat.add(np.ascontiguousarray(index.vectors))

    def floor(q: str) -> None:
        # The fastest way found to run both here: one thread each (see benchmarks/README.md).
        with one_thread():
            v = raw_encode(embedder, [q], embedder.query_prompt, 1)
            flat.search(np.ascontiguousarray(v, dtype=np.float32), opts.candidates)

    clock: dict[str, float] = defaultdict(float)
    instrument(searcher, clock)
    for q, c in zip(qs[:5], cleaned[:5]):  # warm up caches, allocators and thread pools
        floor(c)
        searcher.ask(q)
    floors, parts, answered = [], defaultdict(list), 0
    for run in range(args.runs):
        for i, (q, c) in enumerate(zip(qs, cleaned)):
            first_floor = (i + run) % 2 == 0  # alternate the order: neither always goes first
            if first_floor:
                started = time.perf_counter()
                floor(c)
                floors.append(time.perf_counter() - started)
            clock.clear()
            started = time.perf_counter()
            answer = searcher.ask(q)
            clock["ask"] = time.perf_counter() - started
            if not first_floor:
                started = time.perf_counter()
                floor(c)
                floors.append(time.perf_counter() - started)
            answered += not answer.no_answer
            for step in STEPS:
                parts[step].append(clock[step])
    f = {k: np.array(v) for k, v in parts.items()}
    split = {
        "normalize": median(f["normalize"]),
        "encode": median(f["encode"]),
        "dense": median(f["dense"]),
        "lexical": median(f["lexical"]),
        "fusion": median(f["rank"] - f["dense"] - f["lexical"]),
        "answer": median(f["ask"] - f["rank"] - f["encode"] - f["normalize"]),
    }
    ask_ms, floor_ms = median(f["ask"]), median(floors)
    emit(
        "query_path",
        {
            "encoder": embedder.identity,
            "passages": index.size,
            "dense_index": index.dense.kind,
            "questions": len(qs),
            "runs": args.runs,
            "answered_share": round(answered / (len(qs) * args.runs), 3),
            "ask_ms": ms(ask_ms),
            "floor_ms": ms(floor_ms),
            "ratio": round(ask_ms / floor_ms, 3),
            "ratio_p90": round(float(np.percentile(f["ask"], 90) / np.percentile(floors, 90)), 3),
            "split_ms": {k: ms(v) for k, v in split.items()},
            "goal": "ask <= 1.3 x floor at 50k passages",
        },
        args.json,
    )


if __name__ == "__main__":
    main()
