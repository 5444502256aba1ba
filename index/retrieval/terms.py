"""The term rules: what a question is about (its subject terms and names), one Term type for every
language, and where a text holds them. A Query decides its terms once with these rules; the
conversation and answer steps read them from the Query."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..corpus.text import normalize
from . import crosslingual
from .crosslingual import STOP

# Script runs of the normalized question: katakana words, kanji compounds, Latin words/digits.
_RUN = re.compile(r"[ァ-ヺー]{2,}|[一-鿿々〆ヶ]{2,}|[a-z0-9][a-z0-9.\-]*[a-z0-9]")
_KANJI = re.compile(r"[一-鿿々〆ヶ]+")
# A noun of one kanji and its kana ending (占い, 祭り, 戦い) before a noun's particle: the runs
# above skip a lone kanji, and 今日の占いは? would have no subject of its own.
_OKURIGANA_NOUN = re.compile(r"(?<![一-鿿々〆ヶ])[一-鿿][いりきしみえち](?=[はがをもにでとや])")
# What a question is about, not its framing: these words say what kind of answer is wanted and
# need not appear in the passages that give it.
FRAMING = set(
    """
    何故 理由 結果 内容 状況 現状 様子 今後 見通 影響 意味 最新 最近 現在 今回 今日 詳細 概要
    要点 情報 説明 問題 方法 目的 背景 経緯 具体的 具体 本当 実際 全体 関係 事情 話題 動向 展開
    有力 可能性 予定 予想 見込 ポイント ニュース トピック テーマ 場所 人物 要因 原因 名前 名称
    特徴 種類 役割 時期
    """.split()
)
# The form the answer is wanted in (in katakana, as three letters, its full name, the year in the
# Western calendar): said of the answer, never of the subject.
_FORM = set(
    """
    カタカナ ひらがな 漢字 アルファベット 文字 頭文字 一字 略称 略語 正式名称 別名 別称
    通称 フルネーム 日本語 英語 語名 日本語名 英語名 西暦 和暦 元号 タイトル
    """.split()
)
# One kanji that may end a compound without being a word of its own here (停戦+案, 開催+地).
_AFFIX = set(
    "的性者国軍側氏間率案化派相省長会日年月人州地区市県党費権等内外上下前後中再対各全新元現副"
    "大初同本総第"
)
# Countries in kanji, and the one-character forms compounds use (日米, 米中, 日韓): names, so a
# question naming one the coverage never mentions is about other news.
COUNTRIES = set("日本 米国 中国 韓国 北朝鮮 台湾 英国 豪州 欧州 香港 朝鮮".split())
_COUNTRY_CHARS = set("日米中韓朝露英仏独伊印豪加台欧")
# Spellings of one country the coverage may use instead of the question's.
_ALIASES = {
    "米国": ("アメリカ", "米"),
    "米": ("アメリカ", "米国"),
    "露": ("ロシア", "ロ"),
    "英国": ("イギリス", "英"),
    "英": ("イギリス", "英国"),
    "中": ("中国",),
    "韓": ("韓国",),
    "日": ("日本",),
    "独": ("ドイツ",),
    "仏": ("フランス",),
    "欧州": ("ヨーロッパ", "欧"),
}
# What kind of answer a follow-up wants, never what it is about (期間は?, 理由は?, how long?): a
# follow-up made of these alone brings no subject of its own, so none can be missing.
KIND = set(
    """
    期間 期限 日程 日時 時間 規模 金額 人数 反応 狙い 相手 対象 詳細 詳しく 続き 他 ほか 具体
    結論 見方 評価 根拠 条件 理由 結果 影響 今後 背景 目的 場所 時期 内容 方法
    """.split()
)
KIND_EN = {
    "long", "much", "many", "reason", "reasons", "detail", "details", "more", "else", "why",
    "when", "where", "who", "conditions", "condition", "result", "results", "impact", "plan",
    "plans", "next", "response", "reaction", "period", "duration", "terms", "cost", "costs",
    "price", "worth", "size", "height", "length", "rent", "fee", "fees", "budget", "salary",
    "owner", "founder", "cause", "causes", "effect", "effects", "risk", "risks", "rise",
    "increase", "time", "date", "name", "title", "job", "role", "number", "amount", "total",
}  # fmt: skip
# English function words (articles, pronouns, auxiliaries, prepositions…) and the generic words
# a question asks with (called, job, name, happen): never a subject. A curated list, kept as data.
EN_WORDS = Path(__file__).with_name("data") / "english_non_subject.txt"
# An English word with at most this many Japanese terms is specific enough to check.
SPECIFIC = 3


@dataclass(frozen=True)
class Term:
    """One thing a question is about: a word, compound or name, normalized (停戦条件, comet).

    ja: an English word's Japanese spellings (glossary, the corpus's katakana for a name), by
    which it is looked for in Japanese text.
    """

    text: str
    is_name: bool = False
    ja: tuple[str, ...] = ()


def question_terms(
    question: str, lang: str, katakana: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[Term, ...]:
    """The question's terms in its language's rules: a Japanese question's subject terms, an
    English question's content words (the answer step scores sentences by all of them)."""
    if lang == "en":
        return tuple(Term(w, name, js) for w, name, js in crosslingual.terms_in(question, katakana))
    # From the normal form, as the subject check always read a first question: an upper-case
    # acronym then counts only in an English question (with them, jsquad-dev answered .0004
    # fewer questions, gold in the answer .0003 lower).
    return tuple(Term(t, is_name(t)) for t in subject_terms(normalize(question)))


