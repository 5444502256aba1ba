"""Domain errors raised by the retrieval core; the bot and CLI turn them into short replies."""


class NewsbotError(Exception):
    """Base class for errors a user or operator can act on."""


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


class IndexCorruptError(NewsbotError):
    """The index on disk is damaged or was built with another model."""


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
