"""Articles → passages: one section at a time, split at sentence boundaries when long."""

from __future__ import annotations

from dataclasses import dataclass

from .loader import Article
from .text import split_sentences

# e5 reads at most 512 tokens; Japanese runs about 1-1.5 characters a token, so 400
# characters stays well under the limit and keeps passages focused for ranking.
MAX_CHARS = 400


@dataclass(frozen=True)
class Passage:
    """A piece of a section, with everything needed to cite it."""

    article: str
    title: str
    section: str
    text: str
    sources: tuple[str, ...]
    published: str | None
    outlet: str | None


def chunk_article(article: Article, max_chars: int = MAX_CHARS) -> list[Passage]:
    """Split an article into passages, each citing its section's links (else the article's)."""
    passages = []
    fallback = (article.url,) if article.url else article.links
    for section in article.sections:
        sources = section.links or fallback
        for text in split_text(section.text, max_chars):
            passages.append(
                Passage(
                    article=article.file,
                    title=article.title,
                    section=section.heading,
                    text=text,
                    sources=tuple(sources),
                    published=article.published,
                    outlet=article.outlet,
                )
            )
    return passages


def split_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Pack whole sentences into pieces of at most max_chars, balancing the last pieces."""
    text = text.strip()
    if not text:
        return []
    if len(text) <= max_chars:
        return [text]
    units: list[str] = []
    for sentence in split_sentences(text):
        # A sentence longer than a whole passage (a run-on list, a table) is cut hard.
        while len(sentence) > max_chars:
            units.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        if sentence:
            units.append(sentence)
    # Aim for equal-sized pieces rather than a full one followed by a scrap.
    total = sum(len(u) for u in units)
    pieces = -(-total // max_chars)
    target = total / pieces
    out, cur = [], ""
    for u in units:
        if cur and (len(cur) + len(u) > max_chars or len(cur) >= target):
            out.append(cur)
            cur = ""
        cur = f"{cur}\n{u}" if cur else u
    if cur:
        out.append(cur)
    return out
