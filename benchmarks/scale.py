"""Query latency and memory at 10k, 100k and 1M passages, with the index type the settings pick."""

# .venv/bin/python benchmarks/scale.py [--sizes 10000,100000,1000000] [--json]
#
# Indexes are synthetic and cached (see _synth.scale_root; the 1M one takes a while to build the
# first time, mostly HNSW). Each size is measured in a fresh process so its memory is its own:
# index load (with and without the crc32 check), rank latency (dense search + BM25 + fusion, the
# query already encoded), RSS and bytes on disk; for HNSW, recall@10 against exact search.
# Draws benchmarks/scale.png.

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    CACHE,
    emit,
    median,
    ms,
    options,
    parser,
    questions,
    real_embedder,
    rss_mb,
    setup,
)
from _synth import scale_root

HERE = Path(__file__).resolve().parent
GROUPS = {"dense": ("dense",), "lexical": ("lex_",), "sentences": ("sent_",), "text": ("text",)}


def queries(n: int) -> tuple[list[str], np.ndarray]:
    """Cleaned jsquad-dev questions and their vectors, encoded once and cached."""
    path = CACHE / f"scale-queries-{n}.npz"
    if not path.exists():
        from index.retrieval.query import check_question

        opts = options()
        cleaned = [check_question(q, opts) for q in questions(n, seed=2)]
        vecs = real_embedder(opts).encode_queries(cleaned)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, q=np.array(cleaned), v=vecs)
    data = np.load(path)
    return [str(q) for q in data["q"]], data["v"]


def child(n: int, args) -> dict:
    """Load the n-passage index in this (fresh) process and measure it."""
    import faiss

    from index.retrieval.lexical import top_k
    from index.retrieval.ranker import Index
    from index.storage import local as index_format

    opts = options()
    qs, vecs = queries(args.questions)
    folder = index_format.current_version(CACHE / f"scale-{n}")
    rss0 = rss_mb()
    load_s, index = _timed(lambda: Index(index_format.LocalVersion.open(folder, verify=False)))
    rss_loaded = rss_mb() - rss0
    verify_s, _ = _timed(index_format.read_manifest, folder, verify=True)
    for q, v in zip(qs[:5], vecs[:5]):
        index.rank(q, v, opts)
    rank, dense, lexical = [], [], []
    for _ in range(args.runs):
        for q, v in zip(qs, vecs):
            rank.append(_timed(index.rank, q, v, opts)[0])
            dense.append(_timed(index.dense.search, v[None, :], opts.candidates)[0])
            started = time.perf_counter()
            top_k(index.lexical.scores(q), opts.candidates)
            lexical.append(time.perf_counter() - started)
    sizes = {p.name: p.stat().st_size / 2**20 for p in folder.iterdir()}
    out = {
        "passages": index.size,
        "dense_index": index.dense.kind,
        "load_s": round(load_s, 3),
        "crc32_verify_s": round(verify_s, 3),
        "rank_ms": ms(median(rank)),
        "rank_p90_ms": ms(float(np.percentile(rank, 90))),
        "dense_ms": ms(median(dense)),
        "lexical_ms": ms(median(lexical)),
        "rss_after_load_mb": round(rss_loaded, 1),
        "rss_after_queries_mb": round(rss_mb() - rss0, 1),
        "index_mb": round(sum(sizes.values()), 1),
        "index_mb_by_part": {
            g: round(sum(v for k, v in sizes.items() if k.startswith(pre)), 1)
            for g, pre in GROUPS.items()
        },
    }
    if index.dense.kind == "hnsw":
        exact = faiss.IndexFlatIP(index.dense.dim)
        exact.add(np.ascontiguousarray(index.vectors))
        truth = exact.search(vecs, 10)[1]
        hnsw = index.dense.index
        default_ef = hnsw.hnsw.efSearch
        out["hnsw"] = {"M": hnsw.hnsw.nb_neighbors(1), "efConstruction": hnsw.hnsw.efConstruction}
        for ef in (64, 96, 128, 256, 512):
            hnsw.hnsw.efSearch = ef
            took = [_timed(hnsw.search, v[None, :], opts.candidates)[0] for v in vecs]
            found = hnsw.search(vecs, 10)[1]
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
            out["hnsw"][f"ef{ef}"] = {"recall@10": round(float(recall), 4), "ms": ms(median(took))}
        hnsw.hnsw.efSearch = default_ef
        out["hnsw"]["efSearch_default"] = default_ef
    return out


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["passages"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (
        ("rank_ms", "rank (dense + BM25 + fusion)"),
        ("dense_ms", "dense search"),
        ("lexical_ms", "BM25 scores + top-k"),
    ):
        left.plot(n, [r[key] for r in results], marker="o", label=label)
    for r in results:
        left.annotate(
            r["dense_index"],
            (r["passages"], r["dense_ms"]),
            fontsize=8,
            textcoords="offset points",
            xytext=(4, -10),
        )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="passages",
        ylabel="ms per query (median)",
        title="Query latency (query already encoded)",
    )
    memory = (
        ("index_mb", "index on disk"),
        ("rss_after_queries_mb", "RSS (index, queried)"),
        ("rss_after_load_mb", "RSS after load"),
    )
    for key, label in memory:
        right.plot(n, [max(r[key], 0.1) for r in results], marker="o", label=label)
    right.set(xscale="log", yscale="log", xlabel="passages", ylabel="MiB", title="Memory")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=3)
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--png", type=Path, default=HERE / "scale.png")
    p.add_argument("--child", type=int, help=argparse_hidden())
    args = p.parse_args()
    setup(args)
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    embedder = real_embedder()
    queries(args.questions)
    for n in sizes:
        started = time.perf_counter()
        scale_root(n, embedder)
        took = time.perf_counter() - started
        print(f"index of {n} passages ready ({took:.0f}s)", file=sys.stderr)
    del embedder
    results = []
    for n in sizes:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(n),
            "--runs",
            str(args.runs),
            "--questions",
            str(args.questions),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    plot(results, args.png)
    emit(
        "scale",
        {"questions": args.questions, "runs": args.runs, "sizes": results, "png": str(args.png)},
        args.json,
    )


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
