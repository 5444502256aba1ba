"""Command names and descriptions in Japanese and English, for Discord's per-locale display."""

from __future__ import annotations

from discord import Locale, app_commands
from discord.app_commands import locale_str

# key → language → text; the default (unlocalized) text is the English message of each locale_str.
TRANSLATIONS: dict[str, dict[str, str]] = {
    "ask.name": {"ja": "質問", "en": "ask"},
    "ask.description": {
        "ja": "ニュース記事について質問し、引用付きの回答を受け取ります",
        "en": "Ask a question about the news coverage and get a cited answer",
    },
    "ask.question.name": {"ja": "質問文", "en": "question"},
    "ask.question.description": {
        "ja": "知りたいこと（例: ロシアの停戦条件は?）",
        "en": "What you want to know, e.g. ロシアの停戦条件は?",
    },
    "ask.outlet.name": {"ja": "媒体", "en": "outlet"},
    "ask.outlet.description": {
        "ja": "この媒体の記事だけから答える（候補から選べます）",
        "en": "Answer only from this outlet's articles (pick from the list)",
    },
    "ask.since.name": {"ja": "開始日", "en": "since"},
    "ask.since.description": {
        "ja": "この日以降の記事だけ（YYYY-MM-DD、例: 2025-03-01）",
        "en": "Only articles from this day on (YYYY-MM-DD, e.g. 2025-03-01)",
    },
    "ask.until.name": {"ja": "終了日", "en": "until"},
    "ask.until.description": {
        "ja": "この日までの記事だけ（YYYY-MM-DD、例: 2025-03-31）",
        "en": "Only articles up to this day (YYYY-MM-DD, e.g. 2025-03-31)",
    },
    "topics.name": {"ja": "話題", "en": "topics"},
    "topics.description": {
        "ja": "答えられる記事の一覧（新しい順、媒体・日付・見出し付き）",
        "en": "The articles the bot answers from, newest first, with outlet, date and sections",
    },
    "reindex.name": {"ja": "再構築", "en": "reindex"},
    "reindex.description": {
        "ja": "記事フォルダから検索用の索引を作り直します（管理者のみ）",
        "en": "Rebuild the search index from the articles folder (admins only)",
    },
    "reindex.rebuild.name": {"ja": "全件", "en": "rebuild"},
    "reindex.rebuild.description": {
        "ja": "変更のない記事も含めてすべて埋め込み直す",
        "en": "Re-embed every article, not only the changed ones",
    },
    "add.name": {"ja": "記事追加", "en": "add"},
    "add.description": {
        "ja": "ウェブページを記事として取り込み、索引を更新します（管理者のみ）",
        "en": "Add a web page to the articles and update the index (admins only)",
    },
    "report.name": {"ja": "レポート", "en": "report"},
    "report.description": {
        "ja": "質問の数・答えられなかった質問・評価の低い回答をまとめます（管理者のみ）",
        "en": "What people asked, what went unanswered, the answers voted down (admins only)",
    },
    "forget.name": {"ja": "自分の記録を削除", "en": "forget-me"},
    "forget.description": {
        "ja": "あなたがこのボットにした質問と評価の記録をすべて削除します",
        "en": "Erase every question and vote of yours that this bot keeps",
    },
    "report.days.name": {"ja": "日数", "en": "days"},
    "report.days.description": {
        "ja": "集計する日数（今日を含む、既定は30日）",
        "en": "Days to cover, today included (default 30)",
    },
    "add.url.name": {"ja": "url", "en": "url"},
    "add.url.description": {
        "ja": "記事のURL（https://...）",
        "en": "The article's address (https://...)",
    },
}


def _(key: str) -> locale_str:
    """A translatable string whose default is the English text for key."""
    return locale_str(TRANSLATIONS[key]["en"], key=key)


class Translator(app_commands.Translator):
    """Looks command strings up by their key; anything else stays untranslated."""

    async def translate(
        self, string: locale_str, locale: Locale, context: app_commands.TranslationContext
    ) -> str | None:
        # en-US and en-GB share one English text; other locales match by their full name.
        language = "en" if locale.value.startswith("en-") else locale.value
        return TRANSLATIONS.get(string.extras.get("key", ""), {}).get(language)


# Reply texts by the question's language (Answer.lang); command strings above follow the client.
MESSAGES: dict[str, dict[str, str]] = {
    "ja": {
        "question": "**質問:** {q}",
        "sources": "出典",
        "more": "他の結果",
        "evidence": "根拠",
        "more.head": "**他の結果**",
        "more.end": "関連する記事はこれ以上ありません。",
        "more.last": "（関連する記事はこれで全部です）",
        "evidence.head": "**根拠**: 回答が引用した段落です（引用した文は太字）。",
        "nearby": "近い話題",
        "topics": "扱っている話題（新しい順）",
        "examples": "質問の例",
        "japanese_note": "",
        "thanks": "フィードバックありがとうございます。今後の改善に役立てます。",
        "no_text": "（本文なし）",
        "continued": "-# ↪ 「{q}」の続き",
        "repeated": "-# 前の回答と同じです（記事にはこれ以上の内容がありません）",
        "thread": "スレッドで続ける",
        "thread.opened": "スレッドを作りました: {thread}",
        "thread.there": "この回答のスレッドはこちら: {thread}",
        "thread.intro": "このスレッドでは続けて質問できます（例: なぜ?）。",
        "thread.mention": "このスレッドでは {me} をつけて続けて質問できます（例: {me} なぜ?）。",
        "reply.mention": "続けて質問するには、返信の文に {me} を入れてください"
        "（入れないとボットには文面が届きません）。",
    },
    "en": {
        "question": "**Q:** {q}",
        "sources": "Sources",
        "more": "More results",
        "evidence": "Evidence",
        "more.head": "**More results**",
        "more.end": "No more related articles.",
        "more.last": "(that is all the related coverage)",
        "evidence.head": "**Evidence**: the passages the answer quotes (quoted sentences in bold).",
        "nearby": "Closest topics",
        "topics": "Topics covered (newest first)",
        "examples": "Try asking",
        "japanese_note": "The coverage is in Japanese; the answer quotes it as written.",
        "thanks": "Thanks for the feedback; it helps improve the answers.",
        "no_text": "(no text)",
        "continued": "-# ↪ continuing: {q}",
        "repeated": "-# Same as the previous answer (the coverage says nothing more on this).",
        "thread": "Continue in thread",
        "thread.opened": "Thread started: {thread}",
        "thread.there": "This answer's thread: {thread}",
        "thread.intro": "Ask follow-up questions here (e.g. why?).",
        "thread.mention": "Ask follow-up questions here with {me} (e.g. {me} why?).",
    },
}
# Questions the shipped coverage answers, shown in help and when a question is not covered.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "ja": ("ロシアの停戦条件は?", "米ロ首脳会談で何が合意された?", "プーチン大統領は何を譲歩した?"),
    "en": ("What did Putin concede?", "What does Russia demand for a ceasefire?"),
}


def text(lang: str, key: str, **values: str) -> str:
    """The reply text for key in the question's language (Japanese when it has no English)."""
    table = MESSAGES.get(lang, MESSAGES["ja"])
    return table.get(key, MESSAGES["ja"][key]).format(**values)
