"""Synthetic corpora for the benchmarks: jsquad-dev replicated with perturbations, cached."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import numpy as np
from _common import CACHE, JSQUAD, jsquad_root, options

from index import Searcher
from index.build import build, passage_key
from index.encoders.embedder import Embedder
from index.storage import local as index_format

log = logging.getLogger(__name__)

# Marks a synthetic copy's title: the replay embedder gives such passages derived vectors.
COPY_MARK = "写"


class ReplayEmbedder:
    """Stands in for the model while building big synthetic corpora from text."""

    # jsquad-dev's own passages get their real vectors back; synthetic copies (title marked
    # with COPY_MARK) a real vector plus noise seeded by their text; other texts the real model.

    def __init__(self, real: Embedder, index_root: Path, noise: float = 0.35):
        version = index_format.LocalStore(index_root).current()
        self.real = real
        self.name, self.dim, self.model_dir = real.name, real.dim, real.model_dir
        self.identity = getattr(real, "identity", real.name)  # keys must match the real index
        self.base = np.array(version.vectors)
        self.row = {k.tobytes(): i for i, k in enumerate(np.asarray(version.keys))}
        self.noise = noise

    def _vector(self, text: str) -> np.ndarray | None:
        key = passage_key(self.identity, _FakePassage(text))
        if key in self.row:
            return self.base[self.row[key]]
        # A passage is encoded as "title\nsection\ntext"; a sentence alone has no title line.
        # Sentences get a plausible vector too: encoding 250k of them for real would take hours.
        if COPY_MARK not in text.split("\n", 1)[0] and "\n" in text:
            return None
        seed = int.from_bytes(key[:8], "little")
        rng = np.random.default_rng(seed)
        v = self.base[seed % len(self.base)] + rng.normal(0, self.noise / self.dim**0.5, self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode_passages(self, texts, progress=None, spans=None, **kwargs):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = []
        for i, t in enumerate(texts):
            v = self._vector(t)
            if v is None:
                todo.append(i)
            else:
                out[i] = v
        if todo:
            out[todo] = self.real.encode_passages([texts[i] for i in todo])
        if progress:
            progress(len(texts), len(texts))
        if spans is None:
            return out
        # Sentence rows repeat the passage vector (the answer step only needs plausible ones).
        pooled = [np.repeat(out[i : i + 1], len(s), axis=0) for i, s in enumerate(spans)]
        return out, pooled

    def encode_queries(self, texts):
        return self.real.encode_queries(texts)


class _FakePassage:
    """Just enough of a Passage for passage_key: embed_text joins title/section/text."""

    def __init__(self, text: str):
        self.title, self.section, self.text = "", "", text


def synth_articles(folder: Path, copies: int, articles_per_source: int = 1, seed: int = 0) -> int:
    """Write jsquad-dev `copies` times (copy 0 verbatim) as Markdown; returns the file count."""
    # Copies shuffle each section's sentences and replace ~15 % of characters with ones drawn
    # from the corpus, so n-gram frequencies stay realistic while texts differ.
    # articles_per_source > 1 splits each source article into up to that many files.
    from index.corpus.loader import load_articles

    articles, _ = load_articles(JSQUAD / "articles")
    body = "".join(s.text for a in articles for s in a.sections)
    alphabet = np.array([c for c in body if c != "\n"])
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for c in range(copies):
        for a in articles:
            filled = [i for i, s in enumerate(a.sections) if s.text.strip()]
            parts = np.array_split(np.array(filled, dtype=int), articles_per_source)
            for k, part in enumerate(p for p in parts if len(p)):
                title = a.title if c == 0 else f"{a.title} {COPY_MARK}{c}"
                lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}"]
                if a.url:
                    lines.append(f"url: {a.url}")
                if a.outlet:
                    lines.append(f"outlet: {json.dumps(a.outlet, ensure_ascii=False)}")
                lines += ["---", ""]
                for i in part:
                    s = a.sections[i]
                    text = s.text if c == 0 else _perturb(s.text, alphabet, rng)
                    lines += [f"## {s.heading}", "", text, ""]
                stem = Path(a.file).stem
                name = f"{stem}-{k}.md" if articles_per_source > 1 else f"{stem}.md"
                sub = folder / (f"c{c:04d}" if c else "orig")
                sub.mkdir(exist_ok=True)
                (sub / name).write_text("\n".join(lines), encoding="utf-8")
                count += 1
    return count


def _perturb(text: str, alphabet: np.ndarray, rng: np.random.Generator) -> str:
    sentences = re.findall(r"[^。]+。?", text.replace("\n", " "))
    rng.shuffle(sentences)
    chars = np.array(list("".join(sentences)))
    mask = rng.random(len(chars)) < 0.15
    chars[mask] = rng.choice(alphabet, int(mask.sum()))
    return "".join(chars).replace("#", " ")


def synth_root(passages: int, real: Embedder) -> Path:
    """An index of about `passages` passages: jsquad-dev plus perturbed copies (cached)."""
    from index.errors import NewsbotError

    per_copy = 1162
    copies = max(1, round(passages / per_copy))
    root = CACHE / f"synth-{copies}" / "index"
    articles = CACHE / f"synth-{copies}" / "articles"
    if root.exists():
        try:
            Searcher(options(), embedder=real, root=root).load()
            return root
        except (NewsbotError, OSError, ValueError) as e:
            log.info("Rebuilding the cached synthetic index: %s", e)
    if not articles.exists():
        synth_articles(articles, copies)
    replay = ReplayEmbedder(real, jsquad_root(real))
    started = time.perf_counter()
    report = build(options(), replay, articles, root, rebuild=True)
    elapsed = time.perf_counter() - started
    log.info("Synthetic index: %d passages in %.0fs", report.passages, elapsed)
    return root


def scale_root(n: int, real: Embedder, seed: int = 0) -> Path:
    """An index of n synthetic passages written array by array (cached): no text is embedded."""
    # Vectors: jsquad-dev's real ones, noisy copies of them, blends of two and random unit
    # vectors. Postings, texts, sentence vectors and sections: jsquad-dev's replicated (each
    # copy a new article), with 10 % of postings dropped per copy so copies differ.
    from index.storage.faiss import DenseStore

    root = CACHE / f"scale-{n}"
    try:
        if index_format.LocalStore(root).current(verify=False).size == n:
            return root
    except Exception:  # missing, half-written or of an older format: build it
        pass
    base = index_format.LocalStore(jsquad_root(real)).current()
    manifest = dict(base.manifest)
    n0 = base.size
    copies = -(-n // n0)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with index_format.LocalStore(root).writer() as writer:
        # Dense side.
        real_vecs = np.array(base.vectors)
        vecs = np.empty((n, real_vecs.shape[1]), dtype=np.float32)
        for lo in range(0, n, 65536):
            rows = np.arange(lo, min(n, lo + 65536))
            kind = rng.random((len(rows), 1))
            v = real_vecs[rows % n0]
            noise = rng.normal(0, 1, v.shape).astype(np.float32)
            noise /= np.linalg.norm(noise, axis=1, keepdims=True)
            blend = real_vecs[rng.integers(0, n0, len(rows))]
            scale = rng.uniform(0.2, 0.6, (len(rows), 1)).astype(np.float32)
            # Half noisy copies, 30 % blends of two real vectors, 20 % random unit vectors.
            v = np.where(kind < 0.5, v + scale * noise, 0.6 * v + 0.4 * blend + 0.3 * scale * noise)
            v = np.where(kind >= 0.8, noise, v)
            v[rows < n0] = real_vecs[rows[rows < n0]]
            vecs[rows] = v / np.linalg.norm(v, axis=1, keepdims=True)
        writer.dense(DenseStore.build(vecs, flat_max=options().flat_max))
        del vecs, real_vecs
        log.info("scale %d: vectors in %.0fs", n, time.perf_counter() - started)
        _replicate_lexical(base, writer, n, n0, copies, seed)
        _replicate_passages(base, writer, n, n0, copies)
        writer.anchors(np.asarray(base.anchors))
        manifest["articles"] = {
            f"{name}#{c}" if c else name: meta
            for c in range(copies)
            for name, meta in manifest["articles"].items()
        }
        manifest["passages"] = n
        for key in ("files", "format"):
            manifest.pop(key, None)
        writer.commit(manifest)
    log.info("scale %d: written in %.0fs", n, time.perf_counter() - started)
    return root


def _replicate_lexical(base, writer, n: int, n0: int, copies: int, seed: int) -> None:
    """Each term's postings repeated per copy (10 % dropped), straight into .npy files."""
    matrix = base.lexical.matrix
    indptr0, indices0, data0 = (np.asarray(a) for a in (matrix.indptr, matrix.indices, matrix.data))
    shifts = (np.arange(copies) * n0)[:, None]

    def postings(t: int) -> tuple[np.ndarray, np.ndarray]:
        # Copy-major order keeps columns ascending; a per-term seed makes both passes agree.
        lo, hi = indptr0[t], indptr0[t + 1]
        cols = (indices0[lo:hi][None, :] + shifts).ravel()
        keep = (cols < n) & (np.random.default_rng([seed, t]).random(len(cols)) >= 0.1)
        return cols[keep], np.tile(data0[lo:hi], copies)[keep]

    terms = len(indptr0) - 1
    indptr = np.zeros(terms + 1, dtype=np.int64)
    np.cumsum([len(postings(t)[0]) for t in range(terms)], out=indptr[1:])
    indices = writer.open_array("lex_indices.npy", np.int32, (int(indptr[-1]),))
    data = writer.open_array("lex_data.npy", np.float32, (int(indptr[-1]),))
    for t in range(terms):
        indices[indptr[t] : indptr[t + 1]], data[indptr[t] : indptr[t + 1]] = postings(t)
    indices.flush(), data.flush()
    del indices, data
    writer.save("lex_indptr.npy", indptr)
    writer.save("lex_terms.npy", base.lexical.terms)
    writer.save("lex_idf.npy", base.lexical.idf)


