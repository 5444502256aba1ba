"""Train the answer's lead-sentence ranker (index/answer/lead.json) and print its figures.

.venv/bin/python benchmarks/train_lead.py --jaquad DIR [--paragraphs 800] [--seed 0] [--write]

Training data: JaQuAD's train split (SkelterLabsInc/JaQuAD on GitHub, data/train/*.json:
Japanese Wikipedia paragraphs with questions and answer spans; CC BY-SA 3.0). JSQuAD's train
split (JGLUE) was the first choice, but its file is too large for the public-data tool here;
JaQuAD is the same kind of data (SQuAD-style, Japanese Wikipedia). Neither data set is copied
into the repository: DIR is given on the command line, and only the learned weights (this
project's own work) are written. Tuning: jsquad-dev (JSQuAD's valid split, ../shared/eval);
JSQuAD's test split is never read.

A fixed-seed sample of whole JaQuAD articles (about --paragraphs paragraphs) is written in the
project's article format, indexed with the real model, and each question is asked as the
Searcher asks it (rank, then the answer step's evidence); a candidate sentence is positive when
it holds a gold span. The questions of one paragraph in five are held out (never trained on) to show
over-fitting. The model is a softmax over each question's candidates (listwise logistic
regression, L2), fitted with L-BFGS; the support slack is tuned on jsquad-dev.
"""

from __future__ import annotations

import json
import pickle
import random
import statistics
import sys
from pathlib import Path

import numpy as np
from _common import (
    CACHE,
    JSQUAD,
    ROOT,
    emit,
    jsquad_searcher,
    options,
    parser,
    real_embedder,
    setup,
)
from scipy.optimize import minimize

from index import Searcher
from index.answer import answer_types, lead
from index.answer.compose import Weights, compose, features
from index.answer.respond import weigh
from index.build import build
from index.corpus.text import normalize, squash
from index.evaluate import lead_of

HELD_OUT = 5  # the questions of every fifth paragraph are held out
L2 = 1e-3


def write_articles(src: Path, dest: Path, paragraphs: int, seed: int) -> list[dict]:
    """A seeded sample of whole JaQuAD articles as markdown files; their questions."""
    articles: dict[str, list[dict]] = {}
    for f in sorted(src.glob("*.json")):
        for a in json.loads(f.read_text(encoding="utf-8"))["data"]:
            articles.setdefault(a["title"], []).extend(a["paragraphs"])
    titles = sorted(articles)
    random.Random(seed).shuffle(titles)
    (dest / "articles").mkdir(parents=True, exist_ok=True)
    questions, count = [], 0
    for n, title in enumerate(titles):
        if count >= paragraphs:
            break
        name = f"{n:03d}-article.md"
        url = f"https://ja.wikipedia.org/wiki/{n}"
        body = [f'---\ntitle: "{title}"\nurl: {url}\noutlet: Wikipedia\n---\n']
        for i, p in enumerate(articles[title], 1):
            body.append(f"## 段落{i}\n\n{p['context'].strip()}\n")
            for q in p["qas"]:
                golds = [a["text"] for a in q["answers"]]
                questions.append(
                    {
                        "question": q["question"],
                        "article": name,
                        "section": f"段落{i}",
                        "answers": golds,
                        "held_out": i % HELD_OUT == HELD_OUT - 1,
                    }
                )
        count += len(articles[title])
        (dest / "articles" / name).write_text("\n".join(body), encoding="utf-8")
    return questions


def jaquad_searcher(src: Path, paragraphs: int, seed: int) -> tuple[Searcher, list[dict]]:
    """The sampled articles indexed with the real model (cached between runs)."""
    root = CACHE / f"jaquad-{paragraphs}-{seed}"
    questions = write_articles(src, root, paragraphs, seed)
    embedder = real_embedder(options())
    searcher = Searcher(options(), embedder=embedder, root=root / "index")
    try:
        searcher.load()
    except Exception:  # not built yet
        build(options(), embedder, root / "articles", root / "index")
        searcher.load()
    return searcher, questions


