"""A full build of jsquad-dev by this checkout against one by an older commit, alternating."""

# git worktree add /tmp/newsbot-then fd5fd66   # the last commit before the ONNX encoder
# .venv/bin/python benchmarks/build_vs_commit.py /tmp/newsbot-then [--runs 2] [--json]
#
# Each build runs in a fresh interpreter with the given checkout first on sys.path (its own
# index/ package and its own default encoder), the model loaded before the clock starts, into a
# temporary folder, rebuild=True. fd5fd66 is the build as it was when issues 9 and 12 were filed:
# torch, passage vectors only; this checkout adds a vector per sentence and encodes with ONNX.

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _common import JSQUAD, MODEL_CACHE, ROOT, emit, median, parser, setup

ONE_BUILD = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from index import IndexOptions
from index.build import build
from index.encoders.embedder import Embedder
cache = Path(sys.argv[3])
opts = IndexOptions(model_cache_dir=cache)
embedder = Embedder(opts.model, cache)
embedder.encode_queries(["warm up"])
with tempfile.TemporaryDirectory() as tmp:
    started = time.perf_counter()
    report = build(opts, embedder, Path(sys.argv[2]), Path(tmp), rebuild=True)
    print(json.dumps({"seconds": time.perf_counter() - started, "passages": report.passages}))
"""


def one_build(checkout: Path) -> dict:
    args = [str(checkout), str(JSQUAD / "articles"), str(MODEL_CACHE)]
    out = subprocess.run(
        [sys.executable, "-c", ONE_BUILD, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=2)
    p.add_argument("then", type=Path, help="a checkout of the older commit")
    args = p.parse_args()
    setup(args)
    then, now = [], []
    for _ in range(args.runs):
        then.append(one_build(args.then))
        now.append(one_build(ROOT))
    t_then = median([r["seconds"] for r in then])
    t_now = median([r["seconds"] for r in now])
    figures = {
        "passages": now[0]["passages"],
        "then_seconds": [round(r["seconds"], 1) for r in then],
        "now_seconds": [round(r["seconds"], 1) for r in now],
        "now_over_then": round(t_now / t_then, 3),
    }
    emit("build_vs_commit (median seconds, this checkout over the older one)", figures, args.json)


if __name__ == "__main__":
    main()
