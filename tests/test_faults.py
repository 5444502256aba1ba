"""Faults never lose the index: a killed build, damaged files, a full disk, links outside.

Issue 6. Real processes (killed with SIGKILL at chosen points of a real build), real files
(flipped bytes, truncation) and real write failures (a file-size limit in a child process).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from index import Searcher
from index.errors import (
    ALLOW_EMPTY,
    BuildInProgressError,
    EmptyArticlesError,
    IndexCorruptError,
    IndexWriteError,
)
from index.storage import local as layout
from index.storage import manifest as version_manifest

from .conftest import DATA, MODEL_CACHE, ROOT, SCORE_TOL, cli_for, make_options
from .test_index import CountingEmbedder

QUESTIONS = ["鹿せんべいの材料は?", "名人戦は何日制?"]
# Tiny articles keep every rebuild cheap; the faults do not depend on the corpus's size.
FRONT = "---\ntitle: {}\npublished: 2025-04-01\n---\n\n"
TINY = {
    "deer.md": FRONT.format("奈良公園の鹿")
    + "## 鹿せんべい\n\n鹿せんべいは米ぬかと小麦粉で作られ、砂糖は使われていない。\n\n"
    "## 天然記念物\n\n奈良のシカは1957年に国の天然記念物に指定された。\n",
    "shogi.md": FRONT.format("将棋のタイトル戦")
    + "## 持ち時間\n\n名人戦は2日制で、持ち時間は各9時間である。\n\n"
    "## 永世称号\n\n竜王を通算7期獲得すると永世竜王の資格を得る。\n",
}
NEW_ARTICLE = FRONT.format("富士山の山開き") + "富士山の吉田ルートは7月1日に山開きを迎える。\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory, embedder) -> tuple[Path, list]:
    """Two articles and their index, built once with the real model; tests work on copies."""
    folder = tmp_path_factory.mktemp("base")
    articles = folder / "articles"
    articles.mkdir()
    for name, text in TINY.items():
        (articles / name).write_text(text, encoding="utf-8")
    searcher = Searcher.open(make_options(folder, articles), embedder=embedder)
    return folder, served(searcher)


@pytest.fixture
def copied(base, tmp_path):
    """A private copy of the base articles and index: (options, what the index answers)."""
    folder, before = base
    shutil.copytree(folder / "articles", tmp_path / "articles")
    shutil.copytree(folder / "data", tmp_path / "data")
    return make_options(tmp_path, tmp_path / "articles"), before


@pytest.fixture
def live(copied, embedder):
    """The copy, opened: (options, searcher, what it answers before any fault)."""
    options, before = copied
    return options, Searcher.open(options, embedder=embedder), before


def served(searcher: Searcher) -> list:
    """What the searcher answers: passages and scores (within SCORE_TOL) for a few questions."""
    # approx: a score is recomputed by each search and compared against another searcher's
    return [
        [
            (h.article, h.section, h.passage_id, pytest.approx(h.score, abs=SCORE_TOL))
            for h in searcher.search(q)
        ]
        for q in QUESTIONS
    ]


def scraps(root: Path) -> list[str]:
    """Anything a build leaves when it does not finish: hidden build folders, extra versions."""
    live = (root / layout.CURRENT).read_text().strip()
    return sorted(
        p.name
        for p in root.iterdir()
        if p.name.startswith(".build-")
        or (p.name.startswith("v-") and p.name != live)
        or p.name == f"{layout.CURRENT}.tmp"
    )


# --- (1) SIGKILL in the middle of a reindex --------------------------------------------------

DRIVER = textwrap.dedent(
    '''
    """Run a real build of the index and stop at a chosen point, waiting to be killed."""
    import os
    import sys
    import time
    from pathlib import Path

    import faiss
    import numpy as np

    from index import IndexOptions
    from index.storage import local as layout
    from index.build import build

    stage, marker, articles, data, name, dim, rebuild, identity = sys.argv[1:9]
    # DRIVER_RESUME: a file whose appearance lets the build go on; DRIVER_TERM: stop on
    # SIGTERM the way the `newsbot` CLI does.
    resume = os.environ.get("DRIVER_RESUME")
    if os.environ.get("DRIVER_TERM"):
        from bot.cli import exit_on_sigterm

        exit_on_sigterm()


    def stop_here():
        Path(marker).write_text(str(os.getpid()))
        if not resume:
            time.sleep(600)
            return
        while not Path(resume).exists():
            time.sleep(0.05)


    class StubEmbedder:
        """The Embedder interface with fixed vectors; this build is killed before it is used."""

        model_dir = "stub"

        def __init__(self):
            self.name, self.dim = name, int(dim)
            self.identity = identity  # the real model's: its vectors are reused

        def unit(self, n):
            v = np.zeros((n, self.dim), np.float32)
            v[:, 0] = 1
            return v

        def encode_queries(self, texts):
            return self.unit(len(texts))

        def encode_passages(self, texts, progress=None, spans=None, **kwargs):
            if stage == "embed":
                stop_here()
            vectors = self.unit(len(texts))
            return vectors if spans is None else (vectors, [self.unit(len(s)) for s in spans])


    write_index = faiss.write_index


    def half_faiss(index, path):
        write_index(index, path)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        stop_here()


    write_synced = layout.write_synced


    def stop_in(name):
        def write(path, text):
            if Path(path).name != name:
                return write_synced(path, text)
            Path(path).write_text(text[: len(text) // 2])
            stop_here()

        return write


    if stage == "write":
        faiss.write_index = half_faiss
    elif stage == "manifest":
        layout.write_synced = stop_in("manifest.json")
    elif stage == "pointer":
        layout.write_synced = stop_in("CURRENT.tmp")
    options = IndexOptions(articles_dir=Path(articles), data_dir=Path(data))
    build(options, StubEmbedder(), rebuild=rebuild == "1")
    sys.exit(0 if resume else "the build finished: it was meant to be killed")
    '''
)


def start_build_at(
    stage: str, options, embedder, tmp_path: Path, rebuild: bool = False, env=None
) -> subprocess.Popen:
    """Start a build in a child process; return once it has reached stage and stopped there."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    marker, log = tmp_path / "stopped", tmp_path / "child.log"
    args = [str(options.articles_dir), str(options.data_dir), embedder.name, str(embedder.dim)]
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [sys.executable, str(driver), stage, str(marker), *args, "1" if rebuild else "0"]
            + [embedder.identity],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + 120
    try:
        while not marker.exists():
            assert child.poll() is None, f"child ended before {stage}: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"child never reached {stage}"
            time.sleep(0.05)
    except BaseException:
        child.kill()
        child.wait()
        raise
    return child


