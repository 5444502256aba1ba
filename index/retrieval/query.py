"""A question checked and normalized before any work is done for it."""

from __future__ import annotations

from ..corpus.text import char_ngrams, normalize
from ..errors import QuestionError
from ..options import IndexOptions


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
