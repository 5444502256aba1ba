"""Domain errors raised by the retrieval core; the bot and CLI turn them into short replies."""

from enum import StrEnum

# What the operator can do about an error, as a name: the core never writes a command line or a
# setting's spelling into a message; the CLI (bot/cli) and Discord (bot/errors.py) word these.
REINDEX = "reindex"  # build the index
ALLOW_EMPTY = "allow-empty"  # rebuild, letting an empty articles folder empty the index
DATABASE_URL = "database-url"  # give (or check) the index database's connection string
POSTGRES_EXTRA = "postgres-extra"  # install the PostgreSQL drivers
UPGRADE = "upgrade"  # the data was written by a newer newsbot


class NewsbotError(Exception):
    """Base class for errors a user or operator can act on.

    hint: one of the names above, or None; setting: the option at fault (e.g. "store.schema").
    """

    hint: str | None = None
    setting: str | None = None

    def __init__(self, *args, hint: str | None = None, setting: str | None = None):
        super().__init__(*args)
        if hint is not None:
            self.hint = hint
        if setting is not None:
            self.setting = setting


class OptionError(NewsbotError, ValueError):
    """An option holds a value the core has no path for; `reason` says why (without its name)."""

    def __init__(self, setting: str, reason: str):
        super().__init__(f"{setting.rpartition('.')[2]} {reason}", setting=setting)
        self.reason = reason


class QuestionError(NewsbotError, ValueError):
    """The question is empty, too long or has nothing to search for."""


class OutletError(QuestionError):
    """An outlet filter names no outlet of the index, or several: `choices` are the ones it could
    mean (ambiguous) or every indexed outlet (unknown), most articles first."""

    def __init__(self, typed: str, choices: tuple[str, ...], ambiguous: bool):
        listed = "、".join(choices[:10]) + ("…" if len(choices) > 10 else "")
        if ambiguous:
            message = f"「{typed}」に当たる媒体が複数あります: {listed}"
        else:
            message = f"「{typed}」の記事は索引にありません。索引にある媒体: {listed or 'なし'}"
        super().__init__(message)
        self.typed, self.choices, self.ambiguous = typed, choices, ambiguous


class Skip(StrEnum):
    """Why an article file is left out: the core's code, worded at the edge (bot/ui)."""

    NO_FRONT_MATTER = "no_front_matter"
    FRONT_MATTER_SYNTAX = "front_matter_syntax"  # not YAML, nested too deeply, not key: value
    MISSING_FIELD = "missing_field"  # field: the front matter key
    BAD_FIELD = "bad_field"  # field: the front matter key
    NO_BODY = "no_body"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"  # UTF-16, or bytes that are not UTF-8
    BINARY = "binary"
    PLAIN_TEXT = "plain_text"  # a .txt beside the articles: renamed, it would be one
    UNREADABLE_FOLDER = "unreadable_folder"
    UNREADABLE_FILE = "unreadable_file"
    NOT_REGULAR = "not_regular"
    BROKEN_LINK = "broken_link"
    LINK_OUTSIDE = "link_outside"
    LINK_TO_FOLDER = "link_to_folder"
    LINK_TWIN = "link_twin"  # a link to a file indexed under its own name
    CHANGED_WHILE_READ = "changed_while_read"
    UNPARSABLE = "unparsable"  # a bug in the loader: it costs this file, never the build


class ArticleError(NewsbotError):
    """One article file cannot be read or parsed; it is skipped, the rest are indexed.

    code: a Skip; field: the front matter key at fault, for MISSING_FIELD and BAD_FIELD.
    """

    def __init__(self, *args, code: Skip = Skip.UNPARSABLE, field: str | None = None):
        super().__init__(*args)
        self.code, self.field = code, field


class ArticlesDirError(NewsbotError):
    """The articles folder is missing or unreadable."""


class EmptyArticlesError(ArticlesDirError):
    """A build would empty a non-empty index (no usable articles) without being allowed to."""


class ModelError(NewsbotError):
    """The embedding model cannot be found, converted or loaded."""


class IndexNotBuiltError(NewsbotError):
    """No index has been built yet in the data folder."""

    hint = REINDEX


class IndexCorruptError(NewsbotError):
    """The index on disk is damaged or was built with another model."""

    hint = REINDEX


class OutdatedError(IndexCorruptError):
    """The database was migrated by a newer newsbot: this process stops answering until upgraded."""


class StoreUnavailableError(NewsbotError):
    """The index database cannot be reached or stopped answering; the next question retries."""


class BuildInProgressError(NewsbotError):
    """A reindex is already running."""


class IndexWriteError(NewsbotError):
    """The new index could not be written (disk full, no permission); the old one stays live."""


class FetchError(NewsbotError):
    """A page or feed could not be fetched safely (refused address, HTTP error, limits)."""

    def __init__(self, reason: str, transient: bool = False, status: int | None = None):
        super().__init__(reason)
        self.transient = transient  # worth trying again later (timeouts, 5xx, 429)
        self.status = status  # the HTTP status that refused the page, if one did


class PageError(NewsbotError):
    """A fetched page holds no article to add (JavaScript shell, paywall teaser, not found)."""


class UsageStoreError(NewsbotError):
    """The use-data database cannot be opened (a newer schema, locked, a damaged key file)."""


class FollowError(NewsbotError, ValueError):
    """A topic cannot be followed (empty, too many topics, an unknown kind of subscriber)."""
