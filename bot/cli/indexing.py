"""`newsbot index` and `newsbot info`: a build with its progress bar; the live manifest."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from index.errors import (
    ArticlesDirError,
    NewsbotError,
)

from ..settings import Settings
from .output import (
    EmbeddingBar,
    format_report,
    format_sync,
    printable,
)

log = logging.getLogger(__name__)


def cmd_index(args, settings: Settings) -> int:
    # Checked before the model loads (a minute, hundreds of MB in a wrong folder).
    if not Path(settings.index.articles_dir).is_dir():
        raise ArticlesDirError(f"articles folder not found: {settings.index.articles_dir}")
    searcher = args.open_searcher(settings.index)
    bar = EmbeddingBar()
    if args.prune and settings.index.store.backend != "postgres":
        raise NewsbotError(
            '--prune is for the database\'s shared articles ([store] backend = "postgres")'
        )
    try:
        # With the database, this folder joins the shared articles first (another machine's
        # stay): the reindex does it, and its report says what changed.
        report = searcher.reindex(
            rebuild=args.rebuild, progress=bar, allow_empty=args.allow_empty, prune=args.prune
        )
    finally:
        bar.close()
    if report.synced is not None:  # its files not copied are among the skipped below
        print(format_sync(replace(report.synced, skipped=[])), flush=True)
    print(format_report(report))
    if report.kept:
        # The index is live but stale for these: a script must notice, not only a person.
        print(
            f"newsbot: warning: {len(report.kept)} broken articles kept their previous "
            "passages; fix or delete them",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_info(args, settings: Settings) -> int:
    info = index_info(settings.index)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            print(printable(f"{key}: {value}"))
    return 0


def index_info(options) -> dict:
    """What the live index says about itself, read from its manifest: no model is loaded."""
    from index.storage import live_manifest

    # Sizes only, no checksums or arrays: info stays instant.
    where, manifest = live_manifest(options, options.index_dir)
    return {
        "model": manifest.get("model"),
        "encoder": manifest.get("encoder"),
        "model_dir": manifest.get("model_dir"),
        "dim": manifest.get("dim"),
        "articles": len(manifest.get("articles", {})),
        "passages": manifest.get("passages"),
        "index_dir": str(where.parent),
        "version": where.name,
        "built_at": manifest.get("built_at"),
        "dense_index": manifest.get("dense_index"),
        "skipped": manifest.get("skipped", []),
    }
