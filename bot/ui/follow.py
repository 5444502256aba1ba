"""What /follow's alerts, digests and lists look like: quoted, cited, within Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from index.follow import Delivery, Subscription

from .format import (
    COLOR,
    DESCRIPTION,
    FIELD_VALUE,
    MUTED,
    TITLE,
    Reply,
    _link,
    _marker,
    _safe,
    clip,
    date_text,
)
from .i18n import TRANSLATIONS

# Command names and descriptions (merged into i18n.TRANSLATIONS: the translator reads them).
COMMANDS: dict[str, dict[str, str]] = {
    "follow.name": {"ja": "フォロー", "en": "follow"},
    "follow.description": {
        "ja": "話題をフォローし、新しい記事を引用付きで受け取ります",
        "en": "Follow a topic: new coverage arrives quoted and cited",
    },
    "follow.topic.name": {"ja": "話題", "en": "topic"},
    "follow.topic.description": {
        "ja": "フォローする話題（例: 停戦、ceasefire）",
        "en": "The topic to follow (e.g. 停戦, ceasefire)",
    },
    "follow.where.name": {"ja": "届け先", "en": "where"},
    "follow.where.description": {
        "ja": "自分のDM（既定）か、このチャンネル（チャンネル管理の権限が必要）",
        "en": "Your DMs (default) or this channel (needs Manage Channels)",
    },
    "follow.preview.name": {"ja": "最新3件", "en": "preview"},
    "follow.preview.description": {
        "ja": "今ある記事から最新3件を見せる",
        "en": "Show the latest 3 matching articles now",
    },
    "following.name": {"ja": "フォロー一覧", "en": "following"},
    "following.description": {
        "ja": "フォロー中の話題とダイジェストの設定",
        "en": "The topics you (or this channel) follow, and the digest",
    },
    "unfollow.name": {"ja": "フォロー解除", "en": "unfollow"},
    "unfollow.description": {"ja": "話題のフォローをやめます", "en": "Stop following a topic"},
    "digest.name": {"ja": "ダイジェスト", "en": "digest"},
    "digest.description": {
        "ja": "毎日のダイジェスト（例: on 07:30 / off）",
        "en": "The daily digest (e.g. on 07:30, or off)",
    },
    "digest.when.name": {"ja": "設定", "en": "when"},
    "digest.when.description": {
        "ja": "on HH:MM [タイムゾーン] または off",
        "en": "on HH:MM [time zone], or off",
    },
}
TOO_MANY = "フォローできる話題は1か所につき25件までです。`/フォロー解除` で減らしてください。"
DIGEST_HELP = (
    "`on 07:30`（24時間表記、タイムゾーンは省略可: `on 07:30 Asia/Tokyo`）か "
    "`off` で指定してください。"
)
CHANNEL_ONLY = (
    "チャンネルでのフォローには「チャンネルの管理」の権限が必要です（サーバーのチャンネルでのみ）。"
)
QUOTE = 200
PAUSED = {
    "dm_closed": "DMを受け取れないため一時停止中",
    "forbidden": "このチャンネルに投稿できないため一時停止中",
}


def followed_text(topic: str, head: str, place: str) -> str:
    return f"✅ 「{_safe(clip(topic, 100))}」を{head}。新しい記事が届くと{place}に通知します。"


def alert_reply(payload: dict) -> Reply:
    """One story: its title, each outlet's link and date, the matching sentences quoted."""
    articles = payload.get("articles") or []
    first = next((a for a in articles if a.get("file") == payload.get("article")), None)
    first = first or (articles[0] if articles else {})
    url = first.get("url") or None
    quotes = [f"> {_safe(clip(q, QUOTE))}{_marker(1, url)}" for q in payload.get("quotes", [])]
    embed = discord.Embed(
        title=clip(first.get("title") or payload.get("topic", ""), TITLE),
        url=url if url and len(url) <= 512 else None,
        description=clip("\n".join(quotes), DESCRIPTION),
        colour=COLOR,
    )
    lines = [_outlet_line(a) for a in articles]
    head = f"{len(articles)}社が報道" if len(articles) > 1 else "媒体"
    embed.add_field(name=head, value=_lines(lines), inline=False)
    embed.set_footer(
        text=f"フォロー中: {clip(payload.get('topic', ''), 60)} ・ 返信すると質問できます"
    )
    return Reply(f"🔔 **{_safe(clip(payload.get('topic', ''), 60))}** の新しい記事", [embed])


