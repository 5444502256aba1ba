"""BM25 over NFKC character unigrams and bigrams: strong for Japanese without a tokenizer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from .text import char_ngrams

# Lower saturation and length normalization than the usual 1.2/0.75 measured best on jsquad-dev.
K1, B = 0.9, 0.4
# Recorded in the manifest: an index scored with other parameters is rebuilt (vectors reused).
LEXICAL_PARAMS = {"k1": K1, "b": B, "grams": "nfkc-char-1-2", "title": True}


class Lexical:
    """A term → passages weight matrix; a query's score is the sum of its terms' rows."""

    def __init__(self, terms: np.ndarray, matrix: sparse.csr_matrix, idf: np.ndarray):
        self.terms = terms  # sorted unicode array; a term's row is its position
        self.matrix = matrix  # (terms × passages) BM25 weights, CSR
        self.idf = idf  # per term, for weighting matches outside the index (answer sentences)

    @property
    def size(self) -> int:
        return self.matrix.shape[1]

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = K1, b: float = B) -> Lexical:
        """Index texts (already including any title context)."""
        docs = [char_ngrams(t) for t in texts]
        vocab = sorted({g for d in docs for g in d})
        terms = np.array(vocab, dtype="<U2")
        lookup = {t: i for i, t in enumerate(vocab)}
        rows, cols, tfs = [], [], []
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        for j, d in enumerate(docs):
            ids, counts = np.unique([lookup[g] for g in d], return_counts=True)
            rows.append(ids)
            cols.append(np.full(len(ids), j, dtype=np.int64))
            tfs.append(counts)
        n = len(docs)
        if n == 0 or not vocab:
            empty = sparse.csr_matrix((len(vocab), n), dtype=np.float32)
            return cls(terms, empty, np.zeros(len(vocab), dtype=np.float32))
        r, c = np.concatenate(rows), np.concatenate(cols)
        tf = np.concatenate(tfs).astype(np.float32)
        df = np.bincount(r, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths[c] / max(lengths.mean(), 1.0))
        w = idf[r] * tf * (k1 + 1) / (tf + norm)
        matrix = sparse.csr_matrix((w.astype(np.float32), (r, c)), shape=(len(vocab), n))
        return cls(terms, matrix, idf.astype(np.float32))

    def term_weights(self, query: str) -> dict[str, float]:
        """The query's n-grams that occur in the corpus, with their idf."""
        ids = self.query_terms(query)
        return {str(self.terms[i]): float(self.idf[i]) for i in ids}

    def query_terms(self, query: str) -> np.ndarray:
        """Row ids of the query's distinct n-grams that occur in the corpus."""
        grams = np.array(sorted(set(char_ngrams(query))), dtype="<U2")
        if not len(grams) or not len(self.terms):
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self.terms, grams)
        pos = np.minimum(pos, len(self.terms) - 1)
        return pos[self.terms[pos] == grams]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (float32, length = passages)."""
        m = self.matrix
        out = np.zeros(m.shape[1], dtype=np.float32)
        for t in self.query_terms(query):
            lo, hi = m.indptr[t], m.indptr[t + 1]
            out[m.indices[lo:hi]] += m.data[lo:hi]
        return out

    def save(self, folder: Path) -> None:
        """Write the term list and the CSR arrays as .npy files (memory-mappable)."""
        np.save(folder / "lex_terms.npy", self.terms)
        np.save(folder / "lex_idf.npy", self.idf)
        np.save(folder / "lex_indptr.npy", self.matrix.indptr.astype(np.int64))
        np.save(folder / "lex_indices.npy", self.matrix.indices.astype(np.int32))
        np.save(folder / "lex_data.npy", self.matrix.data.astype(np.float32))
        (folder / "lex_meta.json").write_text(json.dumps({"shape": list(self.matrix.shape)}))

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> Lexical:
        """Read what save wrote; arrays are memory-mapped so loading is near instant."""
        mode = "r" if mmap else None
        shape = tuple(json.loads((folder / "lex_meta.json").read_text())["shape"])
        arrays = [
            np.load(folder / f"lex_{n}.npy", mmap_mode=mode) for n in ("data", "indices", "indptr")
        ]
        matrix = sparse.csr_matrix(tuple(arrays), shape=shape, copy=False)
        return cls(np.load(folder / "lex_terms.npy"), matrix, np.load(folder / "lex_idf.npy"))
