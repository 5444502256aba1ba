"""Pure formatting: answers, passages and reports as Discord message parts within its limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import discord

from index import Answer, BuildReport, Hit

# Discord's documented message and embed limits.
CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FIELDS = 25
FOOTER = 2048
EMBEDS_TOTAL = 6000
EMBEDS = 10

ELLIPSIS = "…"
COLOR = discord.Colour(0x2B6CB0)
MUTED = discord.Colour(0x718096)
NO_ANSWER = (
    "申し訳ありません。この質問に答える記事は見つかりませんでした。"
    "言葉を変えて、もう一度お試しください。"
)
NO_MORE = "これ以上の結果はありません。"
THANKS = "フィードバックありがとうございます。今後の改善に役立てます。"
ANSWER_FOOTER = "回答は記事の文章をそのまま引用しています。[n] は出典の番号です。"
# Room kept for the sources embed so a long answer never crowds the links out.
SOURCES_ROOM = 1800
EXCERPT = 500
# Control characters (line breaks and tabs become spaces first) and bidi embeddings/overrides.
_UNSEEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BARE_LINK = re.compile(r"(?<!<)(https?://[^\s<>()]+)")
# A sentence ends at 。！？!? (or a period before a space) and keeps its citation markers.
_SENTENCE_END = re.compile(r"(?:[。！？!?]|\.(?=\s|$))(?:\[\d+\])*")


@dataclass
class Reply:
    """The parts of one message: text content and embeds."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)

    def kwargs(self) -> dict:
        return {"content": self.content, "embeds": self.embeds}


