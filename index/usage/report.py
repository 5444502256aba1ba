"""The admins' report: questions per day, what went unanswered (grouped), votes, citations."""

from __future__ import annotations

import datetime as dt
import logging
import math
import sqlite3
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import UsageStoreError
from .grouping import Group, group_questions
from .store import DB_NAME, utc

log = logging.getLogger(__name__)

LIMIT = 10
TIMEZONE = "Asia/Tokyo"


@dataclass(frozen=True)
class Scope:
    """Whose questions a report covers: one server's, the DMs, or all (the operator's)."""

    guild_hash: str | None = None  # one server (its keyed hash)
    dms: bool = False  # DMs, and old rows whose place is unknown (an owner's report in a DM)

    def where(self) -> tuple[str, tuple]:
        """The SQL condition on `questions q`, and its arguments."""
        if self.guild_hash is not None:
            return "q.guild_hash = ? AND q.is_dm = 0", (self.guild_hash,)
        if self.dms:
            return "(q.is_dm = 1 OR q.is_dm IS NULL)", ()
        return "1", ()


EVERYTHING = Scope()


@dataclass
class UsageReport:
    """Every figure of one report, for the CLI's text and JSON, the /report reply and the chart."""

    since: str
    until: str
    timezone: str = TIMEZONE  # the days are this zone's
    questions: int = 0
    answered: int = 0
    users: int = 0
    follow_ups: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    days: list[tuple[str, int, int]] = field(default_factory=list)  # (date, asked, answered)
    groups: list[Group] = field(default_factory=list)
    more_groups: int = 0  # groups beyond those listed
    no_subject: int = 0  # unanswered questions without a subject (なぜ?): not coverage to add
    downvoted: list[dict] = field(default_factory=list)  # question, answer, down, up
    cited: list[tuple[str, str, int]] = field(default_factory=list)  # article, title, times
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    previous: tuple[int, int] | None = None  # (asked, answered) in the period just before

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["answered_share"] = self.answered_share
        d["days"] = [{"date": a, "asked": b, "answered": c} for a, b, c in self.days]
        d["cited"] = [{"article": a, "title": t, "times": n} for a, t, n in self.cited]
        if self.previous is not None:
            d["previous"] = {"asked": self.previous[0], "answered": self.previous[1]}
        return d


def build_report(
    data_dir: Path | str,
    since: dt.date,
    until: dt.date | None = None,
    limit: int = LIMIT,
    *,
    scope: Scope = EVERYTHING,
    timezone: str = TIMEZONE,
    encode=None,
) -> UsageReport:
    """Read the report's figures for the days since..until (in `timezone`, both included).

    `encode` (texts -> unit vectors, the bot's own encoder) groups unanswered questions by
    meaning, across languages; without it they are grouped by their words.
    """
    zone = zoneinfo.ZoneInfo(timezone)
    until = until or dt.datetime.now(zone).date()
    report = UsageReport(since.isoformat(), until.isoformat(), timezone)
    path = Path(data_dir) / DB_NAME
    if not path.exists():
        report.days = _fill_days({}, since, until)
        return report
    try:
        # Read-only: the report never takes the writer's lock (WAL lets both run at once).
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            _read(conn, report, Window(since, until, zone, scope), limit, encode)
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise UsageStoreError(f"cannot read the usage database {path}: {e}") from None
    return report


@dataclass(frozen=True)
class Window:
    """The days a report covers, in its time zone, and whose questions."""

    since: dt.date
    until: dt.date
    zone: dt.tzinfo
    scope: Scope

    def bounds(self, shift_days: int = 0) -> tuple[str, str]:
        """The UTC text bounds of the days (shifted back by `shift_days` for the previous one)."""
        first = self.since - dt.timedelta(days=shift_days)
        last = self.until - dt.timedelta(days=shift_days) + dt.timedelta(days=1)
        return (
            utc(dt.datetime.combine(first, dt.time(), self.zone)),
            utc(dt.datetime.combine(last, dt.time(), self.zone)),
        )

    def where(self, shift_days: int = 0) -> tuple[str, tuple]:
        cond, args = self.scope.where()
        return f"q.asked_at >= ? AND q.asked_at < ? AND {cond}", (*self.bounds(shift_days), *args)


