"""Compose a short answer from the top passages' own sentences, each with its citation."""

from __future__ import annotations

import re

import numpy as np

from .text import char_ngrams, find_urls, sentence_spans, split_sentences
from .types import Answer, Hit

NO_ANSWER_JA = "申し訳ありません。この質問に答える記事は見つかりませんでした。"
NO_ANSWER_EN = "Sorry, the coverage does not answer this question."
# Lines that carry metadata or ask rather than tell are never part of an answer.
_SKIP = re.compile(r"^(公開日|さらに読む|出典|画像元)|[?？]。?$")
# Sentences within this cosine of the best one are quoted too (up to max_sentences).
SENTENCE_SLACK = 0.02
_KANA_KANJI = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def language(question: str) -> str:
    """ "ja" unless the question is written in Latin letters with no kana or kanji."""
    ja = bool(_KANA_KANJI.search(question)) or not re.search(r"[A-Za-z]", question)
    return "ja" if ja else "en"


def no_answer(question: str, nearby: tuple[str, ...] = ()) -> Answer:
    """The honest reply when nothing in the coverage answers, in the question's language."""
    lang = language(question)
    text = NO_ANSWER_JA if lang == "ja" else NO_ANSWER_EN
    return Answer(question, text, True, (), lang=lang, nearby=nearby)


def compose(
    question: str,
    hits: list[Hit],
    sentence_scores: list[np.ndarray],
    weights: dict[str, float],
    max_sentences: int = 3,
) -> Answer:
    """Pick the sentences that best answer the question, verbatim, each cited.

    Args:
        question: the user's question.
        hits: ranked passages; citation [n] points to hits[n-1].
        sentence_scores: per hit, the question's cosine with each of its sentences.
        weights: idf of the question's n-grams (from the lexical index).
        max_sentences: upper bound on answer length.
    """
    total = sum(weights.values()) or 1.0
    scored: list[tuple[float, int, int, str]] = []
    for rank, (hit, cosines) in enumerate(zip(hits[:3], sentence_scores)):
        # Later passages need clearly better sentences to be quoted.
        prior = 0.01 * rank
        for pos, ((a, b), cos) in enumerate(zip(sentence_spans(hit.text), cosines)):
            sentence = hit.text[a:b]
            if len(sentence) < 6 or _SKIP.search(sentence) or find_urls(sentence):
                continue
            grams = set(char_ngrams(sentence))
            overlap = sum(w for g, w in weights.items() if g in grams) / total
            # Meaning first; shared rare words break ties between near-equal sentences.
            scored.append((float(cos) + 0.05 * overlap - prior, rank, pos, sentence))
    scored.sort(key=lambda x: (-x[0], x[1], x[2]))
    chosen: list[tuple[int, int, str]] = []
    seen: list[set[str]] = []
    best = scored[0][0] if scored else 0.0
    for score, rank, pos, sentence in scored:
        if len(chosen) == max_sentences or score < best - SENTENCE_SLACK:
            break
        grams = {g for g in char_ngrams(sentence) if len(g) == 2}
        if any(_similar(grams, s) for s in seen):
            continue  # the seed repeats points in summary bullets and in the body
        chosen.append((rank, pos, sentence))
        seen.append(grams)
    if not chosen and hits:
        chosen = [(0, 0, split_sentences(hits[0].text)[0])]
    # Read in document order: by passage rank, then position within the passage.
    chosen.sort()
    text = " ".join(f"{s}[{rank + 1}]" for rank, _, s in chosen)
    return Answer(
        question,
        text,
        False,
        tuple(hits),
        tuple(r + 1 for r, _, _ in chosen),
        tuple(s for _, _, s in chosen),
        language(question),
    )


def _similar(a: set[str], b: set[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) > 0.6
