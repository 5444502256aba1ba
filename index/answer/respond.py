"""One question's answer from its ranking: evidence gathered, coverage judged, answer composed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..corpus.text import language
from ..options import IndexOptions
from ..retrieval.query import Query
from ..retrieval.ranker import Index, Ranked
from ..types import Answer, Hit
from . import judge
from .compose import Asked, Candidate, compose, lead_form, no_answer, quote_form
from .evidence import asked_of, gather


@dataclass(frozen=True)
class Evidence:
    """What the answer step decides from: the top hits, their sentences and the verdict."""

    hits: list[Hit]
    candidates: list[Candidate]
    weights: dict[str, float]  # idf of the searched text's 1-2 grams
    asked: Asked
    verdict: judge.Verdict


def weigh(
    index: Index, query: Query, qvec: np.ndarray, r: Ranked, k: int, options: IndexOptions
) -> Evidence | None:
    """The evidence of the top k ranked passages; None when nothing was ranked."""
    if not len(r.ids):
        return None
    ids = [int(i) for i in r.ids[:k]]
    hits = [index.hit(i, s) for i, s in zip(ids, r.fused[:k])]
    candidates = gather(index, ids, qvec)
    weights = index.lexical.term_weights(query.searched_normal)
    verdict = judge.verdict(index, query, qvec, ids, candidates, options, weights)
    own = index.lexical.term_weights(query.normal) if query.follow_up else weights
    crossing = query.lang == "en" and language(index.text(ids[0])) == "ja"
    asked = asked_of(query, own, index.lexical, crossing)
    return Evidence(hits, candidates, weights, asked, verdict)


def answer(
    index: Index,
    query: Query,
    qvec: np.ndarray,
    r: Ranked,
    k: int,
    options: IndexOptions,
    filtered: bool = False,
) -> Answer:
    """Judge whether the ranked passages answer the question, then compose the answer.

    filtered: the ranking was narrowed by the asker's filters (the refusal says so).
    """
    e = weigh(index, query, qvec, r, k, options)
    if e is None:
        return no_answer(query.text, lang=query.lang, filtered=filtered)
    if not e.verdict.covered:
        # Nearby coverage helps only when the question is close in meaning but about something
        # else (ガザの停戦交渉 next to 米ロの停戦交渉), not when it is far from all of it (weather).
        near = e.verdict.missing and e.verdict.margin > 0
        nearby = tuple(dict.fromkeys(h.title for h in e.hits[:3])) if near else ()
        return no_answer(query.text, nearby, e.verdict.missing, lang=query.lang, filtered=filtered)
    # Asked for more (他には?): what the previous answer quoted is left out, if more is there.
    seen = set(query.seen)
    fresh = [
        c for c in e.candidates if lead_form(c.text) not in seen and quote_form(c.text) not in seen
    ]
    return compose(
        query.text,
        e.hits,
        fresh or e.candidates,
        e.weights,
        options.answer_sentences,
        extra_hit=index.hit,
        asked=e.asked,
        lang=query.lang,
        said=query.said,
    )
