"""The `newsbot` command line: ask, index, eval, info and run over the same pipeline as the bot."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import unicodedata
from dataclasses import replace
from pathlib import Path

from index.errors import ArticlesDirError, IndexNotBuiltError, NewsbotError
from index.question import check_question
from index.types import Answer, BuildReport

from .settings import Settings, load_settings

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `newsbot` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    settings = None
    try:
        if args.command != "run":  # the bot handles its own signals
            exit_on_sigterm()
        settings = load_settings(args.config)
        _setup_logging(settings, args.verbose, quiet=args.command in ("ask", "eval", "info"))
        return args.func(args, settings)
    except NewsbotError as e:
        where = ""
        if settings is not None and (
            isinstance(e, IndexNotBuiltError)
            or (isinstance(e, ArticlesDirError) and str(settings.index.articles_dir) in str(e))
        ):
            where = f" ({settings.describe()})"  # a wrong folder is the usual cause
        print(f"newsbot: error: {_one_line(e)}{where}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`newsbot ask ... | head -2`): stop quietly, as `yes | head`
        # does. Python would otherwise complain again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as e:  # disk full, permissions, a closed pipe: the system's words suffice
        print(f"newsbot: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line by default, the traceback with -v
        if args.verbose:
            log.exception("Unexpected error")
        print(
            f"newsbot: internal error: {type(e).__name__}: {_one_line(e)} "
            "(run with -v for the traceback)",
            file=sys.stderr,
        )
        return 1


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a build being stopped removes its unfinished folder."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    # Only the main thread may set handlers (main() can be called from a test's thread).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsbot", description="Answer questions from news coverage.")
    p.add_argument(
        "--config", help="settings file (default: $NEWSBOT_CONFIG or config/settings.toml)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = p.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one or more questions")
    ask.add_argument("questions", nargs="+", metavar="QUESTION")
    ask.add_argument("-k", type=_positive, default=None, help="passages per question")
    ask.add_argument("--json", action="store_true", help="one JSON object per line per question")
    ask.set_defaults(func=cmd_ask)

    idx = sub.add_parser("index", help="build or update the index from the articles folder")
    idx.add_argument("--rebuild", action="store_true", help="re-embed everything")
    idx.add_argument(
        "--allow-empty",
        action="store_true",
        help="let an articles folder without usable articles empty the index",
    )
    idx.set_defaults(func=cmd_index)

    ev = sub.add_parser("eval", help="measure retrieval on DIR/articles and DIR/questions.jsonl")
    ev.add_argument("dir", type=Path)
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

    info = sub.add_parser("info", help="show the model and the index")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)

    add = sub.add_parser("add", help="fetch web pages into the articles folder and reindex")
    add.add_argument("urls", nargs="+", metavar="URL")
    add.add_argument("--dry-run", action="store_true", help="print what would be written")
    add.set_defaults(func=cmd_add)

    feeds = sub.add_parser("feeds", help="poll the [feeds] once, add new items and reindex")
    feeds.set_defaults(func=cmd_feeds)

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

    db = sub.add_parser("db", help='the PostgreSQL index ([store] backend = "postgres")')
    db_sub = db.add_subparsers(dest="db_command", required=True)
    init = db_sub.add_parser("init", help="create or migrate the database schema")
    init.set_defaults(func=cmd_db_init)
    imp = db_sub.add_parser("import", help="copy the live local index into the database")
    imp.set_defaults(func=cmd_db_import)
    return p


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


def _setup_logging(settings: Settings, verbose: bool, quiet: bool) -> None:
    """Configure logging once for the process; `newsbot run` keeps it (see runner)."""
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level, logging.INFO)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # Library chatter drowns the answers; operators can ask for it with -v.
    for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub", "faiss"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if quiet and not verbose:
        # Answers on stdout should not be interleaved with the index's progress notes.
        logging.getLogger("index").setLevel(max(level, logging.WARNING))


def cmd_ask(args, settings: Settings) -> int:
    from index.searcher import Searcher  # faiss, scipy, the model runtime: not for info

    questions = list(args.questions)
    for q in questions:
        # Check every question before the model loads: a typo should not cost seconds.
        # (Bytes that are not UTF-8 reach argv as lone surrogates; this refuses them too.)
        check_question(q, settings.index)
    searcher = Searcher.open(settings.index)
    for answer in searcher.batch_ask(questions, args.k):
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(format_answer(answer), flush=True)
    return 0


def format_answer(answer: Answer) -> str:
    """Readable text: the answer, its numbered sources, then the passages.

    Sources are numbered in citation order, as in Discord: the answer reads [1] first even
    when its lead comes from a passage shown after the ranked ones; the uncited follow in rank.
    """
    if answer.no_answer:
        return f"Q: {printable(answer.question)}\n\n{answer.text}\n"
    count = len(answer.hits)
    order = list(dict.fromkeys(n for n in answer.citations if 1 <= n <= count))
    order += [n for n in range(1, count + 1) if n not in order]
    number = {old: new for new, old in enumerate(order, 1)}
    pieces = zip(answer.sentences, answer.citations)
    text = " ".join(f"{s}[{number.get(n, n)}]" for s, n in pieces) or answer.text
    if answer.subject and answer.sentences:
        text = f"【{printable(answer.subject)}】{text}"
    hits = [answer.hits[n - 1] for n in order]
    lines = [f"Q: {printable(answer.question)}", "", text, ""]
    for n, h in enumerate(hits, 1):
        where = " / ".join(x for x in (h.title, h.section) if x)
        meta = " ".join(x for x in (h.outlet, h.published) if x)
        lines.append(f"[{n}] {where}" + (f" ({meta})" if meta else ""))
        for url in h.sources:
            lines.append(f"    {url}")
    lines.append("")
    for n, h in enumerate(hits, 1):
        lines.append(f"--- [{n}] score {h.score:.3f} · {h.article}")
        lines.append(h.text)
    return "\n".join(lines) + "\n"


def printable(text: str) -> str:
    """Text with control characters shown as escapes: a question must not drive the terminal."""
    return "".join(
        c if c == "\n" or unicodedata.category(c) != "Cc" else ascii(c)[1:-1] for c in text
    )


def cmd_index(args, settings: Settings) -> int:
    from tqdm import tqdm

    from index.searcher import Searcher

    # Checked before the model loads (a minute, hundreds of MB in a wrong folder).
    if not Path(settings.index.articles_dir).is_dir():
        raise ArticlesDirError(f"articles folder not found: {settings.index.articles_dir}")
    searcher = Searcher(settings.index)
    bar = None

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="passage", desc="Embedding", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        report = searcher.reindex(
            rebuild=args.rebuild, progress=progress, allow_empty=args.allow_empty
        )
    finally:
        if bar is not None:
            bar.close()
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


def format_report(report: BuildReport) -> str:
    """What changed, in a few lines (also used by the bot's /reindex summary)."""
    lines = []
    for label, names in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for name in names:
            lines.append(f"{label}: {name}")
    for name, reason in report.skipped:
        lines.append(f"skipped: {name}: {reason}")
    lines.append(
        f"{report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded, {report.unchanged} articles unchanged)"
        f" in {report.seconds:.1f}s"
    )
    return "\n".join(lines)


def cmd_eval(args, settings: Settings) -> int:
    from index.evaluate import evaluate, load_questions
    from index.loader import article_files
    from index.searcher import Searcher

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
    options = settings.index
    if args.encoder:
        options = replace(options, encoder=args.encoder)
    if options.store.backend == "postgres":
        # The temporary index goes to its own schema: the bot's live index stays as it is.
        options = replace(
            options, store=replace(options.store, schema=f"{options.store.schema}_eval")
        )
    searcher = Searcher(options)
    result = evaluate(args.dir, searcher, args.k, args.dense_weight)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for name, m in result.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in m.items()))
    return 0


