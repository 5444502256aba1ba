"""The reference encoder: any sentence-transformers model on torch (name, hub or folder)."""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)

# Up to this many texts are encoded on one thread (see _threads_for).
_FEW = 8
# How long an unknown model name may wait for the hub before we call it offline.
_HUB_TIMEOUT = 3.0


def resolve_model(model: str, cache_dir: Path) -> Path | str:
    """Map a settings value to what SentenceTransformer loads: a local directory or a hub name."""
    from .default_model.convert import DEFAULT_MODEL, ensure_default_model

    if model == DEFAULT_MODEL:
        return ensure_default_model(cache_dir)
    path = Path(model).expanduser()
    if path.exists() or model.startswith((".", "/", "~")):
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(f"model path {model!r} is not a sentence-transformers model folder")
        return path.resolve()
    return model


class TorchBackend:
    """sentence-transformers on torch: texts (prompts included) to unit vectors and tokens."""

    kind = "torch"

    def __init__(self, model: str, cache_dir: Path, threads: int = 0):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        # Weight-loading progress bars are noise in a bot's log and in CLI output.
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        source = resolve_model(model, Path(cache_dir))
        self.model = _load(SentenceTransformer, model, source)
        self.model_dir = str(_local_dir(source))
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.prompts = dict(self.model.prompts or {})
        self.max_length = int(self.model.max_seq_length)
        self.content = _folder_digest(Path(self.model_dir)) if Path(self.model_dir).is_dir() else ""

    def embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        with _threads_for(len(texts)):
            vecs = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_tokens(self, texts: Sequence[str], batch_size: int):
        """Per text: its unit vector, token embeddings and token character offsets."""
        with _threads_for(len(texts)):
            outputs = self.model.encode(
                list(texts), batch_size=batch_size, output_value=None, show_progress_bar=False
            )
        enc = self.model.tokenizer(
            list(texts), return_offsets_mapping=True, truncation=True, max_length=self.max_length
        )
        for o, offsets in zip(outputs, enc["offset_mapping"]):
            v = o["sentence_embedding"].float().numpy()
            tokens = o["token_embeddings"][: len(offsets)].float().numpy()
            yield v / max(float(np.linalg.norm(v)), 1e-12), tokens, np.asarray(offsets)


@contextmanager
def _threads_for(texts: int):
    """Encode a few texts (a question, an edited passage) on this thread alone."""
    # Their matrix products are small: splitting them across cores saves little, and on shared
    # cores a descheduled worker stalls every one. On 2 shared cores a question took 200-480 ms
    # on torch's 2 threads and 27-40 ms on one (benchmarks/README.md). Batches keep all threads.
    import torch

    before = torch.get_num_threads()
    if texts > _FEW or before == 1:
        yield
        return
    # Per calling thread under OpenMP: concurrent encodes in other threads keep their count.
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _load(cls, model: str, source: Path | str):
    # A hub name is tried from the local cache first, so an offline server never waits on
    # the network; the hub is asked only when it answers at all (else 70 s of retries).
    error: Exception | None = None
    try:
        return cls(str(source), device="cpu", local_files_only=True)
    except Exception as e:  # the library raises many types for a missing or broken model
        error = e
    if not isinstance(source, Path):
        if not _hub_reachable():
            raise ModelError(
                f"model {model!r} is not in the local Hugging Face cache and the hub cannot be "
                "reached (offline?); download it where online, or use a folder",
                setting="index.model",
            ) from error
        try:
            return cls(str(source), device="cpu", local_files_only=False)
        except Exception as e:
            error = e
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise ModelError(f"cannot load model {model!r}: {first}") from error


def _hub_reachable() -> bool:
    """Whether the Hugging Face hub is allowed (not HF_HUB_OFFLINE) and answers a TCP connect."""
    from huggingface_hub import constants

    if getattr(constants, "HF_HUB_OFFLINE", False):
        return False
    url = urlparse(getattr(constants, "ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), _HUB_TIMEOUT).close()
    except OSError:
        return False
    return True


def _local_dir(source: Path | str) -> Path | str:
    if isinstance(source, Path):
        return source
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:
        return source


def _folder_digest(folder: Path) -> str:
    """A cheap content identity for a model folder: its files' names, sizes and change times."""
    # Hashing hundreds of MB at every start would cost seconds; a replaced file changes these.
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