def kill_build_at(
    stage: str, options, embedder, tmp_path: Path, rebuild: bool = False, while_stopped=None
) -> None:
    """Start a build in a child process, wait until it reaches stage, then SIGKILL it."""
    child = start_build_at(stage, options, embedder, tmp_path, rebuild)
    try:
        if while_stopped:
            while_stopped()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["embed", "write", "manifest", "pointer"])
def test_killed_reindex_leaves_the_old_index_serving(stage, live, embedder, tmp_path):
    """Killed while embedding, writing files, writing the manifest or flipping CURRENT."""
    options, searcher, before = live
    root = options.index_dir
    version = searcher.index.version.folder.name
    articles = options.articles_dir
    if stage == "embed":  # a new article: the child has passages to embed
        (articles / "fuji.md").write_text(NEW_ARTICLE, encoding="utf-8")
    else:  # a removed article: the child reuses every vector and goes straight to writing
        (articles / "shogi.md").unlink()

    kill_build_at(stage, options, embedder, tmp_path)

    if stage == "write":
        half = [p for p in root.glob(".build-*/dense.faiss")]
        assert half and half[0].stat().st_size > 0  # a half-written file really is on disk
    if stage in ("write", "manifest"):
        assert any(s.startswith(".build-") for s in scraps(root))
    if stage == "pointer":
        assert f"{layout.CURRENT}.tmp" in scraps(root)
    # The next start serves the old version, intact, with the same answers.
    assert (root / layout.CURRENT).read_text().strip() == version
    again = Searcher.open(options, embedder=embedder)
    assert again.index.version.folder.name == version
    layout.read_manifest(again.index.version.folder, verify=True)
    assert served(again) == before

    # The next build finishes the change and sweeps what the killed one left.
    report = again.reindex()
    assert report.changed_anything and again.index.version.folder.name != version
    assert scraps(root) == []
    assert [p.name for p in root.glob("v-*")] == [again.index.version.folder.name]


