"""Sentence-transformers embeddings: the default model offline, or any name or path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import ModelError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
# Up to this many texts are encoded on one thread (see _threads_for).
_FEW = 8


def resolve_model(model: str, cache_dir: Path) -> Path | str:
    """Map a settings value to what SentenceTransformer loads: a local directory or a hub name."""
    from .default_model import DEFAULT_MODEL, ensure_default_model

    if model == DEFAULT_MODEL:
        return ensure_default_model(cache_dir)
    path = Path(model).expanduser()
    if path.exists() or model.startswith((".", "/", "~")):
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(f"model path {model!r} is not a sentence-transformers model folder")
        return path.resolve()
    return model


class Embedder:
    """Encodes passages and queries with the model's own prompts, normalized for cosine."""

    def __init__(
        self,
        model: str,
        cache_dir: Path,
        batch_size: int = 32,
        threads: int = 0,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
    ):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        # Weight-loading progress bars are noise in a bot's log and in CLI output.
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        source = resolve_model(model, Path(cache_dir))
        self.model = _load(SentenceTransformer, model, source)
        self.name = model
        self.model_dir = str(_local_dir(self.model, source))
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.batch_size = batch_size
        prompts = self.model.prompts or {}
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query", "")
        default_passage = prompts.get("passage", prompts.get("document", ""))
        self.passage_prompt = passage_prompt if passage_prompt is not None else default_passage
        log.info("Loaded model %s from %s (dim %d)", model, self.model_dir, self.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (float32, unit length)."""
        return self._encode(texts, self.query_prompt)

    def encode_passages(
        self,
        texts: Sequence[str],
        progress: Progress | None = None,
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
    ):
        """Embed passages in slices so a caller can show progress.

        Args:
            texts: passages as the model should read them.
            progress: called with (done, total) after each slice.
            spans: per text, (start, end) character ranges (e.g. sentences) to embed as well.

        Returns:
            The (n × dim) vectors; with spans, also one (spans × dim) array per text.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_out: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        # Sort by length once so each batch pads little; slices keep the progress bar moving.
        order = np.argsort([len(t) for t in texts], kind="stable")
        step = self.batch_size * 8
        for start in range(0, len(texts), step):
            idx = order[start : start + step]
            batch = [texts[i] for i in idx]
            if spans is None:
                out[idx] = self._encode(batch, self.passage_prompt)
            else:
                vecs, pooled = self._encode_spans(batch, [spans[i] for i in idx])
                out[idx] = vecs
                for i, p in zip(idx, pooled):
                    span_out[i] = p
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        return out if spans is None else (out, span_out)

    def _encode_spans(self, texts, spans) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass gives both the passage vector and its sentences' vectors.

        A sentence's vector is the mean of its tokens' contextual embeddings: sentence-level
        evidence for free, instead of encoding every sentence a second time.
        """
        prompt = self.passage_prompt or ""
        with _threads_for(len(texts)):
            outputs = self.model.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                output_value=None,
                show_progress_bar=False,
            )
        enc = self.model.tokenizer(
            [prompt + t for t in texts],
            return_offsets_mapping=True,
            truncation=True,
            max_length=self.model.max_seq_length,
        )
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled = []
        for j, (o, offsets, text_spans) in enumerate(zip(outputs, enc["offset_mapping"], spans)):
            v = o["sentence_embedding"].float().numpy()
            vecs[j] = v / max(float(np.linalg.norm(v)), 1e-12)
            tokens = o["token_embeddings"][: len(offsets)].float().numpy()
            starts = np.array([a for a, _ in offsets]) - len(prompt)
            ends = np.array([b for _, b in offsets]) - len(prompt)
            real = ends > starts
            rows = np.zeros((len(text_spans), self.dim), dtype=np.float32)
            for k, (a, b) in enumerate(text_spans):
                inside = real & (starts >= a) & (ends <= b)
                # A sentence cut off by truncation falls back to the passage's own vector.
                rows[k] = tokens[inside].mean(axis=0) if inside.any() else v
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            pooled.append(rows)
        return vecs, pooled

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _threads_for(len(texts)):
            vecs = self.model.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)


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
    # the network; only if it is not cached is the hub asked.
    attempts = [True] if isinstance(source, Path) else [True, False]
    error: Exception | None = None
    for local_only in attempts:
        try:
            return cls(str(source), device="cpu", local_files_only=local_only)
        except Exception as e:  # the library raises many types for a missing or broken model
            error = e
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise ModelError(f"cannot load model {model!r}: {first}") from error


def _local_dir(model, source: Path | str) -> Path | str:
    if isinstance(source, Path):
        return source
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:
        return source
