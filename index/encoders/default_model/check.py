"""A model folder's check record: its files, their digest, and known texts' embeddings."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ...errors import ModelError

log = logging.getLogger(__name__)

CHECK = "check.json"
# Short texts in both languages and both prompts: a broken tokenizer or damaged weights move
# them far; the same encoder on the same folder reproduces them to float rounding.
TEXTS = (
    "query: ロシアの停戦条件は?",
    "passage: 米露首脳は電話会談で、エネルギー関連施設への攻撃を30日間停止することで合意した。",
    "query: What did Putin concede?",
)
# Same encoder, same files: only thread count and summation order differ (cosine > 0.99999).
SAME = 0.999


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def write(folder: Path, files: Sequence[str], vectors: np.ndarray, **extra) -> dict:
    """Record the folder's files (size, digest) and the known texts' vectors; returns it."""
    sizes = {name: (folder / name).stat().st_size for name in files}
    digests = {name: file_digest(folder / name) for name in files}
    whole = hashlib.blake2b(json.dumps(digests, sort_keys=True).encode(), digest_size=8)
    record = {
        "files": {n: {"size": sizes[n], "blake2b": digests[n]} for n in files},
        "digest": whole.hexdigest(),
        "texts": list(TEXTS),
        "vectors": np.asarray(vectors, np.float32).round(6).tolist(),
        **extra,
    }
    (folder / CHECK).write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def read(folder: Path) -> dict:
    """The folder's record, after checking that every recorded file is there at its size."""
    try:
        record = json.loads((folder / CHECK).read_text(encoding="utf-8"))
        files = record["files"]
        record["vectors"], record["digest"]  # noqa: B018 - a record without them is damaged
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"model folder {folder} has no readable {CHECK}: {e}") from None
    for name, meta in files.items():
        try:
            size = (folder / name).stat().st_size
        except OSError:
            raise ModelError(f"model folder {folder} is damaged: {name} is missing") from None
        if size != meta.get("size"):
            raise ModelError(f"model folder {folder} is damaged: {name} has changed")
    return record


def verify(folder: Path, record: dict, encode: Callable[[list[str]], np.ndarray]) -> None:
    """Encode the known texts and compare them with the record (raises ModelError)."""
    want = np.asarray(record["vectors"], np.float32)
    got = np.asarray(encode(list(record["texts"])), np.float32)
    if got.shape != want.shape:
        raise ModelError(f"model folder {folder} gives vectors of shape {got.shape}")
    cos = (got * want).sum(axis=1) / np.maximum(
        np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1), 1e-12
    )
    if float(cos.min()) < SAME:
        raise ModelError(
            f"model folder {folder} fails its check (known text at cosine {cos.min():.4f} to its "
            "recorded embedding); delete the folder to convert it again"
        )
    log.debug("Model folder %s passed its check (min cosine %.6f)", folder, cos.min())
