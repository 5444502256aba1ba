"""Pure formatting: answers, evidence and results as Discord message parts within its limits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import discord

from index import Answer, Hit, Topic
from index.ingest import outlet_of

from .escape import escaped as _safe
from .i18n import EXAMPLES, text
from .sources import Source, cited_runs, cited_sources
from .sources import linkable as _linkable
from .sources import source_url as _url
from .wording import refusal_headline, refusal_text

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
# The answer stays short enough to read on one phone screen; the evidence view has the rest.
ANSWER_CHARS = 700
EXCERPT = 300
TOPICS = 4
# The previous question a follow-up names, and /topics' parts, kept to one phone line each.
CONTINUED = 40
TOPIC_TITLE = 80
TOPIC_SECTIONS = 90
# Control characters (line breaks and tabs become spaces first) and bidi embeddings/overrides.
_UNSEEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BARE_LINK = re.compile(r"(?<!<)(https?://[^\s<>()]+)")
# A sentence ends at 。！？!? (or a period before a space) and keeps its citation markers.
_SENTENCE_END = re.compile(r"(?:[。！？!?]|\.(?=\s|$))(?:\[\d+\])*")
_MARKER = re.compile(r"\[(\d+)\]")
# Scraped page furniture: date stamps, "read more" link lines, check and tip marks.
_FURNITURE_LINE = re.compile(r"^\s*(公開日\s*[:：]|さらに読む|出典\s*/?\s*画像元|画像元\s*[:：])")
_MARKS = re.compile(r"^\s*(?:[✅💡☑✔️・•]\s*|[-*]\s+)+")
_WORD_JOINER = "\u2060"


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


def echo(question: str, lang: str = "ja") -> str:
    """The user's question as safe message text: mentions, Markdown and links are shown, never
    acted on; control characters and the bidi overrides that make text read backwards go."""
    return clip(text(lang, "question", q=_quoted(question)), CONTENT)


def continued_line(answer: Answer) -> str:
    """One small line naming the question a follow-up continued (clipped), or ""."""
    if not answer.continued:
        return ""
    return text(answer.lang, "continued", q=clip(_quoted(answer.continued), CONTINUED))


def heading(answer: Answer, *, echo_question: bool) -> str | None:
    """The message content above an answer: the echoed question, then what it continued (and
    that it repeats the previous answer, when nothing else answers)."""
    lines = [echo(answer.question, answer.lang) if echo_question else "", continued_line(answer)]
    if answer.repeated and not answer.no_answer:
        lines.append(text(answer.lang, "repeated"))
    return clip("\n".join(filter(None, lines)), CONTENT) or None


def _quoted(question: str) -> str:
    q = " ".join(_UNSEEN.sub("", " ".join(question.split())).split())
    q = _safe(q)
    # <link> shows a link without Discord's preview of it under the bot's name.
    return _BARE_LINK.sub(r"<\1>", q)


def plain(passage: str) -> str:
    """A passage without scraped page furniture (✅/💡 marks, 公開日, さらに読む…出典 lines)."""
    lines = (_MARKS.sub("", line).strip() for line in passage.splitlines())
    return "\n".join(line for line in lines if line and not _FURNITURE_LINE.match(line))


def date_text(published: str | None, lang: str) -> str:
    """2025年3月19日 or Mar 19, 2025, kept on one line."""
    if not published:
        return ""
    try:
        day = dt.date.fromisoformat(published[:10])
    except ValueError:
        return published
    if lang == "en":
        return f"{day:%b}\u00a0{day.day},\u00a0{day.year}"
    # Word joiners: a line may not break inside the date (CJK text breaks anywhere).
    return _WORD_JOINER.join(f"{day.year}年{day.month}月{day.day}日")


def answer_reply(answer: Answer, *, echo_question: bool = True) -> Reply:
    """One embed: the answer with clickable citations, then only the sources it cites."""
    lang = answer.lang
    content = heading(answer, echo_question=echo_question)
    sources, numbers = cited_sources(answer)
    embed = discord.Embed(colour=COLOR)
    embed.description = _body(answer, sources, numbers)
    lines = _source_lines(sources, lang)
    if lines:
        embed.add_field(name=text(lang, "sources"), value=lines, inline=False)
    note = text(lang, "japanese_note")
    if note:
        embed.set_footer(text=note)
    return Reply(content, [embed])


def refusal_reply(answer: Answer, topics: Sequence[Topic], *, echo_question: bool = True) -> Reply:
    """Not covered: say so, and show what the coverage does hold and what to ask instead."""
    lang = answer.lang
    # A question about other news is told what the coverage lacks (ガザ), not only "no".
    parts = [_safe(refusal_headline(answer.reason, answer.missing, lang))]
    if answer.nearby:
        parts.append(_list(text(lang, "nearby"), [_safe(t) for t in answer.nearby[:3]]))
    parts.append(_topics(topics, lang))
    parts.append(_list(text(lang, "examples"), EXAMPLES.get(lang, EXAMPLES["ja"])[:2]))
    embed = discord.Embed(description=clip("\n\n".join(filter(None, parts)), DESCRIPTION))
    embed.colour = MUTED
    return Reply(heading(answer, echo_question=echo_question), [embed])


def subject_reply(answer: Answer, *, echo_question: bool = True) -> Reply:
    """A follow-up with nothing to follow: one line asking for the subject."""
    lines = [echo(answer.question, answer.lang) if echo_question else "", refusal_text(answer)]
    return Reply(clip("\n".join(filter(None, lines)), CONTENT))


def evidence_reply(answer: Answer) -> Reply:
    """The cited passages, cleaned of page furniture, with the quoted sentences in bold."""
    lang = answer.lang
    sources, numbers = cited_sources(answer)
    quoted: dict[int, list[str]] = {}
    for sentence, n in _pieces(answer):
        quoted.setdefault(n, []).append(sentence)
    items = []
    for n in sorted(numbers, key=lambda n: (numbers[n], n)):
        hit = answer.hits[n - 1]
        title = f"[{numbers[n]}] {_name(hit)}"
        items.append((title, hit, _bold(plain(hit.text), quoted.get(n))))
    return _passages(items[:EMBEDS], lang, text(lang, "evidence.head"), DESCRIPTION)


def results_reply(hits: Sequence[Hit], lang: str, *, end: bool) -> Reply:
    """A page of further passages (excerpts); `end` says the related ones stop here."""
    if not hits:
        head = text(lang, "more.end")
    else:
        # The content shows above the embeds: on the last page it says so up front.
        head = (
            f"{text(lang, 'more.head')} {text(lang, 'more.last')}"
            if end
            else text(lang, "more.head")
        )
    shown = list(hits)[:EMBEDS]
    items = [(_name(hit), hit, _safe(plain(hit.text))) for hit in shown]
    return _passages(items, lang, head, EXCERPT)


def _name(hit: Hit) -> str:
    """A passage's own name: its section (the article's title goes above it), else the title."""
    return hit.section or hit.title or hit.article


def usage(
    ask: str = "/ask",
    me: str = "@newsbot",
    *,
    lang: str = "ja",
    topics: Sequence[Topic] = (),
    rate: int = 3,
    per: float = 30,
    privacy: str = "",
) -> str:
    """Help for 「ヘルプ」, an empty DM or a bare mention: how to ask, limits, examples, what is
    kept of the questions (privacy), topics."""
    seconds = f"{per:g}"
    if lang == "en":
        lines = [
            "Ask about the news coverage; the answer quotes the articles and links them.",
            f"・In a server: {ask}, or mention {me} with your question. In DMs: just send it.",
            f"・Up to {rate} questions per {seconds} seconds per person.",
            "・Under an answer: 「Evidence」 shows the quoted passages, 「More results」 related"
            " articles, 👍 / 👎 rates it.",
        ]
    else:
        lines = [
            "ニュース記事について質問すると、記事の文章を引用して答えます。",
            f"・サーバー: {ask} か、{me} に続けて質問を書いてください。",
            "・DM: 質問をそのまま送ってください。",
            f"・質問は1人{seconds}秒に{rate}問までです。",
            "・回答の下のボタン: 「根拠」で引用した段落、「他の結果」で関連する記事、"
            "👍 / 👎 で評価",
        ]
    parts = ["\n".join(lines), _list(text(lang, "examples"), EXAMPLES.get(lang, EXAMPLES["ja"]))]
    parts += [privacy, _topics(topics, lang)]
    return clip("\n\n".join(filter(None, parts)), CONTENT)


# ---------------------------------------------------------------------------- helpers
def _pieces(answer: Answer) -> list[tuple[str, int]]:
    """(sentence, hit number) pairs, cleaned of page furniture: from the core's sentences, else
    parsed from the text."""
    if answer.sentences and len(answer.sentences) == len(answer.citations):
        pairs = zip(answer.sentences, answer.citations)
    else:
        parts = _MARKER.split(answer.text)
        pairs = ((parts[i], int(parts[i + 1])) for i in range(0, len(parts) - 1, 2))
    return [(clean, n) for sentence, n in pairs if (clean := _sentence(sentence))]


def _sentence(sentence: str) -> str:
    """A quoted sentence without furniture (a ✅ mark, a 公開日 stamp), on one line."""
    return " ".join(plain(sentence).split("\n")).strip()


def _body(answer: Answer, sources: list[Source], numbers: dict[int, int]) -> str:
    """The quoted sentences, as many whole ones as fit, each run citing one source closed by
    its clickable marker."""
    urls = {s.number: s.url for s in sources}
    quoted = _pieces(answer)
    pieces = quoted or [(answer.text, 0)]
    # The article the sentences leave implicit leads, in the brackets Japanese news uses.
    head = f"【**{_safe(answer.subject)}**】" if answer.subject and quoted else ""
    room = ANSWER_CHARS - len(head)
    lo, hi = 0, len(pieces)  # the most leading sentences that fit (binary search)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(_render(pieces[:mid], numbers, urls)) <= room:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:  # one sentence longer than the room: cut inside it
        sentence, n = pieces[0]
        return head + _render([(clip(sentence, room - 80), n)], numbers, urls)
    body = head + _render(pieces[:lo], numbers, urls)
    return body if lo == len(pieces) else f"{body} {ELLIPSIS}"


def _render(pieces: list[tuple[str, int]], numbers: dict[int, int], urls: dict) -> str:
    cited = [(_safe(sentence.strip()), numbers.get(n)) for sentence, n in pieces]
    return cited_runs(cited, lambda number: _marker(number, urls.get(number)))


def _marker(number: int, url: str | None) -> str:
    return f"[[{number}]]({url})" if url else f"[{number}]"


def _source_lines(sources: list[Source], lang: str) -> str:
    """Per article: its title once, then one line per cited link: outlet · section · date."""
    lines: list[str] = []
    article = None
    for s in sources:
        hit = s.hit
        if hit.article != article:
            article = hit.article
            lines.append(_safe(clip(hit.title or hit.article, 80)))
        outlet = outlet_of(s.url, hit.outlet) if s.url else (hit.outlet or "")
        label = _link(clip(outlet, 40), s.url) if outlet else ""
        sections = list(dict.fromkeys(h.section for h in s.hits if h.section))
        meta = [label, _safe(clip("・".join(sections), 60)), date_text(hit.published, lang)]
        lines.append(f"**[{s.number}]** " + " · ".join(filter(None, meta)))
    kept: list[str] = []
    for i, line in enumerate(lines):
        if sum(len(x) + 1 for x in kept) + len(line) > FIELD_VALUE - 20:
            kept.append(f"… +{len(lines) - i}")
            break
        kept.append(line)
    return "\n".join(kept)


def _passages(items: list[tuple[str, Hit, str]], lang: str, head: str, limit: int) -> Reply:
    """One embed per passage: the article above its linked section, the text, and outlet · date
    underneath."""
    embeds = []
    for title, hit, _ in items:
        url = _url(hit)
        embed = discord.Embed(title=clip(title, 200), url=url, colour=COLOR)
        if hit.section and hit.title:
            embed.set_author(name=clip(hit.title, 200))
        outlet = outlet_of(url, hit.outlet) if url else hit.outlet
        meta = " · ".join(filter(None, (outlet, date_text(hit.published, lang))))
        if meta:
            embed.set_footer(text=clip(meta, 150))
        embeds.append(embed)
    # Share what the titles and footers leave of the 6000-character message total.
    room = (EMBEDS_TOTAL - sum(len(e) for e in embeds)) // max(len(embeds), 1)
    for embed, (_, _, body) in zip(embeds, items):
        embed.description = _clip_bold(body, min(DESCRIPTION, room, limit)) or text(lang, "no_text")
    return Reply(clip(head, CONTENT) if head else None, embeds)


def _bold(passage: str, sentences: Sequence[str] | None) -> str:
    """The passage as safe Markdown with each quoted sentence in bold."""
    out = _safe(passage)
    for sentence in sentences or ():
        quoted = _safe(sentence.strip())
        if quoted and quoted in out:
            out = out.replace(quoted, f"**{quoted}**", 1)
    return out


def _clip_bold(body: str, limit: int) -> str:
    """clip(), closing a bold run the cut left open."""
    short = clip(body, limit - 2)
    if short.count("**") % 2:
        short = short.removesuffix(ELLIPSIS) + "**" + (ELLIPSIS if short.endswith(ELLIPSIS) else "")
    return short


def _topics(topics: Sequence[Topic], lang: str) -> str:
    lines = []
    for t in list(topics)[:TOPICS]:
        when = date_text(t.published, lang)
        lines.append(_safe(clip(t.title, 60)) + (f"（{when}）" if when else ""))
    return _list(text(lang, "topics"), lines) if lines else ""


def _list(label: str, items: Sequence[str]) -> str:
    return f"**{label}**\n" + "\n".join(f"・{x}" for x in items)


def _link(label: str, url: str | None) -> str:
    # Brackets in the text would end the masked link early; full-width ones read the same.
    label = _safe(label).replace("[", "［").replace("]", "］")
    url = _linkable(url) if url else None
    return f"[{label}]({url})" if url else label


def topics_reply(topics: Sequence[Topic], page: int, pages: int, total: int) -> Reply:
    """One page of /topics: per article a field, its title over outlet · date and its sections."""
    if not topics:
        return Reply("索引に記事がまだありません。")
    embed = discord.Embed(title="扱っている記事（新しい順）", colour=COLOR)
    for t in topics:
        when = date_text(t.published, "ja")
        meta = " · ".join(filter(None, (_safe(clip(t.outlet or "", 40)), when)))
        sections = _safe(clip("・".join(t.sections), TOPIC_SECTIONS))
        value = "\n".join(filter(None, (meta, sections))) or text("ja", "no_text")
        name = _safe(clip(t.title or t.article, TOPIC_TITLE))
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=f"{page + 1} / {pages} ページ · 全{total}件")
    return Reply(None, [embed])