def clip(text: str, limit: int) -> str:
    """Shorten text to at most limit characters, at a sentence end with '…' when one is near."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit < 2:
        return ELLIPSIS[:limit]
    head = text[: limit - 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    # Ending at a sentence is worth losing up to half the room, not more.
    cut = ends[-1] if ends and ends[-1] >= (limit - 1) // 2 else limit - 1
    return head[:cut].rstrip() + ELLIPSIS


def echo(question: str) -> str:
    """The user's question as safe message text: mentions, Markdown and links are shown, never
    acted on; control characters and the bidi overrides that make text read backwards go."""
    q = " ".join(_UNSEEN.sub("", " ".join(question.split())).split())
    q = discord.utils.escape_mentions(discord.utils.escape_markdown(q))
    # <link> shows a link without Discord's preview of it under the bot's name.
    q = _BARE_LINK.sub(r"<\1>", q)
    return clip(f"**質問:** {q}", CONTENT)


def answer_reply(answer: Answer) -> Reply:
    """The answer with its numbered citations, then the sources as links."""
    content = echo(answer.question)
    if answer.no_answer or not answer.hits:
        return Reply(content, [discord.Embed(description=NO_ANSWER, colour=MUTED)])
    sources = _sources(answer.hits)
    body = discord.Embed(title="回答", colour=COLOR).set_footer(text=ANSWER_FOOTER)
    room = EMBEDS_TOTAL - len(sources) - len(body)
    body.description = clip(answer.text, min(DESCRIPTION, room))
    return Reply(content, [body, sources])


def passages_reply(
    hits: Sequence[Hit], start: int = 1, *, full: bool = False, note: str | None = None
) -> Reply:
    """One embed per passage, numbered from start: full text, or an excerpt for browsing."""
    shown = list(hits)[:EMBEDS]
    embeds = []
    for n, hit in enumerate(shown, start):
        embed = discord.Embed(title=clip(f"[{n}] {heading(hit)}", 200), url=_url(hit), colour=COLOR)
        meta = " · ".join([*filter(None, (hit.outlet, hit.published)), *_domains(hit.sources[1:])])
        if meta:
            embed.set_footer(text=clip(meta, 150))
        embeds.append(embed)
    # Share what the titles and footers leave of the 6000-character message total.
    room = (EMBEDS_TOTAL - sum(len(e) for e in embeds)) // max(len(embeds), 1)
    limit = min(DESCRIPTION, room, DESCRIPTION if full else EXCERPT)
    for embed, hit in zip(embeds, shown):
        embed.description = clip(hit.text, limit) or "（本文なし）"
    return Reply(clip(note, CONTENT) if note else None, embeds)


def heading(hit: Hit) -> str:
    return " — ".join(x for x in (hit.title, hit.section) if x) or hit.article


def report_summary(report: BuildReport) -> str:
    """The /reindex summary in Japanese, short enough for one message."""
    lines = [
        f"✅ 再構築が完了しました（{report.seconds:.1f}秒）。",
        f"記事 {report.articles}件・パッセージ {report.passages}件"
        f"（新たに埋め込み {report.embedded}件）",
    ]
    if not report.changed_anything:
        lines.append("記事の追加・変更・削除はありませんでした。")
    changes = (("追加", report.added), ("変更", report.changed), ("削除", report.removed))
    for label, names in changes:
        if names:
            lines.append(f"{label} {len(names)}件: {_names(names)}")
    if report.skipped:
        shown = [f"{_safe(name)}（{_safe(reason)}）" for name, reason in report.skipped[:5]]
        more = f" ほか{len(report.skipped) - 5}件" if len(report.skipped) > 5 else ""
        lines.append(f"スキップ {len(report.skipped)}件: " + "、".join(shown) + more)
    return clip("\n".join(lines), CONTENT)


def progress_text(stage: str, done: int, total: int) -> str:
    what = "パッセージを埋め込み中" if stage == "embed" else "処理中"
    return f"⏳ 再構築中… {what} {done}/{total}"


def _sources(hits: Sequence[Hit]) -> discord.Embed:
    lines: list[str] = []
    for n, hit in enumerate(hits, 1):
        line = f"**[{n}]** " + _link(clip(heading(hit), 150), _url(hit))
        about = clip(_safe(" · ".join(filter(None, (hit.outlet, hit.published)))), 200)
        extra = [_link(d, u) for d, u in zip(_domains(hit.sources[1:4]), hit.sources[1:4])]
        meta = " · ".join(filter(None, (about, *extra)))
        line += f"\n{meta}" if meta else ""
        if sum(len(x) + 1 for x in lines) + len(line) > SOURCES_ROOM - 20:
            lines.append(f"…ほか{len(hits) - n + 1}件")
            break
        lines.append(line)
    return discord.Embed(title="出典", description="\n".join(lines), colour=COLOR)


def _url(hit: Hit) -> str | None:
    return _linkable(hit.sources[0]) if hit.sources else None


def _linkable(url: str) -> str | None:
    """The URL if it can be a link (http(s), short, no spaces), with parentheses encoded."""
    if not url.startswith(("https://", "http://")) or len(url) > 512 or re.search(r"\s", url):
        return None
    return url.replace("(", "%28").replace(")", "%29")


def _link(text: str, url: str | None) -> str:
    # Brackets in the text would end the masked link early; full-width ones read the same.
    text = _safe(text).replace("[", "［").replace("]", "］")
    url = _linkable(url) if url else None
    return f"[{text}]({url})" if url else text


def _domains(urls: Sequence[str]) -> list[str]:
    return [urlsplit(u).hostname or u[:40] for u in urls]


def _safe(text: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = "、".join(_safe(n) for n in names[:limit])
    return shown + (f" ほか{len(names) - limit}件" if len(names) > limit else "")


HELP = (
    "ニュース記事について質問すると、記事の文章を引用して答えます。\n"
    "・DM: 質問をそのまま送ってください（例: ロシアの停戦条件は?）\n"
    "・サーバー: {ask} で質問するか、{me} に続けて質問を書いてください\n"
    "・回答の下のボタン: 「他の結果」で続きの記事、「全文」で引用元の全文、👍 / 👎 で評価"
)


def usage(ask: str = "/ask", me: str = "@newsbot") -> str:
    """Short usage text for 「ヘルプ」, an empty DM or a bare mention."""
    return HELP.format(ask=ask, me=me)
