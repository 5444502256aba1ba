"""The one way in for configuration: a TOML settings file plus secrets from the environment."""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import NewsbotError, OptionError
from index.options import FetchLimits, IndexOptions, StoreOptions

DEFAULT_FILE = Path("config/settings.toml")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Counts that must be 1 or more (other whole numbers must be 0 or more).
POSITIVE = {
    "index.max_passage_chars",
    "index.candidates",
    "index.top_k",
    "index.evidence_passages",
    "index.answer_sentences",
    "index.batch_size",
    "index.flat_max",
    "index.max_article_bytes",
    "index.max_question_chars",
    "discord.cooldown_rate",
    "discord.max_question_chars",
    "discord.page_size",
    "feeds.interval_minutes",
    "fetch.max_bytes",
    "store.ef_search",
    "store.postings_cache_mb",
    "usage.retention_days",
    "conversation.turns",
    "follow.channel_per_hour",
    "follow.member_per_hour",
    "follow.send_seconds",
}
# Where the database's connection string comes from (it may hold a password: never the file).
DATABASE_URL_ENV = "NEWSBOT_DATABASE_URL"
# Numbers that must be more than 0.
NONZERO = {"fetch.timeout_seconds", "conversation.window_minutes", "feeds.poll_deadline_seconds"}
# Lists of text (other lists are of whole numbers); these hold http(s) links.
URL_LISTS = {"feeds.urls"}
# Shares and weights between 0 and 1 (other numbers must be finite and 0 or more).
UNIT = {"index.dense_weight", "index.min_lexical"}
# Margins may be negative.
SIGNED = {
    "index.min_margin",
    "index.name_margin",
    "index.word_margin",
    "index.crosslingual_margin",
}
# Discord refuses a string option longer than this.
MAX_OPTION_CHARS = 6000
# More CPU threads than this is a typo; torch would fail later without naming the setting.
MAX_THREADS = 256


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
    shard_count: int = 0  # total shards across all bot processes (0: Discord's recommendation)
    # The privileged intent (approve it in the portal first): messages in the bot's threads
    # are then read without a mention.
    message_content: bool = False


@dataclass(frozen=True)
class FeedSettings:
    """News feeds polled in the background and by `newsbot feeds`."""

    urls: tuple[str, ...] = ()  # RSS or Atom feeds
    interval_minutes: int = 30
    admin_channel_id: int = 0  # where the bot posts new articles (0: nowhere)
    # A poll starts no feed or item after this; what is left waits for the next poll.
    poll_deadline_seconds: float = 600.0


@dataclass(frozen=True)
class UsageSettings:
    """What is kept about the questions people ask (data/usage.db), and for how long."""

    enabled: bool = True  # record questions and votes from Discord
    retention_days: int = 90  # questions (with their votes) older than this are deleted
    log_cli: bool = False  # record `newsbot ask` and `newsbot chat` questions too
    keep_text: bool = True  # keep the questions' words; false: counts, times and outcomes only
    timezone: str = "Asia/Tokyo"  # the report's days (an IANA name)


@dataclass(frozen=True)
class FollowSettings:
    """/follow: how many alerts a member or channel gets before the rest wait for the digest."""

    enabled: bool = True  # the /follow commands and alerts
    channel_per_hour: int = 5  # alerts posted to one channel per hour ...
    channel_per_day: int = 20  # ... and per day
    member_per_hour: int = 3  # alerts sent to one member by DM per hour ...
    member_per_day: int = 10  # ... and per day
    max_age_hours: float = 24.0  # articles published longer ago are not alerted
    send_seconds: float = 60.0  # how often queued alerts are looked for (after a poll: at once)


@dataclass(frozen=True)
class ConversationSettings:
    """Follow-up questions: how long an exchange is remembered, and how much of it."""

    window_minutes: float = 10.0  # a follow-up after this long starts afresh
    turns: int = 3  # turns kept per conversation (in memory only)

    @property
    def window_seconds(self) -> float:
        return self.window_minutes * 60


