"""The YAML front matter of article files: read by the loader, written by `newsbot add`."""

from __future__ import annotations

import re

import yaml

from ..errors import ArticleError, Skip

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def split(text: str) -> tuple[dict, str]:
    """(front matter as a dict, the body after it); ArticleError says what is wrong."""
    m = FRONT_MATTER_RE.match(text)
    if not m:
        raise ArticleError(
            "no front matter (the file must start with '---', 'title: ...', '---')",
            code=Skip.NO_FRONT_MATTER,
        )
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 2}" if where else ""
        raise ArticleError(
            f"front matter is not valid YAML{line}", code=Skip.FRONT_MATTER_SYNTAX
        ) from None
    except RecursionError:
        raise ArticleError(
            "front matter is nested too deeply", code=Skip.FRONT_MATTER_SYNTAX
        ) from None
    if not isinstance(meta, dict):
        raise ArticleError("front matter must be 'key: value' lines", code=Skip.FRONT_MATTER_SYNTAX)
    return meta, text[m.end() :]


def join(meta: dict, body: str) -> str:
    """An article file's text: the non-empty fields as front matter, a blank line, the body."""
    kept = {k: v for k, v in meta.items() if v}
    front = yaml.safe_dump(kept, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{front}---\n\n{body}"
