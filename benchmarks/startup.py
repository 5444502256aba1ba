"""Startup: create_bot() to ready with the jsquad-dev index (imports, model, index) and its RSS."""

# .venv/bin/python benchmarks/startup.py [--runs 5] [--json]
#
# Every run is a fresh process: imports are timed from the first `import`. create_bot() gets
# settings pointing at a cached jsquad-dev index, so it loads the model and the index (no Discord
# connection). Also: index load time of a 100k-passage synthetic index (scale.py's), with and
# without the crc32 check of every file that index_format.read_manifest does.

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()


def child(data_dir: Path, model_cache: Path, big: Path | None, asks: int) -> dict:
    """One cold start in this process; returns its figures."""
    import psutil

    proc = psutil.Process()
    t = {"start": STARTED}
    import bot
    import bot.client  # noqa: F401  discord.py and the index package
    from bot.settings import Settings

    t["imports"] = time.perf_counter()
    import onnxruntime  # noqa: F401  what the serving model needs before its weights
    import sentencepiece  # noqa: F401

    t["ml_imports"] = time.perf_counter()
    rss_imports = proc.memory_info().rss
    from index import IndexOptions, Searcher
    from index.retrieval import ranker as search

    marks: dict[str, float] = {}
    rss: dict[str, int] = {}
    real_load = Searcher.load

    def load(self):
        # Searcher.open builds the Embedder first, then loads the index: time each.
        marks["model"] = time.perf_counter()
        rss["model"] = proc.memory_info().rss
        out = real_load(self)
        marks["index"] = time.perf_counter()
        return out

    Searcher.load = load
    opts = IndexOptions(data_dir=data_dir, model_cache_dir=model_cache)
    app = bot.create_bot(Settings(index=opts))
    t["ready"] = time.perf_counter()
    rss_ready = proc.memory_info().rss
    for q in ("梅雨とは何季の一種か?", "日本で梅雨がないのは北海道とどこか。")[:asks] * 10:
        app.searcher.ask(q)
    index = app.searcher.index
    index_bytes = sum(p.stat().st_size for p in index.version.folder.iterdir())
    embedder = app.searcher.embedder
    onnx_file = Path(embedder.model_dir) / "model.onnx"
    if onnx_file.is_file():
        params = onnx_file.stat().st_size
    else:
        params = sum(p.numel() * p.element_size() for p in embedder.model.parameters())
    out = {
        "imports_s": t["imports"] - t["start"],
        "ml_imports_s": t["ml_imports"] - t["imports"],
        "model_load_s": marks["model"] - t["ml_imports"],
        "index_load_s": marks["index"] - marks["model"],
        "to_ready_s": t["ready"] - t["start"],
        "torch_imported": "torch" in sys.modules,
        "passages": index.size,
        "index_mb": index_bytes / 2**20,
        "model_params_mb": params / 2**20,
        "rss_imports_mb": rss_imports / 2**20,
        "rss_model_mb": (rss["model"] - rss_imports) / 2**20,
        "rss_ready_mb": rss_ready / 2**20,
        "rss_after_asks_mb": proc.memory_info().rss / 2**20,
    }
    if big is not None:
        from index.storage import local as index_format

        folder = index_format.current_version(big)
        for verify in (True, False):
            started = time.perf_counter()
            loaded = search.Index(index_format.LocalVersion.open(folder, verify=verify))
            out[f"load_100k_verify_{verify}_s"] = time.perf_counter() - started
        out["load_100k_passages"] = loaded.size
        started = time.perf_counter()
        index_format.read_manifest(folder, verify=True)
        out["load_100k_crc32_s"] = time.perf_counter() - started
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        # Nothing heavy may be imported before child() starts timing imports.
        data_dir, model_cache, big = sys.argv[2:5]
        print(json.dumps(child(Path(data_dir), Path(model_cache), Path(big) if big else None, 2)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import (
        CACHE,
        MODEL_CACHE,
        emit,
        jsquad_root,
        median,
        parser,
        real_embedder,
        setup,
    )
    from _synth import scale_root

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--big", type=int, default=100_000, help="passages of the load-time index")
    args = p.parse_args()
    setup(args)
    data_dir = CACHE / "startup"
    embedder = real_embedder()
    root = jsquad_root(embedder)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "index").exists():
        (data_dir / "index").symlink_to(root)
    big = str(scale_root(args.big, embedder)) if args.big else ""
    del embedder
    runs = []
    for _ in range(args.runs):
        cmd = [sys.executable, __file__, "--child", str(data_dir), str(MODEL_CACHE), big]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    med = {k: round(median([r[k] for r in runs]), 3) for k in runs[0]}
    goal_rss = med["model_params_mb"] + 1.5 * med["index_mb"]
    emit(
        "startup",
        {
            "runs": args.runs,
            "median": med,
            "rss_goal_mb (model params + 1.5 x index)": round(goal_rss, 1),
            "rss_over_runtime_mb (after asks - after imports)": round(
                med["rss_after_asks_mb"] - med["rss_imports_mb"], 1
            ),
            "goals": "index load <= 0.5 s at 100k passages; RSS <= model + 1.5 x index size",
            "all_runs": runs,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
