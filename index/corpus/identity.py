"""What makes two article texts the same: the front matter url and a digest of the body."""

from __future__ import annotations

import hashlib

from ..errors import ArticleError
from . import frontmatter


def text_identity(text: str) -> tuple[str | None, str | None]:
    """(front matter url, body digest) of one article's text: what makes two the same."""
    try:
        meta, body = frontmatter.split(text)
    except ArticleError:
        return None, None  # the loader reports it; without front matter it is no duplicate
    url = meta["url"].strip() if isinstance(meta.get("url"), str) else None
    return url, body_digest(body)


def body_digest(body: str) -> str:
    """The body's digest with whitespace runs made one space (a re-wrapped page is the same)."""
    return hashlib.sha256(" ".join(body.split()).encode("utf-8")).hexdigest()
