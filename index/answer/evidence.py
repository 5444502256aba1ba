"""The evidence for an answer: the ranked passages' quotable sentences, and the question as the
answer step scores them against it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..corpus.text import normalize, sentence_spans
from ..retrieval.query import Query
from ..retrieval.ranker import Index
from ..storage.base import LexicalSide
from .compose import Asked, Candidate, answer_cue, quotable


def gather(index: Index, ids: list[int], qvec: np.ndarray) -> list[Candidate]:
    """Quotable sentences of the ranked passages and of their sections' other passages."""
    out: list[Candidate] = []
    seen: set[int] = set()
    for rank, i in enumerate(ids):
        for p in index.siblings(i):
            if p in seen:
                continue
            seen.add(p)
            text = index.text(p)
            cosines = index.sentence_scores(p, qvec)
            for pos, ((a, b), cos) in enumerate(zip(sentence_spans(text), cosines)):
                sentence = text[a:b]
                if quotable(sentence):
                    out.append(Candidate(rank, p, pos, sentence, float(cos)))
    return out


def asked_of(
    query: Query,
    weights: dict[str, float],
    lexical: LexicalSide | None = None,
    crossing: bool = True,
) -> Asked:
    """The question as the answer step scores sentences against it (lexical: the corpus's;
    weights: the idf of the question's own 1-2 grams; crossing: an English question over
    Japanese evidence, scored by its words' Japanese terms).

    A follow-up is scored by its own words and answer cue (期間は? wants a duration): the
    questions it stands on found its passages, and scoring by them too would only quote the
    previous answer again (dialogues.jsonl: 48 of 55 follow-ups with their key fact by their
    own words, 44 with the earlier questions' words at 0.1 of their weight).
    """
    if query.lang == "en" and not crossing:
        # Over English evidence, by the characters of its content words as a Japanese question
        # is by its own: the words it asks with (what, is, it) say nothing of the answer.
        words = " ".join(t.text for t in query.terms)
        grams = lexical.term_weights(words) if lexical else {}
        return replace(Asked.of(words, grams), cue=answer_cue(query.text))
    if query.lang == "en":
        japanese = normalize(" ".join(j for t in query.terms for j in t.ja))
        idf = lexical.term_weights(japanese) if lexical else None
        return Asked.english(query.text, query.terms, idf)
    return Asked.of(query.text, weights)
