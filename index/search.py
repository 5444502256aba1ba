"""A loaded index and hybrid search: dense and lexical scores fused per query."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layout
from .errors import IndexCorruptError, QuestionError
from .lexical import Lexical, top_k
from .options import IndexOptions
from .store import DenseStore
from .text import char_ngrams, normalize
from .types import Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranked:
    """A question's ranking: one passage per section, best first."""

    ids: np.ndarray  # passage ids
    fused: np.ndarray
    dense: np.ndarray  # raw cosine of each


class Index:
    """A read-only index version; swap a new one in to update."""

    def __init__(self, folder: Path, manifest: dict, dense: DenseStore, lexical: Lexical):
        self.folder = folder
        self.manifest = manifest
        self.dense = dense
        self.lexical = lexical
        self.passage_section = np.load(folder / "passage_section.npy", mmap_mode="r")
        count = int(self.passage_section.max()) + 1 if len(self.passage_section) else 0
        self.sections = _sections(folder / "sections.json", count)
        self.offsets = np.load(folder / "text_offsets.npy", mmap_mode="r")
        self._text = (
            np.memmap(folder / "text.bin", dtype=np.uint8, mode="r") if self.offsets[-1] else b""
        )
        self.vectors = dense.vectors()
        self.sent_vectors = np.load(folder / "sent_vectors.npy", mmap_mode="r")
        self.sent_offsets = np.load(folder / "sent_offsets.npy", mmap_mode="r")
        self.anchors = np.load(folder / "anchors.npy")
        if dense.size != len(self.passage_section) or lexical.size != dense.size:
            raise IndexCorruptError(f"index {folder.name} has inconsistent passage counts")

    @classmethod
    def load(cls, folder: Path, verify: bool = True) -> Index:
        """Load one version folder (see layout.current_version)."""
        manifest = layout.read_manifest(folder, verify=verify)
        try:
            return cls(folder, manifest, DenseStore.load(folder), Lexical.load(folder))
        except IndexCorruptError:
            raise
        except Exception as e:  # numpy/faiss report damage in many ways
            raise IndexCorruptError(f"cannot read index {folder.name}: {e}") from e

    @property
    def size(self) -> int:
        return self.dense.size

    def text(self, i: int) -> str:
        return bytes(self._text[self.offsets[i] : self.offsets[i + 1]]).decode("utf-8")

    def section_of(self, i: int) -> tuple[str, str]:
        """(article file, section heading) of passage i."""
        s = self.sections[int(self.passage_section[i])]
        return s["article"], s["section"]

    def hit(self, i: int, score: float) -> Hit:
        s = self.sections[int(self.passage_section[i])]
        return Hit(
            article=s["article"],
            title=s["title"],
            section=s["section"],
            text=self.text(i),
            sources=tuple(s["sources"]),
            published=s["published"],
            outlet=s["outlet"],
            score=float(score),
            passage_id=int(i),
        )

    def rank(self, query: str, qvec: np.ndarray, options: IndexOptions) -> Ranked:
        """Fuse dense and lexical scores over both sides' candidates; best passage per section."""
        if self.size == 0:
            empty = np.zeros(0)
            return Ranked(empty.astype(np.int64), empty, empty)
        m = options.candidates
        _, dense_ids = self.dense.search(qvec[None, :], m)
        lex = self.lexical.scores(query)
        top_lex = top_k(lex, m)
        cand = np.unique(np.concatenate([dense_ids[0][dense_ids[0] >= 0], top_lex]))
        d = self.vectors[cand] @ qvec
        lx = lex[cand]
        d_n = (d - d.min()) / max(float(d.max() - d.min()), 1e-6)
        l_n = lx / max(float(lx.max()), 1e-6)
        w = options.dense_weight
        fused = w * d_n + (1 - w) * l_n
        order = np.argsort(-fused, kind="stable")
        cand, fused, d = cand[order], fused[order], d[order]
        # One passage per section: the best one speaks for it.
        _, first = np.unique(np.asarray(self.passage_section)[cand], return_index=True)
        keep = np.sort(first)
        return Ranked(cand[keep], fused[keep], d[keep])

    def sentence_scores(self, i: int, qvec: np.ndarray) -> np.ndarray:
        """Cosine of the question with each sentence of passage i (see text.sentence_spans)."""
        rows = self.sent_vectors[self.sent_offsets[i] : self.sent_offsets[i + 1]]
        return np.asarray(rows, dtype=np.float32) @ qvec

    def siblings(self, i: int, limit: int = 8) -> list[int]:
        """Passage i, then the nearest other passages of its section (stored side by side)."""
        section = self.passage_section[i]
        out, lo, hi = [i], i - 1, i + 1
        while len(out) < limit:
            grew = False
            if hi < self.size and self.passage_section[hi] == section:
                out.append(hi)
                hi += 1
                grew = True
            if len(out) < limit and lo >= 0 and self.passage_section[lo] == section:
                out.append(lo)
                lo -= 1
                grew = True
            if not grew:
                break
        return out

    def coverage(self, query: str, i: int) -> float:
        """Idf-weighted share of the question's bigrams found in passage i and its title."""
        grams = {g for g in char_ngrams(query) if len(g) == 2} or set(char_ngrams(query))
        weights = self.lexical.term_weights(query)
        # A bigram the corpus never uses is as telling as the rarest one.
        rare = float(np.log1p((self.size + 0.5) / 0.5))
        hit = self.hit(i, 0.0)
        text = normalize(f"{hit.title}\n{hit.text}")
        total = sum(weights.get(g, rare) for g in grams)
        found = sum(weights.get(g, rare) for g in grams if g in text)
        return found / total if total else 0.0


