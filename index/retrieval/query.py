"""A question checked, normalized and decided (language, context) before any work is done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..corpus.text import char_ngrams, normalize
from ..errors import QuestionError
from ..options import IndexOptions
from . import crosslingual, terms
from .terms import Term


def check_question(question: str, options: IndexOptions) -> str:
    """Return the question cleaned for search, or raise QuestionError saying what is wrong."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("質問が空です。")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate can arrive in JSON and breaks the tokenizer
        raise QuestionError("質問に UTF-8 として読めない文字が含まれています。") from None
    if len(question) > options.max_question_chars:
        raise QuestionError(
            f"質問が長すぎます（{len(question)}文字、上限{options.max_question_chars}文字）。"
        )
    q = normalize(question)
    if not char_ngrams(q):
        raise QuestionError("質問に検索できる文字がありません。")
    return q


@dataclass(frozen=True)
class Query:
    """A question decided once: its normal form, its language, its terms, and the turn it leans on.

    A follow-up (期間は? after a question about the ceasefire) is searched with the questions it
    stands on (`context`) and prefers the articles the previous answer cited; its own words are
    still the ones the coverage must hold.
    """

    text: str  # as asked
    normal: str  # check_question's form of text
    lang: str  # "ja" or "en": the reply's language
    terms: tuple[Term, ...] = ()  # its terms (terms.question_terms)
    latest: bool = False  # asks for the newest coverage first (最新の, latest)
    context: str = ""  # the earlier questions a follow-up stands on ("" when asked afresh)
    prefer: tuple[str, ...] = ()  # the previous answer's cited articles, best first
    continued: str = ""  # the question of the turn it continues
    lacks_subject: bool = False  # a follow-up with nothing to follow (期間は? as a first question)
    seen: tuple[str, ...] = ()  # sentences the asker was already shown and asks beyond (他には?)
    said: tuple[str, ...] = ()  # the previous answer's sentences: a follow-up leads with others

    @classmethod
    def of(
        cls,
        question: str,
        options: IndexOptions,
        katakana: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Query:
        """Check the question (QuestionError when it cannot be asked) and decide its language,
        terms (katakana: the corpus's spellings of names, see Index) and whether it asks the
        latest."""
        normal = check_question(question, options)
        lang = terms.question_language(question)
        found = terms.question_terms(question, lang, katakana)
        return cls(question, normal, lang, found, terms.asks_latest(question))

    @property
    def subject(self) -> tuple[Term, ...]:
        """The terms that say what it is about, which the coverage must hold."""
        return terms.subject(self.terms)

    @property
    def own_terms(self) -> tuple[Term, ...]:
        """The terms a follow-up brings itself, the kind of answer it wants left out."""
        return terms.own(self.terms)

    @property
    def follow_up(self) -> bool:
        return bool(self.context)

    @property
    def searched(self) -> str:
        """What ranking and meaning see: the question with the ones it stands on."""
        return f"{self.context} {self.text}" if self.context else self.text

    @property
    def searched_normal(self) -> str:
        return normalize(self.searched) if self.context else self.normal

    def lexical(self, katakana: Mapping[str, tuple[str, ...]] | None = None) -> str:
        """What BM25 matches: an English question also by its words' Japanese terms (and by the
        corpus's katakana spellings of names the glossary lacks)."""
        if self.lang != "en":
            return self.searched_normal
        return normalize(crosslingual.expand(self.searched_normal, katakana))
