"""Build or update the index: reuse unchanged embeddings, write beside the old one, swap."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from .answer.anchors import ANCHORS, ANCHORS_DIGEST
from .corpus.chunker import Passage, chunk_article
from .corpus.loader import TEXT_VERSION, Article, load_articles
from .corpus.text import sentence_spans
from .encoders.embedder import Embedder, identity_of
from .errors import ALLOW_EMPTY, EmptyArticlesError
from .options import IndexOptions
from .retrieval import crosslingual
from .retrieval.lexical import LEXICAL_PARAMS, Lexical
from .storage.base import Store, Version, Writer
from .storage.factory import open_store
from .storage.manifest import FORMAT, READABLE
from .types import BuildReport

log = logging.getLogger(__name__)

# progress(stage, done, total): stage is "embed" while encoding passages.
BuildProgress = Callable[[str, int, int], None]


def embed_text(p: Passage) -> str:
    """What the model reads: title and heading give a short passage its context."""
    return "\n".join(x for x in (p.title, p.section, p.text) if x)


# Part of every reuse key: vectors made another way (sentences pooled from the passage before 2)
# are never mixed with these.
VECTORS = "sentences-4"  # 4: sentences split as TEXT_VERSION 5 does


def passage_key(encoder: str, p: Passage) -> bytes:
    """Content hash that lets a reindex reuse this passage's embedding.

    `encoder` is the embedder's identity (backend and model files' digest), not only the
    model's name: a repaired or re-exported model never inherits vectors of the old one.
    """
    data = f"{encoder}\x1e{VECTORS}\x1e{embed_text(p)}".encode()
    return hashlib.blake2b(data, digest_size=16).digest()


def build(
    options: IndexOptions,
    embedder: Embedder,
    articles_dir: Path | None = None,
    root: Path | None = None,
    rebuild: bool = False,
    progress: BuildProgress | None = None,
    wait: bool = False,
    allow_empty: bool = False,
    store: Store | None = None,
) -> BuildReport:
    """Index the articles folder into root (default: the data folder), reusing what it can.

    An article that was indexed before and is now broken keeps its previous passages (reported
    as skipped, "kept from the previous index"). An empty result over a non-empty index is
    refused unless allow_empty: an unmounted volume must not empty the bot's coverage.

    Args:
        wait: wait for a build already running instead of raising BuildInProgressError.
        store: where versions are read and written (default: the settings' backend; a
            folder at root for the local one).

    Returns:
        A BuildReport; the new index is live when this returns.
    """
    started = time.perf_counter()
    store = store or open_store(options, Path(root or options.index_dir))
    articles, skipped, source = _articles(options, store, articles_dir)
    if skipped:
        log.warning("Skipped %d article files (the build report lists them)", len(skipped))
    with store.lock(wait=wait):
        live = _live(store)
        # The diff is against the live index even for a rebuild: unchanged articles stay
        # 'unchanged', only their vectors are not reused.
        previous = None if rebuild else _previous(live, embedder)
        report, kept, passages = _plan(articles, skipped, live, options)
        if not passages and not allow_empty:
            _refuse_empty(live, source)
        if previous and not report.changed_anything and _same_shape(previous, options):
            report.seconds, report.path = time.perf_counter() - started, str(previous.location)
            # Nothing to build, but a killed build's scraps still go.
            store.tidy(keep=previous.name)
            return report
        keys = [passage_key(identity_of(embedder), p) for p in passages]
        vectors, sentences, report.embedded = _vectors(keys, passages, embedder, previous, progress)
        with store.writer() as writer:
            _write(writer, passages, keys, vectors, sentences, options)
            writer.anchors(_anchor_vectors(embedder, previous))
            manifest = _manifest(embedder, articles, passages, kept, live, report, options)
            report.path = str(writer.commit(manifest))
    report.seconds = time.perf_counter() - started
    log.info(
        "Indexed %d articles, %d passages (%d embedded) in %.1fs",
        report.articles,
        report.passages,
        report.embedded,
        report.seconds,
    )
    return report


def _plan(articles, skipped, live: Version | None, options: IndexOptions):
    """The build's report so far, the broken articles' kept passages, and every passage."""
    report = _diff(articles, live.manifest if live else None)
    kept = _kept(skipped, live, report)
    report.skipped = [
        replace(s, reason=s.reason + "; kept from the previous index") if s.file in kept else s
        for s in skipped
    ]
    passages = [p for a in articles for p in chunk_article(a, options.max_passage_chars)]
    passages += [p for ps in kept.values() for p in ps]
    report.articles, report.passages = len(articles) + len(kept), len(passages)
    report.kept = sorted(kept)
    return report, kept, passages


def _manifest(embedder, articles, passages, kept, live, report, options) -> dict:
    """What the new version records about itself."""
    old_articles = live.manifest.get("articles", {}) if live else {}
    return {
        "model": embedder.name,
        "encoder": identity_of(embedder),
        "model_dir": str(embedder.model_dir),
        "dim": embedder.dim,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "articles": {
            **{a.file: {"digest": a.digest, "title": a.title} for a in articles},
            **{f: dict(old_articles[f], kept=True) for f in kept},
        },
        "passages": len(passages),
        # "dense_index": added by the writer, which knows what the store built.
        "max_passage_chars": options.max_passage_chars,
        "lexical": LEXICAL_PARAMS,
        "text_version": TEXT_VERSION,
        "anchors": ANCHORS_DIGEST,
        "skipped": [(s.file, s.reason) for s in report.skipped],
        # Names an English question may spell another way (Hegseth → ヘグセス).
        "katakana": crosslingual.katakana_words(
            f"{p.title}\n{p.section}\n{p.text}" for p in passages
        ),
    }


def _refuse_empty(live: Version | None, source) -> None:
    """No passages: an unmounted volume must not empty the bot's coverage."""
    if live is not None and live.size:
        raise EmptyArticlesError(
            f"no usable articles in {source}, but the index holds "
            f"{len(live.manifest.get('articles', {}))} articles; it is kept",
            hint=ALLOW_EMPTY,
        )


def _articles(options: IndexOptions, store: Store, articles_dir: Path | None):
    """The articles to index, those skipped, and where they came from (for messages)."""
    shared = store.articles if store.shared and articles_dir is None else None
    if shared is not None:  # the database's own articles: the same for every process
        return *shared.load(), "the index database's articles"
    source = Path(articles_dir or options.articles_dir)
    return *load_articles(source, options.max_article_bytes), source


def _live(store: Store) -> Version | None:
    """The live version if it can be read (an older format too: its vectors are reused)."""
    try:
        return store.current(verify=True, formats=READABLE)
    except Exception as e:  # a missing or damaged index only means a full build
        log.info("No reusable index (%s); building from scratch", e)
        return None


def _previous(live: Version | None, embedder: Embedder) -> Version | None:
    """The live version if its embeddings can be reused."""
    if live is None:
        return None
    manifest = live.manifest
    if manifest.get("encoder") != identity_of(embedder) or manifest.get("dim") != embedder.dim:
        log.info(
            "Index was built with %s (%s); re-embedding everything",
            manifest.get("model"),
            manifest.get("encoder"),
        )
        return None
    return live


def _kept(skipped, live: Version | None, report: BuildReport) -> dict[str, list[Passage]]:
    """Passages of the live index for articles that are there but broken now, by file.

    Those articles are taken off report.removed: they are still indexed.
    """
    if live is None:
        return {}
    broken = {s.file for s in skipped} & set(report.removed)
    if not broken:
        return {}
    report.removed = [f for f in report.removed if f not in broken]
    by_section = {i: s for i, s in enumerate(live.sections) if s["article"] in broken}
    kept: dict[str, list[Passage]] = {f: [] for f in sorted(broken)}
    owners = np.asarray(live.passage_section)
    for i in np.flatnonzero(np.isin(owners, list(by_section))):
        s = by_section[int(owners[i])]
        kept[s["article"]].append(
            Passage(
                article=s["article"],
                title=s["title"],
                section=s["section"],
                text=live.text(int(i)),
                sources=tuple(s["sources"]),
                published=s["published"],
                outlet=s["outlet"],
            )
        )
    for f in broken:
        log.warning("%s is broken; its previous passages stay in the index", f)
    return kept


def _same_shape(previous: Version, options: IndexOptions) -> bool:
    """True when the old index was cut, scored and stored the way this build would do it."""
    manifest = previous.manifest
    return (
        previous.format == FORMAT
        and manifest.get("max_passage_chars") == options.max_passage_chars
        and manifest.get("lexical") == LEXICAL_PARAMS
        and manifest.get("anchors") == ANCHORS_DIGEST
        and manifest.get("text_version") == TEXT_VERSION
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
        row = {k.tobytes(): i for i, k in enumerate(np.asarray(previous.keys))}
        todo = [i for i, k in enumerate(keys) if k not in row]
        reused = [i for i, k in enumerate(keys) if k in row]
        # One read for all of them: a database version answers in one query, not one each.
        old, old_sentences = previous.passage_vectors([row[keys[i]] for i in reused])
        vectors[reused] = old
        for i, s in zip(reused, old_sentences):
            sentences[i] = np.asarray(s, np.float32)
    if todo:
        texts = [embed_text(passages[i]) for i in todo]
        # Each sentence gets its own vector: the answer quotes sentences and the 'not covered'
        # check weighs them, and a sentence read alone told English questions and other news
        # apart better than one pooled from its passage's tokens (docs/how-it-works.md, "Answers").
        split = [[passages[i].text[a:b] for a, b in sentence_spans(passages[i].text)] for i in todo]
        report = (lambda d, t: progress("embed", d, t)) if progress else None
        # One stream for passages and sentences, so progress covers both.
        flat = embedder.encode_passages(texts + [x for s in split for x in s], progress=report)
        vectors[todo] = flat[: len(texts)]
        ends = np.cumsum([len(texts)] + [len(s) for s in split])
        for j, i in enumerate(todo):
            sentences[i] = flat[ends[j] : ends[j + 1]]
    return vectors, sentences, len(todo)


def _anchor_vectors(embedder, previous) -> np.ndarray:
    """The off-topic anchors' vectors, reused when the old index has the same anchors."""
    if previous and previous.manifest.get("anchors") == ANCHORS_DIGEST:
        return np.array(previous.anchors)
    return embedder.encode_passages(ANCHORS)


def _write(writer: Writer, passages, keys, vectors, sentences, options) -> None:
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
    writer.sections(sections, owner)
    # Sentence vectors back the answer step and the 'not covered' check.
    writer.sentences(sentences, vectors.shape[1])
    writer.keys(keys)
    writer.texts(p.text for p in passages)
    writer.dense_vectors(vectors, options.flat_max)
    writer.lexical(Lexical.build([lexical_text(p) for p in passages]))


def lexical_text(p: Passage) -> str:
    """What BM25 matches: the passage with its title, so 'what is X' finds X's article."""
    return f"{p.title}\n{p.text}"
