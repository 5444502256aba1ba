"""Unanswered questions grouped by what they ask: by meaning (the bot's encoder, across
languages) and by their words, comparing each question only with its nearest neighbours."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..conversation import follow_up
from ..corpus.text import char_ngrams, normalize
from ..errors import QuestionError
from ..options import IndexOptions
from ..retrieval.query import Query
from ..retrieval.terms import subject_terms

log = logging.getLogger(__name__)

# Two questions ask the same thing at this word similarity (see similarity()) ...
SAME_WORDS = 0.5
# ... or when their vectors are this near and their lead subjects are the same thing: the
# question's cosine alone cannot tell ガザの停戦は?/Gaza ceasefire? (.84) from
# ガザの停戦は?/ウクライナの停戦は? (.88); the lead term's can (ガザ/gaza .94, ガザ/ウクライナ .84).
SAME_MEANING = 0.8
SAME_LEAD = 0.905  # 石破首相/高市首相 .900 apart; プーチン/putin .907, 日銀/日本銀行 .94 alike
NEIGHBOURS = 8  # nearest questions by meaning compared with each question
EXACT_MAX = 2048  # up to this many questions, neighbours are found exactly
PROBE = 6  # cells searched per question beyond that
# A subject term shared by many questions links each to its first (most asked) BLOCK holders;
# a bigram links only when it is rare (shared by at most RARE): common ones (教え, ついて) would
# make every question every other's neighbour.
BLOCK = 8
RARE = 6
KEY_TERMS = 4
BARE_MAX = 40  # characters; bare follow-ups are short (それについてもっと詳しく教えてください: 19)
_OPTIONS = IndexOptions()

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Group:
    """Unanswered questions that ask the same thing, and the words to look for coverage of."""

    count: int
    users: int
    questions: list[str]  # distinct wordings, most asked first
    key_terms: list[str]
    reasons: dict[str, int] = field(default_factory=dict)
    wordings: int = 1  # distinct wordings in the group (questions shows the first three)


class _Question:
    """One distinct wording: its normalized text, subject terms and bigrams."""

    def __init__(self, text: str):
        self.text = text
        self.norm = normalize(text)
        self.terms = [normalize(t) for t in subject_terms(text)]
        self.bigrams = {g for g in char_ngrams(text) if len(g) == 2}
        self.lead = self.terms[0] if self.terms else ""  # the question's first subject


def similarity(a: _Question, b: _Question) -> float:
    """How nearly two questions ask the same thing in words, 0 to 1.

    The larger of: the share of the two questions' subject terms (ガザ, 停戦) found in the other's
    text, which lets 「ガザ停戦の最新情報」 meet 「ガザの停戦は?」; and the Dice overlap of their
    character bigrams, for questions without such terms.
    """
    if a.norm == b.norm:
        return 1.0
    terms = 0.0
    if a.terms and b.terms:
        found = 0
        for t in a.terms:
            found += t in b.norm
        for t in b.terms:
            found += t in a.norm
        terms = found / (len(a.terms) + len(b.terms))
    size = len(a.bigrams) + len(b.bigrams)
    dice = 2 * len(a.bigrams & b.bigrams) / size if size else 0.0
    return terms if terms > dice else dice


def subjectless(text: str) -> bool:
    """A bare follow-up (なぜ?, 期間は?), by the conversation's own test of a question alone."""
    if len(text) > BARE_MAX:  # a question this long names its subject: skip the full test
        return False
    try:
        query = Query.of(text, _OPTIONS)
    except QuestionError:
        return True  # nothing searchable (a kept-without-text row, a lone symbol)
    return follow_up._bare(query)


def group_questions(
    rows: Sequence[tuple[str, str | None, str | None]], encode: Encode | None = None
) -> tuple[list[Group], int]:
    """(text, user hash, reason) rows → (groups, most asked first; questions without a subject).

    The most asked wording seeds its group; each other joins the group of its most alike earlier
    neighbour, if the group's seed is about the same subject: a chain of alike questions (A like
    B like C) cannot carry a group to another subject.
    """
    asked: Counter[str] = Counter()
    users: dict[str, set] = defaultdict(set)
    reasons: dict[str, Counter] = defaultdict(Counter)
    for text, user, reason in rows:
        asked[text] += 1
        users[text].add(user)
        reasons[text][reason or "unknown"] += 1
    order = sorted(asked, key=lambda t: (-asked[t], t))
    bare = {t for t in order if subjectless(t)}
    order = [t for t in order if t not in bare]
    questions = [_Question(t) for t in order]
    near = _neighbours(questions, encode)
    same_lead = _leads(questions, encode)
    seed_of: list[int] = []
    members: dict[int, list[int]] = {}
    for i, q in enumerate(questions):
        seed_of.append(_join(i, q, questions, near[i], seed_of, same_lead))
        members.setdefault(seed_of[i], []).append(i)
    groups = [_group([questions[i] for i in m], asked, users, reasons) for m in members.values()]
    groups.sort(key=lambda g: (-g.count, g.questions[0]))
    return groups, sum(asked[t] for t in bare)


