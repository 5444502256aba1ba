"""/reindex progress and its summary in plain Japanese; skipped files worded from their codes."""

from __future__ import annotations

from collections.abc import Sequence

from index import BuildReport, Skipped
from index.errors import Skip

from .escape import escaped as _safe
from .format import CONTENT, clip

# Why an article file was left out (index.errors.Skip), one table per language: every code has
# its words (tests/test_format.py checks), so none falls through to a generic line.
SKIP_REASONS: dict[str, dict[Skip, str]] = {
    "ja": {
        Skip.NO_FRONT_MATTER: "先頭に「---」で囲んだ記事情報（title など）がありません",
        Skip.FRONT_MATTER_SYNTAX: "記事情報（---の間）の書き方に誤りがあります",
        Skip.MISSING_FIELD: "記事情報に {field} がありません",
        Skip.BAD_FIELD: "記事情報の {field} の値が正しくありません",
        Skip.NO_BODY: "本文がありません",
        Skip.TOO_LARGE: "ファイルが大きすぎます",
        Skip.NOT_UTF8: "文字コードが UTF-8 ではありません",
        Skip.BINARY: "テキストのファイルではありません",
        Skip.PLAIN_TEXT: "Markdown ではなくテキストのファイルです（.md にすると読み込みます）",
        Skip.UNREADABLE_FOLDER: "フォルダを読めません",
        Skip.UNREADABLE_FILE: "ファイルを読めません",
        Skip.NOT_REGULAR: "通常のファイルではありません",
        Skip.BROKEN_LINK: "リンク先がありません",
        Skip.LINK_OUTSIDE: "記事フォルダの外を指すリンクです",
        Skip.LINK_TO_FOLDER: "フォルダへのリンクです（リンク先は別に読み込みます）",
        Skip.LINK_TWIN: "別の名前で読み込み済みの記事へのリンクです",
        Skip.CHANGED_WHILE_READ: "読み込み中に書き換えられました（次の再構築で読み込みます）",
        Skip.UNPARSABLE: "読み込めません",
    },
    "en": {
        Skip.NO_FRONT_MATTER: "no front matter (--- title: ... --- at the top)",
        Skip.FRONT_MATTER_SYNTAX: "the front matter (between the ---) is not written right",
        Skip.MISSING_FIELD: "the front matter has no {field}",
        Skip.BAD_FIELD: "the front matter's {field} is not valid",
        Skip.NO_BODY: "no text after the front matter",
        Skip.TOO_LARGE: "the file is too large",
        Skip.NOT_UTF8: "not UTF-8 text",
        Skip.BINARY: "not a text file",
        Skip.PLAIN_TEXT: "plain text, not Markdown (rename it to .md)",
        Skip.UNREADABLE_FOLDER: "the folder cannot be read",
        Skip.UNREADABLE_FILE: "the file cannot be read",
        Skip.NOT_REGULAR: "not a regular file",
        Skip.BROKEN_LINK: "a link to nothing",
        Skip.LINK_OUTSIDE: "a link outside the articles folder",
        Skip.LINK_TO_FOLDER: "a link to a folder (its articles are read on their own)",
        Skip.LINK_TWIN: "a link to an article read under its own name",
        Skip.CHANGED_WHILE_READ: "changed while being read (the next reindex reads it)",
        Skip.UNPARSABLE: "cannot be read",
    },
}


def reason_text(skipped: Skipped, lang: str = "ja") -> str:
    """Why a file was left out, in the reader's language, from its code."""
    table = SKIP_REASONS.get(lang, SKIP_REASONS["ja"])
    return table[skipped.code].format(field=skipped.field or "?")


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
        lines += [f"・{_safe(s.file)}: {reason_text(s)}" for s in report.skipped[:5]]
        if len(report.skipped) > 5:
            lines.append(f"・ほか{len(report.skipped) - 5}件")
    return clip("\n".join(lines), CONTENT)


def progress_text(stage: str, done: int, total: int) -> str:
    what = "段落を読み込み中" if stage == "embed" else "処理中"
    return f"⏳ 索引を作り直しています… {what} {done}/{total}"


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = "、".join(_safe(n) for n in names[:limit])
    return shown + (f" ほか{len(names) - limit}件" if len(names) > limit else "")
