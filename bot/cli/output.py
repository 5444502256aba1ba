"""What the command line prints: answers, build reports and added pages as plain text."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from index import Answer, BuildReport
from index.redact import mask

if TYPE_CHECKING:
    from index.usage import UsageReport


def one_line(error: BaseException) -> str:
    """The error on one line, connection strings' passwords masked."""
    return mask(" ".join(str(error).split())) or type(error).__name__


def format_answer(answer: Answer) -> str:
    """Readable text: the answer, its numbered sources, then the passages.

    Sources are numbered in citation order, as in Discord: the answer reads [1] first even
    when its lead comes from a passage shown after the ranked ones; the uncited follow in rank.
    """
    if answer.no_answer:
        return f"Q: {printable(answer.question)}\n\n{answer.text}\n"
    count = len(answer.hits)
    order = list(dict.fromkeys(n for n in answer.citations if 1 <= n <= count))
    order += [n for n in range(1, count + 1) if n not in order]
    number = {old: new for new, old in enumerate(order, 1)}
    pieces = zip(answer.sentences, answer.citations)
    text = " ".join(f"{s}[{number.get(n, n)}]" for s, n in pieces) or answer.text
    if answer.subject and answer.sentences:
        text = f"【{printable(answer.subject)}】{text}"
    hits = [answer.hits[n - 1] for n in order]
    lines = [f"Q: {printable(answer.question)}", "", text, ""]
    for n, h in enumerate(hits, 1):
        where = " / ".join(x for x in (h.title, h.section) if x)
        meta = " ".join(x for x in (h.outlet, h.published) if x)
        lines.append(f"[{n}] {where}" + (f" ({meta})" if meta else ""))
        for url in h.sources:
            lines.append(f"    {url}")
    lines.append("")
    for n, h in enumerate(hits, 1):
        lines.append(f"--- [{n}] score {h.score:.3f} · {h.article}")
        lines.append(h.text)
    return "\n".join(lines) + "\n"


def printable(text: str) -> str:
    """Text with control characters shown as escapes: a question must not drive the terminal."""
    return "".join(
        c if c == "\n" or unicodedata.category(c) != "Cc" else ascii(c)[1:-1] for c in text
    )


def format_report(report: BuildReport) -> str:
    """What changed, in a few lines (also used by the bot's /reindex summary)."""
    lines = []
    for label, names in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for name in names:
            lines.append(f"{label}: {name}")
    for name, reason in report.skipped:
        lines.append(f"skipped: {name}: {reason}")
    lines.append(
        f"{report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded, {report.unchanged} articles unchanged)"
        f" in {report.seconds:.1f}s"
    )
    return "\n".join(lines)


def format_added(added) -> str:
    """One line per URL: what happened, the file, and what was extracted."""
    a = added.article
    if a is None:
        return printable(f"{added.status}: {added.url}")
    date = a.published or "no date"
    # Titles and URLs come from the page: a control character must not drive the terminal.
    return printable(
        f"{added.status}: {added.file}: {a.title} ({a.outlet}, {date}, "
        f"{a.sections} sections) {a.url}"
    )


def format_usage(report: UsageReport) -> str:
    """`newsbot report` as text: the totals, then what to act on, then the days."""
    share = report.answered_share
    lines = [
        f"use data {report.since} .. {report.until} (UTC)",
        f"questions: {report.questions}, answered: "
        f"{'-' if share is None else f'{share:.0%}'} ({report.answered}), "
        f"users: {report.users}, follow-ups: {report.follow_ups}",
    ]
    if report.latency_p50_ms is not None:
        lines.append(
            f"answer time: p50 {report.latency_p50_ms:.0f} ms, p95 {report.latency_p95_ms:.0f} ms"
        )
    if report.reasons:
        lines.append("not answered: " + ", ".join(f"{r} {n}" for r, n in report.reasons.items()))
    if report.groups:
        lines.append("unanswered, most asked first (key terms: coverage to add):")
    for g in report.groups:
        more = f" (+{g.wordings - 1} wordings)" if g.wordings > 1 else ""
        terms = f"  key terms: {', '.join(g.key_terms)}" if g.key_terms else ""
        lines.append(f"  {g.count} ({g.users} users) {printable(g.questions[0])}{more}{terms}")
    if report.downvoted:
        lines.append("voted down:")
    for d in report.downvoted:
        answer = printable(" ".join(d["answer"].split()))[:80]
        lines.append(f"  down {d['down']} up {d['up']}: {printable(d['question'])} -> {answer}")
    if report.cited:
        lines.append("most cited articles:")
    lines += [f"  {n} {printable(title)} ({article})" for article, title, n in report.cited]
    lines.append("per day: date asked answered")
    lines += [f"  {day} {asked} {answered}" for day, asked, answered in report.days]
    return "\n".join(lines)


def format_topics(topics, total: int, offset: int = 0) -> str:
    """The articles, newest first: date, outlet and title, then the sections indented."""
    lines = []
    for n, t in enumerate(topics, offset + 1):
        meta = " · ".join(x for x in (t.published, t.outlet) if x)
        lines.append(f"{n}. {printable(t.title)}" + (f" ({printable(meta)})" if meta else ""))
        lines.extend(f"   - {printable(s)}" for s in t.sections)
    lines.append(f"{total} article" + ("" if total == 1 else "s"))
    return "\n".join(lines)


def format_sync(report) -> str:
    """What `newsbot index` copied into the database's shared articles."""
    lines = [
        f"synced {report.origin}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged"
    ]
    lines += [f"  removed from the database: {printable(f)}" for f in report.removed]
    lines += [f"  not copied: {printable(s.file)}: {printable(s.reason)}" for s in report.skipped]
    return "\n".join(lines)
