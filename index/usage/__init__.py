"""Use data: what people ask and how they vote, kept in SQLite, and the admins' report.

The bot and the CLI import from here (its public surface); names load on first use, so the
report's and chart's imports cost nothing until a report is made.
"""

import importlib

from ..errors import UsageStoreError as UsageStoreError  # re-exported

_LAZY = {
    "QuestionRecord": "records",
    "VoteRecord": "records",
    "UsageStore": "store",
    "question_record": "store",
    "keyed_hash": "records",
    "load_key": "store",
    "Forgotten": "erase",
    "forget": "erase",
    "retain": "erase",
    "forget_aside": "erase",
    "aside_files": "files",
    "key_file": "files",
    "Scope": "report",
    "rows_for_csv": "report",
    "UsageWriter": "writer",
    "UsageReport": "report",
    "build_report": "report",
    "group_questions": "report",
    "render_chart": "chart",
}

__all__ = sorted([*_LAZY, "UsageStoreError"])


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'index.usage' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
