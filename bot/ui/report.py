"""/reindex progress and summary in plain Japanese; the core's English reasons are translated."""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from index import BuildReport

from .format import CONTENT, clip

# The core's skip reasons (index/corpus/loader.py, in English for the CLI and logs) by pattern.
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^no front matter", "先頭に「---」で囲んだ記事情報（title など）がありません"),
        (r"^front matter is not valid YAML", "記事情報（---の間）の書き方に誤りがあります"),
        (r"^front matter (is nested|must be 'key)", "記事情報（---の間）の書き方に誤りがあります"),
        (r"^front matter has no '(\w+)'", "記事情報に {0} がありません"),
        (r"^front matter '(\w+)' must be", "記事情報の {0} の値が正しくありません"),
        (r"^front matter '(\w+)' is not", "記事情報の {0} の値が正しくありません"),
        (r"^no text after the front matter", "本文がありません"),
        (r"^too large", "ファイルが大きすぎます"),
        (r"^(not valid UTF-8|UTF-16)", "文字コードが UTF-8 ではありません"),
        (r"^binary file", "テキストのファイルではありません"),
        (r"^cannot read folder", "フォルダを読めません"),
        (r"^cannot read file", "ファイルを読めません"),
        (r"^link points outside", "記事フォルダの外を指すリンクです"),
        (r"^link to a folder", "フォルダへのリンクです（リンク先は別に読み込みます）"),
        (r"^broken link", "リンク先がありません"),
        (r"^not a regular file", "通常のファイルではありません"),
    )
)
UNKNOWN_REASON = "読み込めません"


def reason_text(reason: str) -> str:
    """A skip reason in Japanese; one the bot does not know gets a generic 「読み込めません」."""
    for pattern, text in REASONS:
        m = pattern.search(reason)
        if m:
            return text.format(*m.groups())
    return UNKNOWN_REASON


def report_summary(report: BuildReport) -> str:
    """The /reindex summary in plain Japanese, short enough for one message."""
    lines = [
        f"✅ 索引を作り直しました（{report.seconds:.1f}秒）。",
        f"記事 {report.articles}件・段落 {report.passages}件"
        f"（新しく読み込んだ段落 {report.embedded}件）",
    ]
    if not report.changed_anything:
        lines.append("記事の追加・変更・削除はありませんでした。")
    changes = (("追加", report.added), ("変更", report.changed), ("削除", report.removed))
    for label, names in changes:
        if names:
            lines.append(f"{label} {len(names)}件: {_names(names)}")
    if report.skipped:
        lines.append(f"読み込めなかった記事 {len(report.skipped)}件:")
        lines += [f"・{_safe(name)}: {reason_text(why)}" for name, why in report.skipped[:5]]
        if len(report.skipped) > 5:
            lines.append(f"・ほか{len(report.skipped) - 5}件")
    return clip("\n".join(lines), CONTENT)


def progress_text(stage: str, done: int, total: int) -> str:
    what = "段落を読み込み中" if stage == "embed" else "処理中"
    return f"⏳ 索引を作り直しています… {what} {done}/{total}"


def _safe(text: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = "、".join(_safe(n) for n in names[:limit])
    return shown + (f" ほか{len(names) - limit}件" if len(names) > limit else "")
