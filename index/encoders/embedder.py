"""Embeddings with the model's prompts: ONNX for the default model, else torch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..options import DEFAULT_MODEL, ENCODERS, check_choice
from .torch import resolve_model

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

__all__ = ["ENCODERS", "Embedder", "Progress", "identity_of", "resolve_model"]


class Embedder:
    """Encodes passages and queries with the model's own prompts, normalized for cosine.

    `encoder` picks the backend of the default model: "onnx" (onnxruntime, no torch) to
    serve, "torch" (sentence-transformers, the reference). Other models always use torch.
    `identity` names the backend and the model files' content: an index keeps it, and vectors
    of two identities are never mixed.
    """

    def __init__(
        self,
        model: str,
        cache_dir: Path,
        batch_size: int = 32,
        threads: int = 0,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        encoder: str = "onnx",
    ):
        check_choice("index.encoder", encoder, ENCODERS)
        if model == DEFAULT_MODEL and encoder == "onnx":
            from .onnx import OnnxBackend, ensure_onnx_model

            self._backend = OnnxBackend(ensure_onnx_model(Path(cache_dir)), threads)
        else:
            from .torch import TorchBackend

            self._backend = TorchBackend(model, Path(cache_dir), threads)
            if model == DEFAULT_MODEL:
                self.check()
        self.name = model
        self.encoder = self._backend.kind
        self.identity = f"{self.encoder}:{self._backend.content or model}"
        self.model_dir = self._backend.model_dir
        self.dim = self._backend.dim
        self.batch_size = batch_size
        prompts = self._backend.prompts
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query", "")
        default_passage = prompts.get("passage", prompts.get("document", ""))
        self.passage_prompt = passage_prompt if passage_prompt is not None else default_passage
        log.info(
            "Loaded model %s (%s) from %s (dim %d)", model, self.encoder, self.model_dir, self.dim
        )

    @property
    def model(self):
        """The sentence-transformers model of the torch encoder (benchmarks compare with it)."""
        return getattr(self._backend, "model", None)

    def check(self, record: dict | None = None) -> None:
        """Embed the default model's known texts and compare with its check record (ModelError)."""
        from .default_model import check as model_check

        folder = Path(self._backend.model_dir)
        record = record or model_check.read(folder)
        model_check.verify(folder, record, lambda t: self._backend.embed(t, 8))
        self._backend.content = record["digest"]

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
        full = [prompt + t for t in texts]
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled = []
        tokens = self._backend.embed_tokens(full, self.batch_size)
        for j, ((v, hidden, offsets), text_spans) in enumerate(zip(tokens, spans)):
            vecs[j] = v
            starts = offsets[:, 0] - len(prompt)
            ends = offsets[:, 1] - len(prompt)
            real = ends > starts
            rows = np.zeros((len(text_spans), self.dim), dtype=np.float32)
            for k, (a, b) in enumerate(text_spans):
                inside = real & (starts >= a) & (ends <= b)
                # A sentence cut off by truncation falls back to the passage's own vector.
                rows[k] = hidden[inside].mean(axis=0) if inside.any() else v
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            pooled.append(rows)
        return vecs, pooled

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._backend.embed([(prompt or "") + t for t in texts], self.batch_size)


def identity_of(embedder) -> str:
    """What an index records as its encoder; stand-ins without `identity` go by their name."""
    return getattr(embedder, "identity", None) or embedder.name
