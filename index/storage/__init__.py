"""Storage: index versions on disk (a folder each) or in PostgreSQL, behind one seam (base)."""

import importlib

# The public surface (bot/ imports only these); imported on first use, as in index/__init__.py:
# `newsbot info` reads a manifest without numpy's friends, and psycopg only with PostgreSQL.
_LAZY = {
    "open_store": "base",
    "LocalStore": "local",
    "current_version": "manifest",
    "read_manifest": "manifest",
    "live_manifest": "base",
    "import_version": "postgres.store",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
