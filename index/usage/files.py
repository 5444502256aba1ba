"""The use-data files on disk: private modes, damaged files moved aside, and those files' age."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

DB_NAME = "usage.db"
ASIDE = f"{DB_NAME}.corrupt-"
PARTS = ("", "-wal", "-shm")  # SQLite's WAL and shared-memory files sit beside the database
STAMP = "%Y%m%dT%H%M%S"


def private_dir(folder: Path) -> None:
    """Create the folder if missing, readable by its owner only (an existing one is left)."""
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)


def key_file(path: Path) -> str:
    """A key file's text: 32 random bytes in hex, created once 0600 in a private folder; when
    another process makes it first, theirs is used. The caller parses it (and words damage)."""
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii")
    text = secrets.token_hex(32) + "\n"
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)
    return text


def private_file(path: Path) -> None:
    """Make sure the database and its WAL files exist as 0600 before SQLite opens them.

    SQLite creates -wal and -shm with the database's own mode, so a 0600 database keeps its
    companions private; files made by an older newsbot (0644) are narrowed here.
    """
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for part in parts(path):
        if part.exists() and part.stat().st_mode & 0o077:
            part.chmod(0o600)


def parts(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in PARTS]


def move_aside(path: Path) -> Path:
    """Move a damaged database (and its WAL) aside, 0600, for a person to look at."""
    stamp = dt.datetime.now(dt.UTC).strftime(STAMP)
    aside = path.with_name(f"{ASIDE}{stamp}-{secrets.token_hex(2)}")
    for part, target in zip(parts(path), parts(aside), strict=True):
        if part.exists():
            part.replace(target)
            target.chmod(0o600)
    return aside


def aside_files(folder: Path) -> list[Path]:
    """The moved-aside databases in a folder, oldest first."""
    found = [p for p in Path(folder).glob(f"{ASIDE}*") if not p.name.endswith(("-wal", "-shm"))]
    return sorted(found, key=lambda p: p.name)


def moved_at(aside: Path) -> dt.datetime | None:
    """When a file was moved aside: every row in it was asked before then."""
    stamp = aside.name.removeprefix(ASIDE).split("-")[0]
    try:
        return dt.datetime.strptime(stamp, STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def remove(aside: Path) -> None:
    for part in parts(aside):
        part.unlink(missing_ok=True)