def gather(searcher: Searcher, items: list[dict], name: str) -> list[dict]:
    """Per question, as the Searcher answers it: its evidence (cached in CACHE by name)."""
    path = CACHE / f"lead-evidence-{name}.pickle"
    if path.exists():
        evidence = pickle.loads(path.read_bytes())
    else:
        opts = searcher.options
        index, rankings = searcher.rank([searcher.query(q["question"]) for q in items])
        evidence = [
            weigh(index, query, qvec, ranked, opts.top_k, opts) if ranked is not None else None
            for query, qvec, ranked, _ in rankings
        ]
        path.write_bytes(pickle.dumps(evidence))
    return [
        {"q": q, "e": e, "covered": e is not None and e.verdict.covered, "hit": searcher.index.hit}
        for q, e in zip(items, evidence)
    ]


def labelled(items: list[dict]) -> list[dict]:
    """Each question's candidate rows (lead.NAMES) and which hold a gold span."""
    for d in items:
        e = d["e"]
        if e is None or not e.candidates:
            d["x"], d["y"] = np.zeros((0, len(lead.NAMES))), np.zeros(0, bool)
            continue
        golds = [squash(g) for g in d["q"]["answers"]]
        hits, cands = e.hits, e.candidates
        base = np.array([features(c, e.asked, hits[0].score, hits[c.hit].score) for c in cands])
        kind = answer_types.asks(d["q"]["question"])
        question = normalize(d["q"]["question"])
        d["x"] = lead.features(base, cands, hits, e.asked.bigrams, kind, question)
        d["y"] = np.array([any(g in squash(c.text) for g in golds) for c in cands], bool)
    return items