def subject(terms: Iterable[Term]) -> tuple[Term, ...]:
    """The terms that say what a question is about: an English question's words that ask with
    (called, job, him, happen) left out, its names kept."""
    return tuple(t for t in terms if t.is_name or not _asks_with(t.text))


def _asks_with(word: str) -> bool:
    """A word a question asks with, not about: listed; a verb's past form (celebrated) or -ing
    form (planning), an adjective (affordable), unless the glossary knows it as a noun; or a
    word the glossary gives mostly verbs and adjectives for (save → 救う, 助ける)."""
    if word in non_subject():
        return True
    if " " in word or len(word) <= 3:
        return False
    formed = (word.endswith(("ed", "ing")) and not word.endswith("eed")) or word.endswith(
        _ADJECTIVE_ENDINGS
    )
    table = crosslingual.glossary()
    bases = (word[: -len(x)] + y for x, y in _INFLECTIONS if word.endswith(x))
    senses = table.get(word) or next((table[b] for b in bases if b in table), ())
    if formed:
        return not senses or not _mostly(senses, _NOUNISH)
    return bool(senses) and _mostly(senses, _VERBISH)


# Plural, third-person and past endings, and what the base form ends in instead.
_INFLECTIONS = (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""))
# Adjective endings (affordable, careful, famous); -al is left out (festival, hospital).
_ADJECTIVE_ENDINGS = ("able", "ible", "ful", "ous", "less", "ive")
# A Japanese sense that is a verb or an adjective (救う, 持つ, 大きい), or a noun (価値, タービン).
_VERBISH = re.compile(r"[うくぐすつぬぶむる]$|[^ァ-ヺー]い$")
_NOUNISH = re.compile(r"[一-鿿ァ-ヺー]$")


def _mostly(senses: tuple[str, ...], kind: re.Pattern) -> bool:
    """Whether more than half of a word's Japanese senses look like kind."""
    return 2 * sum(1 for j in senses if kind.search(j)) > len(senses)


def own(terms: Iterable[Term]) -> tuple[Term, ...]:
    """The subject terms a follow-up brings itself, the kind of answer it wants left out."""
    return tuple(t for t in subject(terms) if t.text not in KIND and t.text not in KIND_EN)


@lru_cache(maxsize=1)
def non_subject() -> frozenset[str]:
    """English words that are never a question's subject (EN_WORDS, and crosslingual.STOP)."""
    lines = EN_WORDS.read_text(encoding="utf-8").splitlines()
    words = {w for line in lines if not line.startswith("#") for w in line.split()}
    return frozenset(words | STOP)


def subject_terms(question: str) -> list[str]:
    """The names and terms a question is about (normalized), framing words left out.

    In a Japanese question, Latin words count only as acronyms or numbers (NATO, EU, 2014):
    lower-case Latin there is pasted text (@everyone, code, a link), not the subject.
    """
    q = normalize(question)
    latin_only = not re.search(r"[ぁ-ヺ一-鿿]", q)
    acronyms = {
        a.lower()
        for a in re.findall(
            r"(?<![A-Za-z])[A-Z]{2,6}(?![A-Za-z])", unicodedata.normalize("NFKC", question)
        )
    }
    out = []
    runs = sorted([*_RUN.finditer(q), *_OKURIGANA_NOUN.finditer(q)], key=lambda m: m.start())
    for m in runs:
        term = m.group(0)
        # 何 asks (何雨, 何計画, 西暦何年): what follows it is the kind of answer, not the subject.
        term = term.split("何", 1)[0]
        if len(term) < 2 or term in FRAMING or term in _FORM or term in STOP:
            continue
        latin = term[0].isascii() and term[0].isalpha()
        if latin and not latin_only and term not in acronyms:
            continue
        if latin_only and not term[0].isdigit() and len(term) < 3:
            continue
        out.append(term)
    return list(dict.fromkeys(out))


def is_name(term: str) -> bool:
    """Katakana, Latin and country names are names: a paraphrase cannot stand in for them."""
    return bool(
        re.fullmatch(r"[ァ-ヺー]+|[a-z0-9.\-]+", term)
        or term in COUNTRIES
        or all(c in _COUNTRY_CHARS for c in term)
    )


