"""Refit the answer step's sentence score (answer.compose.Weights) and print held-out figures."""

# .venv/bin/python benchmarks/answer_weights.py [--keyfacts-weight 20] [--slack 3.5] [--json]
#
# Candidates are gathered exactly as the Searcher does (Searcher.rank, answer.respond.weigh) for
# every jsquad-dev question and every question of tests/data/keyfacts.jsonl over the shipped
# articles;
# a candidate is positive when it holds a gold answer (jsquad) or a key fact. The score is a
# softmax over each question's candidates (listwise), fitted on half of jsquad-dev's articles plus
# keyfacts' "tune" half (weighted --keyfacts-weight each, since it has 25 questions against
# thousands) and reported on the other halves. The connective weight is a prior (not fitted).

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import numpy as np
from _common import JSQUAD, ROOT, emit, jsquad_searcher, options, parser, setup
from scipy.optimize import minimize

from index import Searcher
from index.answer.compose import FEATURES, Weights, features
from index.answer.respond import weigh
from index.corpus.text import squash

FITTED = [f for f in FEATURES if f != "connective"]


def read_jsonl_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def gathered(searcher: Searcher, items: list[dict]):
    """Per question, as the Searcher answers it: (item, hits, candidates, the question's term
    weights, whether it is covered, the question as the answer step scores against it)."""
    opts = searcher.options
    index, rankings = searcher.rank([searcher.query(q["question"]) for q in items])
    for q, (query, qvec, ranked, *_) in zip(items, rankings):
        e = weigh(index, query, qvec, ranked, opts.top_k, opts) if ranked is not None else None
        if e is None:
            yield q, [], [], {}, False, None
            continue
        yield q, e.hits, e.candidates, e.weights, e.verdict.covered, e.asked


def questions_of(searcher: Searcher, items: list[dict], golds_of) -> list[dict]:
    """Per question: feature rows of its candidates, which hold a gold, and whether answered."""
    out = []
    for q, hits, cands, _, covered, asked in gathered(searcher, items):
        golds = [squash(g) for g in golds_of(q)]
        top = hits[0].score if hits else 0.0
        rows = [features(x, asked, top, hits[x.hit].score) for x in cands]
        out.append(
            {
                "q": q,
                "covered": covered,
                "lengths": np.array([len(x.text) for x in cands]),
                "X": np.array(rows) if rows else np.zeros((0, len(FEATURES))),
                "y": np.array([any(g in squash(x.text) for g in golds) for x in cands], bool),
            }
        )
    return out


def fit(items: list[dict], weights: list[float], connective: float) -> np.ndarray:
    """Raw weights (FEATURES order) maximizing the softmax probability of the gold candidates."""
    keep = [FEATURES.index(f) for f in FITTED]
    data = [(d, a) for d, a in zip(items, weights) if len(d["X"]) and d["y"].any()]
    stacked = np.vstack([d["X"][:, keep] for d, _ in data])
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-9

    def loss(w):
        total, grad, norm = 0.0, np.zeros_like(w), 0.0
        for d, a in data:
            z = (d["X"][:, keep] - mu) / sd
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            pg = p[d["y"]].sum()
            total -= a * np.log(pg + 1e-12)
            grad -= a * ((p * d["y"] / (pg + 1e-12)) @ z - p @ z)
            norm += a
        return total / norm + 1e-4 * (w @ w), grad / norm + 2e-4 * w

    res = minimize(loss, np.zeros(len(keep)), jac=True, method="L-BFGS-B")
    raw = np.zeros(len(FEATURES))
    raw[keep] = res.x / sd
    raw[FEATURES.index("connective")] = connective
    return raw


def composed(raw: np.ndarray, items: list[dict], slack: float, max_chars: int, n: int = 3):
    """(gold in the answer, gold in the lead, median characters), as compose picks (no dedupe)."""
    has = lead = 0
    lengths = []
    for d in items:
        if not d["covered"] or not len(d["X"]):
            continue
        s = d["X"] @ raw
        order = np.argsort(-s, kind="stable")
        chosen, size = [], 0
        for i in order:
            if len(chosen) == n or (chosen and (size >= max_chars or s[i] < s[order[0]] - slack)):
                break
            chosen.append(i)
            size += int(d["lengths"][i])
        lengths.append(size)
        has += bool(d["y"][chosen].any())
        lead += bool(d["y"][order[0]])
    n_all = len(items) or 1
    return round(has / n_all, 4), round(lead / n_all, 4), statistics.median(lengths or [0])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--keyfacts-weight", type=float, default=20.0)
    p.add_argument("--slack", type=float, default=Weights().slack)
    args = p.parse_args()
    setup(args)
    jsq = jsquad_searcher()
    jsq_items = questions_of(
        jsq, read_jsonl_lines(JSQUAD / "questions.jsonl"), lambda q: q["answers"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        shipped = Searcher.open(
            options(articles_dir=ROOT / "articles", data_dir=Path(tmp)), embedder=jsq.embedder
        )
        kf_items = questions_of(
            shipped,
            read_jsonl_lines(ROOT / "tests" / "data" / "keyfacts.jsonl"),
            lambda q: q["facts"],
        )
    articles = sorted({d["q"]["article"] for d in jsq_items})
    fit_articles = set(articles[::2])
    jsq_fit = [d for d in jsq_items if d["q"]["article"] in fit_articles]
    jsq_held = [d for d in jsq_items if d["q"]["article"] not in fit_articles]
    kf_fit = [d for d in kf_items if d["q"]["split"] == "tune"]
    kf_held = [d for d in kf_items if d["q"]["split"] != "tune"]
    raw = fit(
        jsq_fit + kf_fit,
        [1.0] * len(jsq_fit) + [args.keyfacts_weight] * len(kf_fit),
        Weights().connective,
    )
    shipped_raw = np.array([getattr(Weights(), f) for f in FEATURES])
    figures = {"fitted": {f: round(float(x), 3) for f, x in zip(FEATURES, raw)}}
    for name, w in (("refit", raw), ("shipped", shipped_raw)):
        figures[name] = {
            "jsquad_held_out": composed(w, jsq_held, args.slack, Weights().max_chars),
            "jsquad_all": composed(w, jsq_items, args.slack, Weights().max_chars),
            "keyfacts_held_out": composed(w, kf_held, args.slack, Weights().max_chars),
            "keyfacts_all": composed(w, kf_items, args.slack, Weights().max_chars),
        }
    emit("answer_weights (gold in answer, gold in lead, median chars)", figures, args.json)


if __name__ == "__main__":
    main()
