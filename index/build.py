"""Build or update the index: reuse unchanged embeddings, write beside the old one, swap."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import layout
from .anchors import ANCHORS, ANCHORS_DIGEST
from .chunker import Passage, chunk_article
from .embedder import Embedder, identity_of
from .errors import BuildInProgressError
from .lexical import LEXICAL_PARAMS, Lexical
from .loader import Article, load_articles
from .options import IndexOptions
from .store import DenseStore
from .text import sentence_spans
from .types import BuildReport

log = logging.getLogger(__name__)

# progress(stage, done, total): stage is "embed" while encoding passages.
BuildProgress = Callable[[str, int, int], None]


def embed_text(p: Passage) -> str:
    """What the model reads: title and heading give a short passage its context."""
    return "\n".join(x for x in (p.title, p.section, p.text) if x)


def passage_key(encoder: str, p: Passage) -> bytes:
    """Content hash that lets a reindex reuse this passage's embedding.

    `encoder` is the embedder's identity (backend and model files' digest), not only the
    model's name: a repaired or re-exported model never inherits vectors of the old one.
    """
    data = f"{encoder}\x1e{embed_text(p)}".encode()
    return hashlib.blake2b(data, digest_size=16).digest()


def build(
    options: IndexOptions,
    embedder: Embedder,
    articles_dir: Path | None = None,
    root: Path | None = None,
    rebuild: bool = False,
    progress: BuildProgress | None = None,
) -> BuildReport:
    """Index the articles folder into root (default: the data folder), reusing what it can.

    Returns:
        A BuildReport; the new index is live on disk when this returns.
    """
    started = time.perf_counter()
    root = Path(root or options.index_dir)
    articles, skipped = load_articles(
        Path(articles_dir or options.articles_dir), options.max_article_bytes
    )
    with _build_lock(root):
        previous = None if rebuild else _previous(root, embedder)
        report = _diff(articles, previous[0] if previous else None)
        report.skipped = [(s.file, s.reason) for s in skipped]
        passages = [p for a in articles for p in chunk_article(a, options.max_passage_chars)]
        report.articles, report.passages = len(articles), len(passages)
        if previous and not report.changed_anything and _same_shape(previous[0], options):
            report.seconds = time.perf_counter() - started
            report.path = str(layout.current_version(root))
            # Nothing to build, but a killed build's scraps still go.
            layout.cleanup(root, keep={Path(report.path).name})
            return report
        keys = [passage_key(identity_of(embedder), p) for p in passages]
        vectors, sentences, report.embedded = _vectors(keys, passages, embedder, previous, progress)
        try:
            folder = layout.new_build_dir(root)
        except OSError as e:
            raise layout.write_error(root, e) from e
        try:
            _write(folder, passages, keys, vectors, sentences, options)
            np.save(folder / "anchors.npy", _anchor_vectors(embedder, previous))
            manifest = {
                "model": embedder.name,
                "encoder": identity_of(embedder),
                "model_dir": str(embedder.model_dir),
                "dim": embedder.dim,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "articles": {a.file: {"digest": a.digest, "title": a.title} for a in articles},
                "passages": len(passages),
                "dense_index": "flat" if len(passages) <= options.flat_max else "hnsw",
                "max_passage_chars": options.max_passage_chars,
                "lexical": LEXICAL_PARAMS,
                "anchors": ANCHORS_DIGEST,
                "skipped": report.skipped,
            }
            report.path = str(layout.commit(root, folder, manifest))
        except BaseException as e:
            # A failed build leaves the old index serving; its scraps are removed.
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(e, OSError):  # disk full, read-only, no permission
                raise layout.write_error(root, e) from e
            raise
    report.seconds = time.perf_counter() - started
    log.info(
        "Indexed %d articles, %d passages (%d embedded) in %.1fs",
        report.articles,
        report.passages,
        report.embedded,
        report.seconds,
    )
    return report


@contextmanager
def _build_lock(root: Path):
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / ".lock", "w")  # closed by the with below
    except OSError as e:
        raise layout.write_error(root, e) from e
    with lock as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgressError("another reindex is already running") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _previous(root: Path, embedder: Embedder) -> tuple[dict, Path] | None:
    """The live index's manifest and folder if its embeddings can be reused."""
    try:
        folder = layout.current_version(root)
        manifest = layout.read_manifest(folder, verify=True)
    except Exception as e:  # a missing or damaged index only means a full build
        log.info("No reusable index (%s); building from scratch", e)
        return None
    if manifest.get("encoder") != identity_of(embedder) or manifest.get("dim") != embedder.dim:
        log.info(
            "Index was built with %s (%s); re-embedding everything",
            manifest.get("model"),
            manifest.get("encoder"),
        )
        return None
    return manifest, folder


