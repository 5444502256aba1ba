"""The command line's arguments: one subcommand per job, each bound to its command."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from . import follow
from .ask import cmd_ask
from .chat import cmd_chat, cmd_topics
from .coverage import cmd_add, cmd_feeds
from .database import cmd_articles_export, cmd_db_dev, cmd_db_import, cmd_db_init
from .evaluation import cmd_eval
from .indexing import cmd_index, cmd_info
from .run import cmd_run
from .usage import cmd_report, cmd_usage


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsbot", description="Answer questions from news coverage.")
    p.add_argument(
        "--config", help="settings file (default: $NEWSBOT_CONFIG or config/settings.toml)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = p.add_subparsers(dest="command", required=True)
    # In this order in `newsbot --help`.
    for add in (
        _ask, _chat, _topics, _index, _eval, _info, _add, _feeds, follow.add_parser, _usage,
        _run, _db,
    ):  # fmt: skip
        add(sub)
    return p


def _ask(sub) -> None:
    ask = sub.add_parser("ask", help="answer one or more questions")
    ask.add_argument(
        "questions", nargs="+", metavar="QUESTION", help="a question, or - for one a line on stdin"
    )
    ask.add_argument("-k", type=_positive, default=None, help="passages per question")
    ask.add_argument("--json", action="store_true", help="one JSON object per line per question")
    ask.add_argument("--passages", action="store_true", help="also print the passages found")
    _filters(ask)
    ask.set_defaults(func=cmd_ask)


def _chat(sub) -> None:
    chat = sub.add_parser(
        "chat", help="a conversation: questions from stdin, follow-ups answered in context"
    )
    chat.add_argument("-k", type=_positive, default=None, help="passages per question")
    chat.add_argument("--json", action="store_true", help="one JSON object per question")
    _filters(chat)
    chat.set_defaults(func=cmd_chat)


def _topics(sub) -> None:
    topics = sub.add_parser("topics", help="list the articles the index holds, newest first")
    topics.add_argument("--limit", type=_positive, default=None, help="at most this many")
    topics.add_argument("--offset", type=int, default=0, help="skip this many first")
    topics.add_argument("--json", action="store_true", help="one JSON object per article")
    topics.set_defaults(func=cmd_topics)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outlet", help="only articles of this outlet (as `newsbot topics` names it)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published on or after")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only articles published on or before")


def _index(sub) -> None:
    idx = sub.add_parser("index", help="build or update the index from the articles folder")
    idx.add_argument("--rebuild", action="store_true", help="re-embed everything")
    idx.add_argument(
        "--allow-empty",
        action="store_true",
        help="let an articles folder without usable articles empty the index",
    )
    idx.add_argument(
        "--prune",
        action="store_true",
        help="with the database: also remove shared articles this folder lacks (any origin)",
    )
    idx.set_defaults(func=cmd_index)


def _eval(sub) -> None:
    ev = sub.add_parser(
        "eval",
        help="measure retrieval on DIR/articles and DIR/questions.jsonl, "
        "or follow-ups on a dialogues .jsonl file",
    )
    ev.add_argument("dir", type=Path, metavar="DIR|DIALOGUES")
    ev.add_argument(
        "--articles",
        type=Path,
        action="append",
        help="with a dialogues file: a folder of articles to index together (repeatable; "
        "default: the articles folder of the settings)",
    )
    ev.add_argument("-k", type=_positive, default=10)
    ev.add_argument("--json", action="store_true")
    ev.add_argument(
        "--dense-weight",
        type=_weights,
        default=None,
        help="fusion weight(s) to score, comma-separated (1 = dense alone, 0 = lexical alone)",
    )
    ev.add_argument(
        "--encoder",
        choices=("onnx", "torch"),
        default=None,
        help="the default model's backend (default: the index.encoder setting)",
    )
    ev.set_defaults(func=cmd_eval)


def _info(sub) -> None:
    info = sub.add_parser("info", help="show the model and the index")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)


def _add(sub) -> None:
    add = sub.add_parser("add", help="fetch web pages into the articles folder and reindex")
    add.add_argument("urls", nargs="+", metavar="URL")
    add.add_argument("--dry-run", action="store_true", help="print what would be written")
    add.set_defaults(func=cmd_add)


def _feeds(sub) -> None:
    feeds = sub.add_parser("feeds", help="poll the [feeds] once, add new items and reindex")
    feeds.set_defaults(func=cmd_feeds)


def _run(sub) -> None:
    run = sub.add_parser("run", help="start the Discord bot (token from $DISCORD_TOKEN)")
    run.add_argument(
        "--shards",
        type=_shards,
        default=None,
        help="shard ids this process runs, e.g. 0,1 (needs a count), or 'all'",
    )
    run.add_argument(
        "--shard-count",
        type=_positive,
        default=None,
        help="total shards over all processes (default: [discord] shard_count)",
    )
    run.set_defaults(func=cmd_run)


def _usage(sub) -> None:
    rep = sub.add_parser("report", help="what people asked: per day, unanswered, voted down")
    rep.add_argument(
        "--since",
        type=_date,
        default=None,
        help="first day, YYYY-MM-DD ([usage] timezone; default: 30 days)",
    )
    rep.add_argument("--json", action="store_true", help="the figures as one JSON object")
    rep.add_argument("--png", type=Path, default=None, metavar="FILE", help="draw the chart")
    rep.add_argument(
        "--csv", type=Path, default=None, metavar="FILE", help="the rows the report covers"
    )
    rep.add_argument(
        "--server", type=_positive, default=None, metavar="ID", help="one server's questions only"
    )
    rep.set_defaults(func=cmd_report)

    use = sub.add_parser("usage", help="the stored use data (data/usage.db)")
    use.add_argument(
        "--forget-before",
        type=_date,
        default=None,
        metavar="DATE",
        help="delete questions asked before DATE (YYYY-MM-DD, UTC) and their votes",
    )
    use.add_argument(
        "--forget-user",
        type=_positive,
        default=None,
        metavar="DISCORD_ID",
        help="delete one person's questions and votes (also in moved-aside files)",
    )
    use.set_defaults(func=cmd_usage)


def _db(sub) -> None:
    """`newsbot db ...` and `newsbot articles ...`: the PostgreSQL backend's own commands."""
    db = sub.add_parser("db", help='the PostgreSQL index ([store] backend = "postgres")')
    db_sub = db.add_subparsers(dest="db_command", required=True)
    init = db_sub.add_parser("init", help="create or migrate the database schema")
    init.set_defaults(func=cmd_db_init)
    imp = db_sub.add_parser("import", help="copy the live local index into the database")
    imp.set_defaults(func=cmd_db_import)
    dev = db_sub.add_parser(
        "dev", help="start a local PostgreSQL with pgvector for trying it out; print its URL"
    )
    dev.add_argument(
        "dir", type=Path, nargs="?", default=None, help="its data folder (default: data/pg-dev)"
    )
    dev.add_argument("--stop", action="store_true", help="stop the server started in DIR")
    dev.set_defaults(func=cmd_db_dev)

    arts = sub.add_parser("articles", help="the database's shared articles")
    arts_sub = arts.add_subparsers(dest="articles_command", required=True)
    export = arts_sub.add_parser("export", help="write the shared articles as files into DIR")
    export.add_argument("dir", type=Path, metavar="DIR")
    export.set_defaults(func=cmd_articles_export)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def _shards(value: str) -> list[int] | str:
    if value == "all":
        return value
    try:
        ids = sorted({int(x) for x in value.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError("shard ids are numbers like 0,1 or 'all'") from None
    if not ids or ids[0] < 0:
        raise argparse.ArgumentTypeError("shard ids are 0 or more")
    return ids


def _weights(value: str) -> list[float]:
    try:
        weights = [float(w) for w in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("weights are numbers between 0 and 1") from None
    if not all(0 <= w <= 1 for w in weights):
        raise argparse.ArgumentTypeError("weights are numbers between 0 and 1")
    return weights


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("dates are written YYYY-MM-DD, e.g. 2025-03-19") from None
