"""Use data: the extra time an ask spends on its row (bot/usage.py + the writer thread).

# .venv/bin/python benchmarks/usage_store.py [--rate 50] [--asks 50] [--blocks 20] [--json]
#     [--questions FILE ...] [--sizes 1000,10000]

An event loop asks at `--rate` questions per second, one after another as the bot's cog does:
a search in a worker thread (a stand-in: a fixed numpy computation of about 4 ms, since this
2-core machine cannot run 50 real searches a second), then, with use data on, the bot's own
`UsageLog.searched` and `UsageLog.asked` calls on the loop, whose row the real `UsageWriter`
thread writes to a real SQLite file meanwhile. `--blocks` pairs of blocks of `--asks` asks (one
second each at 50/s, so load drifts cancel) alternate between use data off (the baseline) and
on, in the same run. Printed: the per-ask time (search start to
reply ready) median and p99 of each, their differences (the extra time an ask spends), the
on-loop cost of the record calls alone, and the rows written (all of them, checked).

With `--questions` (public question sets: JGLUE's JSQuAD valid JSON and JCommonsenseQA JSONL,
read from the paths given), the report's grouping of unanswered questions is timed at each of
`--sizes` distinct questions: the encoder's time (the real default model) apart from the
grouping's (neighbours by FAISS and word blocks, then joins), and, as the baseline in the same
run, the earlier grouping that compared each question with every group's seed (quadratic; run
only up to 2,000 questions).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from _common import ROOT, emit, ms, parser, setup

sys.path.insert(0, str(ROOT))

from bot.usage import UsageLog  # noqa: E402
from index.encoders.embedder import Embedder  # noqa: E402
from index.types import Answer, Hit  # noqa: E402
from index.usage.writer import UsageWriter  # noqa: E402

HIT = Hit(
    article="2025-03-19-us-russia-ceasefire.md",
    title="トランプとプーチン、ウクライナ戦争終結へ?米ロ首脳会談と停戦交渉の行方",
    section="停戦条件",
    text="ロシアは停戦の条件として…" * 10,
    sources=("https://mainichi.jp/articles/20250319/k00/00m/030/319000c",),
    published="2025-03-19",
    outlet="毎日新聞",
    score=0.8,
    passage_id=1,
)
ANSWER = Answer("ロシアの停戦条件は?", "ロシアは…と述べた。[1]", False, (HIT,) * 5, (1, 1))
MATRIX = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)


def search(i: int) -> Answer:
    """The stand-in search: fixed CPU work off the loop, and a fresh Answer as the real one."""
    v = np.ones(384, dtype=np.float32)
    for _ in range(150):
        v = MATRIX @ v
        v /= np.linalg.norm(v)
    return dataclasses.replace(ANSWER, question=f"ロシアの停戦条件は? {i}")


async def block(usage: UsageLog | None, asks: int, rate: float, offset: int) -> dict:
    loop = asyncio.get_running_loop()
    origin = SimpleNamespace(author=SimpleNamespace(id=1234), guild=None, channel=None)
    total, record = [], []
    start = loop.time()
    for i in range(asks):
        await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        t0 = time.perf_counter()
        answer = await asyncio.to_thread(search, offset + i)
        t1 = time.perf_counter()
        if usage is not None:  # what bot.answer and the Ask cog add to an ask
            usage.searched(answer, (t1 - t0) * 1000)
            usage.asked(answer, origin)
        t2 = time.perf_counter()
        total.append(t2 - t0)
        record.append(t2 - t1)
    return {"total": total, "record": record}


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


async def run(args, folder: Path) -> dict:
    usage = UsageLog(UsageWriter(folder, 90))
    off, on = {"total": []}, {"total": [], "record": []}
    for b in range(2 * args.blocks):
        got = await block(usage if b % 2 else None, args.asks, args.rate, b * args.asks)
        for key in on if b % 2 else off:
            (on if b % 2 else off)[key] += got[key]
    flushed = await asyncio.to_thread(usage.writer.flush, 60)
    usage.close()
    conn = sqlite3.connect(folder / "usage.db")
    rows = conn.execute("SELECT count(*) FROM questions").fetchone()[0]
    conn.close()
    return {
        "rate_per_s": args.rate,
        "asks_each": len(off["total"]),
        "ask_ms_off": {"median": ms(statistics.median(off["total"])), "p99": ms(p99(off["total"]))},
        "ask_ms_on": {"median": ms(statistics.median(on["total"])), "p99": ms(p99(on["total"]))},
        "extra_ms": {
            "median": ms(statistics.median(on["total"]) - statistics.median(off["total"])),
            "p99": ms(p99(on["total"]) - p99(off["total"])),
        },
        "record_calls_ms": {
            "median": ms(statistics.median(on["record"])),
            "p99": ms(p99(on["record"])),
        },
        "rows_written": rows,
        "all_written": flushed and rows == len(on["total"]),
    }


def read_questions(paths: list[Path]) -> list[str]:
    """Distinct question texts from JSQuAD (SQuAD JSON) and JCommonsenseQA (JSON lines) files."""
    import json

    seen: dict[str, None] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith('{"data"'):
            for article in json.loads(text)["data"]:
                for paragraph in article["paragraphs"]:
                    seen.update((qa["question"], None) for qa in paragraph["qas"])
        else:
            seen.update((json.loads(line)["question"], None) for line in text.splitlines() if line)
    return list(seen)


def quadratic(rows) -> int:
    """The earlier grouping: each question compared with every group's seed (n x groups)."""
    from index.usage.grouping import SAME_WORDS, _Question, similarity

    seeds: list[_Question] = []
    for text, _, _ in rows:
        q = _Question(text)
        best = max(seeds, key=lambda s: similarity(q, s), default=None)
        if best is None or similarity(q, best) < SAME_WORDS:
            seeds.append(q)
    return len(seeds)


