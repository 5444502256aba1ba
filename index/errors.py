"""Domain errors raised by the retrieval core; the bot and CLI turn them into short replies."""

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


class ArticleError(NewsbotError):
    """One article file cannot be read or parsed; it is skipped, the rest are indexed."""


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

    def __init__(self, reason: str, transient: bool = False):
        super().__init__(reason)
        self.transient = transient  # worth trying again later (timeouts, 5xx)


class PageError(NewsbotError):
    """A fetched page holds no article to add (JavaScript shell, paywall teaser, not found)."""


class UsageStoreError(NewsbotError):
    """The use-data database cannot be opened (a newer schema, locked, a damaged key file)."""


class FollowError(NewsbotError, ValueError):
    """A topic cannot be followed (empty, too many topics, an unknown kind of subscriber)."""