@dataclass(frozen=True)
class Settings:
    """Everything the entry points need, loaded once and passed down."""

    index: IndexOptions = field(default_factory=IndexOptions)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    fetch: FetchLimits = field(default_factory=FetchLimits)
    usage: UsageSettings = field(default_factory=UsageSettings)
    conversation: ConversationSettings = field(default_factory=ConversationSettings)
    follow: FollowSettings = field(default_factory=FollowSettings)
    log_level: str = "INFO"
    token: str | None = field(default=None, repr=False)
    source: str = "defaults"  # the settings file read, or "defaults"
    base_dir: Path = field(default_factory=Path.cwd)  # what relative paths resolve against

    def describe(self) -> str:
        """Which settings were used, for error messages about paths."""
        where = f"settings file {self.source}" if self.source != "defaults" else "no settings file"
        return f"{where}; relative paths from {self.base_dir}"


def load_settings(
    path: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    need_database: bool = True,
) -> Settings:
    """Read the settings file (argument, $NEWSBOT_CONFIG or config/settings.toml) and the token.

    need_database: False for `newsbot db dev`, which makes the database the URL will name.
    """
    env = os.environ if env is None else env
    path = Path(path or env.get("NEWSBOT_CONFIG") or DEFAULT_FILE)
    data, base = _read_file(path)
    index_values = data.pop("index", {})
    if isinstance(index_values, dict) and "store" in index_values:
        raise _unknown("index.store", "(the backend is set in [store])")
    index = _section(IndexOptions, index_values, "index", base)
    store = _store(data.pop("store", {}), env, base, need_database)
    # Folders left at their defaults follow the same rule as the ones the file names.
    index = dataclasses.replace(
        index,
        **{
            f.name: base / getattr(index, f.name)
            for f in dataclasses.fields(index)
            if isinstance(getattr(index, f.name), Path) and not getattr(index, f.name).is_absolute()
        },
        store=store,
    )
    discord = _section(DiscordSettings, data.pop("discord", {}), "discord", base)
    feeds = _section(FeedSettings, data.pop("feeds", {}), "feeds", base)
    fetch = _section(FetchLimits, data.pop("fetch", {}), "fetch", base)
    usage = _section(UsageSettings, data.pop("usage", {}), "usage", base)
    conversation = _section(
        ConversationSettings, data.pop("conversation", {}), "conversation", base
    )
    follow = _section(FollowSettings, data.pop("follow", {}), "follow", base)
    log_level = data.pop("log_level", "INFO")
    if data:
        raise _unknown(sorted(data)[0], f"in {path}")
    if not isinstance(log_level, str) or log_level.upper() not in LOG_LEVELS:
        raise SettingsError(
            f"setting 'log_level' must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}"
        )
    _check_model(index)
    _check_user_agent(fetch.user_agent)
    _check_timezone(usage.timezone)
    token = (env.get("DISCORD_TOKEN") or "").strip() or None
    return Settings(
        index,
        discord,
        feeds=feeds,
        fetch=fetch,
        usage=usage,
        conversation=conversation,
        follow=follow,
        log_level=log_level.upper(),
        token=token,
        source=str(path) if path.is_file() else "defaults",
        base_dir=base,
    )


def _read_file(path: Path) -> tuple[dict, Path]:
    """The file's tables and the folder its relative paths resolve against ({} without one)."""
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"cannot read settings file {path}: {e}") from None
        return dict(data), base_dir(path)
    if path != DEFAULT_FILE:  # named explicitly: it must exist
        raise SettingsError(f"settings file not found: {path}")
    return {}, Path.cwd()


def _check_timezone(name: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"setting 'usage.timezone' must be a time zone name such as \"Asia/Tokyo\" or "
            f'"UTC", not {name[:40]!r}'
        ) from None


def _check_user_agent(value: str) -> None:
    # An HTTP header value: CR/LF would end it (http.client refuses it at every fetch).
    if not value.strip() or not all(" " <= c <= "~" for c in value):
        raise SettingsError(
            "setting 'fetch.user_agent' must be one line of printable ASCII text, "
            f"not {value[:80]!r}"
        )


