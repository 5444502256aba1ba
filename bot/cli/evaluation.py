"""`newsbot eval`: retrieval and answers on a question set, or follow-ups on a dialogue set."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace

from ..settings import Settings
from .output import (
    printable,
)

log = logging.getLogger(__name__)


def cmd_eval(args, settings: Settings) -> int:
    from index import article_files
    from index.evaluate import evaluate, load_questions

    if args.dir.is_file():
        return eval_dialogues(args, settings)
    # The question file is checked before the model loads; the gold articles are named.
    questions = load_questions(args.dir / "questions.jsonl", settings.index)
    articles = args.dir / "articles"
    names = {p.relative_to(articles).as_posix() for p in article_files(articles)}
    missing = sorted({q["article"] for q in questions} - names)
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        print(
            f"newsbot: warning: questions name articles that are not in {articles}: {shown} "
            "(their questions count as misses)",
            file=sys.stderr,
        )
    searcher = args.open_searcher(_eval_options(args, settings))
    result = evaluate(args.dir, searcher, args.k, args.dense_weight)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for name, m in result.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in m.items()))
    return 0


def eval_dialogues(args, settings: Settings) -> int:
    """`newsbot eval DIALOGUES.jsonl --articles DIR ...`: follow-ups over these articles."""
    from index.evaluate import evaluate_dialogues, load_dialogues

    load_dialogues(args.dir)  # checked before the model loads
    folders = args.articles or [settings.index.articles_dir]
    result = evaluate_dialogues(
        args.dir, args.open_searcher(_eval_options(args, settings)), folders
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for w in result["misses"]:
        print(f"miss: {w['id']} turn {w['turn']}: {w['q']} -> {printable(w['got'][:80])}")
    for key, value in result.items():
        if key != "misses":
            print(f"{key}: {value}")
    return 0


def _eval_options(args, settings: Settings):
    options = settings.index
    if args.encoder:
        options = replace(options, encoder=args.encoder)
    if options.store.backend == "postgres":
        # The temporary index goes to its own schema: the bot's live index stays as it is.
        options = replace(
            options, store=replace(options.store, schema=f"{options.store.schema}_eval")
        )
    return options
