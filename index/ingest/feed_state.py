"""The feed state: which feeds and items the polls have seen, kept in data/feeds.json (or the
database), read back with caps so a damaged or hostile file cannot crash a poll."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .articles import write_atomic

log = logging.getLogger(__name__)

MAX_REMEMBERED = 20_000  # items kept in the state file, oldest forgotten first
STATE_FILE = "feeds.json"
# The state file is this project's own, but a damaged or hostile one must not crash a poll.
MAX_STATE_BYTES = 64_000_000
MAX_STATE_DEPTH = 16  # the file's own shape is 4 deep
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
# What the state file may hold for a feed and for an item; anything else is dropped on load.
_FEED_KEYS = {"etag": str, "last_modified": str}
_ITEM_KEYS = {
    "updated": dict,
    "etag": str,
    "last_modified": str,
    "file": str,
    "refused": str,
    "failed": str,  # the reason of the last transient failure
    "tries": int,
    "retry_at": (int, float),  # the clock's seconds: not fetched again before then
}


def state_path(data_dir: Path) -> Path:
    """Where the polls remember feeds and items: <data_dir>/feeds.json."""
    return Path(data_dir) / STATE_FILE


def remember(state: dict, link: str, item: dict) -> None:
    items = state["items"]
    items.pop(link, None)  # re-inserted last: the dict's order is oldest first
    items[link] = {k: v for k, v in item.items() if v}
    while len(items) > MAX_REMEMBERED:
        items.pop(next(iter(items)))


def load_state(path) -> dict:
    """The remembered feeds and items; a missing, damaged or outsized one starts afresh (logged)."""
    empty = {"version": 1, "feeds": {}, "items": {}}
    try:
        data = path.load() if hasattr(path, "load") else _read_state(Path(path))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else " ".join(str(e).split())
        log.warning("Cannot read feed state %s (%s); starting afresh", _named(path), reason[:200])
        return empty
    if not (
        isinstance(data, dict)
        and isinstance(data.get("feeds"), dict)
        and isinstance(data.get("items"), dict)
    ):
        log.warning("Feed state %s has an unknown shape; starting afresh", _named(path))
        return empty
    feeds, bad_feeds = _entries(data["feeds"], _FEED_KEYS)
    items, bad_items = _entries(data["items"], _ITEM_KEYS)
    if bad_feeds or bad_items:
        log.warning(
            "Feed state %s: repaired %d feeds and %d items of the wrong shape",
            _named(path),
            bad_feeds,
            bad_items,
        )
    return {"version": 1, "feeds": feeds, "items": items}


def _read_state(path: Path) -> object:
    """The state file's JSON, refused when larger or deeper than any state this code writes."""
    if path.stat().st_size > MAX_STATE_BYTES:
        raise ValueError(f"larger than {MAX_STATE_BYTES // 1_000_000} MB")
    text = path.read_text("utf-8")
    depth = deepest = 0
    for m in _JSON_TOKEN.finditer(text):  # counted without recursion, before json does recurse
        token = m.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_STATE_DEPTH:
                raise ValueError(f"nested more than {MAX_STATE_DEPTH} deep")
        elif token in ("]", "}"):
            depth -= 1
    return json.loads(text)


def _named(path) -> str:
    """The state's place for a log line: its file, or the database (never an object's repr)."""
    return str(path) if isinstance(path, (str, Path)) else "in the database"


def _entries(table: dict, keys: dict[str, type]) -> tuple[dict[str, dict], int]:
    """The entries that are objects, each keeping only the fields of the right type; and how
    many were dropped or trimmed."""
    out, repaired = {}, 0
    for name, entry in table.items():
        if not isinstance(entry, dict):
            repaired += 1
            continue
        entry = {k: v for k, v in entry.items() if v is not None}  # null is "none": not damage
        kept = {k: v for k, v in entry.items() if k in keys and isinstance(v, keys[k])}
        if "updated" in kept:
            kept["updated"] = {str(f): s for f, s in kept["updated"].items() if isinstance(s, str)}
        repaired += kept != entry
        out[name] = kept
    return out, repaired


def save_state(path: Path, state: dict) -> None:
    if hasattr(path, "save"):  # the database's feed state
        path.save(state)
        return
    write_atomic(Path(path), json.dumps(state, ensure_ascii=False, indent=1))