def _store(values, env: Mapping[str, str], base: Path, need_url: bool = True) -> StoreOptions:
    """[store]: the backend, checked with the connection string it needs from the environment."""
    if isinstance(values, dict):
        secret = [k for k in values if k in ("url", "dsn", "password", "database_url")]
        if secret:
            # The value is never echoed: it may hold a password.
            raise SettingsError(
                f"setting 'store.{secret[0]}' is not read from the settings file; the database "
                f"connection string comes only from the {DATABASE_URL_ENV} environment variable"
            )
    store = _section(StoreOptions, values, "store", base)
    url = (env.get(DATABASE_URL_ENV) or "").strip() or None
    if store.backend == "postgres" and not url and need_url:
        raise SettingsError(
            f"setting 'store.backend' is \"postgres\" but {DATABASE_URL_ENV} is not set; export "
            "the connection string (postgresql://user@host/dbname; 'newsbot db dev' starts a "
            "local server and prints one)"
        )
    return dataclasses.replace(store, url=url)


def base_dir(path: Path) -> Path:
    """The folder a settings file's relative paths resolve against.

    <project>/config/settings.toml: the project folder (the one holding config/); any other
    file: its own folder.
    """
    folder = path.resolve().parent
    return folder.parent if folder.name == "config" else folder


def _section(cls, values, name: str, base: Path):
    if not isinstance(values, dict):
        raise SettingsError(f"setting '{name}' must be a table ([{name}])")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise _unknown(f"{name}.{key}", f"(known: {', '.join(sorted(fields))})")
        kwargs[key] = _coerce(f"{name}.{key}", getattr(defaults, key), value, base)
    try:
        return cls(**kwargs)
    except OptionError as e:  # a rule of the options themselves (index/options.py)
        raise SettingsError(f"setting '{e.setting}' {e.reason}") from None


def _unknown(name: str, where: str) -> SettingsError:
    # The value is never echoed: a misplaced secret must not end up in a log or a terminal.
    if "token" in name.lower():
        return SettingsError(
            f"setting '{name}' is not read from the settings file; "
            "the Discord token comes only from the DISCORD_TOKEN environment variable"
        )
    return SettingsError(f"unknown setting '{name}' {where}")


def _coerce(name: str, default, value, base: Path):
    """Check a value against its default's type; paths resolve against the project folder."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif name in URL_LISTS:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(v.strip() for v in value) if ok else value
        bad = [v for v in value if not v.startswith(("http://", "https://"))] if ok else []
        if bad:
            raise SettingsError(f"setting '{name}' holds http(s) links, not {bad[0]!r}")
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
        if isinstance(default, tuple):
            want = "a list of user IDs (integers)"
        if isinstance(default, Path) or name.endswith("_dir"):
            want = "a folder path (non-empty text)"
        if name in URL_LISTS:
            want = 'a list of links (["https://..."])'
        raise SettingsError(f"setting '{name}' must be {want}, not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(name, value)
    return value


def _check_range(name: str, value: int | float) -> None:
    """Reject values of the right type that cannot work (TOML also allows nan and inf)."""
    if name in SIGNED:
        ok, want = math.isfinite(value), "a finite number"
    elif name in UNIT:
        ok, want = 0 <= value <= 1, "between 0 and 1"
    elif name == "discord.max_question_chars":
        ok, want = 1 <= value <= MAX_OPTION_CHARS, f"between 1 and {MAX_OPTION_CHARS}"
    elif name == "index.threads":
        ok, want = 0 <= value <= MAX_THREADS, f"between 0 (torch's default) and {MAX_THREADS}"
    elif name == "store.ef_search":  # pgvector's own limits
        ok, want = 1 <= value <= 1000, "between 1 and 1000"
    elif name in NONZERO:
        ok, want = 0 < value < math.inf, "more than 0"
    elif name in POSITIVE:
        ok, want = 1 <= value < math.inf, "1 or more"
    else:
        ok, want = 0 <= value < math.inf, "0 or more"
    if not ok:
        raise SettingsError(f"setting '{name}' must be {want}, not {value!r}")


def _check_model(index: IndexOptions) -> None:
    """Catch a bad model path here, with the setting's name, not after seconds of loading."""
    model = index.model
    if not model.strip():
        raise SettingsError("setting 'index.model' is empty; use a model name or folder")
    if model == IndexOptions().model:
        return
    path = Path(model).expanduser()
    # The same test as index.encoders.embedder.resolve_model: a path, or a name that exists as one.
    if not (path.exists() or model.startswith((".", "/", "~"))):
        return
    if not path.exists():
        raise SettingsError(f"setting 'index.model': no such folder {model!r}")
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise SettingsError(
            f"setting 'index.model': {model!r} is not a sentence-transformers model folder"
        )
