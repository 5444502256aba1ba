"""Mislabelled Japanese pages and feeds: this checkout's decoding against main's, and against
charset-normalizer, on public files in known encodings."""

# .venv/bin/python benchmarks/charsets.py CORPUS [--baseline main] [--json]
#
# CORPUS holds folders named by the encoding of the files in them: SHIFT_JIS, CP932, EUC-JP,
# utf-8 (chardet's test files are such a corpus: real pages and feeds from Japanese sites, see
# benchmarks/README.md). Each file is decoded as if served with every label in LABELS (its own,
# a wrong one, none), with its own <meta>/<?xml encoding?> left in, and again with it removed.
# The truth is the file decoded by its folder's encoding (files that do not decode cleanly by it
# are left out). Outcomes: right, refused (PageError), mojibake without U+FFFD, text with U+FFFD.
# The baseline is `decode` of index/ingest/fetch.py at --baseline (git), run in this process.

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ROOT, emit, parser, setup  # noqa: E402

from index.errors import FetchError, PageError  # noqa: E402
from index.ingest.charset import decode  # noqa: E402
from index.options import FetchLimits  # noqa: E402

TRUE_CODEC = {"SHIFT_JIS": "cp932", "CP932": "cp932", "EUC-JP": "euc_jis_2004", "utf-8": "utf-8"}
LABELS = {"utf-8": "utf-8", "Shift_JIS": "cp932", "EUC-JP": "euc_jis_2004", None: None}
_DECLARED = re.compile(rb"""(charset|encoding)(\s*=\s*["']?)[A-Za-z0-9_.:-]+""", re.I)


def baseline_decode(ref: str):
    """`decode` as index/ingest/fetch.py had it at ref (before charset.py)."""
    src = subprocess.check_output(["git", "-C", str(ROOT), "show", f"{ref}:index/ingest/fetch.py"])
    text = re.sub(r"^from \.\.?\w* import .*$", "", src.decode("utf-8"), flags=re.M)
    module = types.ModuleType("baseline_fetch")
    module.FetchError, module.FetchLimits = FetchError, FetchLimits
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(text, f"{ref}:index/ingest/fetch.py", "exec"), module.__dict__)  # noqa: S102
    return module.decode


def normalizer_decode(body: bytes, label: str | None) -> str:
    import charset_normalizer

    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        raise PageError("charset-normalizer found nothing")
    return str(best)


def outcome(method, body: bytes, label: str | None, truth: str) -> str:
    try:
        text = method(body, label)
    except PageError:
        return "refused"
    if text == truth:
        return "right"
    return "U+FFFD" if "\ufffd" in text else "mojibake"


def cases(corpus: Path):
    """(folder, file name, body, truth, label, declaration kept) for every file and label."""
    for folder, codec in TRUE_CODEC.items():
        for path in sorted((corpus / folder).glob("*")):
            raw = path.read_bytes()
            try:
                truth = raw.decode(codec)
            except UnicodeDecodeError:
                continue
            stripped = _DECLARED.sub(rb"\1\2x-none", raw)
            for label in LABELS:
                yield folder, path.name, raw, truth, label, True
                yield folder, path.name, stripped, stripped.decode(codec), label, False


def main() -> None:
    p = parser(__doc__)
    p.add_argument("corpus", type=Path)
    p.add_argument("--baseline", default="main", help="git ref of the baseline decode")
    args = p.parse_args()
    setup(args)
    for noisy in ("baseline_fetch", "index.ingest.charset"):  # a warning per mislabelled page
        logging.getLogger(noisy).setLevel(logging.ERROR)
    methods = {
        "baseline": baseline_decode(args.baseline),
        "project": decode,
        "charset_normalizer": normalizer_decode,
    }
    counts = {name: Counter() for name in methods}
    mislabelled = {name: Counter() for name in methods}
    bare = {name: Counter() for name in methods}  # mislabelled, and its own declaration gone
    seconds = {name: 0.0 for name in methods}
    files, runs = set(), 0
    for folder, name, body, truth, label, kept in cases(args.corpus):
        files.add((folder, name))
        runs += 1
        wrong = label is not None and LABELS[label] != TRUE_CODEC[folder]
        for method_name, method in methods.items():
            start = time.perf_counter()
            result = outcome(method, body, label, truth)
            seconds[method_name] += time.perf_counter() - start
            counts[method_name][result] += 1
            if wrong:
                mislabelled[method_name][result] += 1
            if wrong and not kept:
                bare[method_name][result] += 1
            if args.verbose and method_name == "project" and result != "right":
                print(f"project: {result}: {folder}/{name} as {label} ({kept=})")
    figures = {"files": len(files), "decodings": runs}
    for method_name in methods:
        figures[method_name] = dict(counts[method_name])
        figures[f"{method_name}_mislabelled"] = dict(mislabelled[method_name])
        figures[f"{method_name}_mislabelled_undeclared"] = dict(bare[method_name])
        figures[f"{method_name}_ms_per_decode"] = round(1000 * seconds[method_name] / runs, 3)
    emit("charsets: mislabelled Japanese pages and feeds", figures, args.json)


if __name__ == "__main__":
    main()
