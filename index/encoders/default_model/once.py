"""Make a model folder once: under a file lock, in a temporary folder, marked complete last."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ...errors import ModelError
from . import check as model_check

log = logging.getLogger(__name__)

# Written last into a finished folder, holding the stamp of what made it.
MARKER = ".complete"


def is_complete(target: Path, stamp: str, redo: str) -> bool:
    """Finished by the maker of stamp, and every file it recorded still there at its size.

    redo: what happens instead, for the warning about a damaged folder.
    """
    # The marker alone is not trusted: a deleted tokenizer.json once gave garbage vectors.
    try:
        if (target / MARKER).read_text(encoding="utf-8") != stamp:
            return False
        model_check.read(target)
    except OSError:
        return False
    except ModelError as e:
        log.warning("%s; %s", e, redo)
        return False
    return True


def make_once(target: Path, stamp: str, make: Callable[[Path], None], redo: str) -> None:
    """Unless target is complete with stamp: make(folder) beside it, stamp it, swap it in.

    Threads and processes that ask at the same time wait for the one that makes it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if is_complete(target, stamp, redo):  # made by another process while we waited
            return
        # Leftovers of a killed run: nobody else makes this folder while we hold the lock.
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            make(tmp)
            for path in (tmp, *tmp.rglob("*")):  # mkdtemp and safetensors create owner-only
                path.chmod(0o755 if path.is_dir() else 0o644)
            (tmp / MARKER).write_text(stamp, encoding="utf-8")  # last: marks it complete
            if target.exists():  # incomplete, or made by an older version
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