def keyfacts(embedder) -> list[dict]:
    """The project's own news questions (tests/data/keyfacts.jsonl) over the shipped articles,
    a key fact as the gold: its "tune" half joins the training, weighted (25 questions against
    thousands), so the ranker also knows news prose; the other half stays held out."""
    lines = (ROOT / "tests" / "data" / "keyfacts.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(x) for x in lines if x.strip()]
    items = [q for q in items if q["lang"] == "ja"]  # English questions keep the hand weights
    for q in items:
        q["answers"] = q["facts"]
    root = CACHE / "lead-shipped"
    opts = options(articles_dir=ROOT / "articles", data_dir=root)
    searcher = Searcher.open(opts, embedder=embedder)
    return labelled(gather(searcher, items, "keyfacts"))


def fit(items: list[dict]) -> lead.Model:
    """Listwise logistic regression: maximize each question's probability on its positives
    (weighted by each item's "weight", default 1)."""
    data = [d for d in items if d["y"].any()]
    a = np.array([d.get("weight", 1.0) for d in data])
    a = a / a.mean()
    x = np.vstack([d["x"] for d in data])
    y = np.concatenate([d["y"] for d in data])
    seg = np.repeat(np.arange(len(data)), [len(d["y"]) for d in data])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    starts = np.r_[0, np.cumsum([len(d["y"]) for d in data])[:-1]]

    def loss(w):
        s = z @ w
        top = np.maximum.reduceat(s, starts)[seg]
        e = np.exp(s - top)
        denom = np.add.reduceat(e, starts)
        pos = np.add.reduceat(e * y, starts)
        value = -np.mean(a * (np.log(pos) - np.log(denom)))
        p_all = e / denom[seg]
        p_pos = e * y / pos[seg]
        grad = -((a[seg] * (p_pos - p_all)) @ z) / len(data)
        return value + L2 * (w @ w), grad + 2 * L2 * w

    res = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B")
    return lead.Model(mean, scale, res.x, Weights().slack)


def figures(m: lead.Model, items: list[dict], slack: float) -> dict:
    """As the Searcher composes (the subject included): gold in the lead (the subject and the
    first sentence to its first 。), gold in the answer, median characters; refusals miss."""
    m = lead.Model(m.mean, m.scale, m.coef, slack)
    in_lead = in_answer = 0
    lengths = []
    for d in items:
        if not d["covered"] or not d["e"].candidates:
            continue
        e = d["e"]
        a = compose(
            d["q"]["question"],
            e.hits,
            e.candidates,
            e.weights,
            3,
            Weights(),
            d["hit"],
            e.asked,
            "ja",
            m,
        )
        if a.no_answer or not a.sentences:
            continue
        golds = [squash(g) for g in d["q"]["answers"]]
        shown = squash(a.shown)
        in_lead += any(g in squash(lead_of(a)) for g in golds)
        in_answer += any(g in shown for g in golds)
        lengths.append(len(a.shown))
    n = len(items) or 1
    return {
        "gold_in_lead": round(in_lead / n, 4),
        "gold_in_answer": round(in_answer / n, 4),
        "median_chars": statistics.median(lengths or [0]),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--jaquad", type=Path, required=True, help="JaQuAD's data/train folder")
    p.add_argument("--paragraphs", type=int, default=800)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write", action="store_true", help="write index/answer/lead.json")
    p.add_argument("--keyfacts-weight", type=float, default=20.0)
    args = p.parse_args()
    setup(args)
    np.random.seed(args.seed)
    searcher, questions = jaquad_searcher(args.jaquad, args.paragraphs, args.seed)
    items = labelled(gather(searcher, questions, f"jaquad-{args.paragraphs}-{args.seed}"))
    train = [d for d in items if not d["q"]["held_out"]]
    held = [d for d in items if d["q"]["held_out"]]
    print(f"train {len(train)} questions, held out {len(held)}", file=sys.stderr)
    dev_questions = [json.loads(x) for x in (JSQUAD / "questions.jsonl").open()]
    dev = labelled(gather(jsquad_searcher(), dev_questions, "jsquad-dev"))
    facts = keyfacts(searcher.embedder)
    for d in facts:
        d["weight"] = args.keyfacts_weight
    tune = [d for d in facts if d["q"]["split"] == "tune"]
    m = fit(train + tune)
    slacks = {s: figures(m, dev, s) for s in (2.0, 3.0, 3.5, 4.0, 4.5)}
    best = max(
        slacks, key=lambda s: (slacks[s]["median_chars"] <= 120, slacks[s]["gold_in_answer"])
    )
    m = lead.Model(m.mean, m.scale, m.coef, best)
    out = {
        "weights": {n: round(float(c), 3) for n, c in zip(lead.NAMES, m.coef)},
        "slack_on_dev": slacks,
        "slack": best,
        "train": figures(m, train, best),
        "held_out_train": figures(m, held, best),
        "dev": figures(m, dev, best),
        "keyfacts_tune": figures(m, tune, best),
        "keyfacts_held_out": figures(m, [d for d in facts if d["q"]["split"] != "tune"], best),
    }
    if lead.MODEL_FILE.exists():
        shipped = lead.model()
        out["shipped_model"] = {
            "held_out_train": figures(shipped, held, shipped.slack),
            "dev": figures(shipped, dev, shipped.slack),
        }
    emit("train_lead", out, args.json)
    if args.write:
        about = {
            "trained_on": f"JaQuAD train, {len(train)} questions (seed {args.seed}), "
            f"keyfacts tune {len(tune)} (weight {args.keyfacts_weight:g})"
        }
        save(m, about)


def save(m: lead.Model, about: dict) -> None:
    """lead.json: one line per feature ([mean, scale, weight]), so a diff shows what moved."""
    d = m.to_dict(**about)
    lines = [
        f"  {json.dumps(n, ensure_ascii=False)}: {json.dumps(v)}"
        for n, v in d.pop("features").items()
    ]
    head = ",\n".join(
        f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in d.items()
    )
    lead.MODEL_FILE.write_text(
        "{\n" + head + ',\n "features": {\n' + ",\n".join(lines) + "\n }\n}\n"
    )


if __name__ == "__main__":
    main()