def test_killed_build_holds_the_lock_until_it_dies(live, embedder, tmp_path):
    """While a build runs in another process a second one is refused; after the kill it runs."""
    options, searcher, _ = live
    (options.articles_dir / "fuji.md").write_text(NEW_ARTICLE, encoding="utf-8")

    def second_build():
        with pytest.raises(BuildInProgressError):
            searcher.reindex()

    kill_build_at("embed", options, embedder, tmp_path, while_stopped=second_build)
    assert searcher.reindex().added == ["fuji.md"]


def test_sigterm_during_a_build_removes_its_unfinished_folder(live, embedder, tmp_path):
    """Issue 11 (8): a stopped build (SIGTERM, as systemd or docker stop send) tidies up."""
    options, searcher, before = live
    root = options.index_dir
    (options.articles_dir / "shogi.md").unlink()
    child = start_build_at("write", options, embedder, tmp_path, env={"DRIVER_TERM": "1"})
    try:
        assert any(s.startswith(".build-") for s in scraps(root))  # half-written, on disk
        os.kill(child.pid, signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 128 + signal.SIGTERM
    assert scraps(root) == [] and served(searcher) == before


def test_first_open_waits_for_a_build_in_another_process_and_uses_it(copied, embedder, tmp_path):
    """Issue 11 (3): a first `ask` while another process builds waits, then answers."""
    options, _ = copied
    shutil.rmtree(options.index_dir)  # no index yet: both processes want to build it
    go = tmp_path / "go"
    child = start_build_at("embed", options, embedder, tmp_path, env={"DRIVER_RESUME": str(go)})
    waiting, result = threading.Event(), {}

    class Watch(logging.Handler):
        def emit(self, record):
            if "waiting for it" in record.getMessage():
                waiting.set()

    watch = Watch()
    logging.getLogger("index").setLevel(logging.INFO)
    logging.getLogger("index").addHandler(watch)
    counting = CountingEmbedder(embedder)

    def first_ask():
        try:
            result["searcher"] = Searcher.open(options, embedder=counting)
        except Exception as e:  # what the test reports
            result["error"] = e

    opener = threading.Thread(target=first_ask)
    try:
        opener.start()
        # The opener either blocks on the child's build (and says so) or gives up: the bug.
        while not waiting.is_set() and opener.is_alive():
            waiting.wait(0.05)
        assert waiting.is_set(), f"did not wait: {result.get('error')!r}"
        go.write_text("")
        assert child.wait(timeout=120) == 0
        opener.join(timeout=120)
    finally:
        logging.getLogger("index").removeHandler(watch)
        child.kill()
        child.wait()
    assert "error" not in result, result.get("error")
    searcher = result["searcher"]
    # It answers from the child's build: nothing was embedded a second time.
    assert counting.encoded == []
    assert searcher.index.name == (options.index_dir / layout.CURRENT).read_text().strip()
    assert searcher.search(QUESTIONS[0])


def test_rebuild_reports_unchanged_articles_as_unchanged(live):
    """Issue 11 (8): --rebuild re-embeds everything but lists nothing as added."""
    options, searcher, _ = live
    report = searcher.reindex(rebuild=True)
    assert report.added == report.changed == report.removed == []
    assert report.unchanged == 2 and report.embedded == report.passages


# --- (1b) A broken article or an empty folder never shrinks the index -------------------------


def cli_config(options) -> Path:
    config = options.data_dir.parent / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{options.articles_dir}"\ndata_dir = "{options.data_dir}"\n',
        encoding="utf-8",
    )
    return config


