"""An index version on disk: how it is written, sealed and read (mapped in place).

With storage.manifest (its file list, format and checksums), the only code that knows an index
folder: the local backend of storage.base. A root folder
holds version folders `v-*/`, a `CURRENT` file naming the live one, and `.lock`. A build writes
a hidden `.build-*/` folder; commit() seals it (checksums, manifest, fsync) and flips CURRENT
with one rename, so a reader sees the old version or the new one, never a mix.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from scipy import sparse

from ..errors import BuildInProgressError, IndexCorruptError, IndexNotBuiltError, IndexWriteError
from ..retrieval.lexical import Lexical
from .base import Records
from .faiss import DenseStore
from .manifest import (
    CURRENT,
    DENSE,
    FILES,
    FORMAT,
    MANIFEST,
    checksum,
    current_version,
    read_manifest,
)

log = logging.getLogger(__name__)

LOCK = ".lock"


class FolderLease:
    """Always held: two processes on one folder each poll (the folder's file lock keeps their
    writes from duplicating articles)."""

    held = True

    def acquire(self, raise_errors: bool = False) -> bool:
        return True

    def release(self) -> None:
        pass


class LocalStore:
    """Index versions in a folder (see the module docstring); implements storage.base.Store."""

    # Only this process's own reindex switches versions (see Searcher.reindex).
    shared = False

    def __init__(self, root: Path, articles: Path | None = None, feed_state: Path | None = None):
        self.root = Path(root)
        # The coverage this store indexes, as the factory opened it: the articles folder and
        # the feeds' state file (PgStore's are tables; storage.base.Store).
        self.articles = Path(articles) if articles is not None else None
        self.feed_state = Path(feed_state) if feed_state is not None else None

    def lease(self) -> FolderLease:
        """The feed poller's lease: a folder has no other process to share polling with."""
        return FolderLease()

    def live_name(self) -> str | None:
        try:
            return current_version(self.root).name
        except (IndexNotBuiltError, IndexCorruptError):
            return None

    def current(self, verify: bool = True, formats: Sequence[int] = (FORMAT,)) -> LocalVersion:
        return LocalVersion.open(current_version(self.root), verify=verify, formats=formats)

    @contextmanager
    def lock(self, wait: bool = False) -> Iterator[None]:
        """One build at a time per root, across processes and threads (a file lock)."""
        # flock belongs to the open file: it ends with the process, so a killed build never
        # leaves a stale lock, and two threads each opening the file exclude each other too.
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            f = open(self.root / LOCK, "w")  # closed by the with below
        except OSError as e:
            raise write_error(self.root, e) from e
        with f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    raise BuildInProgressError("another reindex is already running") from None
                log.info("Another build is running in %s; waiting for it", self.root)
                fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def writer(self) -> VersionWriter:
        return VersionWriter(self.root)

    def tidy(self, keep: str) -> None:
        cleanup(self.root, keep={keep})


