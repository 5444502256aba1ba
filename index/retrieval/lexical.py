"""BM25 over NFKC character unigrams and bigrams: strong for Japanese without a tokenizer."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np
from scipy import sparse

from ..corpus.text import char_ngrams, is_word_char, normalize

# Lower saturation and length normalization than the usual 1.2/0.75 measured best on jsquad-dev.
K1, B = 0.9, 0.4
# Recorded in the manifest: an index scored with other parameters is rebuilt (vectors reused).
LEXICAL_PARAMS = {"k1": K1, "b": B, "grams": "nfkc-char-1-2", "title": True}
# A term is a code point, or two shifted into one integer; they sort like the terms' strings.
_SHIFT = 21
_BATCH = 4096  # texts per vectorized step: bounds the build's memory on big corpora
# Code points char_ngrams does not keep (mapped to NUL), and every character already checked.
# Questions run on several threads: writers hold the lock, so a character is in _CHECKED only
# once its _BREAKS entry is there; readers need none (an unseen character is checked again).
_BREAKS: dict[int, int] = {}
_CHECKED: set[str] = set()
_LEARNING = threading.Lock()


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
        """Index texts (already including any title context); the n-grams are char_ngrams'."""
        n = len(texts)
        keys, docs, counts, sizes = [], [], [], []
        for start in range(0, n, _BATCH):
            k, d, c, s = _count_grams(texts[start : start + _BATCH])
            keys.append(k)
            docs.append(d + start)
            counts.append(c)
            sizes.append(s)
        vocab, r = np.unique(np.concatenate(keys or [np.zeros(0, np.int64)]), return_inverse=True)
        terms = _key_strings(vocab)
        if n == 0 or not len(vocab):
            empty = sparse.csr_matrix((len(vocab), n), dtype=np.float32)
            return cls(terms, empty, np.zeros(len(vocab), dtype=np.float32))
        # Entries come doc by doc; a stable sort by term gives CSR order (docs ascending).
        order = np.argsort(r, kind="stable")
        r, c = r[order], np.concatenate(docs)[order]
        tf = np.concatenate(counts)[order].astype(np.float32)
        lengths = np.concatenate(sizes).astype(np.float32)
        df = np.bincount(r, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths[c] / max(lengths.mean(), 1.0))
        w = idf[r] * tf * (k1 + 1) / (tf + norm)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=len(vocab)), out=indptr[1:])
        matrix = sparse.csr_matrix(
            (w.astype(np.float32), c.astype(np.int32), indptr), shape=(len(vocab), n)
        )
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
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        spans = [(indptr[t], indptr[t + 1]) for t in self.query_terms(query)]
        return sum_postings([(indices[a:b], data[a:b]) for a, b in spans], self.size)

    def rows(self) -> Iterator[tuple[str, float, np.ndarray, np.ndarray]]:
        """Each term's row: (term, idf, passage ids int32, BM25 weights float32), terms sorted.

        What a store that keeps postings per term writes (storage.postgres); its reads go back
        through sum_postings, so both backends score alike.
        """
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        for r, term in enumerate(self.terms):
            a, b = int(indptr[r]), int(indptr[r + 1])
            yield (
                str(term),
                float(self.idf[r]),
                np.ascontiguousarray(indices[a:b], dtype=np.int32),
                np.ascontiguousarray(data[a:b], dtype=np.float32),
            )


def sum_postings(postings: Sequence[tuple[np.ndarray, np.ndarray]], size: int) -> np.ndarray:
    """BM25 scores of `size` passages: each query term's (passage ids, weights) added up.

    The one scorer of both backends: give the terms in code point order (as query_terms and
    Lexical.rows have them) and the float32 sums are the same, bit for bit, wherever the
    postings were read from.
    """
    if not postings:
        return np.zeros(size, dtype=np.float32)
    # The postings as the columns of a (passages × terms) CSC matrix times ones: scipy's matvec
    # adds each term's weights into the scores in one C loop, term by term in float32: the same
    # additions in the same order as a Python loop of `out[ids] += weights`, 3-6x faster.
    # 32-bit offsets when they fit: mixed with 64-bit ones scipy would copy the ids to widen them.
    lengths = [len(ids) for ids, _ in postings]
    kind = np.int32 if max(sum(lengths), size) < 2**31 else np.int64
    indptr = np.zeros(len(postings) + 1, dtype=kind)
    np.cumsum(lengths, out=indptr[1:])
    matrix = sparse.csc_matrix(
        (
            np.concatenate([w for _, w in postings]).astype(np.float32, copy=False),
            np.concatenate([ids for ids, _ in postings]).astype(kind, copy=False),
            indptr,
        ),
        shape=(size, len(postings)),
    )
    return matrix @ np.ones(len(postings), dtype=np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k best scores: the set np.argpartition(-scores, k - 1)[:k] picks, found faster."""
    n, groups = len(scores), 16
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.arange(n)
    if n >= 8 * k * groups:
        # Each of k groups holds a score at least `floor`, so the k best are all >= floor: one
        # pass leaves a few candidates to partition. Groups are strided (row i of 16 rows of
        # n // 16 scores) so that taking their maxima is one vectorized elementwise maximum.
        width = n // groups
        maxes = scores[: width * groups].reshape(groups, width).max(axis=0)
        floor = np.partition(maxes, width - k)[width - k]
        cand = np.flatnonzero(scores >= floor)
        if len(cand) <= n // 8:
            vals = scores[cand]
            kth = np.partition(vals, len(vals) - k)[len(vals) - k]
            chosen = vals >= kth
            if int(chosen.sum()) == k:
                return cand[chosen]
    # Equal scores straddle the k-th place (or no cheap cut): which of them argpartition keeps
    # is its own business, so it is asked on the whole array, as before.
    return np.argpartition(-scores, k - 1)[:k]


def _count_grams(texts: Sequence[str]) -> tuple[np.ndarray, ...]:
    """(term key, text, count) of each distinct n-gram per text, and each text's n-gram total."""
    words = [_words(t) for t in texts]
    joined = "\0".join(words) + "\0"
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    codes = codes.astype(np.int64)
    doc = np.repeat(np.arange(len(words)), [len(w) + 1 for w in words])
    kept = codes != 0
    pair = kept[:-1] & kept[1:]
    keys = np.concatenate([codes[kept] << _SHIFT, (codes[:-1][pair] << _SHIFT) | codes[1:][pair]])
    owner = np.concatenate([doc[kept], doc[:-1][pair]])
    sizes = np.bincount(owner, minlength=len(words))
    # Text index above the 42 key bits: one sort groups by text, then by term.
    uniq, counts = np.unique((owner << (2 * _SHIFT)) | keys, return_counts=True)
    return uniq & ((1 << (2 * _SHIFT)) - 1), uniq >> (2 * _SHIFT), counts, sizes


def _words(text: str) -> str:
    """normalize(text) with every character char_ngrams skips turned into NUL."""
    text = normalize(text)
    new = set(text) - _CHECKED
    if new:
        with _LEARNING:
            _BREAKS.update({ord(c): 0 for c in new if not is_word_char(c)})
            _CHECKED.update(new)
    return text.translate(_BREAKS)


def _key_strings(keys: np.ndarray) -> np.ndarray:
    """Term keys back to the sorted '<U2' array of their strings."""
    pairs = np.stack([keys >> _SHIFT, keys & ((1 << _SHIFT) - 1)], axis=1).astype("<u4")
    return np.ascontiguousarray(pairs).view("<U2").reshape(-1)