def grouping(args) -> dict:
    from index import IndexOptions
    from index.usage.grouping import _Question, group_questions

    texts = read_questions(args.questions)
    options = IndexOptions()
    embedder = Embedder(options.model, ROOT / options.model_cache)
    out = {"distinct_questions_read": len(texts)}
    # Warm up (the term tables, FAISS and the checks load once per process): not timed.
    import faiss  # noqa: F401

    group_questions([(t, "u", None) for t in texts[:50]])
    for size in args.sizes:
        if size > len(texts):
            continue
        rows = [(t, f"u{i % 97}", "other_news") for i, t in enumerate(texts[:size])]
        t0 = time.perf_counter()
        known = dict(zip(texts[:size], encoded(embedder, texts[:size], args.cache), strict=True))
        t1 = time.perf_counter()
        leads = sorted({q.lead for q in map(_Question, texts[:size]) if q.lead} - set(known))
        known.update(zip(leads, encoded(embedder, leads, args.cache), strict=True))
        t2 = time.perf_counter()
        groups, bare = group_questions(rows, Known(known))
        t3 = time.perf_counter()
        words, _ = group_questions(rows)
        t4 = time.perf_counter()
        figures = {
            "encode_questions_s": round(t1 - t0, 2),
            "encode_lead_terms_s": round(t2 - t1, 2),
            "group_s": round(t3 - t2, 2),
            "groups": len(groups),
            "subjectless": bare,
            "group_words_only_s": round(t4 - t3, 2),
            "groups_words_only": len(words),
        }
        if size <= 2000:
            t5 = time.perf_counter()
            figures["baseline_groups"] = quadratic(rows)
            figures["baseline_quadratic_s"] = round(time.perf_counter() - t5, 2)
        out[f"n{size}"] = figures
    return out


def encoded(embedder, texts: list[str], cache: Path | None):
    """The texts' vectors; with --cache, kept in a .npy file so a rerun skips the encoder (its
    time then reads as the file's)."""
    import hashlib

    if cache is None:
        return embedder.encode_queries(texts)
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    path = cache / f"vectors-{digest}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.encode_queries(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class Known:
    """The encoder's vectors computed beforehand (timed apart), looked up by text."""

    def __init__(self, vectors: dict):
        self.vectors = vectors

    def __call__(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=50.0, help="asks per second")
    p.add_argument("--asks", type=int, default=50, help="asks per block")
    p.add_argument("--blocks", type=int, default=20, help="blocks each way, alternating")
    p.add_argument("--questions", type=Path, nargs="*", default=[], help="public question sets")
    p.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[1000, 10000])
    p.add_argument("--cache", type=Path, default=None, help="folder keeping encoded vectors")
    args = p.parse_args()
    setup(args)
    if args.questions:
        emit("usage_grouping", grouping(args), args.json)
        return
    with tempfile.TemporaryDirectory(prefix="newsbot-usage-") as folder:
        figures = asyncio.run(run(args, Path(folder)))
    emit("usage_store", figures, args.json)


if __name__ == "__main__":
    main()
