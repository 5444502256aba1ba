"""What the core's codes say to people: why a question was not answered (Answer.reason), one
table per language. The command line and Discord both word refusals from here."""

from __future__ import annotations

from collections.abc import Sequence

from index import Answer, Reason

REFUSALS: dict[str, dict[str, str]] = {
    "ja": {
        Reason.OFF_TOPIC: "申し訳ありません。この質問に答える記事は見つかりませんでした。",
        Reason.OTHER_NEWS: "「{missing}」についての記事はありません。",
        Reason.FILTERED: "指定された媒体・期間に合う記事に、"
        "この質問に答えるものはありませんでした。",
        Reason.NO_SUBJECT: "何についての質問か教えてください。"
        "たとえば「ロシアの停戦条件は?」のように、話題を入れて聞いてください。",
        "nearby": "近い話題: {title}",
        "join": "」「",
    },
    "en": {
        Reason.OFF_TOPIC: "Sorry, the coverage does not answer this question.",
        Reason.OTHER_NEWS: "The coverage has nothing on {missing}.",
        Reason.FILTERED: "No article of the outlet and dates you chose answers this question.",
        Reason.NO_SUBJECT: "What is your question about? Please name the subject, for example "
        '"What conditions did Russia set for a ceasefire?"',
        "nearby": " Nearest coverage: {title}",
        "join": ", ",
    },
}
ASK_SUBJECT = {lang: table[Reason.NO_SUBJECT] for lang, table in REFUSALS.items()}


def refusal_headline(reason: str, missing: Sequence[str], lang: str) -> str:
    """The one line that says why the coverage does not answer: the filters hold nothing, the
    coverage lacks the question's subject, or it lacks all; or asks for the subject."""
    table = REFUSALS.get(lang, REFUSALS["ja"])
    if reason in (Reason.FILTERED, Reason.NO_SUBJECT):
        return table[reason]  # a filtered search never saw the rest: "not covered" is wrong
    shown = _shown(missing)
    if shown:
        return table[Reason.OTHER_NEWS].format(missing=table["join"].join(shown))
    return table[Reason.OFF_TOPIC]


def refusal_text(answer: Answer) -> str:
    """A refusal in full: why, and for other news the nearest thing the coverage holds."""
    text = refusal_headline(answer.reason, answer.missing, answer.lang)
    if answer.nearby and answer.reason == Reason.OTHER_NEWS and _shown(answer.missing):
        text += REFUSALS.get(answer.lang, REFUSALS["ja"])["nearby"].format(title=answer.nearby[0])
    return text


def _shown(missing: Sequence[str]) -> list[str]:
    return [m for m in missing if len(m) >= 2][:2]