def cmd_info(args, settings: Settings) -> int:
    info = index_info(settings.index)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


def cmd_add(args, settings: Settings) -> int:
    from index.ingest import add_url
    from index.searcher import Searcher

    failed = 0
    changed = []
    for url in args.urls:
        try:
            added = add_url(url, settings.index.articles_dir, settings.fetch, dry_run=args.dry_run)
        except (NewsbotError, OSError) as e:  # one URL's failure; the others still count
            print(f"failed: {url}: {_one_line(e)}", flush=True)
            failed += 1
            continue
        print(format_added(added), flush=True)
        if args.dry_run and added.content:
            print(added.content, flush=True)
        if added.changed:
            changed.append(added)
    if changed:
        print(format_report(Searcher(settings.index).reindex()))
    return 1 if failed else 0


def format_added(added) -> str:
    """One line per URL: what happened, the file, and what was extracted."""
    a = added.article
    if a is None:
        return f"{added.status}: {added.url}"
    date = a.published or "no date"
    return (
        f"{added.status}: {added.file}: {a.title} ({a.outlet}, {date}, "
        f"{a.sections} sections) {a.url}"
    )


def cmd_feeds(args, settings: Settings) -> int:
    from index.feeds import poll
    from index.searcher import Searcher

    if not settings.feeds.urls:
        raise NewsbotError("no feeds to poll; list them in [feeds] urls = [...] in the settings")
    report = poll(
        settings.feeds.urls,
        settings.index.articles_dir,
        settings.index.data_dir / "feeds.json",
        settings.fetch,
    )
    for added in report.changed:
        print(format_added(added), flush=True)
    for url, reason in report.failed:
        print(f"failed: {url}: {_one_line(reason)}", flush=True)
    print(
        f"{report.feeds} feeds ({report.not_modified} not modified): "
        f"{len(report.changed)} new or updated, {len(report.failed)} failed, "
        f"{report.skipped} already seen"
    )
    if report.changed:
        print(format_report(Searcher(settings.index).reindex()))
    # A feed that cannot be read is an error; a refused item is reported, not fatal.
    return 1 if any(url in settings.feeds.urls for url, _ in report.failed) else 0


