"""The speed-ups behind benchmarks/ give the same results as the plain code; the scripts run."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from index.corpus.text import char_ngrams
from index.retrieval.lexical import Lexical, top_k
from index.storage.faiss import DenseStore
from index.storage.local import LocalStore, Sections

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "梅雨（つゆ、ばいう）は、北海道と小笠原諸島を除く日本の気象現象。",
    "ＡＢＣ　def\u200bghi 123、ｶﾀｶﾅとカタカナ",
    "x\x00y\x07z\ttab\nline",
    "İstanbul ǅ ﬁ e\u0301 😀😀a😀",
    "停戦交渉は? ロシアの停戦条件！",
    "!!",
]


def reference_build(texts, k1=0.9, b=0.4) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
    """The plain per-text BM25 build over char_ngrams that Lexical.build vectorizes."""
    docs = [char_ngrams(t) for t in texts]
    vocab = sorted({g for d in docs for g in d})
    lookup = {t: i for i, t in enumerate(vocab)}
    rows, cols, tfs = [], [], []
    for j, d in enumerate(docs):
        grams = np.array([lookup[g] for g in d], dtype=np.int64)
        ids, counts = np.unique(grams, return_counts=True)
        rows.append(ids)
        cols.append(np.full(len(ids), j, dtype=np.int64))
        tfs.append(counts)
    lengths = np.array([len(d) for d in docs], dtype=np.float32)
    r, c = np.concatenate(rows), np.concatenate(cols)
    tf = np.concatenate(tfs).astype(np.float32)
    df = np.bincount(r, minlength=len(vocab)).astype(np.float32)
    idf = np.log1p((len(docs) - df + 0.5) / (df + 0.5))
    norm = k1 * (1 - b + b * lengths[c] / max(lengths.mean(), 1.0))
    w = idf[r] * tf * (k1 + 1) / (tf + norm)
    matrix = sparse.csr_matrix((w.astype(np.float32), (r, c)), shape=(len(vocab), len(docs)))
    return np.array(vocab, dtype="<U2"), matrix, idf.astype(np.float32)


def test_lexical_build_matches_the_plain_build():
    """The same terms and postings exactly; weights within float32 rounding (two builds)."""
    texts = TEXTS + [t * 3 for t in TEXTS]
    terms, matrix, idf = reference_build(texts)
    lex = Lexical.build(texts)
    assert np.array_equal(lex.terms, terms)
    assert np.allclose(lex.idf, idf, rtol=1e-6, atol=0)
    for name in ("indptr", "indices"):
        assert np.array_equal(getattr(lex.matrix, name), getattr(matrix, name)), name
    assert np.allclose(lex.matrix.data, matrix.data, rtol=1e-6, atol=0)


def test_scores_add_postings_like_numpy():
    lex = Lexical.build(TEXTS * 5)
    for query in ("日本の梅雨", "カタカナ abc", "停戦条件", "無関係"):
        expected = np.zeros(lex.size, dtype=np.float32)
        m = lex.matrix
        for t in lex.query_terms(query):
            lo, hi = m.indptr[t], m.indptr[t + 1]
            expected[m.indices[lo:hi]] += m.data[lo:hi]
        scores = lex.scores(query)
        # Two implementations may add in another order: equal within float32 rounding.
        assert scores.dtype == np.float32 and np.allclose(scores, expected, rtol=1e-6, atol=1e-7)
        assert np.array_equal(scores > 0, expected > 0)


@pytest.mark.parametrize("kind", ["distinct", "ties", "sparse", "zeros"])
def test_top_k_picks_argpartitions_set(kind):
    rng = np.random.default_rng(0)
    make = {
        "distinct": lambda n: rng.random(n),
        "ties": lambda n: rng.integers(0, 40, n),
        "sparse": lambda n: np.where(rng.random(n) < 0.002, rng.random(n), 0),
        "zeros": lambda n: np.zeros(n),
    }[kind]
    for n in (50, 20_000, 60_000):
        s = make(n).astype(np.float32)
        for k in (1, 100, 150):
            expected = np.arange(n) if k >= n else np.argpartition(-s, k - 1)[:k]
            assert np.array_equal(np.sort(top_k(s, k)), np.sort(expected))


def test_lazy_sections_read_back_what_was_written(tmp_path):
    """Sections are found by their offsets file, whatever characters they hold."""
    sections = [
        {"article": "a.md", "title": '引用 "}, {"article": ', "section": "", "sources": []},
        {"article": "b{.md", "title": "}\n{", "section": "見出し", "sources": ["https://x"]},
        {"article": "c.md", "title": "", "section": "", "sources": []},
    ]
    with LocalStore(tmp_path).writer() as writer:
        writer.sections(sections, np.array([0, 1, 2]))
        folder = writer.folder
        lazy = Sections(folder / "sections.jsonl", folder / "section_offsets.npy")
        assert not isinstance(lazy, list) and list(lazy) == sections
        assert lazy[-1] == sections[-1] and lazy[1:] == sections[1:]
        with pytest.raises(IndexError):
            lazy[3]


def test_vectors_outlive_their_store(tmp_path):
    x = np.random.default_rng(0).normal(size=(3000, 16)).astype(np.float32)
    DenseStore.build(x).write(tmp_path / "dense.faiss")
    view = DenseStore.read(tmp_path / "dense.faiss").vectors()
    gc.collect()
    _ = [np.ones(1 << 20) for _ in range(8)]  # reuse freed memory, if it were freed
    assert np.array_equal(view, x) and not view.flags.writeable


@pytest.mark.slow
def test_query_path_benchmark_runs():
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "query_path.py"),
        "--passages",
        "1162",
        "--questions",
        "5",
        "--runs",
        "1",
        "--json",
    ]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert out["ratio"] > 0 and out["passages"] >= 1162
