"""The admins' report: questions per day, what went unanswered (grouped), votes, citations."""

from __future__ import annotations

import datetime as dt
import logging
import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..corpus.text import char_ngrams, normalize
from ..errors import UsageStoreError
from ..retrieval.terms import subject_terms
from .store import DB_NAME, utc

log = logging.getLogger(__name__)

# Two unanswered questions are near-duplicates at this similarity (see similarity()).
SAME_GROUP = 0.5
KEY_TERMS = 4
LIMIT = 10


@dataclass
class Group:
    """Unanswered questions that ask the same thing, and the words to look for coverage of."""

    count: int
    users: int
    questions: list[str]  # distinct wordings, most asked first
    key_terms: list[str]
    reasons: dict[str, int] = field(default_factory=dict)
    wordings: int = 1  # distinct wordings in the group (questions shows the first three)


@dataclass
class UsageReport:
    """Every figure of one report, for the CLI's text and JSON, the /report reply and the chart."""

    since: str
    until: str
    questions: int = 0
    answered: int = 0
    users: int = 0
    follow_ups: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    days: list[tuple[str, int, int]] = field(default_factory=list)  # (date, asked, answered)
    groups: list[Group] = field(default_factory=list)
    downvoted: list[dict] = field(default_factory=list)  # question, answer, down, up
    cited: list[tuple[str, str, int]] = field(default_factory=list)  # article, title, times
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["answered_share"] = self.answered_share
        d["days"] = [{"date": a, "asked": b, "answered": c} for a, b, c in self.days]
        d["cited"] = [{"article": a, "title": t, "times": n} for a, t, n in self.cited]
        return d


def build_report(
    data_dir: Path | str, since: dt.date, until: dt.date | None = None, limit: int = LIMIT
) -> UsageReport:
    """Read the report's figures for the days since..until (UTC, both included)."""
    until = until or dt.datetime.now(dt.UTC).date()
    report = UsageReport(since.isoformat(), until.isoformat())
    path = Path(data_dir) / DB_NAME
    if not path.exists():
        report.days = _fill_days({}, since, until)
        return report
    start = utc(dt.datetime.combine(since, dt.time(), dt.UTC))
    end = utc(dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC))
    try:
        # Read-only: the report never takes the writer's lock (WAL lets both run at once).
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            _read(conn, report, (start, end), since, until, limit)
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise UsageStoreError(f"cannot read the usage database {path}: {e}") from None
    return report


def _read(conn, report: UsageReport, window, since, until, limit: int) -> None:
    where = "FROM questions WHERE asked_at >= ? AND asked_at < ?"
    q, a, u, f = conn.execute(
        f"SELECT count(*), coalesce(sum(answered), 0), count(DISTINCT user_hash), "
        f"coalesce(sum(follow_up), 0) {where}",
        window,
    ).fetchone()
    report.questions, report.answered, report.users, report.follow_ups = q, a, u, f
    rows = conn.execute(f"SELECT reason, count(*) {where} AND NOT answered GROUP BY 1", window)
    report.reasons = {r or "unknown": n for r, n in rows}
    rows = conn.execute(
        f"SELECT substr(asked_at, 1, 10), count(*), sum(answered) {where} GROUP BY 1", window
    )
    report.days = _fill_days({d: (n, k) for d, n, k in rows}, since, until)
    rows = conn.execute(f"SELECT text, user_hash, reason {where} AND NOT answered", window)
    report.groups = group_questions(rows.fetchall())[:limit]
    report.downvoted = [
        {"question": t, "answer": ans, "down": down, "up": up}
        for t, ans, down, up in conn.execute(
            # The same answer to the same question, given many times, is one line.
            "SELECT q.text, q.answer, sum(v.vote < 0), sum(v.vote > 0) FROM votes v "
            "JOIN questions q USING (answer_id) WHERE q.asked_at >= ? AND q.asked_at < ? "
            "GROUP BY q.text, q.answer HAVING sum(v.vote < 0) > 0 "
            "ORDER BY 3 DESC, 4, max(q.asked_at) DESC LIMIT ?",
            (*window, limit),
        )
    ]
    report.cited = conn.execute(
        "SELECT c.article, max(c.title), count(DISTINCT c.question_id) FROM citations c "
        "JOIN questions q ON q.id = c.question_id WHERE q.asked_at >= ? AND q.asked_at < ? "
        "GROUP BY c.article ORDER BY 3 DESC, 1 LIMIT ?",
        (*window, limit),
    ).fetchall()
    times = sorted(
        t for (t,) in conn.execute(f"SELECT latency_ms {where}", window) if t is not None
    )
    report.latency_p50_ms = percentile(times, 50)
    report.latency_p95_ms = percentile(times, 95)