class LocalVersion:
    """One version folder, memory-mapped: opening is near instant and costs no private memory."""

    def __init__(self, folder: Path, manifest: dict):
        self.folder, self.name, self.manifest = folder, folder.name, manifest
        self.location = folder
        self.format = manifest["format"]
        self.passage_section = np.load(folder / "passage_section.npy", mmap_mode="r")
        n = len(self.passage_section)
        self.dense = DenseStore.read(folder / DENSE)
        self.vectors = self.dense.vectors()
        indptr = np.load(folder / "lex_indptr.npy", mmap_mode="r")
        matrix = sparse.csr_matrix(
            tuple(np.load(folder / f"lex_{x}.npy", mmap_mode="r") for x in ("data", "indices"))
            + (indptr,),
            shape=(len(indptr) - 1, n),
            copy=False,
        )
        terms, idf = np.load(folder / "lex_terms.npy"), np.load(folder / "lex_idf.npy")
        self.lexical = Lexical(terms, matrix, idf)
        if self.format == 2:  # read only to reuse vectors: parsed whole, once
            self.sections = json.loads((folder / "sections.json").read_text(encoding="utf-8"))
        else:
            self.sections = Sections(folder / "sections.jsonl", folder / "section_offsets.npy")
        self.offsets = np.load(folder / "text_offsets.npy", mmap_mode="r")
        self._text = (
            np.memmap(folder / "text.bin", dtype=np.uint8, mode="r") if self.offsets[-1] else b""
        )
        self.sent_vectors = np.load(folder / "sent_vectors.npy", mmap_mode="r")
        self.sent_offsets = np.load(folder / "sent_offsets.npy", mmap_mode="r")
        self.anchors = np.load(folder / "anchors.npy")
        self.keys = np.load(folder / "keys.npy", mmap_mode="r")
        counts = {
            self.dense.size,
            self.lexical.size,
            len(self.keys),
            len(self.offsets) - 1,
            len(self.sent_offsets) - 1,
        }
        if counts != {n} or (n and int(np.max(self.passage_section)) >= len(self.sections)):
            raise IndexCorruptError(f"index {folder.name} has inconsistent passage counts")

    @classmethod
    def open(
        cls, folder: Path, verify: bool = True, formats: Sequence[int] = (FORMAT,)
    ) -> LocalVersion:
        """Check the manifest (sizes, and checksums when verify) and map the files."""
        manifest = read_manifest(folder, verify=verify, formats=formats)
        try:
            return cls(folder, manifest)
        except IndexCorruptError:
            raise
        except Exception as e:  # numpy/faiss/scipy report damage in many ways
            raise IndexCorruptError(f"cannot read index {folder.name}: {e}") from e

    @property
    def size(self) -> int:
        return len(self.passage_section)

    def text(self, i: int) -> str:
        return bytes(self._text[self.offsets[i] : self.offsets[i + 1]]).decode("utf-8")

    def sentence_vectors(self, i: int) -> np.ndarray:
        return self.sent_vectors[self.sent_offsets[i] : self.sent_offsets[i + 1]]

    def passage_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(self.vectors[ids], dtype=np.float32).reshape(len(ids), self.dense.dim)
        return vectors, [self.sentence_vectors(int(i)) for i in ids]


class Sections(Records):
    """sections.jsonl left on disk; a line is parsed when a hit asks for it (offsets file)."""

    # Parsing 100k sections whole took 0.28 s and 83 MB (seconds and GBs at 1M passages).

    def __init__(self, path: Path, offsets: Path):
        self._offsets = np.load(offsets, mmap_mode="r")
        size = int(self._offsets[-1])
        self._data = np.memmap(path, dtype=np.uint8, mode="r") if size else b""
        if len(self._data) != size:
            raise IndexCorruptError(f"{path.name} does not match its offsets")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _record(self, i: int) -> dict:
        return json.loads(bytes(self._data[self._offsets[i] : self._offsets[i + 1]]))


