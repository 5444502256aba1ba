"""The answer step's ablation on jsquad-dev: each signal (and the subject) left out in turn."""

# .venv/bin/python benchmarks/answer_ablation.py [--json]
#
# Retrieval and the "covered?" decision run once per question, as the Searcher runs them; then
# answer.compose.compose runs once per row with one Weights field set to 0 (no refit, so the support
# slack admits more or fewer sentences). Figures over all 4,442 questions (refused ones count as
# misses): the gold answer in the answer as shown, in its lead (the subject and first sentence),
# and the median answer length in characters, the subject included.

from __future__ import annotations

import dataclasses
import statistics

from _common import JSQUAD, emit, jsquad_searcher, parser, setup
from answer_weights import gathered, read_jsonl_lines

from index import Searcher
from index.answer.compose import FEATURES, Weights, compose
from index.corpus.text import squash


def prepare(searcher: Searcher, items: list[dict]) -> list[tuple | None]:
    """Per question what compose needs, computed once; None when it is refused."""
    return [
        (q["question"], hits, cands, grams, asked, [squash(g) for g in q["answers"]])
        if covered
        else None
        for q, hits, cands, grams, covered, asked in gathered(searcher, items)
    ]


def row(prepared: list, searcher: Searcher, weights: Weights, n: int = 3, subject=True) -> dict:
    """Gold in the answer, gold in its lead, median characters, for one variant."""
    has = lead = 0
    lengths = []
    for p in prepared:
        if p is None:
            continue
        question, hits, cands, grams, asked, golds = p
        a = compose(question, hits, cands, grams, n, weights, searcher.index.hit, asked)
        if a.no_answer or not a.sentences:
            continue
        head = f"【{a.subject}】" if subject and a.subject else ""
        shown = head + " ".join(a.sentences)
        lengths.append(len(shown))
        has += any(g in squash(shown) for g in golds)
        lead += any(g in squash(head + a.sentences[0]) for g in golds)
    total = len(prepared) or 1
    return {
        "gold_in_answer": round(has / total, 4),
        "gold_in_lead": round(lead / total, 4),
        "median_chars": statistics.median(lengths or [0]),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args()
    setup(args)
    searcher = jsquad_searcher()
    prepared = prepare(searcher, read_jsonl_lines(JSQUAD / "questions.jsonl"))
    base = Weights()
    lexical = ("words", "chars", "context")
    variants = [("all signals (default)", base, 3)]
    variants += [(f"without {f}", dataclasses.replace(base, **{f: 0.0}), 3) for f in FEATURES]
    only_lexical = Weights(*(getattr(base, f) * (f in lexical) for f in FEATURES))
    variants += [
        ("without naming the subject", base, 3),
        ("lexical signals only", only_lexical, 3),
        ("meaning only", Weights(1.0, *[0.0] * 9, slack=base.slack / base.meaning), 3),
        ("the lead sentence only", base, 1),
        ("support within 2.5", dataclasses.replace(base, slack=2.5), 3),
        ("support within 3.5", dataclasses.replace(base, slack=3.5), 3),
        ("support within 5, up to 160 chars", dataclasses.replace(base, slack=5, max_chars=160), 3),
    ]
    figures = {
        name: row(prepared, searcher, weights, n, subject=name != "without naming the subject")
        for name, weights, n in variants
    }
    emit("answer_ablation (jsquad-dev, 4,442 questions)", figures, args.json)


if __name__ == "__main__":
    main()
