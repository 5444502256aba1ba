"""A local index version's file list, format and manifest: read without numpy, scipy or faiss.

`newsbot info` reads a manifest alone and should not pay for the array libraries; storage.local
(which maps the files) builds on this module.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import IndexCorruptError, IndexNotBuiltError

FORMAT = 3  # 3: sections as JSON lines plus an offsets file; the file list below, exactly
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
DENSE = "dense.faiss"
_COMMON = {
    "anchors.npy",  # off-topic anchor vectors
    DENSE,  # FAISS index of the passage vectors (flat or HNSW)
    "keys.npy",  # (passages × 16) embedding cache keys
    "lex_data.npy",  # BM25 weights, CSR (terms × passages) ...
    "lex_idf.npy",
    "lex_indices.npy",
    "lex_indptr.npy",
    "lex_terms.npy",  # ... rows: sorted '<U2' terms
    "passage_section.npy",  # section id of each passage
    "sent_offsets.npy",  # passage i's sentences are rows sent_offsets[i]:[i + 1] ...
    "sent_vectors.npy",  # ... of these float16 vectors
    "text.bin",  # passage texts, UTF-8, back to back ...
    "text_offsets.npy",  # ... passage i is bytes text_offsets[i]:[i + 1]
}
# Every file of a version, by format: a version with more or fewer files is damaged.
FILES = {
    2: frozenset(_COMMON | {"sections.json", "lex_meta.json"}),
    3: frozenset(_COMMON | {"sections.jsonl", "section_offsets.npy"}),
}
# A build reuses vectors from these formats; only FORMAT is served.
READABLE = (2, 3)
# Above this many bytes a version's checksums are computed on all cores (below, threads cost
# more than they save: 8 MB took 10 ms on one).
PARALLEL_CHECK = 32 << 20
# What CURRENT may name: a version folder beside it, never a path elsewhere.
VERSION_RE = re.compile(r"v-[A-Za-z0-9_-]+")
VERSION_FILE_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def current_version(root: Path) -> Path:
    """The folder CURRENT names; raises IndexNotBuiltError when there is none."""
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotBuiltError(f"no index in {root}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise IndexCorruptError(f"unreadable {root / CURRENT}: {e}") from None
    if not VERSION_RE.fullmatch(name):
        raise IndexCorruptError(f"{root / CURRENT} does not name an index version ({name[:40]!r})")
    folder = root / name
    if not (folder / MANIFEST).is_file():
        raise IndexCorruptError(f"{root / CURRENT} points to a missing index ({name!r})")
    return folder


def read_manifest(folder: Path, verify: bool = True, formats: Sequence[int] = (FORMAT,)) -> dict:
    """Load the manifest and check its file list and every file's size (and checksum)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"unreadable manifest in {folder.name}: {e}") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"malformed manifest in {folder.name}")
    if manifest.get("format") not in formats:
        raise IndexCorruptError(
            f"index format {manifest.get('format')!r} is not {FORMAT}; it will be rebuilt"
        )
    files = manifest.get("files")
    # A damaged manifest must read as damage, not crash the loader with a KeyError.
    if not isinstance(files, dict) or not files:
        raise IndexCorruptError(f"manifest in {folder.name} lists no files")
    for name, meta in files.items():
        if not VERSION_FILE_RE.fullmatch(name):
            raise IndexCorruptError(f"manifest names a file outside the index: {name[:40]!r}")
        if not isinstance(meta, dict) or not all(
            isinstance(meta.get(k), int) for k in ("size", "crc32")
        ):
            raise IndexCorruptError(f"manifest entry for {name} is malformed")
    if set(files) != FILES[manifest["format"]]:
        missing = sorted(FILES[manifest["format"]] - set(files))
        raise IndexCorruptError(f"manifest in {folder.name} lists other files (missing {missing})")
    for name, meta in files.items():
        try:
            size = (folder / name).stat().st_size
        except OSError:
            raise IndexCorruptError(f"index file {name} is missing") from None
        if size != meta["size"]:
            raise IndexCorruptError(f"index file {name} is truncated or changed")
    if verify:
        _verify(folder, files)
    return manifest


def _verify(folder: Path, files: dict) -> None:
    """Check every file's CRC-32 against the manifest; IndexCorruptError on a mismatch."""
    names = sorted(files, key=lambda n: -files[n]["size"])
    sums = map(lambda n: checksum(folder / n), names)
    pool = None
    if sum(m["size"] for m in files.values()) > PARALLEL_CHECK and (os.cpu_count() or 1) > 1:
        # zlib releases the GIL on large buffers: the files are summed on all cores at once
        # (0.2 s on one core for a 100k-passage index, the most of its load time).
        pool = ThreadPoolExecutor(os.cpu_count())
        sums = pool.map(lambda n: checksum(folder / n), names)
    try:
        for name, crc in zip(names, sums):
            if crc != files[name]["crc32"]:
                raise IndexCorruptError(f"index file {name} fails its checksum")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def checksum(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc
