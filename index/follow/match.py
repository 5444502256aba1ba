"""Whether a new article is about a followed topic: the answer step's ranking and judgement,
asked of one article at a time, with a margin measured on tests/data/follow/topics.jsonl."""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..answer.compose import compose
from ..answer.judge import Verdict
from ..answer.respond import weigh
from ..corpus.text import language, normalize
from ..options import IndexOptions
from ..retrieval import crosslingual
from ..retrieval.query import Query
from ..retrieval.ranker import Index, Ranked
from ..retrieval.terms import SPECIFIC, is_name, missing_terms, subject_terms

log = logging.getLogger(__name__)

# A Japanese topic matches an article when the judge says the article covers it, its best
# sentence beats the off-topic anchors by MATCH_MARGIN and the article holds every word of the
# topic; or, without a word but with every name, by PARAPHRASE (休戦 for 停戦). An English topic
# over Japanese coverage (its cosines run lower) needs EN_MARGIN and each of its specific words
# in one of its Japanese spellings. Measured, not guessed: benchmarks/follow_eval.py prints
# precision and recall on tests/data/follow/topics.jsonl at each value.
MATCH_MARGIN = 0.0
PARAPHRASE = 0.06
EN_MARGIN = -0.045
# Float32 products summed in another order differ in their last bits: the first pass's bound
# is loosened by this much so that it never drops what the full judgement would keep.
EPSILON = 1e-4
# A kanji standing alone between kana (梅の開花, 暖冬と桜).
_SINGLE = re.compile(r"(?<![一-鿿々])[一-鿿](?![一-鿿々])")
# Sentences an alert quotes.
QUOTED = 2


# Topic vectors by (model, text), oldest first: followed topics are encoded once, not per poll.
VECTORS_KEPT = 20_000
_VECTORS: dict[tuple[str, str], np.ndarray] = {}


# Article -> (passage ids, first section) per index version; gone with the version.
_ARTICLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Topic:
    """A followed topic as the matcher uses it: its Query, vector and off-topic background."""

    text: str
    query: Query
    vector: np.ndarray
    background: float  # its nearest off-topic anchor's cosine


@dataclass(frozen=True)
class Match:
    """Why an article was (or was not) judged about a topic, and the sentences that say so."""

    topic: str
    article: str
    matched: bool
    margin: float  # best evidence sentence cosine minus the nearest off-topic anchor's
    covered: bool  # the answer step's verdict
    lexical: float = 0.0  # idf-weighted share of the topic's bigrams in the top passage
    missing: tuple[str, ...] = ()  # the topic's subject terms the article lacks
    quotes: tuple[str, ...] = ()  # one or two of its sentences, verbatim
    judged: bool = True  # False: left out by the cheap first pass (its margin is an estimate)


def topics(index: Index, embedder, texts: Sequence[str], options: IndexOptions) -> list[Topic]:
    """The topics checked and encoded (each text once per model: a poll re-reads them all)."""
    queries = [Query.of(t, options) for t in texts]
    if not queries:
        return []
    model = getattr(embedder, "name", "")
    todo = [q.searched_normal for q in queries if (model, q.searched_normal) not in _VECTORS]
    if todo:
        for text, v in zip(todo, embedder.encode_queries(todo)):
            _VECTORS[(model, text)] = np.asarray(v, dtype=np.float32)
        while len(_VECTORS) > VECTORS_KEPT:
            _VECTORS.pop(next(iter(_VECTORS)))
    vectors = np.stack([_VECTORS[(model, q.searched_normal)] for q in queries])
    backgrounds = (vectors @ np.asarray(index.anchors).T).max(axis=1)
    return [Topic(t, q, v, float(b)) for t, q, v, b in zip(texts, queries, vectors, backgrounds)]


def passages_of(index: Index, article: str) -> list[int]:
    """The passage ids of one article (its file name, relative to the articles folder)."""
    return list(articles_of(index).get(article, ((), -1))[0])


def first_section(index: Index, article: str) -> dict | None:
    """The record of an article's first section (title, outlet, date, sources), or None."""
    j = articles_of(index).get(article, ((), -1))[1]
    return index.section(j) if j >= 0 else None


def articles_of(index: Index) -> dict[str, tuple[tuple[int, ...], int]]:
    """Each article's passage ids and first section, read once per index version."""
    known = _ARTICLES.get(index)
    if known is None:
        names = [s["article"] for s in index.sections]  # one pass: each record is parsed
        firsts: dict[str, int] = {}
        for j, name in enumerate(names):
            firsts.setdefault(name, j)
        pids: dict[str, list[int]] = {a: [] for a in firsts}
        for i, j in enumerate(np.asarray(index.passage_section)):
            pids[names[int(j)]].append(i)
        known = {a: (tuple(pids[a]), firsts[a]) for a in firsts}
        _ARTICLES[index] = known
    return known


def match_article(
    index: Index,
    article: str,
    followed: Sequence[Topic],
    options: IndexOptions,
    margin: float = MATCH_MARGIN,
    quote: bool = False,
) -> list[Match]:
    """Every topic decided for one article; only those that could match are judged in full.

    The first pass is exact, not a guess: a topic's best cosine over all the article's
    sentences bounds the judge's margin (its evidence sentences are some of them), and a word
    the whole article lacks is lacking in any evidence from it.
    """
    pids = passages_of(index, article)
    if not pids or not followed:
        return []
    sentences = np.concatenate(
        [np.asarray(index.version.sentence_vectors(p), dtype=np.float32) for p in pids]
    )
    vectors = np.stack([t.vector for t in followed])
    estimate = (vectors @ sentences.T).max(axis=1) - np.array([t.background for t in followed])
    text = article_text(index, pids)
    out = []
    for topic, est in zip(followed, estimate):
        if not could_match(topic, float(est) + EPSILON, text, index.katakana, margin):
            out.append(Match(topic.text, article, False, float(est), False, judged=False))
            continue
        out.append(judge(index, topic, article, pids, options, margin, text, quote))
    return out


def article_text(index: Index, pids: Sequence[int]) -> str:
    """An article's title, headings and passages, normalized: where its words are looked for."""
    hits = [index.hit(p, 0.0) for p in pids]
    # Headings too: the judge's evidence holds them (a heading may be all that names it).
    return normalize("\n".join(f"{h.title}\n{h.section}\n{h.text}" for h in hits))


def could_match(topic: Topic, bound: float, text: str, katakana, margin: float) -> bool:
    """decide's conditions that the margin's upper bound and the whole article can settle."""
    if topic.query.lang == "en" and language(text) == "ja":
        return bound >= EN_MARGIN + margin and _english_present(topic, text, katakana)
    if bound < margin or any(c not in text for c in _SINGLE.findall(topic.query.normal)):
        return False
    missing = missing_terms(subject_terms(topic.query.normal), text)
    if not missing:
        return True
    return bound >= PARAPHRASE + margin and not any(is_name(t) for t in missing)


def _english_present(topic: Topic, text: str, katakana) -> bool:
    """Each specific word of an English topic in one of its Japanese spellings (and one at all)."""
    terms = crosslingual.terms_in(topic.query.text, katakana)
    specific = [js for _, _, js in terms if 0 < len(js) <= SPECIFIC]
    return bool(specific) and all(any(normalize(j) in text for j in js) for js in specific)


def judge(
    index: Index,
    topic: Topic,
    article: str,
    pids: Sequence[int],
    options: IndexOptions,
    margin: float = MATCH_MARGIN,
    text: str | None = None,
    quote: bool = True,
) -> Match:
    """The answer step's verdict on the topic over this article's passages alone, then decide.

    quote: compose the sentences an alert quotes (a fifth of the cost; only a delivery needs it).
    """
    ranked = restricted(index, topic, pids, options)
    # The verdict reads the first evidence_passages hits only: gathering the top_k's sentences
    # would cost more and change nothing.
    e = weigh(index, topic.query, topic.vector, ranked, options.evidence_passages, options)
    if e is None:
        return Match(topic.text, article, False, -1.0, False)
    v = e.verdict
    text = article_text(index, pids) if text is None else text
    matched = decide(topic, v, text, index.katakana, margin)
    quotes: tuple[str, ...] = ()
    if matched and quote:
        said = compose(
            topic.text,
            e.hits,
            e.candidates,
            e.weights,
            QUOTED,
            extra_hit=index.hit,
            asked=e.asked,
            lang=topic.query.lang,
        )
        quotes = said.sentences
    return Match(topic.text, article, matched, v.margin, v.covered, v.lexical, v.missing, quotes)


def decide(topic: Topic, v: Verdict, text: str, katakana, margin: float = MATCH_MARGIN) -> bool:
    """Whether the verdict and the article's words (normalized) say it is about the topic.

    Stricter than answering: an alert nobody asked for costs more than a refusal.
    """
    if topic.query.lang == "en" and language(text) == "ja":
        # Names the glossary lacks are checked by the judge (by their sound): v.missing.
        present = _english_present(topic, text, katakana)
        return present and not v.missing and v.margin >= EN_MARGIN + margin
    if not v.covered:
        return False
    # One-kanji words (梅, 米) are no subject terms of the judge's; a topic names them on purpose.
    singles = _SINGLE.findall(topic.query.normal)
    if any(c not in text for c in singles):
        return False
    if not v.missing:
        return v.margin >= margin
    names = [t for t in v.missing if is_name(t)]
    return not names and v.margin >= PARAPHRASE + margin


def restricted(index: Index, topic: Topic, pids: Sequence[int], options: IndexOptions) -> Ranked:
    """The ranking the bot would give, over one article's passages: dense + BM25 fused."""
    ids = np.asarray(pids, dtype=np.int64)
    d = (np.asarray(index.vectors[ids], dtype=np.float32) @ topic.vector).astype(np.float32)
    lex = np.asarray(index.lexical.scores(topic.query.lexical(index.katakana)))[ids]
    d_n = (d - d.min()) / max(float(d.max() - d.min()), 1e-6)
    l_n = lex / max(float(lex.max()), 1e-6)
    w = options.dense_weight
    fused = (w * d_n + (1 - w) * l_n).astype(np.float32)
    order = np.argsort(-fused, kind="stable")
    ids, fused, d = ids[order], fused[order], d[order]
    # One passage per section, as Index.rank keeps.
    _, first = np.unique(np.asarray(index.passage_section[ids]), return_index=True)
    keep = np.sort(first)
    return Ranked(ids[keep], fused[keep], d[keep])
