"""`newsbot ask -` per question: how the CLI streams answers now, against the ways it did before."""

# .venv/bin/python benchmarks/ask_stream.py [--rounds 3] [--json]
#
# In one process over the shipped articles, the questions of tests/data (every set: on-topic,
# off-topic, other news, key facts, paraphrases), printed to a throw-away stream:
# - "all at once": one batch_ask of every question, then printing (before answers streamed);
# - "batches of 16": batch_ask per 16 questions, printing after each (the version before this);
# - "streamed": the CLI's own loop now (bot/cli/stream.py);
# - "floor": one thread, each question encoded alone plus a flat FAISS search of its vector.
# The ways alternate round by round so each sees the same load.

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from _common import ROOT, emit, median, one_thread, options, parser, raw_encode, setup

from bot.cli.output import format_answer
from bot.cli.stream import answered
from index import Searcher

DATA = ROOT / "tests" / "data"
SETS = ("ontopic", "offtopic", "othernews", "keyfacts", "paraphrase", "corpus_questions")


def questions() -> list[str]:
    out = []
    for name in SETS:
        for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    return out


def all_at_once(searcher: Searcher, qs: list[str], out) -> None:
    for a in searcher.batch_ask(qs):
        print(format_answer(a), file=out, flush=True)


def batches_of_16(searcher: Searcher, qs: list[str], out) -> None:
    for start in range(0, len(qs), 16):
        for a in searcher.batch_ask(qs[start : start + 16]):
            print(format_answer(a), file=out, flush=True)


def streamed(searcher: Searcher, qs: list[str], out) -> None:
    for a in answered(searcher, qs):
        print(format_answer(a), file=out, flush=True)


def floor(searcher: Searcher, qs: list[str], out) -> None:
    vectors = searcher.index.dense  # noqa: F841  (the live index is loaded)
    with one_thread():
        for q in qs:
            v = raw_encode(searcher.embedder, [q], searcher.options.query_prompt, 1)
            FLAT.search(np.ascontiguousarray(v, np.float32), 10)


FLAT: faiss.IndexFlatIP


def main() -> None:
    global FLAT
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    setup(args)
    qs = questions()
    with tempfile.TemporaryDirectory() as tmp:
        opts = options(articles_dir=ROOT / "articles", data_dir=Path(tmp))
        searcher = Searcher.open(opts)
        vecs = searcher.embedder.encode_passages(
            [searcher.index.text(i) for i in range(searcher.index.size)]
        )
        FLAT = faiss.IndexFlatIP(vecs.shape[1])
        FLAT.add(np.ascontiguousarray(vecs, np.float32))
        ways = {
            "all_at_once": all_at_once,
            "batches_of_16": batches_of_16,
            "streamed": streamed,
            "floor": floor,
        }
        times: dict[str, list[float]] = {w: [] for w in ways}
        first: dict[str, list[float]] = {w: [] for w in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                out = _Clock()
                started = time.perf_counter()
                way(searcher, qs, out)
                times[name].append((time.perf_counter() - started) * 1000 / len(qs))
                first[name].append(((out.first or time.perf_counter()) - started) * 1000)
    figures = {
        "questions": len(qs),
        "ms_per_question": {w: round(median(t), 2) for w, t in times.items()},
        "ms_to_first_answer": {w: round(median(t), 1) for w, t in first.items() if w != "floor"},
        "streamed_over_floor": round(median(times["streamed"]) / median(times["floor"]), 3),
        "streamed_over_batches_of_16": round(
            median(times["streamed"]) / median(times["batches_of_16"]), 3
        ),
    }
    emit("ask_stream", figures, args.json)


class _Clock(io.StringIO):
    """A throw-away output that notes when the first answer arrived."""

    first: float | None = None

    def write(self, s: str) -> int:
        if self.first is None:
            self.first = time.perf_counter()
        return len(s)


if __name__ == "__main__":
    main()