def _read(conn, report: UsageReport, window: Window, limit: int, encode) -> None:
    where, args = window.where()
    frm = f"FROM questions q WHERE {where}"
    q, a, u, f = conn.execute(
        f"SELECT count(*), coalesce(sum(answered), 0), count(DISTINCT user_hash), "
        f"coalesce(sum(follow_up), 0) {frm}",
        args,
    ).fetchone()
    report.questions, report.answered, report.users, report.follow_ups = q, a, u, f
    length = (window.until - window.since).days + 1
    prev_where, prev_args = window.where(length)
    report.previous = tuple(
        conn.execute(
            f"SELECT count(*), coalesce(sum(answered), 0) FROM questions q WHERE {prev_where}",
            prev_args,
        ).fetchone()
    )
    rows = conn.execute(f"SELECT reason, count(*) {frm} AND NOT answered GROUP BY 1", args)
    report.reasons = {r or "unknown": n for r, n in rows}
    per_day: Counter = Counter()
    for asked_at, answered in conn.execute(f"SELECT asked_at, answered {frm}", args):
        day = dt.datetime.fromisoformat(asked_at).astimezone(window.zone).date().isoformat()
        per_day[day, 0] += 1
        per_day[day, 1] += answered
    counts = {d: (n, per_day[d, 1]) for (d, k), n in per_day.items() if k == 0}
    report.days = _fill_days(counts, window.since, window.until)
    rows = conn.execute(f"SELECT text, user_hash, reason {frm} AND NOT answered", args)
    groups, report.no_subject = group_questions(rows.fetchall(), encode)
    report.groups, report.more_groups = groups[:limit], max(0, len(groups) - limit)
    _read_votes_and_citations(conn, report, frm, args, limit)
    times = sorted(t for (t,) in conn.execute(f"SELECT latency_ms {frm}", args) if t is not None)
    report.latency_p50_ms = percentile(times, 50)
    report.latency_p95_ms = percentile(times, 95)


def _read_votes_and_citations(conn, report: UsageReport, frm: str, args, limit: int) -> None:
    ids = f"SELECT q.id {frm}"
    report.downvoted = [
        {"question": t, "answer": ans, "down": down, "up": up}
        for t, ans, down, up in conn.execute(
            # The same answer to the same question, given many times, is one line.
            "SELECT q.text, q.answer, sum(v.vote < 0), sum(v.vote > 0) FROM votes v "
            f"JOIN questions q USING (answer_id) WHERE q.id IN ({ids}) "
            "GROUP BY q.text, q.answer HAVING sum(v.vote < 0) > 0 "
            "ORDER BY 3 DESC, 4, max(q.asked_at) DESC LIMIT ?",
            (*args, limit),
        )
    ]
    report.cited = conn.execute(
        "SELECT c.article, max(c.title), count(DISTINCT c.question_id) FROM citations c "
        f"WHERE c.question_id IN ({ids}) GROUP BY c.article ORDER BY 3 DESC, 1 LIMIT ?",
        (*args, limit),
    ).fetchall()


def rows_for_csv(
    data_dir: Path | str,
    since: dt.date,
    until: dt.date,
    *,
    scope=EVERYTHING,
    timezone: str = TIMEZONE,
) -> tuple[list[str], list[tuple]]:
    """The rows a report covers, for `newsbot report --csv` (hashes, never ids)."""
    window = Window(since, until, zoneinfo.ZoneInfo(timezone), scope)
    where, args = window.where()
    columns = [
        "asked_at",
        "text",
        "place",
        "answered",
        "reason",
        "follow_up",
        "latency_ms",
        "user_hash",
        "guild_hash",
        "place_hash",
        "is_dm",
        "answer",
    ]
    path = Path(data_dir) / DB_NAME
    if not path.exists():
        return columns, []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute(
                f"SELECT {', '.join(columns)} FROM questions q WHERE {where} ORDER BY asked_at",
                args,
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise UsageStoreError(f"cannot read the usage database {path}: {e}") from None
    return columns, rows


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