def _fill_days(counts: dict, since: dt.date, until: dt.date) -> list[tuple[str, int, int]]:
    """One entry per day, days without questions included (the chart shows gaps as zero)."""
    days = []
    day = since
    while day <= until:
        asked, answered = counts.get(day.isoformat(), (0, 0))
        days.append((day.isoformat(), asked, answered or 0))
        day += dt.timedelta(days=1)
    return days


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


class _Question:
    """One distinct wording: its normalized text, subject terms and bigrams."""

    def __init__(self, text: str):
        self.text = text
        self.norm = normalize(text)
        self.terms = [normalize(t) for t in subject_terms(text)]
        self.bigrams = {g for g in char_ngrams(text) if len(g) == 2}


def similarity(a: _Question, b: _Question) -> float:
    """How nearly two questions ask the same thing, 0 to 1.

    The larger of: the share of the two questions' subject terms (ガザ, 停戦) found in the other's
    text, which lets 「ガザ停戦の最新情報」 meet 「ガザの停戦は?」; and the Dice overlap of their
    character bigrams, for questions without such terms.
    """
    if a.norm == b.norm:
        return 1.0
    terms = 0.0
    if a.terms and b.terms:
        found = sum(t in b.norm for t in a.terms) + sum(t in a.norm for t in b.terms)
        terms = found / (len(a.terms) + len(b.terms))
    shared = len(a.bigrams & b.bigrams)
    dice = 2 * shared / (len(a.bigrams) + len(b.bigrams)) if a.bigrams or b.bigrams else 0.0
    return max(terms, dice)


def group_questions(rows: Sequence[tuple[str, str | None, str | None]]) -> list[Group]:
    """(text, user hash, reason) rows → groups of near-duplicates, the most asked first."""
    asked: Counter[str] = Counter()
    users: dict[str, set] = {}
    reasons: dict[str, Counter] = {}
    for text, user, reason in rows:
        asked[text] += 1
        users.setdefault(text, set()).add(user)
        reasons.setdefault(text, Counter())[reason or "unknown"] += 1
    seeds: list[tuple[_Question, list[_Question]]] = []
    # The most asked wording seeds its group; each other joins the seed it is nearest to.
    for text, _ in sorted(asked.items(), key=lambda kv: (-kv[1], kv[0])):
        q = _Question(text)
        best = max(seeds, key=lambda s: similarity(q, s[0]), default=None)
        if best is not None and similarity(q, best[0]) >= SAME_GROUP:
            best[1].append(q)
        else:
            seeds.append((q, [q]))
    groups = []
    for _, members in seeds:
        texts = [m.text for m in members]
        reason = sum((reasons[t] for t in texts), Counter())
        groups.append(
            Group(
                count=sum(asked[t] for t in texts),
                users=len(set().union(*(users[t] for t in texts)) - {None}),
                questions=texts[:3],
                key_terms=key_terms(members, asked),
                reasons=dict(reason.most_common()),
                wordings=len(texts),
            )
        )
    groups.sort(key=lambda g: (-g.count, g.questions[0]))
    return groups


def key_terms(members: Sequence[_Question], asked: Counter[str]) -> list[str]:
    """The subject terms most of a group's questions hold: what coverage to add."""
    total = sum(asked[m.text] for m in members)
    counts: Counter[str] = Counter()
    for term in {t for m in members for t in m.terms}:
        counts[term] = sum(asked[m.text] for m in members if term in m.norm)
    common = [t for t, n in counts.items() if 2 * n >= total]
    common.sort(key=lambda t: (-counts[t], -len(t), t))
    return common[:KEY_TERMS]
