"""What the index covers, grown: pages added and feeds polled into the store's own articles.

The store decides where they go (the folder and data/feeds.json, or the database's tables, see
storage/factory.py) and who polls (its lease); the adapters only call these and word the result.
No model is needed here: adding and polling write articles, a reindex embeds them afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ingest.articles import Added
    from .ingest.extract import Extracted
    from .ingest.feeds import PollReport
    from .ingest.fetch import FetchLimits
    from .options import IndexOptions
    from .storage.base import Lease, Store


class Coverage:
    """A store's articles and feed state, written one way whatever the backend."""

    def __init__(self, store: Store):
        self.store = store
        self._lease: Lease | None = None

    @classmethod
    def open(cls, options: IndexOptions) -> Coverage:
        """The coverage of the store the settings name (no model is loaded)."""
        from .storage.factory import open_store

        return cls(open_store(options, options.index_dir))

    def add(self, url: str, limits: FetchLimits, dry_run: bool = False) -> Added:
        """Fetch a page and write its article (or say what would be written); no reindex."""
        from .ingest.articles import add_url

        return add_url(url, self.store.articles, limits, dry_run=dry_run)

    def write(self, article: Extracted, url: str) -> Added:
        """Write an article already extracted (a previewed /add)."""
        from .ingest.articles import write

        return write(article, self.store.articles, url=url)

    def poll_feeds(
        self,
        urls: list[str] | tuple[str, ...],
        limits: FetchLimits,
        deadline_seconds: float | None = None,
        keep_lease: bool = False,
        raise_errors: bool = False,
    ) -> PollReport | None:
        """Poll the feeds into the articles; None while another process holds the poller's lease.

        keep_lease: hold it after the poll (a bot polling every interval); else released.
        raise_errors: a database that cannot be asked raises StoreUnavailableError instead of
            counting as "another process polls" (the command line says so).
        """
        from .ingest.feeds import poll

        lease = self._lease = self._lease or self.store.lease()
        if not lease.acquire(raise_errors=raise_errors):
            return None
        try:
            return poll(
                urls,
                self.store.articles,
                self.store.feed_state,
                limits,
                deadline_seconds=deadline_seconds,
            )
        finally:
            if not keep_lease:
                lease.release()

    def stop_polling(self) -> None:
        """Give the poller's lease back (another process takes over at its next tick)."""
        if self._lease is not None:
            self._lease.release()
