"""Loading pathological Markdown (long runs of '[', '<!--', '#', blank lines) vs plain text.

Each pathological file took 20 s to minutes when a regex backtracked (quadratic); this prints
each file's load time beside a plain file of the same size loaded in the same run (the baseline).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _common import emit, parser, setup

from index.corpus.loader import load_articles

FRONT = "---\ntitle: 病的\npublished: 2025-05-01\noutlet: テスト新聞\n---\n\n"
BODIES = {
    "brackets.md": "[" * 500_000,
    "comments.md": "<!--" * 200_000,
    "heading.md": "# " + " #" * 300_000 + "x\n本文",
    "blank-lines.md": "本文\n" + " \n" * 400_000 + "終わり",
    "autolinks.md": "<https://a" * 100_000,
}


def load_seconds(folder: Path, runs: int) -> float:
    """Median seconds to load the folder's articles."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        load_articles(folder)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args()
    setup(args)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in BODIES.items():
            odd, plain = Path(tmp, "odd", name), Path(tmp, "plain", name)
            for path, text in ((odd, body), (plain, "本文。" * (len(body) // 3))):
                path.parent.mkdir(exist_ok=True)
                path.write_text(FRONT + text, encoding="utf-8")
            seconds = load_seconds(odd.parent, args.runs)
            baseline = load_seconds(plain.parent, args.runs)
            figures[name] = {"seconds": round(seconds, 3), "plain_seconds": round(baseline, 3)}
            odd.unlink()
            plain.unlink()
    emit("markup_linear", figures, args.json)


if __name__ == "__main__":
    main()
