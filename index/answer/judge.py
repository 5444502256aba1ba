"""Does the coverage answer this question? The one place that decides, and the terms it checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..corpus.text import language, normalize
from ..options import IndexOptions
from ..retrieval.query import Query
from ..retrieval.ranker import Index
from ..retrieval.terms import missing
from .compose import Candidate


@dataclass(frozen=True)
class Verdict:
    """The decision and what it rests on (kept for eval reports and refusals)."""

    covered: bool
    margin: float  # best evidence sentence cosine minus the nearest off-topic anchor's
    lexical: float  # idf-weighted share of the question's bigrams in the top passage
    missing: tuple[str, ...] = ()  # the question's subject terms that no evidence passage holds


def decide(
    margin: float,
    lexical: float,
    names: list[str],
    words: list[str],
    options: IndexOptions,
    crosslingual: bool = False,
    subject: bool = True,
) -> Verdict:
    """Answer when the evidence is about the question's subject and close to it in meaning.

    Args:
        margin: best evidence sentence cosine minus the nearest off-topic anchor's.
        lexical: idf-weighted share of the question's bigrams found in the top passage.
        names: the question's names the evidence passages lack (ガザ, 韓国, Gaza).
        words: its other subject words they lack (支持率, 弾劾).
        options: thresholds (min_margin, min_lexical, name_margin, word_margin,
            crosslingual_margin).
        crosslingual: an English question over Japanese coverage, whose cosines run lower.
        subject: whether the question has subject words at all (else none can be present).
    """
    missing = (*names, *words)
    # Every subject word the question has is in the evidence: it is about this coverage, and
    # a plainly worded question may sit closer to the anchors (リチウムの話ってなに?).
    present = subject and not missing
    floor = options.crosslingual_margin if crosslingual else options.min_margin
    floor -= options.present_bonus if present else 0.0
    # Same genre, other story: the passages never name what the question is about. Only a
    # clearly closer meaning excuses a missing word (a paraphrase: 休戦 for 停戦), and names
    # need more than that.
    if names and margin < options.name_margin:
        return Verdict(False, margin, lexical, missing)
    if words and margin < options.word_margin:
        return Verdict(False, margin, lexical, missing)
    if crosslingual:
        return Verdict(margin >= floor, margin, lexical, missing)
    covered = margin >= floor or lexical >= options.min_lexical
    return Verdict(covered, margin, lexical, missing)


def verdict(
    index: Index,
    query: Query,
    qvec: np.ndarray,
    ids: list[int],
    candidates: list[Candidate],
    options: IndexOptions,
    weights: dict[str, float] | None = None,
) -> Verdict:
    """The 'does the coverage answer?' signals from the top passages, weighed by decide.

    weights: the term weights of the searched text (lexical.term_weights), when the caller has
    them. A follow-up's own subject words must be in the evidence; the ones it stands on found it.
    """
    top = [c for c in candidates if c.hit < options.evidence_passages]
    best = max((c.cosine for c in top), default=-1.0)
    background = float((index.anchors @ qvec).max(initial=-1))
    passages = dict.fromkeys(c.passage for c in top) or dict.fromkeys(ids[:1])
    evidence = normalize(
        "\n".join(
            f"{h.title}\n{h.section}\n{h.text}" for h in (index.hit(p, 0.0) for p in passages)
        )
    )
    # An English question over Japanese coverage is looked for by its words' Japanese terms
    # (retrieval/crosslingual.py); a follow-up's own terms must be there, the ones it stands on
    # found it.
    crossing = query.lang == "en" and language(evidence) == "ja"
    terms = query.own_terms if query.follow_up else query.subject
    names, words = missing(terms, evidence, query.lang, crossing)
    subject = bool(terms)
    if query.follow_up and not terms and index.section_of(ids[0])[0] in query.prefer:
        # なぜ?, what else? after an answer, answered from the story that answer told: the
        # previous turn was judged covered, and this one asks nothing the story could lack.
        return Verdict(True, best - background, 1.0)
    return decide(
        best - background,
        index.coverage(query.searched_normal, ids[0], weights),
        names,
        words,
        options,
        crossing,
        subject,
    )
