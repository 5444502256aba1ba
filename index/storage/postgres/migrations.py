"""The PostgreSQL schema and its migrations: one at a time, across processes, under a lock."""

from __future__ import annotations

import logging

import psycopg

from ...errors import UPGRADE, IndexCorruptError

log = logging.getLogger(__name__)

SCHEMA = 2  # the version of the tables below; `meta` records the one a database holds
# pg_advisory_lock keys: one build at a time per database; one migration at a time.
BUILD_LOCK, MIGRATE_LOCK = 0x6E657773, 0x6E657774
CHANNEL = "newsbot_live"  # NOTIFY'd with the new version's name when one goes live
# The shared articles (articles.py): one row per article file, with the origin that added it.
ARTICLES = """
    create table articles (
        path text primary key,
        markdown text not null,
        checksum text not null,
        url text,
        body_digest text,
        origin text not null,
        updated timestamptz not null default now()
    );
    create index on articles (url);
    create index on articles (body_digest);
    create table feed_state (
        one bool primary key default true check (one),
        state jsonb not null
    );
"""
MIGRATIONS = {
    1: """
    create table meta (schema_version int not null);
    create table versions (
        id serial primary key,
        name text unique not null,
        manifest text not null,
        anchors bytea not null,
        dim int not null,
        size int not null,
        sections int not null,
        created timestamptz not null default now()
    );
    create table live (
        one bool primary key default true check (one),
        version int not null references versions (id)
    );
    insert into meta values (0);
    """,
    2: ARTICLES,  # the shared articles and feed state (articles.py)
}


def schema_version(conn: psycopg.Connection, schema: str) -> int:
    """The schema version the database holds (0: none yet)."""
    exists = conn.execute("select to_regclass(%s) is not null", (f"{schema}.meta",)).fetchone()[0]
    return conn.execute("select schema_version from meta").fetchone()[0] if exists else 0


def migrate(conn: psycopg.Connection, schema: str) -> int:
    """Bring the schema up to SCHEMA, one migration at a time, across processes."""
    have = schema_version(conn, schema)
    if have > SCHEMA:
        raise IndexCorruptError(
            f"the index database has schema {have}, newer than this newsbot's ({SCHEMA})",
            hint=UPGRADE,
        )
    if have == SCHEMA:  # the usual case writes nothing: a read replica can be used as is
        return have
    conn.execute("select pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        conn.execute("create extension if not exists vector")
        conn.execute(f"create schema if not exists {schema}")
        have = schema_version(conn, schema)  # another process may have migrated meanwhile
        for step in range(have + 1, SCHEMA + 1):
            with conn.transaction():
                conn.execute(MIGRATIONS[step])
                conn.execute("update meta set schema_version = %s", (step,))
            log.info("Index database schema migrated to %d", step)
        # Running processes of another newsbot hear of it (listen.py) and stop if it is newer.
        conn.execute("select pg_notify(%s, %s)", (CHANNEL, f"schema:{SCHEMA}"))
        return max(have, SCHEMA)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