def _replicate_passages(base, writer, n: int, n0: int, copies: int) -> None:
    """Texts, sections, keys and sentence vectors of jsquad-dev repeated; copy c is article #c."""
    rows = np.arange(n) % n0
    copy = np.arange(n) // n0
    offsets0 = np.asarray(base.offsets)
    blob = b"".join(base.text(i).encode("utf-8") for i in range(n0))
    lengths = np.diff(offsets0)[rows]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    writer.raw_texts((blob[: offsets0[min(n0, n - c * n0)]] for c in range(copies)), offsets)
    sections0 = list(base.sections)
    owner0 = np.asarray(base.passage_section)
    sections = [
        dict(s, article=f"{s['article']}#{c}" if c else s["article"])
        for c in range(int(copy[-1]) + 1)
        for s in sections0
    ]
    sections = sections[: int(owner0[rows[-1]] + copy[-1] * len(sections0)) + 1]  # used ones
    writer.sections(sections, owner0[rows] + copy * len(sections0))
    keys = np.asarray(base.keys)[rows].copy()
    keys[:, :4] ^= copy.astype("<u4").view(np.uint8).reshape(-1, 4)  # distinct per copy
    writer.keys(keys)
    sent_off0 = np.asarray(base.sent_offsets)
    sent0 = base.sent_vectors
    counts = np.diff(sent_off0)[rows]
    sent_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=sent_off[1:])
    writer.save("sent_offsets.npy", sent_off)
    shape = (int(sent_off[-1]), sent0.shape[1])
    out = writer.open_array("sent_vectors.npy", sent0.dtype, shape)
    for c in range(copies):
        lo, hi = c * n0, min(n, (c + 1) * n0)
        out[sent_off[lo] : sent_off[hi]] = sent0[: sent_off0[hi - lo]]
    out.flush()
    del out
