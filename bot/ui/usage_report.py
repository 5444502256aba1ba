"""/report's reply: the usage figures in plain Japanese, one embed with the chart under it."""

from __future__ import annotations

import logging
import sqlite3

import discord

from index.errors import UsageStoreError
from index.usage import UsageReport

from .format import _BARE_LINK, _UNSEEN, COLOR, DESCRIPTION, FIELD_VALUE, clip

log = logging.getLogger(__name__)

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
    zone = "日本時間" if report.timezone == "Asia/Tokyo" else report.timezone
    embed = discord.Embed(title=f"利用レポート（{since}〜{until}、{zone}）", colour=COLOR)
    embed.description = clip(_summary(report), DESCRIPTION)
    if report.groups:
        lines = [_group_line(g) for g in report.groups[:SHOWN]]
        more = len(report.groups) - SHOWN + report.more_groups
        if more > 0:
            lines.append(f"ほか{more}グループ")
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
    if report.previous is not None:
        lines.append(_change(report))
    if report.latency_p50_ms is not None:
        p50, p95 = duration(report.latency_p50_ms), duration(report.latency_p95_ms or 0)
        lines.append(f"回答までの時間: 中央値 {p50}・95% {p95}")
    if report.reasons:
        why = "・".join(f"{REASONS.get(r, r)} {n}件" for r, n in report.reasons.items())
        lines.append(f"答えなかった理由: {why}")
    if report.no_subject:
        n = report.no_subject
        lines.append(f"主語のない質問（なぜ? など）: {n}件（記事追加の対象外）")
    return "\n".join(lines)


def duration(ms: float) -> str:
    """Milliseconds below a second (14 ms is not 「0.0秒」), seconds above."""
    return f"{ms:.0f}ミリ秒" if ms < 1000 else f"{ms / 1000:.1f}秒"


def _change(report: UsageReport) -> str:
    """The change against the period of the same length just before."""
    asked, answered = report.previous or (0, 0)
    if not asked:
        return "前の期間: 質問なし"
    diff = report.questions - asked
    share = (report.answered_share or 0) - answered / asked
    return f"前の期間から: 質問 {diff:+d}件・回答率 {share * 100:+.0f}ポイント"


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


FORGET_ASK = (
    "このボットが記録している、あなたの質問と 👍/👎 の評価をすべて削除します。"
    "元に戻せません。よろしいですか？"
)


def forget_done(questions: int, votes: int, unreadable: int = 0) -> str:
    """What /forget-me erased, in counts (and what it could not reach)."""
    if not questions and not votes:
        line = "あなたの質問と評価の記録はありませんでした。"
    else:
        line = f"質問 {questions}件と評価 {votes}件の記録を削除しました。"
    if unreadable:
        line += f"\n（読めない退避ファイルが{unreadable}個あります。管理者に削除を依頼できます。）"
    return line


class ForgetView(discord.ui.View):
    """「削除する」 / 「やめる」 under /forget-me's question: nothing is erased without a click."""

    def __init__(self, user_id: int, erase, timeout: float = 120):
        super().__init__(timeout=timeout)
        self.user_id = user_id
        self.erase = erase  # async () -> Forgotten
        self.done = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.user_id

    @discord.ui.button(label="削除する", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.done = True
        self.stop()
        await interaction.response.defer()
        try:
            done = await self.erase()
        except (sqlite3.Error, UsageStoreError, OSError) as e:  # busy or full: nothing erased
            log.warning("Cannot erase a member's use data now: %s", e)
            content = "今は削除できませんでした。しばらくしてからもう一度お試しください。"
        else:
            content = forget_done(done.questions, done.votes, len(done.unreadable))
        await interaction.edit_original_response(content=content, view=None)

    @discord.ui.button(label="やめる", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="削除しませんでした。", view=None)
