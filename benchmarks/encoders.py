"""The int8 ONNX serving encoder against the torch reference: encode, batches, build, cold CLI."""

# .venv/bin/python benchmarks/encoders.py [--questions 100] [--runs 3] [--busy] [--json]
#
# Everything alternates between the two encoders (or the two paths) in one run, so drifting load
# hits both alike; the ratios are the figures, the absolute times depend on the load.
# - encode: one question's encode_queries([q]), ONNX vs torch on one thread.
# - batch: ONNX `batch_ask(questions)` per question vs `ask(q)` one at a time, jsquad-dev index;
#   with --busy, two spinning processes keep both cores busy meanwhile.
# - build: a full build of jsquad-dev (1,162 passages), ONNX vs torch.
# - cli: cold `newsbot ask` and `newsbot info` processes over the seed index (articles/), wall
#   time and peak RSS, with index.encoder = "onnx" and = "torch".
# - refusal: over the seed index, the share of tests/data/offtopic.jsonl refused and of
#   tests/data/paraphrase.jsonl answered, per encoder.

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from _common import (
    CACHE,
    JSQUAD,
    MODEL_CACHE,
    ROOT,
    emit,
    jsquad_root,
    median,
    ms,
    one_thread,
    options,
    parser,
    questions,
    real_embedder,
    setup,
)

from index import Searcher
from index.build import build

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent across exec.
CHILD = """
import sys, time
started = time.perf_counter()
from bot.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(f"BENCH {code} {int(status) / 1024:.1f} {time.perf_counter() - started:.3f}", file=sys.stderr)
"""


