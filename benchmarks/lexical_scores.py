"""BM25 scoring of one query: the one scorer (sum_postings) against the paths it replaced.

All add each query term's postings into float32 scores in term order; this checks the scores are
bit-identical and times them on jsquad-dev's passages replicated to --passages: the scorer both
backends share (public_ms), the query's CSR rows selected at once (rows_ms, Lexical.scores until
the storage seam of issue 22) and scipy's private C loop (private_ms, before issue 11).
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


def matrix_rows(lex: Lexical, query: str) -> np.ndarray:
    """Lexical.scores before issue 22: the query's CSR rows (one C copy), transposed, times ones."""
    ids = lex.query_terms(query)
    if not len(ids):
        return np.zeros(lex.size, dtype=np.float32)
    return lex.matrix[ids].T @ np.ones(len(ids), dtype=np.float32)


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
    same = all(
        np.array_equal(lex.scores(q), private_loop(lex, q))
        and np.array_equal(lex.scores(q), matrix_rows(lex, q))
        for q in questions
    )
    paths = {
        "public_ms": lex.scores,
        "rows_ms": lambda q: matrix_rows(lex, q),
        "private_ms": lambda q: private_loop(lex, q),
    }
    # The paths take turns question by question, in a rotating order, so a busy machine slows
    # each alike; the question's n-grams are found first (memoized), so no path pays for them.
    spent = {name: [] for name in paths}
    names = list(paths)
    for run in range(args.runs):
        for n, q in enumerate(questions):
            lex.query_terms(q)
            turn = (n + run) % len(names)
            for name in names[turn:] + names[:turn]:
                fn = paths[name]
                started = time.perf_counter()
                fn(q)
                spent[name].append((time.perf_counter() - started) * 1000)
    times = {name: round(statistics.median(ms), 3) for name, ms in spent.items()}
    emit("lexical_scores", {"passages": lex.size, "identical": same, **times}, args.json)


if __name__ == "__main__":
    main()
