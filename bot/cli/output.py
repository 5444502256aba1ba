"""What the command line prints: answers, build reports and added pages as plain text."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import TYPE_CHECKING

from index import Answer, BuildReport
from index.errors import NewsbotError
from index.ingest import outlet_of
from index.redact import mask

from ..ui.sources import Source, cited_runs, cited_sources
from ..ui.wording import refusal_text

if TYPE_CHECKING:
    from index.usage import UsageReport


def one_line(error: BaseException) -> str:
    """The error on one line, connection strings' passwords masked."""
    return mask(" ".join(str(error).split())) or type(error).__name__


def answer_json(answer: Answer) -> str:
    """One JSON line: the core's fields, a refusal worded as the text output words it."""
    d = answer.to_dict()
    if answer.no_answer:
        d["answer"] = refusal_text(answer)
    return json.dumps(d, ensure_ascii=False)


def failure(error: BaseException) -> str:
    """Why one URL failed, in one line; an unexpected error (a bug) named by its type."""
    if isinstance(error, (NewsbotError, OSError)):
        return one_line(error)
    return f"unexpected error: {type(error).__name__}: {one_line(error)}"


def format_answer(answer: Answer, passages: bool = False) -> str:
    """The answer with its citation numbers, then only the sources it cites; passages on request.

    As in Discord (bot/ui/format.py): sources are numbered in citation order, one per article
    and link, each named by the outlet of its own link, with its section and date; an
    article's title is shown once, before its sources.
    """
    head = f"Q: {printable(answer.question)}"
    if answer.no_answer:
        return f"{head}\n\n{refusal_text(answer)}\n"
    sources, numbers = cited_sources(answer)
    lines = [head, "", _cited_text(answer, numbers), ""]
    article = None
    for s in sources:
        if s.hit.article != article:
            article = s.hit.article
            lines.append(printable(s.hit.title or s.hit.article))
        lines.append(_source_line(s))
    if passages:
        lines += _passage_lines(answer, numbers)
    return "\n".join(lines) + "\n"


def _cited_text(answer: Answer, numbers: dict[int, int]) -> str:
    """The quoted sentences, a run citing one source closed by its number (as in Discord)."""
    pieces = [(printable(s), numbers.get(n)) for s, n in zip(answer.sentences, answer.citations)]
    out = cited_runs(pieces, lambda number: f"[{number}]")
    if not out:
        return printable(answer.text)
    return f"【{printable(answer.subject)}】{out}" if answer.subject else out


def _source_line(source: Source) -> str:
    """[n] outlet of its link · its sections · date, then the link."""
    hit = source.hit
    outlet = outlet_of(source.url, hit.outlet) if source.url else (hit.outlet or "")
    sections = "・".join(dict.fromkeys(h.section for h in source.hits if h.section))
    meta = " · ".join(x for x in (outlet, printable(sections), hit.published or "") if x)
    link = f"\n    {source.url}" if source.url else ""
    return f"[{source.number}] {meta}{link}"


def _passage_lines(answer: Answer, numbers: dict[int, int]) -> list[str]:
    """Every passage found: the cited ones under their source number, then the others."""
    hits = range(1, len(answer.hits) + 1)
    order = sorted(hits, key=lambda n: (n not in numbers, numbers.get(n, n)))
    lines = []
    for n in order:
        h = answer.hits[n - 1]
        label = f"[{numbers[n]}]" if n in numbers else "[-]"
        lines += ["", f"--- {label} score {h.score:.3f} · {h.article} · {printable(h.section)}"]
        lines.append(printable(h.text))
    return lines


def printable(text: str) -> str:
    """Text with control characters and bidi overrides shown as escapes: what a page or a
    question holds must not drive the terminal nor reorder the line it is printed on."""
    return "".join(c if c == "\n" or not _hidden(c) else ascii(c)[1:-1] for c in text)


def _hidden(c: str) -> bool:
    # Cc: ESC, BEL, CR, C1 controls...; the rest: bidi embeddings, overrides and isolates
    # (U+202A-202E, U+2066-2069) and marks that reorder text (Trojan Source).
    return unicodedata.category(c) == "Cc" or c in _BIDI


_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def format_report(report: BuildReport) -> str:
    """What changed, in a few lines (also used by the bot's /reindex summary)."""
    lines = []
    for label, names in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for name in names:
            lines.append(printable(f"{label}: {name}"))
    for s in report.skipped:  # a file's name and text are anyone's
        lines.append(printable(f"skipped: {s.file}: {s.reason}"))
    lines.append(
        f"{report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded, {report.unchanged} articles unchanged)"
        f" in {report.seconds:.1f}s"
    )
    return "\n".join(lines)


def format_added(added) -> str:
    """One line per URL: what happened, the file, and what was extracted."""
    a = added.article
    status = f"would be {added.status}" if added.dry_run else str(added.status)
    if a is None:
        return printable(f"{status}: {added.url}")
    date = a.published or "no date"
    # Titles and URLs come from the page: a control character must not drive the terminal.
    return printable(
        f"{status}: {added.file}: {a.title} ({a.outlet}, {date}, {a.sections} sections) {a.url}"
    )


def format_usage(report: UsageReport) -> str:
    """`newsbot report` as text: the totals, then what to act on, then the days."""
    share = report.answered_share
    lines = [
        f"use data {report.since} .. {report.until} ({report.timezone})",
        f"questions: {report.questions}, answered: "
        f"{'-' if share is None else f'{share:.0%}'} ({report.answered}), "
        f"users: {report.users}, follow-ups: {report.follow_ups}",
    ]
    if report.previous is not None and report.previous[0]:
        asked, answered = report.previous
        lines.append(f"previous period: questions {asked}, answered {answered / asked:.0%}")
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
    if report.more_groups:
        lines.append(f"  and {report.more_groups} more groups")
    if report.no_subject:
        lines.append(f"without a subject (なぜ?, not coverage to add): {report.no_subject}")
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


class EmbeddingBar:
    """A build's progress callback: a progress bar on stderr, from the first passage embedded."""

    def __init__(self):
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="passage", desc="Embedding", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
