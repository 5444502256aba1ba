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
