"""The one way bot/ opens a Searcher; `main(argv, open_searcher=...)` and `create_bot` take another.

Tests (and an embedding program) hand in their own, e.g. one with an embedder already loaded,
instead of patching the core's internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from index import BuildProgress, IndexOptions, Searcher


class OpenSearcher(Protocol):
    def __call__(
        self, options: IndexOptions, *, load: bool = False, progress: BuildProgress | None = None
    ) -> Searcher:
        """A Searcher over options; with load, its live index loaded (built when missing)."""


def open_searcher(
    options: IndexOptions, *, load: bool = False, progress: BuildProgress | None = None, **kwargs
) -> Searcher:
    """Searcher(options), or Searcher.open(options) with load; kwargs go to the Searcher."""
    from index import Searcher  # faiss, scipy, the model runtime: not for `newsbot info`

    if load:
        return Searcher.open(options, progress=progress, **kwargs)
    return Searcher(options, **kwargs)
