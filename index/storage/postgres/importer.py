"""`newsbot db import`: a folder's index and the articles it was built from, into the database.

The index alone is a trap: the next build (an `add`, a feed, `newsbot index` on any machine)
indexes the database's articles, and without them everything imported would go. So the
articles come along, checked first against the version's manifest: a folder changed since its
index was built is refused with the files that differ, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...corpus.loader import load_articles
from ...errors import IndexWriteError
from ..base import Version, Writer
from .articles import SyncReport
from .store import PgStore

SHOWN = 5  # files named in a refusal; the rest are counted


@dataclass
class Imported:
    """What `newsbot db import` moved: the version's new name and the articles' sync."""

    name: str
    articles: SyncReport


def import_index(
    local: Version, store: PgStore, folder: Path, max_bytes: int, home: Path
) -> Imported:
    """Copy the folder's articles, then its index built from them, into the database.

    home: the data folder (it keeps this installation's id: articles.origin_of).
    """
    check_built_from(local, Path(folder), max_bytes)
    synced = store.articles.sync(Path(folder), max_bytes, home)
    return Imported(import_version(local, store), synced)


def check_built_from(local: Version, folder: Path, max_bytes: int) -> None:
    """Refuse when the folder's articles are not those the version was built from."""
    articles, _ = load_articles(folder, max_bytes)
    have = {a.file: a.digest for a in articles}
    built = {f: meta.get("digest") for f, meta in local.manifest.get("articles", {}).items()}
    differ = sorted(f for f in built.keys() | have.keys() if built.get(f) != have.get(f))
    if differ:
        shown = ", ".join(differ[:SHOWN]) + (
            f" and {len(differ) - SHOWN} more" if len(differ) > SHOWN else ""
        )
        raise IndexWriteError(
            f"not imported: the index {local.name} was not built from the articles now in "
            f"{folder} ({len(differ)} differ: {shown}); build it again from them first, or "
            "let the database build its own from them"
        )


def import_version(local: Version, store: PgStore) -> str:
    """Copy a version (a local one) into the database and make it live; its new name."""
    with store.lock(), store.writer() as writer:
        copy_version(local, writer, flat_max=0)
        where = writer.commit(dict(local.manifest, imported_from=local.name))
    return where.name


def copy_version(version: Version, writer: Writer, flat_max: int) -> None:
    """Write everything of a version into a writer (of either store)."""
    n = version.size
    writer.sections(list(version.sections), np.asarray(version.passage_section))
    writer.sentences([np.asarray(version.sentence_vectors(i)) for i in range(n)], version.dense.dim)
    writer.keys(np.asarray(version.keys))
    writer.texts(version.text(i) for i in range(n))
    writer.dense_vectors(np.asarray(version.vectors), flat_max)
    writer.lexical(version.lexical)
    writer.anchors(np.asarray(version.anchors))
