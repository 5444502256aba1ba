"""Where an index lives on disk: versioned folders, a CURRENT pointer and a checked manifest."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
import zlib
from pathlib import Path

from .errors import IndexCorruptError, IndexNotBuiltError, IndexWriteError

log = logging.getLogger(__name__)

FORMAT = 2  # 2: sentence vectors and anchors
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
# What CURRENT may name: a version folder beside it, never a path elsewhere.
VERSION_RE = re.compile(r"v-[A-Za-z0-9_-]+")
VERSION_FILE_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def current_version(root: Path) -> Path:
    """The folder CURRENT names; raises IndexNotBuiltError when there is none."""
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotBuiltError(f"no index in {root}; run 'newsbot index' first") from None
    except (OSError, UnicodeDecodeError) as e:
        raise IndexCorruptError(f"unreadable {root / CURRENT}: {e}") from None
    if not VERSION_RE.fullmatch(name):
        raise IndexCorruptError(f"{root / CURRENT} does not name an index version ({name[:40]!r})")
    folder = root / name
    if not (folder / MANIFEST).is_file():
        raise IndexCorruptError(f"{root / CURRENT} points to a missing index ({name!r})")
    return folder


def read_manifest(folder: Path, verify: bool = True) -> dict:
    """Load the manifest and check every file's size (and checksum when verify)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"unreadable manifest in {folder.name}: {e}") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"malformed manifest in {folder.name}")
    if manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"index format {manifest.get('format')} is not {FORMAT}")
    files = manifest.get("files")
    # A damaged manifest must read as damage, not crash the loader with a KeyError.
    if not isinstance(files, dict) or not files:
        raise IndexCorruptError(f"manifest in {folder.name} lists no files")
    for name, meta in files.items():
        if not isinstance(meta, dict) or not all(
            isinstance(meta.get(k), int) for k in ("size", "crc32")
        ):
            raise IndexCorruptError(f"manifest entry for {name} is malformed")
        if not VERSION_FILE_RE.fullmatch(name):
            raise IndexCorruptError(f"manifest names a file outside the index: {name[:40]!r}")
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            raise IndexCorruptError(f"index file {name} is missing") from None
        if size != meta["size"]:
            raise IndexCorruptError(f"index file {name} is truncated or changed")
        if verify and checksum(path) != meta["crc32"]:
            raise IndexCorruptError(f"index file {name} fails its checksum")
    return manifest


def checksum(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def new_build_dir(root: Path) -> Path:
    """A fresh hidden folder to build into; it only becomes visible by commit()."""
    root.mkdir(parents=True, exist_ok=True)
    # Unique even for two builds in one second; the pid comes last so cleanup can check it.
    stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    folder = root / f".build-{stamp}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def commit(root: Path, build: Path, manifest: dict) -> Path:
    """Seal a finished build (checksums, manifest, fsync) and point CURRENT at it atomically."""
    manifest = dict(manifest, format=FORMAT, files={})
    for path in sorted(build.iterdir()):
        _fsync(path)
        manifest["files"][path.name] = {"size": path.stat().st_size, "crc32": checksum(path)}
    _write_synced(build / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    final = root / build.name.replace(".build-", "v-", 1)
    os.replace(build, final)
    pointer = root / f"{CURRENT}.tmp"
    try:
        # The pointer flips in one rename: a reader sees the old index or the new one, never
        # a mix.
        _write_synced(pointer, final.name)
        os.replace(pointer, root / CURRENT)
    except BaseException:
        # Not live, so not kept: a failed build leaves no folder behind (disk full, killed).
        pointer.unlink(missing_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        raise
    # The new index is live from here on; what follows only tidies and must not undo it.
    try:
        _fsync(root)
        cleanup(root, keep={final.name})
    except OSError as e:
        log.warning("Index %s is live, but tidying %s failed: %s", final.name, root, e)
    return final


def cleanup(root: Path, keep: set[str]) -> None:
    """Remove abandoned builds and superseded versions (loaded copies stay mapped in memory)."""
    (root / f"{CURRENT}.tmp").unlink(missing_ok=True)
    for path in root.iterdir():
        if path.is_dir() and path.name not in keep and path.name.startswith((".build-", "v-")):
            if path.name.startswith(".build-") and _owner_alive(path.name):
                continue
            shutil.rmtree(path, ignore_errors=True)


def _owner_alive(name: str) -> bool:
    try:
        pid = int(name.rsplit("-", 1)[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_error(root: Path, error: OSError) -> IndexWriteError:
    """The domain error for a failed write (the Discord layer shows its own words, not these)."""
    # numpy reports a short write without an errno ("N requested and M written").
    reason = error.strerror or f"short write: {error}"
    return IndexWriteError(
        f"cannot write the new index in {root} ({reason}); the previous index stays live"
    )
