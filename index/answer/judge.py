"""Does the coverage answer this question? The one place that decides, and the terms it checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..corpus.text import language, normalize
from ..options import IndexOptions
from ..retrieval import crosslingual
from ..retrieval.crosslingual import STOP
from ..retrieval.query import Query
from ..retrieval.ranker import Index
from .compose import Candidate

# Script runs of the normalized question: katakana words, kanji compounds, Latin words/digits.
_RUN = re.compile(r"[ァ-ヺー]{2,}|[一-鿿々〆ヶ]{2,}|[a-z0-9][a-z0-9.\-]*[a-z0-9]")
_KANJI = re.compile(r"[一-鿿々〆ヶ]+")
# What a question is about, not its framing: these words say what kind of answer is wanted and
# need not appear in the passages that give it.
_FRAMING = set(
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
    "plans", "next", "response", "reaction", "period", "duration", "terms",
}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The decision and what it rests on (kept for eval reports and refusals)."""

    covered: bool
    margin: float  # best evidence sentence cosine minus the nearest off-topic anchor's
    lexical: float  # idf-weighted share of the question's bigrams in the top passage
    missing: tuple[str, ...] = ()  # the question's subject terms that no evidence passage holds


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
    for m in _RUN.finditer(q):
        term = m.group(0)
        # 何 asks (何雨, 何計画, 西暦何年): what follows it is the kind of answer, not the subject.
        term = term.split("何", 1)[0]
        if len(term) < 2 or term in _FRAMING or term in _FORM or term in STOP:
            continue
        latin = term[0].isascii() and term[0].isalpha()
        if latin and not latin_only and term not in acronyms:
            continue
        if latin_only and not term[0].isdigit() and len(term) < 3:
            continue
        out.append(term)
    return list(dict.fromkeys(out))


def missing_terms(terms: list[str], evidence: str) -> list[str]:
    """The parts of terms the evidence (normalized text) neither contains nor spells out.

    A kanji compound counts by its parts: 停戦条件 is found as 停戦 + 条件, and of 韓国大統領
    only 韓国 is missing when the evidence speaks of a 大統領.
    """
    out: list[str] = []
    for t in terms:
        # A compound's framing part (最新+情報) says what is wanted, not what it is about.
        out.extend(r for r in _residue(t, evidence) if r not in out and r not in _FRAMING)
    return out


def is_name(term: str) -> bool:
    """Katakana, Latin and country names are names: a paraphrase cannot stand in for them."""
    return bool(
        re.fullmatch(r"[ァ-ヺー]+|[a-z0-9.\-]+", term)
        or term in COUNTRIES
        or all(c in _COUNTRY_CHARS for c in term)
    )


def missing_english(terms: Sequence[tuple[str, bool, tuple[str, ...]]], evidence: str):
    """(names, words) of an English question that none of their Japanese terms spells in the
    evidence; a name the glossary lacks is looked for by its sound (crosslingual.sounds_present),
    other words it does not know cannot be checked and are left out."""
    names, words = [], []
    for english, name, japanese in terms:
        if name and not japanese:
            if not crosslingual.sounds_present(english, evidence):
                names.append(english)
            continue
        if not japanese or any(normalize(j) in evidence for j in japanese):
            continue
        if name:
            names.append(english)
        elif len(japanese) <= SPECIFIC and not crosslingual.is_action(english):
            # A word with many senses (give, plan, call) says little about the subject, and
            # an action (blame, warn) the coverage can report in other words.
            words.append(english)
    return names, words


# An English word with at most this many Japanese terms is specific enough to check.
SPECIFIC = 3


def decide(
    margin: float,
    lexical: float,
    names: list[str],
    words: list[str],
    options: IndexOptions,
    crosslingual: bool = False,
    subject: bool = True,
) -> Verdict:
    """Answer when the evidence is about the question's subject and close to it in meaning.

    Args:
        margin: best evidence sentence cosine minus the nearest off-topic anchor's.
        lexical: idf-weighted share of the question's bigrams found in the top passage.
        names: the question's names the evidence passages lack (ガザ, 韓国, Gaza).
        words: its other subject words they lack (支持率, 弾劾).
        options: thresholds (min_margin, min_lexical, name_margin, word_margin,
            crosslingual_margin).
        crosslingual: an English question over Japanese coverage, whose cosines run lower.
        subject: whether the question has subject words at all (else none can be present).
    """
    missing = (*names, *words)
    # Every subject word the question has is in the evidence: it is about this coverage, and
    # a plainly worded question may sit closer to the anchors (リチウムの話ってなに?).
    present = subject and not missing
    floor = options.crosslingual_margin if crosslingual else options.min_margin
    floor -= options.present_bonus if present else 0.0
    # Same genre, other story: the passages never name what the question is about. Only a
    # clearly closer meaning excuses a missing word (a paraphrase: 休戦 for 停戦), and names
    # need more than that.
    if names and margin < options.name_margin:
        return Verdict(False, margin, lexical, missing)
    if words and margin < options.word_margin:
        return Verdict(False, margin, lexical, missing)
    if crosslingual:
        return Verdict(margin >= floor, margin, lexical, missing)
    covered = margin >= floor or lexical >= options.min_lexical
    return Verdict(covered, margin, lexical, missing)


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


def own_terms(query: Query, katakana=None) -> list:
    """The subject words a follow-up brings itself, the kind of answer it wants left out."""
    if query.lang == "en":
        return [t for t in crosslingual.terms_in(query.text, katakana) if t[0] not in KIND_EN]
    return [t for t in subject_terms(query.text) if t not in KIND]


def verdict(
    index: Index,
    query: Query,
    qvec: np.ndarray,
    ids: list[int],
    candidates: list[Candidate],
    options: IndexOptions,
    weights: dict[str, float] | None = None,
) -> Verdict:
    """The 'does the coverage answer?' signals from the top passages, weighed by decide.

    weights: the term weights of the searched text (lexical.term_weights), when the caller has
    them. A follow-up's own subject words must be in the evidence; the ones it stands on found it.
    """
    top = [c for c in candidates if c.hit < options.evidence_passages]
    best = max((c.cosine for c in top), default=-1.0)
    background = float((index.anchors @ qvec).max(initial=-1))
    passages = dict.fromkeys(c.passage for c in top) or dict.fromkeys(ids[:1])
    evidence = normalize(
        "\n".join(
            f"{h.title}\n{h.section}\n{h.text}" for h in (index.hit(p, 0.0) for p in passages)
        )
    )
    if query.lang == "en" and language(evidence) == "ja":
        # The question's words are looked for by their Japanese terms (retrieval/crosslingual.py).
        if query.follow_up:
            terms = own_terms(query, index.katakana)
        else:
            terms = crosslingual.terms_in(query.text, index.katakana)
        names, words = missing_english(terms, evidence)
        crossing, subject = True, bool(terms)
    else:
        terms = own_terms(query) if query.follow_up else subject_terms(query.normal)
        missing = missing_terms(terms, evidence)
        names = [t for t in missing if is_name(t)]
        words = [t for t in missing if not is_name(t)]
        crossing, subject = False, bool(terms)
    if query.follow_up and not terms and index.section_of(ids[0])[0] in query.prefer:
        # なぜ?, what else? after an answer, answered from the story that answer told: the
        # previous turn was judged covered, and this one asks nothing the story could lack.
        return Verdict(True, best - background, 1.0)
    return decide(
        best - background,
        index.coverage(query.searched_normal, ids[0], weights),
        names,
        words,
        options,
        crossing,
        subject,
    )
