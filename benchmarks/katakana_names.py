"""English names to the katakana a Japanese corpus writes them in: the consonant skeleton alone
(the rule before issue 33) vs the skeleton, else the closest romanized word (crosslingual.Katakana).

Pairs come from a glossary TSV (English, then Japanese terms; by default the shipped
index/retrieval/data/glossary_en_ja.tsv, whose single-word katakana rows are JMnedict's and
JMdict's transliterations, EDRDG, CC BY-SA 4.0). A sample of them is held out as names the
glossary lacks: the corpus's vocabulary is their katakana plus as many other katakana words, and
each English name should find its own. False matches: English words whose glossary entry has no
katakana (kanji only: ceasefire, said), asked as names against the same vocabulary.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

from _common import ROOT, emit, parser, setup

from index.retrieval import crosslingual

KATA = re.compile(r"[ァ-ヺー]+")
SEED = [("hegseth", "ヘグセス"), ("zelensky", "ゼレンスキー"), ("putin", "プーチン")]
SEED += [("witkoff", "ウィトコフ"), ("netanyahu", "ネタニヤフ"), ("trump", "トランプ")]


def rows(path: Path) -> tuple[list[tuple[str, set[str]]], list[str]]:
    """(English word, its katakana terms) pairs, and English words with no katakana term."""
    pairs, plain = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        english, japanese = line.split("\t")[:2]
        if not re.fullmatch(r"[a-z]{3,}", english):
            continue
        terms = japanese.split()
        kata = {t for t in terms if KATA.fullmatch(t) and len(t) >= 3}
        if kata and len(kata) == len(terms):
            pairs.append((english, kata))
        elif not any(KATA.search(t) for t in terms):
            plain.append(english)
    return pairs, plain


def score(method, names, vocabulary, plain) -> dict:
    found = right = answered = 0
    started = time.perf_counter()
    for english, gold in names:
        got = set(method(english))
        found += len(got)
        right += len(got & gold)
        answered += bool(got & gold)
    false = sum(bool(method(w)) for w in plain)
    ms = 1000 * (time.perf_counter() - started) / (len(names) + len(plain))
    return {
        "precision": round(right / max(found, 1), 4),
        "recall": round(answered / max(len(names), 1), 4),
        "false_match_rate": round(false / max(len(plain), 1), 4),
        "ms_per_name": round(ms, 3),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    default = ROOT / "index" / "retrieval" / "data" / "glossary_en_ja.tsv"
    p.add_argument("glossary", type=Path, nargs="?", default=default)
    p.add_argument("--names", type=int, default=2000, help="held-out names")
    p.add_argument("--seed", type=int, default=33)
    args = p.parse_args()
    setup(args)
    pairs, plain = rows(args.glossary)
    rng = random.Random(args.seed)
    rng.shuffle(pairs)
    rng.shuffle(plain)
    names = pairs[: args.names]
    others = [w for _, kata in pairs[args.names : 2 * args.names] for w in sorted(kata)[:1]]
    vocabulary = sorted({w for _, kata in names for w in kata} | set(others))
    vocabulary += [k for _, k in SEED]
    started = time.perf_counter()
    table = crosslingual.Katakana(vocabulary)
    table.like("warm")  # romanizes the vocabulary once
    build_ms = 1000 * (time.perf_counter() - started)
    skeleton = crosslingual.by_skeleton(vocabulary)
    methods = {
        "skeleton (before)": lambda w: skeleton.get(crosslingual.skeleton_en(w), ()),
        "skeleton, else sound (now)": table.like,
    }
    figures: dict = {"names": len(names), "vocabulary": len(vocabulary), "plain": len(plain[:2000])}
    figures["romanize_ms"] = round(build_ms, 1)
    for label, method in methods.items():
        figures[label] = score(method, names, vocabulary, plain[:2000])
        figures[label]["seed"] = {e: list(method(e)) for e, _ in SEED}
    emit("English names to katakana", figures, args.json)


if __name__ == "__main__":
    main()