def _same_shape(manifest: dict, options: IndexOptions) -> bool:
    """True when the old index was cut and scored the way this build would do it."""
    return (
        manifest.get("max_passage_chars") == options.max_passage_chars
        and manifest.get("lexical") == LEXICAL_PARAMS
        and manifest.get("anchors") == ANCHORS_DIGEST
    )


def _diff(articles: list[Article], manifest: dict | None) -> BuildReport:
    old = (manifest or {}).get("articles", {})
    report = BuildReport()
    for a in articles:
        if a.file not in old:
            report.added.append(a.file)
        elif old[a.file]["digest"] != a.digest:
            report.changed.append(a.file)
        else:
            report.unchanged += 1
    names = {a.file for a in articles}
    report.removed = sorted(f for f in old if f not in names)
    return report


def _vectors(keys, passages, embedder, previous, progress):
    """Passage and sentence vectors: copied from the old index by key, the rest encoded."""
    vectors = np.zeros((len(passages), embedder.dim), dtype=np.float32)
    sentences: list[np.ndarray] = [np.zeros((0, embedder.dim), np.float32)] * len(passages)
    todo = list(range(len(passages)))
    if previous:
        folder = previous[1]
        old_keys = np.load(folder / "keys.npy")
        # Keep the store alive while copying: vectors() is a view into the FAISS index's memory.
        old_store = DenseStore.load(folder)
        old_vecs = old_store.vectors()
        old_sent = np.load(folder / "sent_vectors.npy", mmap_mode="r")
        old_off = np.load(folder / "sent_offsets.npy")
        row = {k.tobytes(): i for i, k in enumerate(old_keys)}
        todo = []
        for i, k in enumerate(keys):
            j = row.get(k)
            if j is None:
                todo.append(i)
            else:
                vectors[i] = old_vecs[j]
                sentences[i] = np.asarray(old_sent[old_off[j] : old_off[j + 1]], np.float32)
    if todo:
        texts, spans = [], []
        for i in todo:
            text = embed_text(passages[i])
            base = len(text) - len(passages[i].text)
            texts.append(text)
            spans.append([(base + a, base + b) for a, b in sentence_spans(passages[i].text)])
        report = (lambda d, t: progress("embed", d, t)) if progress else None
        new, pooled = embedder.encode_passages(texts, progress=report, spans=spans)
        vectors[todo] = new
        for i, rows in zip(todo, pooled):
            sentences[i] = rows
    return vectors, sentences, len(todo)


def _anchor_vectors(embedder, previous) -> np.ndarray:
    """The off-topic anchors' vectors, reused when the old index has the same anchors."""
    if previous and previous[0].get("anchors") == ANCHORS_DIGEST:
        return np.load(previous[1] / "anchors.npy")
    return embedder.encode_passages(ANCHORS)


def _write(folder, passages, keys, vectors, sentences, options) -> None:
    sections: list[dict] = []
    index_of: dict[tuple, int] = {}
    owner = np.zeros(len(passages), dtype=np.int32)
    for i, p in enumerate(passages):
        sid = (p.article, p.section)
        if sid not in index_of:
            index_of[sid] = len(sections)
            sections.append(
                {
                    "article": p.article,
                    "title": p.title,
                    "section": p.section,
                    "sources": list(p.sources),
                    "published": p.published,
                    "outlet": p.outlet,
                }
            )
        owner[i] = index_of[sid]
    (folder / "sections.json").write_text(json.dumps(sections, ensure_ascii=False))
    np.save(folder / "passage_section.npy", owner)
    # Sentence vectors back the answer step and the 'not covered' check; float16 halves them.
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sentences])
    np.save(folder / "sent_offsets.npy", offsets)
    dim = vectors.shape[1]
    stacked = np.concatenate(sentences) if sentences else np.zeros((0, dim), np.float32)
    np.save(folder / "sent_vectors.npy", stacked.astype(np.float16))
    # Raw 16-byte rows: a fixed-width bytes dtype would drop trailing zero bytes.
    np.save(folder / "keys.npy", np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16))
    blobs = [p.text.encode("utf-8") for p in passages]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    (folder / "text.bin").write_bytes(b"".join(blobs))
    np.save(folder / "text_offsets.npy", offsets)
    DenseStore.build(vectors, flat_max=options.flat_max).save(folder)
    Lexical.build([lexical_text(p) for p in passages]).save(folder)


def lexical_text(p: Passage) -> str:
    """What BM25 matches: the passage with its title, so 'what is X' finds X's article."""
    return f"{p.title}\n{p.text}"
