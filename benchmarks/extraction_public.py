"""The project's extraction against plain trafilatura, in one run, on public pages."""

# .venv/bin/python benchmarks/extraction_public.py \
#     --trafilatura DIR   # adbar/trafilatura's tests/ (evaldata.json, eval/, cache/)
#     --wceb DIR          # Murrough-Foley/web-content-extraction-benchmark's dev/
#                         # (html/, ground-truth/)
#     --readability DIR   # mozilla/readability's test/test-pages/ (its yahoo-* pages)
#     --newspaper4k DIR   # AndyTheFactory/newspaper4k's tests/data/ (html/japanese_article*)
#     [--every N] [--checkout PATH] [--details FILE] [--json]
#
# Any set may be left out. Both extractors get the same decoded text and URL. Scoring is each
# set's own where it has one: trafilatura's (snippets that must / must not appear, F1 over the
# summed counts, as its tests/eval_common.py), WCEB's (word-token F1 against main_content, the
# mean over pages, as its evaluate.py); the Japanese pages are scored by character F1 (multiset of
# non-space characters; Japanese has no spaces between words). A refusal (PageError) scores as
# an empty text; a crash is any other exception. --checkout runs another checkout's extraction
# (e.g. main, for the figures before a change). Times are wall clock and CPU time of the
# extracting thread (the deadline's clock; on a shared machine the wall clock also counts other
# programs' turns). --every N keeps every Nth page of the big sets (a fixed subset; 1 = all).

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    for name in ("trafilatura", "wceb", "readability", "newspaper4k"):
        p.add_argument(f"--{name}", type=Path, help=f"the {name} pages (see the head of this file)")
    p.add_argument("--every", type=int, default=1, help="keep every Nth page of each set")
    p.add_argument("--checkout", type=Path, default=ROOT, help="whose index.ingest.extract to run")
    p.add_argument("--details", type=Path, help="write per-page scores (JSON lines) here")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))
    import logging

    logging.basicConfig(level=logging.ERROR)
    loaders = {
        "trafilatura": trafilatura_set,
        "wceb": wceb_set,
        "readability": readability_set,
        "newspaper4k": newspaper4k_set,
    }
    details = args.details.open("w") if args.details else None
    figures = {}
    for name, load in loaders.items():
        where = getattr(args, name)
        if where is None:
            continue
        pages = load(where)
        pages = pages[:: args.every] if len(pages) > 50 else pages  # the Japanese sets are small
        figures[name] = run_set(name, pages, details)
    figures["machine"] = machine(args.checkout)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for name, fig in figures.items():
            print(f"== {name}: {json.dumps(fig, ensure_ascii=False)}")


def run_set(name: str, pages: list[dict], details) -> dict:
    """Both extractors on every page of a set: scores, failures and times."""
    import trafilatura

    from index.errors import PageError
    from index.ingest.extract import extract

    def ours(page):
        try:
            return extract(page["html"], page["url"]).plain(), None
        except PageError as e:
            return "", f"refused: {e}"

    def theirs(page):
        return trafilatura.extract(
            page["html"], url=page["url"], include_comments=False, include_tables=True
        ) or "", None

    out = {}
    rows = {"project": [], "trafilatura": []}
    for page in pages:
        for who, fn in (("project", ours), ("trafilatura", theirs)):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                text, refusal = fn(page)
                crash = None
            except Exception as e:  # noqa: BLE001 - counted, named in --details
                text, refusal, crash = "", None, f"{type(e).__name__}: {e}"
            ms = (time.perf_counter() - start) * 1000
            cpu_ms = (time.thread_time() - cpu) * 1000
            score = page["score"](text)
            row = {"id": page["id"], "ms": ms, "cpu_ms": cpu_ms, "refusal": refusal, "crash": crash}
            rows[who].append({**row, **score})
        if details:
            for who in rows:
                details.write(json.dumps({"set": name, "who": who, **rows[who][-1]}) + "\n")
    for who, rs in rows.items():
        out[who] = summary(name, rs)
    lost = [
        r["id"]
        for r, t in zip(rows["project"], rows["trafilatura"], strict=True)
        if r["refusal"] and t["f1"] >= 0.8
    ]
    out["project"]["refused_where_trafilatura_found_the_article"] = len(lost)
    out["pages"] = len(pages)
    return out


