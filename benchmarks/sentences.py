"""English sentence boundaries: the project's splitter vs the old regex rule and pysbd/sentencex.

Reads a Universal Dependencies treebank (.conllu, e.g. UD_English-GUM's en_gum-ud-dev.conllu: its
`# text =` lines are the gold sentences, `# newpar` its paragraphs), joins each paragraph's
sentences with a space, splits it again and counts the boundaries found (precision, recall, F1),
then the time per 1,000 characters of each splitter in the same run. The old rule is the baseline.
pysbd is measured only when it is installed (it is not a dependency).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from _common import emit, parser, setup

from index.corpus import text as textmod

# The rule before issue 33: a period ends a sentence whenever whitespace follows it.
_OLD_END = re.compile(r"[。！？!?]+[」』）)\"']*|\.(?=\s)|\n")


def paragraphs(path: Path, genre: str | None) -> list[list[str]]:
    """Each paragraph as its gold sentences (only documents whose id holds genre, if given)."""
    out: list[list[str]] = []
    keep, para = True, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newdoc id"):
            keep = genre is None or genre in line
        if line.startswith(("# newdoc", "# newpar")) and keep:
            para = []
            out.append(para)
        elif line.startswith("# text = ") and keep and para is not None:
            para.append(line[len("# text = ") :].strip())
    return [p for p in out if len(p) > 1]


def old_spans(text: str) -> list[tuple[int, int]]:
    ends = [m.end() for m in _OLD_END.finditer(text)]
    return [(a, b) for a, b in zip([0, *ends], [*ends, len(text)]) if text[a:b].strip()]


def splitters() -> dict[str, Callable[[str], list[tuple[int, int]]]]:
    out = {"old rule": old_spans, "newsbot": textmod.sentence_spans}
    import sentencex

    def sx(text: str) -> list[tuple[int, int]]:
        spans, at = [], 0
        for s in sentencex.segment("en", text):
            spans.append((at, at + len(s)))
            at += len(s)
        return spans

    out["sentencex"] = sx
    try:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
        out["pysbd"] = lambda t: [(s.start, s.end) for s in seg.segment(t)]
    except ImportError:
        pass
    return out


def score(paras: list[list[str]], split: Callable) -> dict:
    """Boundary precision/recall/F1 (a boundary: the end of a sentence that is not the last)."""
    tp = fp = fn = 0
    chars, seconds = 0, []
    for sents in paras:
        text = " ".join(sents)
        gold, at = set(), 0
        for s in sents[:-1]:
            at += len(s)
            gold.add(at)
            at += 1
        started = time.perf_counter()
        spans = split(text)
        seconds.append(time.perf_counter() - started)
        chars += len(text)
        found = {len(text[:b].rstrip()) for _, b in spans[:-1]}
        tp += len(found & gold)
        fp += len(found - gold)
        fn += len(gold - found)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / max(p + r, 1e-9), 4),
        "ms_per_1000_chars": round(1000 * sum(seconds) / chars * 1000, 3),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("conllu", type=Path, help="a UD .conllu file (gold sentences)")
    p.add_argument("--genre", help="only documents whose id contains this (e.g. news)")
    args = p.parse_args()
    setup(args)
    paras = paragraphs(args.conllu, args.genre)
    figures: dict = {"paragraphs": len(paras), "sentences": sum(len(x) for x in paras)}
    for name, split in splitters().items():
        split("A first call loads its rules. It is not timed.")
        runs = [score(paras, split) for _ in range(max(args.runs, 1))]
        best = dict(
            runs[0], ms_per_1000_chars=statistics.median(r["ms_per_1000_chars"] for r in runs)
        )
        figures[name] = best
    emit("sentence boundaries (English)", figures, args.json)


if __name__ == "__main__":
    main()