def check_question(question: str, options: IndexOptions) -> str:
    """Return the question cleaned for search, or raise QuestionError saying what is wrong."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("質問が空です。")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate can arrive in JSON and breaks the tokenizer
        raise QuestionError("質問に UTF-8 として読めない文字が含まれています。") from None
    if len(question) > options.max_question_chars:
        raise QuestionError(
            f"質問が長すぎます（{len(question)}文字、上限{options.max_question_chars}文字）。"
        )
    q = normalize(question)
    if not char_ngrams(q):
        raise QuestionError("質問に検索できる文字がありません。")
    return q


class _LazySections(Sequence):
    """sections.json left on disk; an element is parsed when a hit asks for it."""

    def __init__(self, data: np.ndarray, starts: np.ndarray):
        self._data, self._starts = data, starts

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + len(self) if i < 0 else int(i)
        if not 0 <= i < len(self):
            raise IndexError("section index out of range")
        # The element's end is the next one's start less the ", " between them.
        start, end = int(self._starts[i]), int(self._starts[i + 1]) - 2
        return json.loads(bytes(self._data[start:end]))


# How build writes each section: a JSON object whose first key is "article", joined by ", ".
# A quote inside a JSON string is escaped, so this byte run only occurs between elements.
_SECTION_SEP = b'}, {"article": '


def _sections(path: Path, count: int) -> Sequence[dict]:
    """The sections list: lazy when the file has the expected shape, else parsed at once."""
    # Parsing it whole took 0.28 s and 83 MB for 100k passages (seconds and GBs at 1M);
    # finding where its elements start is one vectorized pass over the mapped file.
    size = path.stat().st_size
    data = np.memmap(path, dtype=np.uint8, mode="r") if size > 32 else None
    if data is not None and bytes(data[:13]) == b'[{"article": ' and bytes(data[-2:]) == b"}]":
        braces = [
            np.flatnonzero(data[lo : lo + (1 << 24)] == ord("{")) + lo
            for lo in range(0, size, 1 << 24)
        ]
        pos = np.concatenate(braces)
        pos = pos[(pos >= 3) & (pos + 11 < size)]
        sep = np.frombuffer(_SECTION_SEP, dtype=np.uint8)
        hit = np.ones(len(pos), dtype=bool)
        for j, byte in enumerate(sep):
            hit &= data[pos + j - 3] == byte
        starts = np.concatenate([[1], pos[hit], [size + 1]])  # the last one ends before "]"
        if len(starts) - 1 == count:
            return _LazySections(data, starts)
    return json.loads(path.read_text(encoding="utf-8"))
