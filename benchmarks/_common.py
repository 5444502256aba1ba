"""Shared by the benchmarks: machine facts, timing, settings, the jsquad-dev corpus."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import statistics
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index import IndexOptions, Searcher
from index.build import build
from index.encoders.embedder import Embedder

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
JSQUAD = Path(os.environ.get("NEWSBOT_JSQUAD", ROOT.parent / "shared" / "eval" / "jsquad-dev"))
# Synthetic corpora and cached builds live here between runs (delete it to start over).
CACHE = Path(os.environ.get("NEWSBOT_BENCH_CACHE", Path(tempfile.gettempdir()) / "newsbot-bench"))
MODEL_CACHE = ROOT / "data" / "models"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--runs", type=int, default=5, help="repetitions for medians")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def setup(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
    )
    for noisy in ("sentence_transformers", "transformers", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def emit(title: str, figures: dict, as_json: bool) -> None:
    """Print the figures (with the machine they were measured on) as text or JSON."""
    figures = {"benchmark": title, **figures, "machine": machine()}
    if as_json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    print(f"== {title}")
    for key, value in figures.items():
        if key != "benchmark":
            print(f"{key}: {json.dumps(value, ensure_ascii=False)}")


def machine() -> dict:
    """What the figures depend on: cores, CPU, memory, versions and the load right now."""
    import faiss
    import onnxruntime
    import torch

    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        platform.processor(),
    )
    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if "MemTotal" in line)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem / 2**20, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": onnxruntime.__version__,
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


@contextmanager
def one_thread():
    """torch and faiss on the calling thread only, as the ask path runs one question."""
    import faiss
    import torch

    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def options(**overrides) -> IndexOptions:
    return IndexOptions(model_cache_dir=MODEL_CACHE, **overrides)


def real_embedder(opts: IndexOptions | None = None, encoder: str | None = None) -> Embedder:
    """The settings' model; encoder "onnx" (the default, serving) or "torch" (the reference)."""
    opts = opts or options()
    return Embedder(
        opts.model,
        opts.model_cache,
        opts.batch_size,
        opts.threads,
        opts.query_prompt,
        opts.passage_prompt,
        encoder or opts.encoder,
    )


def raw_encode(embedder: Embedder, texts: Sequence[str], prompt: str, batch_size: int):
    """The backend's own call (the floor): prompt + text, sorted by length, no slicing."""
    full = sorted(((prompt or "") + t for t in texts), key=len)
    return embedder._backend.embed(full, batch_size)


def questions(n: int | None = None, seed: int = 0) -> list[str]:
    """jsquad-dev questions, a fixed random sample of n (all when None)."""
    lines = (JSQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    qs = [json.loads(line)["question"] for line in lines if line.strip()]
    return qs if n is None or n >= len(qs) else random.Random(seed).sample(qs, n)


def jsquad_searcher() -> Searcher:
    """A Searcher over the cached real-model jsquad-dev index, loaded."""
    embedder = real_embedder(options())
    searcher = Searcher(options(), embedder=embedder, root=jsquad_root(embedder))
    searcher.load()
    return searcher


def jsquad_root(embedder: Embedder) -> Path:
    """A real-model index of jsquad-dev, built once and kept in the cache."""
    root = CACHE / "jsquad-index"
    try:
        Searcher(options(), embedder=embedder, root=root).load()
    except Exception as e:  # not built yet, or by an older format: (re)build
        log.info("Building the jsquad-dev index: %s", e)
        build(options(), embedder, JSQUAD / "articles", root)
    return root