def summary(name: str, rows: list[dict]) -> dict:
    """A set's figures for one extractor."""
    if name == "trafilatura":  # F1 over the summed counts, as its own evaluation
        tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    else:
        f1 = statistics.fmean(r["f1"] for r in rows) if rows else 0.0
    times, cpu = [r["ms"] for r in rows], [r["cpu_ms"] for r in rows]
    return {
        "f1": round(f1, 4),
        "pages_f1_below_0.8": sum(1 for r in rows if r["f1"] < 0.8),
        "crashes": sum(1 for r in rows if r["crash"]),
        "refusals": sum(1 for r in rows if r["refusal"]),
        "median_ms": round(statistics.median(times), 1) if times else 0,
        "max_ms": round(max(times), 1) if times else 0,
        # CPU time of the extracting thread: what the deadline counts, whatever the machine's load.
        "median_cpu_ms": round(statistics.median(cpu), 1) if cpu else 0,
        "max_cpu_ms": round(max(cpu), 1) if cpu else 0,
    }


def decode(raw: bytes) -> str:
    """The page's text the way trafilatura would decode it (both extractors get the same)."""
    from trafilatura.utils import decode_file

    text = decode_file(raw)
    return text if isinstance(text, str) else raw.decode("utf-8", "replace")


def trafilatura_set(here: Path) -> list[dict]:
    evaldata = json.loads((here / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, item in sorted(evaldata.items()):
        found = [here / d / item["file"] for d in ("cache", "eval")]
        path = next((f for f in found if f.is_file()), None)
        if path is None:
            continue
        pages.append(
            {"id": item["file"], "url": url, "html": decode(path.read_bytes()),
             "score": lambda text, item=item: snippet_counts(item, text)}
        )  # fmt: skip
    return pages


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def snippet_counts(item: dict, text: str) -> dict:
    """trafilatura's per-page counts: 'with' snippets found, 'without' snippets found."""
    got = norm(text)
    tp = sum(1 for w in item["with"] if norm(w) in got)
    fp = sum(1 for w in item["without"] if norm(w) in got)
    fn = len(item["with"]) - tp
    return {"tp": tp, "fp": fp, "fn": fn, "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0}


def wceb_set(here: Path) -> list[dict]:
    pages = []
    for gt_path in sorted((here / "ground-truth").glob("*.json")):
        data = json.loads(gt_path.read_text(encoding="utf-8"))
        gt = data.get("ground_truth")
        html_path = here / "html" / f"{gt_path.stem}.html.gz"
        if not isinstance(gt, dict) or not html_path.is_file():
            continue
        want = gt.get("main_content") or ""
        pages.append(
            {"id": gt_path.stem, "url": data.get("url") or "https://example.com/",
             "html": decode(gzip.decompress(html_path.read_bytes())),
             "score": lambda text, want=want: {"f1": word_f1(text, want)}}
        )  # fmt: skip
    return pages


def word_f1(got: str, want: str) -> float:
    """WCEB's score: F1 over lower-cased \\w+ tokens (its evaluate.py)."""
    return multiset_f1(re.findall(r"\w+", got.lower()), re.findall(r"\w+", want.lower()))


def char_f1(got: str, want: str) -> float:
    """Japanese has no spaces between words: F1 over its non-space characters."""
    return multiset_f1([c for c in got if not c.isspace()], [c for c in want if not c.isspace()])


def multiset_f1(got: list, want: list) -> float:
    if not want:
        return 1.0 if not got else 0.0
    overlap = sum((Counter(got) & Counter(want)).values())
    return 2 * overlap / (len(got) + len(want)) if overlap else 0.0


def readability_set(here: Path) -> list[dict]:
    import lxml.html

    pages = []
    for d in sorted(here.glob("yahoo-*")):
        want = lxml.html.fromstring(
            (d / "expected.html").read_text(encoding="utf-8")
        ).text_content()
        meta = json.loads((d / "expected-metadata.json").read_text(encoding="utf-8"))
        pages.append(
            {"id": d.name, "url": meta.get("url") or "https://news.yahoo.co.jp/",
             "html": decode((d / "source.html").read_bytes()),
             "score": lambda text, want=want: {"f1": char_f1(text, want)}}
        )  # fmt: skip
    return pages


def newspaper4k_set(here: Path) -> list[dict]:
    pages = []
    for html_path in sorted((here / "html").glob("japanese_article*.html")):
        want = (here / "txt" / f"{html_path.stem}.txt").read_text(encoding="utf-8")
        meta_path = here / "metadata" / f"{html_path.stem}.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        pages.append(
            {"id": html_path.stem, "url": meta.get("url") or "https://www.example.jp/",
             "html": decode(html_path.read_bytes()),
             "score": lambda text, want=want: {"f1": char_f1(text, want)}}
        )  # fmt: skip
    return pages


def machine(checkout: Path) -> dict:
    """What the times depend on."""
    import trafilatura

    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "python": platform.python_version(),
        "trafilatura": trafilatura.__version__,
        "checkout": str(checkout.resolve()),
    }


if __name__ == "__main__":
    main()
