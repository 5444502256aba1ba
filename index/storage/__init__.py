"""Storage: index versions on disk (a folder each) or in PostgreSQL, behind one seam (base)."""

from ..lazy import exports

# The public surface (bot/ imports only these); imported on first use, as in index/__init__.py:
# `newsbot info` reads a manifest without numpy's friends, and psycopg only with PostgreSQL.
_LAZY = {
    "open_store": "factory",
    "LocalStore": "local",
    "current_version": "manifest",
    "read_manifest": "manifest",
    "live_manifest": "factory",
    "import_index": "postgres.importer",
    "import_version": "postgres.importer",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = exports(__name__, _LAZY)