def _outlet_line(a: dict) -> str:
    outlets = "・".join(a.get("outlets") or []) or "媒体不明"
    day = date_text(a.get("published"), "ja")
    title = _safe(clip(a.get("title") or "", 60))
    return f"{_link(clip(outlets, 40), a.get('url'))} · {day} · {title}".replace(" ·  ·", " ·")


def _lines(lines: Sequence[str], limit: int = FIELD_VALUE) -> str:
    kept: list[str] = []
    for i, line in enumerate(lines):
        if sum(len(x) + 1 for x in kept) + len(line) > limit - 20:
            kept.append(f"… +{len(lines) - i}")
            break
        kept.append(line)
    return "\n".join(kept) or "—"


def digest_reply(items: Sequence[Delivery], day: str) -> Reply:
    """The day's new coverage: one line per story, its quoted lead and its links."""
    lines = []
    for d in items:
        p = d.payload
        arts = p.get("articles") or [{}]
        links = "・".join(
            _link(clip("・".join(a.get("outlets") or []) or "記事", 30), a.get("url")) for a in arts
        )
        lead = clip((p.get("quotes") or [""])[0], 90)
        title = _safe(clip(arts[0].get("title") or "", 60))
        quote = f"\n　「{_safe(lead)}」" if lead else ""
        lines.append(f"・**{title}**（{links}）{quote}")
    embed = discord.Embed(
        title=f"📰 今日のダイジェスト（{date_text(day, 'ja')}）",
        description=_lines(lines, DESCRIPTION),
        colour=COLOR,
    )
    topics = sorted({d.subscription.topic for d in items})
    embed.set_footer(text=clip("フォロー中: " + "、".join(topics), 200))
    return Reply(None, [embed])


def following_reply(subs: Sequence[Subscription], digest: str | None, where: str) -> Reply:
    """/following: each topic (paused ones say why) and the digest time."""
    if not subs:
        return Reply("フォロー中の話題はありません。`/フォロー 停戦` のように追加できます。")
    lines = []
    for s in subs:
        note = f"（⏸ {PAUSED.get(s.paused, s.paused)}）" if s.paused else ""
        lines.append(f"・{_safe(clip(s.topic, 80))}{note}")
    embed = discord.Embed(
        title=f"フォロー中の話題（{where}）", description="\n".join(lines), colour=MUTED
    )
    embed.add_field(name="ダイジェスト", value=digest or "なし（`/ダイジェスト on 07:30`）")
    return Reply(None, [embed])


def preview_reply(payloads: Sequence[dict], topic: str) -> Reply:
    """The latest three matching articles, asked for with /follow preview."""
    if not payloads:
        return Reply(f"「{_safe(clip(topic, 60))}」に合う記事は今のところありません。")
    embeds = [alert_reply(p).embeds[0] for p in payloads[:3]]
    return Reply(f"「{_safe(clip(topic, 60))}」の最新{len(embeds)}件です。", embeds)


def paused_text(kind: str, topics: Sequence[str]) -> str:
    """Said once when alerts stop: where, why, and how to start them again."""
    names = "、".join(_safe(clip(t, 40)) for t in topics[:5])
    if kind == "member":
        return (
            f"⏸ DMが閉じられているため、フォロー（{names}）の通知を一時停止しました。"
            "DMを受け取れるようにしてから `/フォロー` で同じ話題を指定すると再開します。"
        )
    return (
        f"⏸ 権限がなくチャンネルに投稿できないため、フォロー（{names}）の通知を一時停止しました。"
        "権限を直してから `/フォロー` で同じ話題を指定すると再開します。"
    )


# The translator looks command strings up in i18n.TRANSLATIONS; these join them on import.
TRANSLATIONS.update(COMMANDS)