def test_broken_article_keeps_its_previous_passages(live, embedder, monkeypatch, capsys):
    """Issue 11 (2): a file broken by an edit stays answered from its last good version."""
    options, searcher, before = live
    deer = options.articles_dir / "deer.md"
    good = deer.read_text(encoding="utf-8")
    deer.write_text("--- broken\n" + good.split("\n", 1)[1], encoding="utf-8")
    report = searcher.reindex()
    assert report.kept == ["deer.md"] and report.removed == []
    assert {s.file: s.reason for s in report.skipped}["deer.md"].endswith(
        "; kept from the previous index"
    )
    assert report.articles == 2 and served(searcher) == before

    # The CLI says so, and exits 1: the index is live but stale for that article.
    cli = cli_for(embedder)

    assert cli(["--config", str(cli_config(options)), "index"]) == 1
    out, err = capsys.readouterr()
    assert "skipped: deer.md: no front matter" in out and "kept from the previous index" in out
    assert "removed" not in out and "1 broken articles kept" in err

    # Another change writes a new version: the kept passages go into it, vectors reused.
    (options.articles_dir / "fuji.md").write_text(NEW_ARTICLE, encoding="utf-8")
    report = searcher.reindex()
    assert report.added == ["fuji.md"] and report.kept == ["deer.md"] and report.embedded == 1
    assert searcher.search(QUESTIONS[0])[0].article == "deer.md"
    assert searcher.index.manifest["articles"]["deer.md"]["kept"] is True

    # Deleting the broken file is what removes it.
    deer.unlink()
    assert searcher.reindex().removed == ["deer.md"]


def test_empty_articles_folder_never_empties_the_index(live, embedder, monkeypatch, capsys):
    """Issue 11 (2): an unmounted volume or a bad checkout must not wipe the coverage."""
    options, searcher, before = live
    version = searcher.index.name
    for path in options.articles_dir.iterdir():
        path.unlink()
    with pytest.raises(EmptyArticlesError, match="it is kept") as refused:
        searcher.reindex()
    assert refused.value.hint == ALLOW_EMPTY  # the CLI words it: 'newsbot index --allow-empty'
    assert searcher.index.name == version and served(searcher) == before
    assert Searcher.open(options, embedder=embedder).index.name == version

    cli = cli_for(embedder)

    config = str(cli_config(options))
    assert cli(["--config", config, "index"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("newsbot: error: no usable articles") and "--allow-empty" in err
    assert (options.index_dir / layout.CURRENT).read_text().strip() == version

    assert cli(["--config", config, "index", "--allow-empty"]) == 0
    assert "removed: deer.md" in capsys.readouterr().out
    assert Searcher.open(options, embedder=embedder).index.size == 0


def test_scraps_of_a_killed_rebuild_go_even_when_nothing_changed(live, embedder, tmp_path):
    options, searcher, before = live
    root = options.index_dir
    kill_build_at("write", options, embedder, tmp_path, rebuild=True)
    assert any(s.startswith(".build-") for s in scraps(root))
    report = searcher.reindex()  # nothing changed: no new version, but the scraps are gone
    assert not report.changed_anything
    assert scraps(root) == [] and served(searcher) == before


@pytest.mark.slow
def test_newsbot_index_killed_mid_embedding_with_the_real_model(live, tmp_path):
    """The real CLI and model, killed -9 once its progress bar shows it is embedding."""
    options, searcher, before = live
    root = options.index_dir
    version = searcher.index.version.folder.name
    for path in (DATA / "articles").glob("*.md"):
        shutil.copy(path, options.articles_dir)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{options.articles_dir}"\ndata_dir = "{options.data_dir}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\nbatch_size = 1\n',
        encoding="utf-8",
    )
    log = tmp_path / "child.log"
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "index", "--rebuild"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Killed as soon as the bar shows a passage embedded (not after a guessed sleep); the
        # deadline is a safety net, not the check.
        deadline = time.monotonic() + 300
        while not embedding_started(log.read_text(errors="replace")):
            assert child.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the build never showed its progress"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    done, total = map(int, re.findall(r"(\d+)/(\d+)", log.read_text(errors="replace"))[-1])
    assert 0 < done < total  # killed mid-embedding, by the progress bar's own count
    assert (root / layout.CURRENT).read_text().strip() == version
    again = Searcher.open(options, embedder=searcher.embedder)
    assert again.index.version.folder.name == version and served(again) == before


def embedding_started(log: str) -> bool:
    """The Embedding progress bar has counted at least one passage."""
    return "Embedding" in log and any(int(n) > 0 for n, _ in re.findall(r"(\d+)/(\d+) \[", log))


# --- (2) Damaged index files -----------------------------------------------------------------


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [flip_byte, truncate, Path.unlink], ids=lambda f: f.__name__)
def test_every_damaged_index_file_is_detected_at_load(copied, tmp_path, damage):
    """Each file of the version, damaged in turn, is caught by its size or checksum."""
    options, _ = copied
    folder = layout.current_version(options.index_dir)
    files = layout.read_manifest(folder)["files"]
    assert len(files) >= 10
    for name in files:
        copy = tmp_path / "copies" / name.replace(".", "_")
        shutil.copytree(folder, copy)
        damage(copy / name)
        with pytest.raises(IndexCorruptError, match=name.replace(".", r"\.")):
            layout.LocalVersion.open(copy)


