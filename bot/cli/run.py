"""`newsbot run`: the Discord bot (bot/runner.py), with its shards."""

from __future__ import annotations

import logging

from ..settings import Settings

log = logging.getLogger(__name__)


def cmd_run(args, settings: Settings) -> int:
    from ..runner import run

    return run(
        settings,
        shards=args.shards,
        shard_count=args.shard_count,
        open_searcher=args.open_searcher,
    )
