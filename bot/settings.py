"""The one way in for configuration: a TOML settings file plus secrets from the environment."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from index import IndexOptions
from index.errors import NewsbotError

DEFAULT_FILE = Path("config/settings.toml")


class SettingsError(NewsbotError):
    """A setting is unknown, of the wrong type, or points at something missing."""


@dataclass(frozen=True)
class DiscordSettings:
    """How the bot behaves in Discord."""

    dev_guild_id: int = 0  # sync commands instantly to this guild (0: global sync)
    owner_ids: tuple[int, ...] = ()  # may run /reindex anywhere, including DMs
    cooldown_rate: int = 3  # questions per user ...
    cooldown_seconds: float = 30.0  # ... per this many seconds
    max_question_chars: int = 300  # the /ask option's max length
    page_size: int = 3  # passages per page of 「他の結果」


@dataclass(frozen=True)
class Settings:
    """Everything the entry points need, loaded once and passed down."""

    index: IndexOptions = field(default_factory=IndexOptions)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    log_level: str = "INFO"
    token: str | None = field(default=None, repr=False)
    source: str = "defaults"


def load_settings(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file (argument, $NEWSBOT_CONFIG or config/settings.toml) and the token."""
    env = os.environ if env is None else env
    path = Path(path or env.get("NEWSBOT_CONFIG") or DEFAULT_FILE)
    explicit = path != DEFAULT_FILE
    data: dict = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"cannot read settings file {path}: {e}") from None
        # Paths in config/settings.toml are relative to the project folder that holds config/.
        base = path.resolve().parent.parent
    elif explicit:
        raise SettingsError(f"settings file not found: {path}")
    else:
        base = Path.cwd()
    data = dict(data)
    index = _section(IndexOptions, data.pop("index", {}), "index", base)
    discord = _section(DiscordSettings, data.pop("discord", {}), "discord", base)
    log_level = data.pop("log_level", "INFO")
    if data:
        raise SettingsError(f"unknown setting {sorted(data)[0]!r} in {path}")
    if not isinstance(log_level, str):
        raise SettingsError("setting 'log_level' must be text like \"INFO\"")
    _check_model(index)
    token = (env.get("DISCORD_TOKEN") or "").strip() or None
    return Settings(
        index, discord, log_level.upper(), token, str(path) if path.is_file() else "defaults"
    )


def _section(cls, values, name: str, base: Path):
    if not isinstance(values, dict):
        raise SettingsError(f"setting '{name}' must be a table ([{name}])")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise SettingsError(f"unknown setting '{name}.{key}' (known: {known})")
        kwargs[key] = _coerce(f"{name}.{key}", getattr(defaults, key), value, base)
    return cls(**kwargs)


def _coerce(name: str, default, value, base: Path):
    """Check a value against its default's type; paths resolve against the project folder."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, int) for v in value)
        value = tuple(value) if ok else value
    elif isinstance(default, Path) or name.endswith("_dir"):
        ok = isinstance(value, str) and bool(value.strip())
        value = (base / Path(value).expanduser()) if ok else value
    else:  # text, possibly optional
        ok = isinstance(value, str)
    if not ok:
        want = type(default).__name__ if default is not None else "str"
        raise SettingsError(f"setting '{name}' must be {want}, not {value!r}")
    return value


def _check_model(index: IndexOptions) -> None:
    model = index.model
    if model.startswith((".", "/", "~")) and not Path(model).expanduser().exists():
        raise SettingsError(f"setting 'index.model': no such folder {model!r}")