def _join(i: int, q: _Question, questions, near: dict[int, float], seed_of, same_lead) -> int:
    """The seed of the group question i joins (i itself when none asks the same thing)."""
    best, best_score = i, 0.0
    for j, cosine in near.items():
        if j >= i:  # only earlier (more asked) questions have a group yet
            continue
        other = questions[j]
        words = similarity(q, other)
        # Without a subject on both sides only the words can tell (今日の占いは?).
        both = bool(q.lead and other.lead)
        score = max(words, cosine if both else 0.0)
        if score <= best_score or (words < SAME_WORDS and score < SAME_MEANING):
            continue
        # About the same thing (ガザの停戦 is not ウクライナの停戦), and so is the group's seed:
        # a chain of alike questions cannot carry a group to another subject.
        seed = questions[seed_of[j]]
        if both and not same_lead(q, other):
            continue
        if q.lead and seed.lead and seed is not other and not same_lead(q, seed):
            continue
        best, best_score = seed_of[j], score
    return best


def _group(members: list[_Question], asked, users, reasons) -> Group:
    texts = [m.text for m in members]
    reason = sum((reasons[t] for t in texts), Counter())
    return Group(
        count=sum(asked[t] for t in texts),
        users=len(set().union(*(users[t] for t in texts)) - {None}),
        questions=texts[:3],
        key_terms=key_terms(members, asked),
        reasons=dict(reason.most_common()),
        wordings=len(texts),
    )


def _neighbours(questions: list[_Question], encode: Encode | None) -> list[dict[int, float]]:
    """Per question, the questions worth comparing with it: nearest by meaning (with their
    cosine) and those sharing a subject term or a rare bigram (cosine 0 unless also near)."""
    near: list[dict[int, float]] = [{} for _ in questions]
    if encode is not None and len(questions) > 1:
        for i, row in enumerate(_nearest(encode([q.text for q in questions]))):
            near[i].update(row)
    terms: dict[str, list[int]] = defaultdict(list)
    bigrams: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):  # in order: most asked first
        for term in set(q.terms):
            terms[term].append(i)
        for gram in q.bigrams:
            bigrams[gram].append(i)
    for ids in terms.values():
        for i in ids:
            for j in ids[:BLOCK]:
                near[i].setdefault(j, 0.0)
    for ids in bigrams.values():
        if len(ids) <= RARE:
            for i in ids:
                for j in ids:
                    near[i].setdefault(j, 0.0)
    return near


def _leads(questions: list[_Question], encode: Encode | None):
    """Whether two questions' lead subjects are the same thing: one holds the other (能登 /
    能登半島地震), or their vectors are near (ガザ / Gaza, 日銀 / 日本銀行)."""
    leads = sorted({q.lead for q in questions if q.lead})
    # One question has nothing to be compared with: the model is not even loaded for it.
    vectors = encode(leads) if encode is not None and len(questions) > 1 and leads else None
    row = {t: n for n, t in enumerate(leads)}

    known: dict[tuple[str, str], bool] = {}

    def same(a: _Question, b: _Question) -> bool:
        if not a.lead or not b.lead:
            return False
        if a.lead in b.norm or b.lead in a.norm:
            return True
        if vectors is None:
            return False
        pair = (a.lead, b.lead)
        if pair not in known:
            known[pair] = float(vectors[row[a.lead]] @ vectors[row[b.lead]]) >= SAME_LEAD
        return known[pair]

    return same


def _nearest(vectors: np.ndarray) -> list[dict[int, float]]:
    """Each vector's NEIGHBOURS nearest by cosine: exact (FAISS flat) for a few thousand; beyond,
    an inverted file of about √n cells of which PROBE are searched, so 10,000 questions cost
    about n√n, not n²."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = x.shape
    if n <= EXACT_MAX:
        index = faiss.IndexFlatIP(dim)
    else:
        cells = int(np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10  # rough cells suffice: near questions share one or a neighbour
        index.train(x)
        index.nprobe = PROBE
    index.add(x)
    scores, ids = index.search(x, min(NEIGHBOURS + 1, n))
    return [
        {int(j): float(s) for j, s in zip(id_row, score_row, strict=True) if j >= 0}
        for id_row, score_row in zip(ids, scores, strict=True)
    ]


def key_terms(members: Sequence[_Question], asked: Counter[str]) -> list[str]:
    """The subject terms most of a group's questions hold: what coverage to add."""
    total = sum(asked[m.text] for m in members)
    counts: Counter[str] = Counter()
    for term in {t for m in members for t in m.terms}:
        counts[term] = sum(asked[m.text] for m in members if term in m.norm)
    common = [t for t, n in counts.items() if 2 * n >= total]
    common.sort(key=lambda t: (-counts[t], -len(t), t))
    return common[:KEY_TERMS]