def index_info(options) -> dict:
    """What the live index says about itself, read from its manifest: no model is loaded."""
    from index import format as layout

    root = options.index_dir
    if options.store.backend == "postgres":
        version = _database(options).current(verify=False)
        folder, manifest, root = version.folder, version.manifest, version.store.root
    else:
        folder = layout.current_version(root)
        manifest = layout.read_manifest(folder, verify=False)  # sizes only: info stays instant
    return {
        "model": manifest.get("model"),
        "encoder": manifest.get("encoder"),
        "model_dir": manifest.get("model_dir"),
        "dim": manifest.get("dim"),
        "articles": len(manifest.get("articles", {})),
        "passages": manifest.get("passages"),
        "index_dir": str(root),
        "version": folder.name,
        "built_at": manifest.get("built_at"),
        "dense_index": manifest.get("dense_index"),
        "skipped": manifest.get("skipped", []),
    }


def cmd_run(args, settings: Settings) -> int:
    from .runner import run

    return run(settings, shards=args.shards, shard_count=args.shard_count)


def _database(options):
    """The PostgreSQL store of the settings; a one-line error when another backend is set."""
    from index.version import open_store

    if options.store.backend != "postgres":
        raise NewsbotError(
            'the index database is not in use; set [store] backend = "postgres" and '
            "NEWSBOT_DATABASE_URL"
        )
    return open_store(options, options.index_dir)


def cmd_db_init(args, settings: Settings) -> int:
    store = _database(settings.index)
    version = store.init()
    print(f"index database ready: schema {store.options.schema}, version {version}")
    return 0


def cmd_db_import(args, settings: Settings) -> int:
    from index.format import LocalStore
    from index.pg import import_version

    store = _database(settings.index)
    local = LocalStore(settings.index.index_dir).current(verify=True)
    name = import_version(local, store)
    print(f"imported {local.name} ({local.size} passages) from {local.folder}; live as {name}")
    return 0