@contextmanager
def busy_cores(n: int):
    """n processes spinning on the CPU (ended by their pid afterwards)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def encode_pair(onnx, torch, qs: list[str], runs: int) -> dict:
    times = {"onnx": [], "torch": []}
    for run in range(runs):
        for i, q in enumerate(qs):
            pair = (("onnx", onnx), ("torch", torch))
            for name, embedder in pair if (i + run) % 2 == 0 else pair[::-1]:
                with one_thread():
                    started = time.perf_counter()
                    embedder.encode_queries([q])
                    times[name].append(time.perf_counter() - started)
    o, t = median(times["onnx"]), median(times["torch"])
    return {"onnx_ms": ms(o), "torch_ms": ms(t), "ratio": round(o / t, 3), "goal": "<= 0.4"}


def batch_vs_single(searcher: Searcher, qs: list[str], runs: int) -> dict:
    singles, batches = [], []
    for run in range(runs):
        for first_single in (run % 2 == 0, run % 2 == 1):
            if first_single:
                for q in qs:
                    started = time.perf_counter()
                    searcher.ask(q)
                    singles.append(time.perf_counter() - started)
            else:
                started = time.perf_counter()
                searcher.batch_ask(qs)
                batches.append((time.perf_counter() - started) / len(qs))
    s, b = median(singles), median(batches)
    return {"single_ms": ms(s), "batch_per_question_ms": ms(b), "ratio": round(b / s, 3)}


def builds(onnx, torch, runs: int, articles: int = 0) -> dict:
    """Full builds of jsquad-dev (or of its first `articles` files), alternating encoders."""
    folder = Path(tempfile.mkdtemp(prefix="newsbot-bench-articles-"))
    for path in sorted((JSQUAD / "articles").glob("*.md"))[: articles or None]:
        shutil.copy(path, folder / path.name)
    rates = {"onnx": [], "torch": []}
    for run in range(runs):
        pair = (("onnx", onnx), ("torch", torch))
        for name, embedder in pair if run % 2 == 0 else pair[::-1]:
            with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
                started = time.perf_counter()
                report = build(options(), embedder, folder, Path(tmp), True)
                rates[name].append(report.passages / (time.perf_counter() - started))
    shutil.rmtree(folder)
    o, t = median(rates["onnx"]), median(rates["torch"])
    return {
        "articles": articles or "all",
        "passages": report.passages,
        "onnx_passages_per_s": round(o, 2),
        "torch_passages_per_s": round(t, 2),
        "ratio": round(o / t, 3),
        "goal": ">= 3",
    }


def cli(runs: int) -> dict:
    """Cold processes: `newsbot ask` (one question) and `newsbot info`, per encoder."""
    configs = {}
    for encoder in ("onnx", "torch"):
        folder = CACHE / f"seed-{encoder}"
        config = folder / "config" / "settings.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f'[index]\narticles_dir = "{ROOT / "articles"}"\ndata_dir = "{folder / "data"}"\n'
            f'model_cache_dir = "{MODEL_CACHE}"\nencoder = "{encoder}"\n',
            encoding="utf-8",
        )
        configs[encoder] = config
        _run(config, "index")  # built once; later runs find nothing to do
    figures: dict[str, list] = {}
    for run in range(runs):
        for encoder in ("onnx", "torch") if run % 2 == 0 else ("torch", "onnx"):
            for cmd in (["ask", "ロシアの停戦条件は?"], ["info"]):
                wall, peak = _run(configs[encoder], *cmd)
                figures.setdefault(f"{cmd[0]}_{encoder}_s", []).append(wall)
                figures.setdefault(f"{cmd[0]}_{encoder}_peak_rss_mb", []).append(peak)
    out = {k: round(median(v), 3 if k.endswith("_s") else 1) for k, v in figures.items()}
    out["goals"] = "ask onnx <= 2.5 s, info <= 1 s, peak RSS <= 600 MB"
    return out


def refusal(onnx, torch) -> dict:
    """Off-topic questions refused and paraphrases answered over the seed index, per encoder."""
    data = ROOT / "tests" / "data"
    sets = {}
    for name in ("offtopic", "paraphrase"):
        lines = (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        sets[name] = [json.loads(x)["question"] for x in lines if x.strip()]
    out = {}
    for embedder in (onnx, torch):
        with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
            opts = options(articles_dir=ROOT / "articles", data_dir=Path(tmp))
            searcher = Searcher.open(opts, embedder=embedder)
            refused = [a.no_answer for a in searcher.batch_ask(sets["offtopic"])]
            answered = [not a.no_answer for a in searcher.batch_ask(sets["paraphrase"])]
        out[embedder.encoder] = {
            "offtopic_refused": round(sum(refused) / len(refused), 3),
            "paraphrase_answered": round(sum(answered) / len(answered), 3),
        }
    out["questions"] = {k: len(v) for k, v in sets.items()}
    return out


def _run(config: Path, *args: str) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    line = [x for x in done.stderr.splitlines() if x.startswith("BENCH ")]
    if not line or line[-1].split()[1] != "0":
        raise RuntimeError(f"newsbot {' '.join(args)} failed: {done.stderr[-1000:]}")
    return wall, float(line[-1].split()[2])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=3)
    p.add_argument("--questions", type=int, default=100)
    p.add_argument("--busy", action="store_true", help="also batch vs single with cores busy")
    p.add_argument("--build-runs", type=int, default=1)
    p.add_argument("--build-articles", type=int, default=0, help="first N articles (0: all)")
    parts = ("encode", "batch", "build", "cli", "refusal")
    p.add_argument("--skip", nargs="*", default=[], choices=parts, help="parts not to run")
    args = p.parse_args()
    setup(args)
    onnx, torch = real_embedder(encoder="onnx"), real_embedder(encoder="torch")
    qs = questions(args.questions, seed=2)
    figures: dict = {"onnx": onnx.identity, "torch": torch.identity, "questions": len(qs)}
    for q in qs[:5]:  # warm up allocators and thread pools
        onnx.encode_queries([q])
        torch.encode_queries([q])
    if "encode" not in args.skip:
        figures["encode"] = encode_pair(onnx, torch, qs, args.runs)
    if "batch" not in args.skip:
        searcher = Searcher(options(), embedder=onnx, root=jsquad_root(onnx))
        searcher.load()
        figures["batch"] = batch_vs_single(searcher, qs, args.runs)
        figures["batch"]["goal"] = "<= 1.2"
        if args.busy:
            with busy_cores(2):
                figures["batch_busy"] = batch_vs_single(searcher, qs, args.runs)
            figures["batch_busy"]["load"] = "2 processes spinning `while True: pass`"
    if "build" not in args.skip:
        figures["build"] = builds(onnx, torch, args.build_runs, args.build_articles)
    if "cli" not in args.skip:
        figures["cli"] = cli(args.runs)
    if "refusal" not in args.skip:
        figures["refusal"] = refusal(onnx, torch)
    emit("encoders", figures, args.json)


if __name__ == "__main__":
    main()
