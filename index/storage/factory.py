"""Opens the store the settings name (the folder or PostgreSQL): the one place that knows both.

The seam (base.py) never imports its backends; callers come here, as txtai's factories pick an
ANN or a database by its config. `live_manifest` reads what `newsbot info` shows.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from ..errors import POSTGRES_EXTRA, StoreUnavailableError

if TYPE_CHECKING:
    from ..options import IndexOptions
    from .base import Store


def open_store(options: IndexOptions, root: Path) -> Store:
    """The store the settings name: the folder at root, or the PostgreSQL database."""
    from .local import LocalStore

    if options.store.backend == "local":  # else "postgres": StoreOptions allows no other
        feeds = Path(options.data_dir) / "feeds.json"
        return LocalStore(root, articles=Path(options.articles_dir), feed_state=feeds)
    try:
        from .postgres.store import PgStore
    except ImportError as e:  # the drivers are an extra: pip install 'newsbot[postgres]'
        raise StoreUnavailableError(
            f"the PostgreSQL backend's drivers are not installed ({e})",
            hint=POSTGRES_EXTRA,
            setting="store.backend",
        ) from None
    return PgStore(options.store)


def live_manifest(options: IndexOptions, root: Path) -> tuple[PurePath, dict]:
    """The live version's location and manifest, read cheaply (no arrays, no checksums)."""
    if options.store.backend == "local":
        # The folder's manifest alone: `newsbot info` stays instant and loads no numpy.
        from .manifest import current_version, read_manifest

        folder = current_version(Path(root))
        return folder, read_manifest(folder, verify=False)
    version = open_store(options, root).current(verify=False)
    return version.location, version.manifest