def missing(terms: Iterable[Term], text: str, lang: str, crossing: bool = False) -> tuple:
    """(names, words) of terms that the text (normalized) does not hold.

    lang: the question's; crossing: an English question over Japanese text, whose terms are
    looked for by their Japanese spellings.
    """
    terms = list(terms)
    if crossing:
        return missing_english(terms, text)
    if lang == "en":  # English over English: a name as written (capitalized), a word in any form
        gone = [t for t in terms if not _english_present(t.text, text)]
        return [t.text for t in gone if t.is_name], [t.text for t in gone if not t.is_name]
    lacking = missing_terms([t.text for t in terms], text)
    return [t for t in lacking if is_name(t)], [t for t in lacking if not is_name(t)]


def missing_terms(terms: list[str], evidence: str) -> list[str]:
    """The parts of terms the evidence (normalized text) neither contains nor spells out.

    A kanji compound counts by its parts: 停戦条件 is found as 停戦 + 条件, and of 韓国大統領
    only 韓国 is missing when the evidence speaks of a 大統領.
    """
    out: list[str] = []
    for t in terms:
        # A compound's framing part (最新+情報) says what is wanted, not what it is about.
        out.extend(r for r in _residue(t, evidence) if r not in out and r not in FRAMING)
    return out


def missing_english(terms: Iterable[Term], evidence: str) -> tuple[list, list]:
    """(names, words) of an English question that none of their Japanese terms spells in the
    evidence; a name the glossary lacks is looked for by its sound (crosslingual.sounds_present),
    other words it does not know cannot be checked and are left out."""
    names, words = [], []
    for t in terms:
        if t.is_name and not t.ja:
            if not crosslingual.sounds_present(t.text, evidence):
                names.append(t.text)
            continue
        if not t.ja or any(normalize(j) in evidence for j in t.ja):
            continue
        if t.is_name:
            names.append(t.text)
        elif len(t.ja) <= SPECIFIC and not crosslingual.is_action(t.text):
            # A word with many senses (give, plan, call) says little about the subject, and
            # an action (blame, warn) the coverage can report in other words.
            words.append(t.text)
    return names, words


def _english_present(word: str, text: str) -> bool:
    """Whether English text holds the word in some form (discovered: discovery, discovers)."""
    return any(re.search(rf"(?<![a-z]){re.escape(s)}", text) for s in (word, _stem(word)))


def _stem(word: str) -> str:
    for suffix in ("ing", "ied", "ies", "ed", "es", "s", "e", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _present(term: str, text: str) -> bool:
    return term in text or any(a in text for a in _ALIASES.get(term, ()))


def _residue(term: str, text: str) -> list[str]:
    """What of term the text lacks: [] when present, else the uncovered runs of a compound."""
    if _present(term, text):
        return []
    if not _KANJI.fullmatch(term):
        return [term]
    if all(c in _AFFIX for c in term):
        return []  # only affixes: nothing the question is about
    # Cover the most characters with the text's words (2+ characters) and affixes after them;
    # what stays uncovered, in runs, is what the text lacks.
    n = len(term)
    best: list[tuple[int, list[tuple[int, int]]] | None] = [(0, [])] + [None] * n
    for end in range(1, n + 1):
        for start in range(end):
            prev = best[start]
            if prev is None:
                continue
            piece = term[start:end]
            covered = (len(piece) >= 2 and _present(piece, text)) or (
                len(piece) == 1 and start > 0 and piece in _AFFIX
            )
            if not covered and len(piece) > 1:
                continue  # uncovered text advances one character at a time
            gaps = prev[1] if covered else _join(prev[1], start, end)
            score = prev[0] + (len(piece) if covered else 0)
            if best[end] is None or score > best[end][0]:
                best[end] = (score, gaps)
    runs = [term[a:b] for a, b in best[n][1]]
    return [r for r in runs if len(r) >= 2 or r in _COUNTRY_CHARS]


def _join(gaps: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Add the uncovered span [start, end), merged with the previous one when adjacent."""
    if gaps and gaps[-1][1] == start:
        return [*gaps[:-1], (gaps[-1][0], end)]
    return [*gaps, (start, end)]


# 最新の・今日の・きょう・latest: the asker wants the newest coverage first.
LATEST = re.compile(
    r"最新|今日の|きょうの|本日の|直近の|いちばん新しい|一番新しい|\blatest\b|\bnewest\b", re.I
)  # 直近の, not 直近6年間 (a span of years, asked of any article)


def asks_latest(question: str) -> bool:
    return bool(LATEST.search(question))


_HIRAGANA = re.compile(r"[ぁ-ゖ]")
_CJK = re.compile(r"[\u30a0-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def question_language(question: str) -> str:
    """ "ja" or "en" by the question's letters: Japanese grammar (any hiragana), or kanji and
    katakana holding their own against the Latin letters (a kanji weighs about three: NATO首脳会議
    is Japanese; one 禪 in "What influenced 禪?" does not make the question Japanese)."""
    if _HIRAGANA.search(question):
        return "ja"
    latin = len(_LATIN.findall(question))
    return "ja" if not latin or 3 * len(_CJK.findall(question)) >= latin else "en"
