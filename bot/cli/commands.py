"""The commands behind `newsbot ask`, `index`, `eval`, `info`, `add`, `feeds`, `run` and `db`."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from index import check_question
from index.errors import ArticlesDirError, NewsbotError, QuestionError

from ..settings import Settings
from .output import format_added, format_answer, format_report, one_line, printable

log = logging.getLogger(__name__)


# Questions answered together (one encode batch) and printed one by one as each is ready: a
# failure midway loses at most the batch being answered, never what was already printed.
ASK_BATCH = 16


def cmd_ask(args, settings: Settings) -> int:
    from index import Filters, Searcher  # faiss, scipy, the model runtime: not for info

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
    answered = 0
    try:
        for start in range(0, len(questions), ASK_BATCH):
            batch = questions[start : start + ASK_BATCH]
            for answer in searcher.batch_ask(batch, args.k, filters=filters):
                if args.json:
                    print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
                else:
                    print(format_answer(answer, passages=args.passages), flush=True)
                answered += 1
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
    try:
        report = searcher.reindex(rebuild=args.rebuild, progress=bar, allow_empty=args.allow_empty)
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
    from index import Searcher
    from index.ingest import add_url

    failed = 0
    changed = []
    for url in args.urls:
        try:
            added = add_url(url, settings.index.articles_dir, settings.fetch, dry_run=args.dry_run)
        except (NewsbotError, OSError) as e:  # one URL's failure; the others still count
            print(f"failed: {url}: {one_line(e)}", flush=True)
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


def cmd_feeds(args, settings: Settings) -> int:
    from index import Searcher
    from index.ingest import poll

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
        print(f"failed: {url}: {one_line(reason)}", flush=True)
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