def test_checksums_summed_on_all_cores_still_name_the_damaged_file(copied, monkeypatch):
    """A large version is checked on a thread pool; a bad file is still found and named."""
    options, _ = copied
    monkeypatch.setattr(version_manifest, "PARALLEL_CHECK", 0)
    folder = version_manifest.current_version(options.index_dir)
    version_manifest.read_manifest(folder, verify=True)
    flip_byte(folder / "sent_vectors.npy")
    with pytest.raises(IndexCorruptError, match=r"sent_vectors\.npy fails its checksum"):
        version_manifest.read_manifest(folder, verify=True)


def edit_manifest(change):
    def damage(folder: Path) -> None:
        path = folder / layout.MANIFEST
        path.write_text(json.dumps(change(json.loads(path.read_text()))), encoding="utf-8")

    return damage


def first_file_without_size(m: dict) -> dict:
    name = next(iter(m["files"]))
    m["files"][name] = {"sizd": 1, "crc32": 0}
    return m


def drop_first_file(m: dict) -> dict:
    return {**m, "files": dict(list(m["files"].items())[1:])}


MANIFEST_DAMAGE = {
    "garbage-bytes": (lambda f: (f / layout.MANIFEST).write_bytes(os.urandom(300)), "manifest"),
    "empty": (lambda f: (f / layout.MANIFEST).write_bytes(b""), "manifest"),
    "json-list": (edit_manifest(lambda m: [m]), "manifest"),
    "files-as-list": (edit_manifest(lambda m: {**m, "files": list(m["files"])}), "no files"),
    "no-files": (edit_manifest(lambda m: {**m, "files": {}}), "no files"),
    "entry-without-size": (edit_manifest(first_file_without_size), "malformed"),
    "file-outside": (
        edit_manifest(lambda m: {**m, "files": {"../../../etc/passwd": {"size": 1, "crc32": 1}}}),
        "outside",
    ),
    "file-list-short": (edit_manifest(drop_first_file), "lists other files"),
    "other-format": (edit_manifest(lambda m: {**m, "format": 99}), "format"),
    "other-model": (edit_manifest(lambda m: {**m, "model": "someone/else-base"}), "model"),
}


@pytest.mark.parametrize("damage,says", MANIFEST_DAMAGE.values(), ids=MANIFEST_DAMAGE.keys())
def test_damaged_or_foreign_manifest_is_detected_at_load(copied, embedder, damage, says):
    options, _ = copied
    damage(layout.current_version(options.index_dir))
    with pytest.raises(IndexCorruptError, match=says):
        Searcher(options, embedder=embedder).load()


CURRENT_DAMAGE = {
    "garbage-bytes": b"\xff\xfe\x00garbage",
    "empty": b"",
    "traversal": b"../../../etc",
    "absolute": b"/etc",
    "nul": b"v-\x00x",
    "missing-version": b"v-20000101T000000-dead",
}


@pytest.mark.parametrize("content", CURRENT_DAMAGE.values(), ids=CURRENT_DAMAGE.keys())
def test_damaged_current_pointer_is_detected_at_load(copied, embedder, content):
    options, _ = copied
    (options.index_dir / layout.CURRENT).write_bytes(content)
    with pytest.raises(IndexCorruptError):
        Searcher(options, embedder=embedder).load()


