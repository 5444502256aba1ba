"""Issue 31: the README is a front door, and the settings reference says what the code does.

docs/settings.md names every setting the settings file takes, with its default; this reads its
table and compares it with the dataclasses bot/settings.py loads (and index/options.py's).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.settings import (
    ConversationSettings,
    DiscordSettings,
    FeedSettings,
    FollowSettings,
    Settings,
    UsageSettings,
)
from index.options import FetchLimits, IndexOptions, StoreOptions

from .conftest import ROOT

README_MAX_LINES = 200
SECTIONS = {
    "index": IndexOptions,
    "store": StoreOptions,
    "discord": DiscordSettings,
    "feeds": FeedSettings,
    "fetch": FetchLimits,
    "usage": UsageSettings,
    "conversation": ConversationSettings,
    "follow": FollowSettings,
}
# Not settings of the file: the store in [store] (not [index]), secrets from the environment.
NOT_IN_FILE = {"index.store", "store.url"}


def settable() -> dict[str, object]:
    """Every key the settings file takes, with its default as the dataclasses hold it."""
    keys = {"log_level": Settings().log_level}
    for section, cls in SECTIONS.items():
        defaults = cls()
        for f in dataclasses.fields(cls):
            name = f"{section}.{f.name}"
            if f.init and name not in NOT_IN_FILE:
                keys[name] = getattr(defaults, f.name)
    return keys


def documented(text: str) -> dict[str, str]:
    """setting -> its default cell, from the reference's table (`a` / `b` rows split)."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z_.]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(" / ")]
        for i, name in enumerate(names):
            rows[name] = defaults[i] if len(defaults) == len(names) else cells[1]
    return rows


def agrees(cell: str, value: object) -> bool:
    """The documented default (TOML as written in the file) is the dataclass's."""
    literal = re.match(r"`([^`]*)`", cell)
    if value is None:  # computed from other settings: said in words, not as a value
        return literal is None
    if literal is None:
        return False
    shown = literal.group(1)
    if isinstance(value, bool):
        return shown == str(value).lower()
    if isinstance(value, int | float):
        return re.fullmatch(r"-?[0-9_.]+", shown) is not None and float(shown) == value
    if isinstance(value, tuple):
        return shown == "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return shown == f'"{value}"'


def test_the_reference_names_every_setting_with_its_default() -> None:
    rows = documented((ROOT / "docs" / "settings.md").read_text(encoding="utf-8"))
    keys = settable()
    assert sorted(set(keys) - set(rows)) == [], "settings missing from docs/settings.md"
    assert sorted(set(rows) - set(keys)) == [], "docs/settings.md names settings that are gone"
    wrong = {k: (rows[k], keys[k]) for k in keys if not agrees(rows[k], keys[k])}
    assert wrong == {}, "defaults in docs/settings.md differ from the code"


@pytest.mark.parametrize(
    ("cell", "value", "ok"),
    [
        ("`10`", 10.0, True),
        ("`0.45`", 0.45, True),
        ("`0.4`", 0.45, False),
        ('`"onnx"`', "onnx", True),
        ("`[]`", (), True),
        ("`false`", False, True),
        ("the model's own", None, True),
        ("`data/models`", None, False),
        ("prose", 3, False),
    ],
)
def test_a_wrong_default_is_caught(cell: str, value: object, ok: bool) -> None:
    assert agrees(cell, value) is ok


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    # The two commands .ci/run depends on, as they are; the screenshots and the guide it links.
    assert ".venv/bin/pip install -e '.[test]' && .venv/bin/newsbot ask" in readme
    assert "\n.venv/bin/python -m pytest\n" in readme
    for link in re.findall(r"\]\(((?:docs|tests|benchmarks)/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


@pytest.mark.parametrize("page", ["guide.md", "how-it-works.md", "postgres.md", "settings.md"])
def test_the_guides_links_and_pictures_are_there(page: str) -> None:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    for link in re.findall(r"\]\(([^)#:]+\.(?:md|png))[)#]", text):
        assert (ROOT / "docs" / link).resolve().is_file(), link