class VersionWriter:
    """A new version in a hidden build folder (storage.base.Writer); commit() makes it live.

    Use it as a context manager: an exception (a full disk, a kill) removes the folder, and an
    OSError becomes an IndexWriteError saying the previous index stays live.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        try:
            self.folder = new_build_dir(self.root)
        except OSError as e:
            raise write_error(self.root, e) from e
        self.dense_kind: str | None = None

    def __enter__(self) -> VersionWriter:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if error is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        if isinstance(error, OSError):  # disk full, read-only, no permission
            raise write_error(self.root, error) from error

    def path(self, name: str) -> Path:
        if name not in FILES[FORMAT]:
            raise ValueError(f"{name!r} is not a file of index format {FORMAT}")
        return self.folder / name

    def save(self, name: str, array: np.ndarray) -> None:
        np.save(self.path(name), array)

    def open_array(self, name: str, dtype, shape: tuple[int, ...]) -> np.memmap:
        """A .npy file to fill in place (for arrays larger than memory)."""
        return open_memmap(self.path(name), "w+", dtype, shape)

    def texts(self, texts: Iterable[str]) -> None:
        blobs = [t.encode("utf-8") for t in texts]
        self.path("text.bin").write_bytes(b"".join(blobs))
        self.save("text_offsets.npy", _offsets(len(b) for b in blobs))

    def raw_texts(self, chunks: Iterable[bytes], offsets: np.ndarray) -> None:
        """UTF-8 passage texts already joined (in any chunks) and where each one starts."""
        with open(self.path("text.bin"), "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        self.save("text_offsets.npy", np.asarray(offsets, dtype=np.int64))

    def sections(self, sections: Iterable[dict], passage_section: np.ndarray) -> None:
        """Section metadata, one JSON line each, and the section id of every passage."""
        lines = [
            (json.dumps(s, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            for s in sections
        ]
        self.path("sections.jsonl").write_bytes(b"".join(lines))
        self.save("section_offsets.npy", _offsets(len(x) for x in lines))
        self.save("passage_section.npy", np.asarray(passage_section, dtype=np.int32))

    def sentences(self, vectors: Sequence[np.ndarray], dim: int) -> None:
        """Each passage's sentence vectors (float16 halves them; cosines barely move)."""
        self.save("sent_offsets.npy", _offsets(len(s) for s in vectors))
        stacked = np.concatenate(vectors) if len(vectors) else np.zeros((0, dim), np.float32)
        self.save("sent_vectors.npy", stacked.astype(np.float16))

    def keys(self, keys: Sequence[bytes] | np.ndarray) -> None:
        """16-byte embedding cache keys, as raw rows (a bytes dtype drops trailing zeros)."""
        if not isinstance(keys, np.ndarray):
            keys = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16)
        self.save("keys.npy", keys)

    def dense(self, store: DenseStore) -> None:
        store.write(self.path(DENSE))
        self.dense_kind = store.kind

    def dense_vectors(self, vectors: np.ndarray, flat_max: int) -> None:
        """The passage vectors, as a flat FAISS index up to flat_max of them, HNSW beyond."""
        self.dense(DenseStore.build(vectors, flat_max=flat_max))

    def anchors(self, vectors: np.ndarray) -> None:
        self.save("anchors.npy", vectors)

    def lexical(self, lex: Lexical) -> None:
        # The folder keeps Lexical's own CSR arrays: mapped back in place (LocalVersion).
        self.save("lex_terms.npy", lex.terms)
        self.save("lex_idf.npy", lex.idf)
        self.save("lex_indptr.npy", lex.matrix.indptr.astype(np.int64))
        self.save("lex_indices.npy", lex.matrix.indices.astype(np.int32))
        self.save("lex_data.npy", lex.matrix.data.astype(np.float32))

    def commit(self, manifest: dict) -> Path:
        """Seal the version and make it live; returns its folder."""
        written = {p.name for p in self.folder.iterdir()}
        if written != FILES[FORMAT]:  # a bug in a writer, never a user's doing
            missing, extra = sorted(FILES[FORMAT] - written), sorted(written - FILES[FORMAT])
            raise ValueError(f"incomplete index version: missing {missing}, unexpected {extra}")
        return commit(self.root, self.folder, dict(manifest, dense_index=self.dense_kind))


def _offsets(lengths: Iterable[int]) -> np.ndarray:
    lengths = np.fromiter(lengths, dtype=np.int64)
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


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
    write_synced(build / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    final = root / build.name.replace(".build-", "v-", 1)
    os.replace(build, final)
    pointer = root / f"{CURRENT}.tmp"
    try:
        # The pointer flips in one rename: a reader sees the old index or the new one, never
        # a mix.
        write_synced(pointer, final.name)
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


def write_synced(path: Path, text: str) -> None:
    """Write text to path and fsync it (the manifest and the CURRENT pointer)."""
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