class PaddedEmbedder:
    """The real model's vectors padded with zeros: the same model name, another dimension."""

    def __init__(self, inner, dim: int):
        self.inner, self.name, self.dim, self.model_dir = inner, inner.name, dim, inner.model_dir

    def pad(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros((len(v), self.dim), np.float32)
        out[:, : v.shape[1]] = v
        return out

    def encode_queries(self, texts):
        return self.pad(self.inner.encode_queries(texts))

    def encode_passages(self, texts, *args, **kwargs):
        out = self.inner.encode_passages(texts, *args, **kwargs)
        if isinstance(out, tuple):
            return self.pad(out[0]), [self.pad(x) for x in out[1]]
        return self.pad(out)


REBUILT_AFTER = {
    "flipped-dense-byte": lambda folder, root: flip_byte(folder / "dense.faiss"),
    "foreign-model": lambda folder, root: edit_manifest(lambda m: {**m, "model": "other/model"})(
        folder
    ),
}


@pytest.mark.parametrize("damage", REBUILT_AFTER.values(), ids=REBUILT_AFTER.keys())
def test_open_rebuilds_a_damaged_index_instead_of_answering_from_it(live, embedder, damage):
    options, searcher, before = live
    old = searcher.index.version.folder
    damage(old, options.index_dir)
    again = Searcher.open(options, embedder=embedder)
    assert again.index.version.folder != old and not old.exists()
    layout.read_manifest(again.index.version.folder, verify=True)
    # The same corpus, rebuilt: the same passages answer.
    strip = [[(a, s, i) for a, s, i, _ in q] for q in before]
    assert [[(a, s, i) for a, s, i, _ in q] for q in served(again)] == strip


def as_format_2(folder: Path) -> None:
    """Rewrite a version the way format 2 stored it: sections.json whole, lex_meta.json."""
    lines = (folder / "sections.jsonl").read_text(encoding="utf-8").splitlines()
    sections = [json.loads(line) for line in lines]
    (folder / "sections.json").write_text(json.dumps(sections, ensure_ascii=False))
    (folder / "sections.jsonl").unlink()
    (folder / "section_offsets.npy").unlink()
    shape = [len(np.load(folder / "lex_indptr.npy")) - 1, len(np.load(folder / "keys.npy"))]
    (folder / "lex_meta.json").write_text(json.dumps({"shape": shape}))
    path = folder / layout.MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format"] = 2
    manifest["files"] = {
        p.name: {"size": p.stat().st_size, "crc32": layout.checksum(p)}
        for p in folder.iterdir()
        if p.name != layout.MANIFEST
    }
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_index_of_the_previous_format_is_rebuilt_reusing_its_vectors(live, embedder):
    """Issue 11: FORMAT 3 stores sections by offsets; a format-2 index converts, no re-embed."""
    options, searcher, before = live
    old = searcher.index.version.folder
    as_format_2(old)
    with pytest.raises(IndexCorruptError, match="format 2"):
        Searcher(options, embedder=embedder).load()
    counting = CountingEmbedder(embedder)
    again = Searcher.open(options, embedder=counting)
    assert again.index.version.format == layout.FORMAT and not old.exists()
    assert counting.encoded == []  # every passage vector and the anchors were reused
    assert served(again) == before


def test_index_from_a_model_of_another_dimension_is_rebuilt(live, embedder):
    options, searcher, before = live
    wider = PaddedEmbedder(embedder, embedder.dim * 2)
    with pytest.raises(IndexCorruptError):
        Searcher(options, embedder=wider).load()
    again = Searcher.open(options, embedder=wider)
    assert again.index.dense.dim == wider.dim
    assert [h.article for h in again.search(QUESTIONS[0])][:1] == [before[0][0][0]]


def test_manifest_claiming_another_dimension_is_detected(copied, embedder):
    options, _ = copied
    edit_manifest(lambda m: {**m, "dim": 768})(layout.current_version(options.index_dir))
    with pytest.raises(IndexCorruptError, match="dim"):
        Searcher(options, embedder=embedder).load()


# --- (3) Disk full while writing --------------------------------------------------------------


def fail_writes_to(monkeypatch, target: str, code: int = errno.ENOSPC) -> list[str]:
    """Make every writer of the build fail on the file (or folder prefix) named target.

    A partial file is left behind first, as a real full disk would.
    """
    failed: list[str] = []

    def check(path, partial: bool = True) -> None:
        name = Path(path).name
        if name == target or (target.endswith("-") and name.startswith(target)):
            failed.append(name)
            if partial:
                with open(path, "wb") as f:  # builtins.open: the Path writers are patched
                    f.write(b"\x93NUMPY partial")
            raise OSError(code, os.strerror(code), str(path))

    def wrap(original, path_arg: int = 0, partial: bool = True):
        def writer(*args, **kwargs):
            check(args[path_arg], partial)
            return original(*args, **kwargs)

        return writer

    monkeypatch.setattr(np, "save", wrap(np.save))
    monkeypatch.setattr(faiss, "write_index", wrap(faiss.write_index, path_arg=1))
    monkeypatch.setattr(Path, "write_text", wrap(Path.write_text))
    monkeypatch.setattr(Path, "write_bytes", wrap(Path.write_bytes))
    monkeypatch.setattr(Path, "mkdir", wrap(Path.mkdir, partial=False))
    monkeypatch.setattr(layout, "write_synced", wrap(layout.write_synced))
    return failed


FULL_AT = [
    ".build-",  # the build folder itself
    "sections.jsonl",
    "keys.npy",
    "text.bin",
    "dense.faiss",
    "lex_data.npy",
    "manifest.json",
    "CURRENT.tmp",  # the new version is complete; only the pointer cannot be written
]


@pytest.mark.parametrize("target", FULL_AT)
def test_disk_full_while_writing_keeps_the_old_index_serving(live, monkeypatch, target):
    options, searcher, before = live
    root = options.index_dir
    version = searcher.index.version.folder.name
    (options.articles_dir / "shogi.md").unlink()  # a change, so a new version is written
    with monkeypatch.context() as m:
        failed = fail_writes_to(m, target)
        with pytest.raises(IndexWriteError, match="No space left on device") as error:
            searcher.reindex()
    assert failed, f"no write to {target} happened"
    assert "previous index stays live" in str(error.value)
    assert (root / layout.CURRENT).read_text().strip() == version
    assert searcher.index.version.folder.name == version and served(searcher) == before
    assert scraps(root) == []  # no half-written build left behind
    assert Searcher.open(options, embedder=searcher.embedder).index.name == version

    if target in ("dense.faiss", "CURRENT.tmp"):  # space again: the same reindex now works
        assert searcher.reindex().removed == ["shogi.md"]
        assert scraps(root) == []


def test_cli_index_on_a_full_disk_prints_one_line(live, monkeypatch, capsys, embedder):
    options, searcher, before = live
    (options.articles_dir / "shogi.md").unlink()
    config = options.data_dir.parent / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{options.articles_dir}"\ndata_dir = "{options.data_dir}"\n',
        encoding="utf-8",
    )
    cli = cli_for(embedder)

    with monkeypatch.context() as m:
        fail_writes_to(m, "dense.faiss")
        assert cli(["--config", str(config), "index"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("newsbot: error: cannot write the new index") and "No space" in err
    assert served(searcher) == before


FSIZE_DRIVER = textwrap.dedent(
    '''
    """`newsbot index` under a file-size limit: the kernel refuses the writes (EFBIG)."""
    import resource
    import signal
    import sys

    import functools

    import numpy as np

    name, dim, config, limit, identity = sys.argv[1:6]


    class StubEmbedder:
        """The Embedder interface; only the anchors are encoded and the build never lands."""

        model_dir = "stub"

        def __init__(self, *args, **kwargs):
            self.name, self.dim = name, int(dim)
            self.identity = identity  # the real model's: its vectors are reused

        def encode_queries(self, texts):
            return np.eye(len(texts), self.dim, dtype=np.float32)

        def encode_passages(self, texts, progress=None, spans=None, **kwargs):
            v = np.eye(len(texts), self.dim, dtype=np.float32)
            return v if spans is None else (v, [np.eye(len(s), self.dim) for s in spans])


    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a dead process
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    from bot.cli import main
    from bot.searchers import open_searcher

    stub = functools.partial(open_searcher, embedder=StubEmbedder())
    sys.exit(main(["--config", config, "index"], open_searcher=stub))
    '''
)


def test_real_write_failure_in_a_child_process_keeps_the_old_index(live, embedder, tmp_path):
    """A real kernel error (file too large) in `newsbot index`: one line, exit 2, old index."""
    options, searcher, before = live
    root = options.index_dir
    version = searcher.index.version.folder.name
    (options.articles_dir / "shogi.md").unlink()
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{options.articles_dir}"\ndata_dir = "{options.data_dir}"\n',
        encoding="utf-8",
    )
    driver = tmp_path / "fsize.py"
    driver.write_text(FSIZE_DRIVER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(driver), embedder.name, str(embedder.dim), str(config), "4096"]
        + [embedder.identity],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("newsbot: error: cannot write the new index")
    # The kernel's EFBIG, or numpy's report of the same short write.
    assert "(File too large)" in lines[0] or "(short write: " in lines[0]
    assert (root / layout.CURRENT).read_text().strip() == version and scraps(root) == []
    again = Searcher.open(options, embedder=embedder)
    assert again.index.version.folder.name == version and served(again) == before


# --- (4) Article ingestion never reads outside articles/ --------------------------------------

AUDIT_DRIVER = textwrap.dedent(
    '''
    """Load the articles with an audit hook recording every file opened and folder listed."""
    import json
    import os
    import sys

    from index.corpus.loader import load_articles

    seen, recording = [], [True]


    def hook(event, args):
        if not recording[0]:
            return
        if event in ("open", "os.scandir", "os.listdir") and args and args[0] is not None:
            if isinstance(args[0], (str, bytes, os.PathLike)):
                seen.append(os.fsdecode(args[0]))


    sys.addaudithook(hook)  # hooks cannot be removed; this one stops recording instead
    articles, skipped = load_articles(sys.argv[1])
    recording[0] = False
    print(json.dumps({
        "seen": seen,
        "articles": [a.file for a in articles],
        "skipped": {s.file: s.reason for s in skipped},
        "text": [s.text for a in articles for s in a.sections],
    }, ensure_ascii=False))
    '''
)


def test_article_ingestion_never_opens_or_lists_anything_outside(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deeper").mkdir(parents=True)
    secret = "---\ntitle: 秘密\n---\n持ち出し禁止の本文です。\n"
    (outside / "secret.md").write_text(secret, encoding="utf-8")
    (outside / "deeper" / "more.md").write_text(secret, encoding="utf-8")
    articles = tmp_path / "articles"
    (articles / "sub").mkdir(parents=True)
    (articles / "ok.md").write_text("---\ntitle: 普通\n---\n普通の記事です。\n", encoding="utf-8")
    (articles / "abs.md").symlink_to(outside / "secret.md")
    (articles / "rel.md").symlink_to("../outside/secret.md")
    (articles / "sub" / "up.md").symlink_to("../../outside/deeper/more.md")
    (articles / "chain.md").symlink_to("sub/up.md")
    (articles / "folder").symlink_to(outside)
    (articles / "sub" / "root").symlink_to("/")
    (articles / "inside.md").symlink_to("ok.md")  # a link that stays inside is fine

    driver = tmp_path / "audit.py"
    driver.write_text(AUDIT_DRIVER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(driver), str(articles)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    touched = [Path(p).resolve() for p in result["seen"]]
    assert touched, "the audit hook saw nothing"
    assert not [p for p in touched if p.is_relative_to(outside.resolve())]
    inside = articles.resolve()
    assert not [p for p in touched if p.suffix == ".md" and not p.is_relative_to(inside)]
    # A link to an article inside is not indexed a second time (issue 11 (8)).
    assert result["articles"] == ["ok.md"]
    assert result["skipped"]["inside.md"] == "link to ok.md, which is indexed under its own name"
    for name in ("abs.md", "rel.md", "sub/up.md", "chain.md", "folder/", "sub/root/"):
        assert "outside the articles folder" in result["skipped"][name], name
    assert not any("持ち出し禁止" in t for t in result["text"])
