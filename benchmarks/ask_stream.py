"""`newsbot ask -` per question: how the CLI streams answers now, against the ways it did before."""

# .venv/bin/python benchmarks/ask_stream.py [--rounds 3] [--json]
#
# In one process over the shipped articles, the questions of tests/data (every set: on-topic,
# off-topic, other news, key facts, paraphrases), printed to a throw-away stream:
# - "all at once": one batch_ask of every question, then printing (before answers streamed);
# - "batches of 16": batch_ask per 16 questions, printing after each (the version before this);
# - "streamed": answered() below (not wired into the CLI: main's loop now answers each question
#   on its own so one bad question never stops the next; see benchmarks/README.md, 15);
# - "floor": one thread, each question encoded alone plus a flat FAISS search of its vector.
# The ways alternate round by round so each sees the same load.

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np
from _common import ROOT, emit, median, one_thread, options, parser, raw_encode, setup

from bot.cli.output import format_answer
from index import Searcher

DATA = ROOT / "tests" / "data"

# The first chunk is small so the first answer comes quickly; later ones are larger so the
# worker's encode runs long enough to hide behind the answer step.
FIRST_CHUNK = 8
LARGEST_CHUNK = 64


def chunks(n: int) -> list[range]:
    """Consecutive ranges over n questions, doubling from FIRST_CHUNK up to LARGEST_CHUNK."""
    out, start, size = [], 0, max(1, FIRST_CHUNK)
    while start < n:
        out.append(range(start, min(n, start + size)))
        start += size
        size = min(LARGEST_CHUNK, size * 2)
    return out


def answered(searcher, questions: Sequence[str], k: int | None = None, filters=None) -> Iterator:
    """Each question's Answer, in order: the next chunk is encoded on a worker thread while this
    chunk is ranked and answered (the encoder runs outside the GIL; the index and its store are
    used by the calling thread only).

    An error in a chunk is raised once every answer before that chunk was handed out.
    """
    parts = chunks(len(questions))
    if not parts:
        return

    def encode(rows: range):
        queries = [searcher.query(questions[i]) for i in rows]
        live = [q.searched_normal for q in queries if not q.lacks_subject]
        return queries, searcher.embedder.encode_queries(live)

    with ThreadPoolExecutor(1, thread_name_prefix="newsbot-encode") as pool:
        ahead = pool.submit(encode, parts[0])
        for n in range(len(parts)):
            queries, vectors = ahead.result()
            if n + 1 < len(parts):
                ahead = pool.submit(encode, parts[n + 1])
            index, rankings = searcher.rank(queries, filters, vectors=vectors)
            for ranking in rankings:
                yield searcher.respond(index, ranking, k)


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
