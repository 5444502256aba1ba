"""/report's reply: the usage figures in plain Japanese, one embed with the chart under it."""

from __future__ import annotations

import discord

from index.usage import UsageReport

from .format import _BARE_LINK, _UNSEEN, COLOR, DESCRIPTION, FIELD_VALUE, clip

CHART = "report.png"
SHOWN = 5  # groups, answers and articles listed per field
QUOTE = 60  # characters of a question or title shown
REASONS = {
    "other_news": "記事にない話題",
    "off_topic": "ニュース以外",
    "no_subject": "続きの前提がない",
}


def quote(text: str, limit: int = QUOTE) -> str:
    """A user's words as safe embed text: one line, Markdown and mentions shown as written."""
    one = " ".join(_UNSEEN.sub("", " ".join(text.split())).split())
    one = discord.utils.escape_mentions(discord.utils.escape_markdown(clip(one, limit)))
    return _BARE_LINK.sub(r"<\1>", one)


def report_embed(report: UsageReport, add_command: str = "/記事追加（/add）") -> discord.Embed:
    """The figures an admin acts on: unanswered questions grouped, with the terms to cover."""
    since, until = _md(report.since), _md(report.until)
    embed = discord.Embed(title=f"利用レポート（{since}〜{until}、UTC）", colour=COLOR)
    embed.description = clip(_summary(report), DESCRIPTION)
    if report.groups:
        lines = [_group_line(g) for g in report.groups[:SHOWN]]
        lines.append(f"キーワードの記事を {add_command} で追加すると答えられます。")
        embed.add_field(name="答えられなかった質問（多い順）", value=_lines(lines), inline=False)
    if report.downvoted:
        lines = [
            f"👎{d['down']} 👍{d['up']}「{quote(d['question'])}」" for d in report.downvoted[:SHOWN]
        ]
        embed.add_field(name="👎 がついた回答", value=_lines(lines), inline=False)
    if report.cited:
        lines = [f"{n}回 {quote(title or article)}" for article, title, n in report.cited[:SHOWN]]
        embed.add_field(name="よく引用された記事", value=_lines(lines), inline=False)
    embed.set_image(url=f"attachment://{CHART}")
    return embed


def _summary(report: UsageReport) -> str:
    if not report.questions:
        return "この期間の質問はありません。"
    share = report.answered_share or 0.0
    lines = [
        f"質問 **{report.questions}件**・回答 **{share:.0%}**・利用者 {report.users}人",
    ]
    if report.latency_p50_ms is not None:
        p50, p95 = report.latency_p50_ms / 1000, (report.latency_p95_ms or 0) / 1000
        lines.append(f"回答までの時間: 中央値 {p50:.1f}秒・95% {p95:.1f}秒")
    if report.reasons:
        why = "・".join(f"{REASONS.get(r, r)} {n}件" for r, n in report.reasons.items())
        lines.append(f"答えなかった理由: {why}")
    return "\n".join(lines)


def _group_line(group) -> str:
    others = group.wordings - 1
    head = f"**{group.count}件**（{group.users}人）「{quote(group.questions[0], 40)}」"
    if others:
        head += f" ほか{others}通り"
    terms = "".join(f"「{quote(t, 20)}」" for t in group.key_terms)
    return head + (f"\n　→ キーワード {terms}" if terms else "")


def _lines(lines: list[str]) -> str:
    """As many whole lines as fit one field."""
    out, size = [], 0
    for line in lines:
        if size + len(line) + 1 > FIELD_VALUE:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) or "—"


def _md(day: str) -> str:
    return f"{int(day[5:7])}/{int(day[8:10])}"
