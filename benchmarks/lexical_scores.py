"""BM25 scoring of one query: scipy's public sparse matvec against the private C loop it replaced.

Both add each query term's postings into float32 scores in term order; this checks the scores are
bit-identical and times both on jsquad-dev's passages replicated to --passages.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _common import JSQUAD, emit, parser, setup

from index.corpus.chunker import chunk_article
from index.corpus.loader import load_articles
from index.retrieval.lexical import Lexical


def private_loop(lex: Lexical, query: str) -> np.ndarray:
    """The previous implementation: scipy.sparse._sparsetools.csc_matvec once per term."""
    from scipy.sparse._sparsetools import csc_matvec

    m = lex.matrix
    n, indptr, indices, data = m.shape[1], m.indptr, m.indices, m.data
    out = np.zeros(n, dtype=np.float32)
    one = np.ones(1, dtype=np.float32)
    for t in lex.query_terms(query):
        lo, hi = int(indptr[t]), int(indptr[t + 1])
        csc_matvec(
            n, 1, np.array([0, hi - lo], dtype=indices.dtype), indices[lo:hi], data[lo:hi], one, out
        )
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--passages", type=int, default=50_000)
    args = p.parse_args()
    setup(args)
    articles, _ = load_articles(JSQUAD / "articles")
    texts = [f"{x.title}\n{x.text}" for a in articles for x in chunk_article(a)]
    texts = (texts * (args.passages // len(texts) + 1))[: args.passages]
    lex = Lexical.build(texts)
    import json

    questions = [
        json.loads(line)["question"]
        for line in (JSQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    ]
    same = all(np.array_equal(lex.scores(q), private_loop(lex, q)) for q in questions)
    times = {}
    for name, fn in (("public_ms", lex.scores), ("private_ms", lambda q: private_loop(lex, q))):
        runs = []
        for _ in range(args.runs):
            started = time.perf_counter()
            for q in questions:
                fn(q)
            runs.append((time.perf_counter() - started) * 1000 / len(questions))
        times[name] = round(statistics.median(runs), 3)
    emit("lexical_scores", {"passages": lex.size, "identical": same, **times}, args.json)


if __name__ == "__main__":
    main()
