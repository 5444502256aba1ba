"""The storage seam: an index written before a change stays readable, one BM25 scorer, info."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bot.cli import advice, main
from bot.cli.indexing import index_info
from bot.settings import DATABASE_URL_ENV as ENV
from bot.settings import Settings
from index.errors import (
    ALLOW_EMPTY,
    DATABASE_URL,
    EmptyArticlesError,
    IndexCorruptError,
    IndexNotBuiltError,
    NewsbotError,
    StoreUnavailableError,
)
from index.options import IndexOptions, StoreOptions
from index.retrieval.lexical import Lexical, sum_postings
from index.retrieval.ranker import Index
from index.storage import manifest
from index.storage.factory import live_manifest
from index.storage.local import LocalStore

from .conftest import DATA, ROOT

# An index version written by the code of commit cb6ffc7 (before the storage seam was reworked)
# from tests/data/articles/nara-deer.md with the default model: every later newsbot must serve
# it as it is, without a rebuild.
OLD_INDEX = DATA / "index-format-3"
# The manifest fields of a format-3 version; a reader of older versions relies on each.
FIELDS = {
    "model", "encoder", "model_dir", "dim", "built_at", "articles", "passages", "dense_index",
    "max_passage_chars", "lexical", "text_version", "anchors", "skipped", "katakana", "format",
    "files",
}  # fmt: skip


def test_the_on_disk_format_and_database_schema_are_unchanged():
    """Changing any of these makes existing indexes unreadable: a new FORMAT/SCHEMA is due."""
    assert manifest.FORMAT == 3 and manifest.READABLE == (2, 3)
    common = {
        "anchors.npy", "dense.faiss", "keys.npy", "lex_data.npy", "lex_idf.npy",
        "lex_indices.npy", "lex_indptr.npy", "lex_terms.npy", "passage_section.npy",
        "sent_offsets.npy", "sent_vectors.npy", "text.bin", "text_offsets.npy",
    }  # fmt: skip
    assert manifest.FILES == {
        2: common | {"sections.json", "lex_meta.json"},
        3: common | {"sections.jsonl", "section_offsets.npy"},
    }
    pg = pytest.importorskip("index.storage.postgres.migrations")
    # Migrations only add: schema 1 as it was written, then 2 (issue 26: the shared articles
    # and feed state), so a version-1 database migrates forward and keeps its index.
    assert pg.SCHEMA == 2 and set(pg.MIGRATIONS) == {1, 2}
    digests = {n: hashlib.sha256(sql.encode()).hexdigest() for n, sql in pg.MIGRATIONS.items()}
    assert digests == {
        1: "eeebe3be8de4545ddc94778d29c68a7d1ba3ef3cd5620a56b4cadc1647ccbac5",
        2: "6f9c91cd0fae3fb0d542496e0b1cfa7bb19f1c614228074cc5953286f5d1e3df",
    }


@pytest.fixture
def old_index(tmp_path):
    root = tmp_path / "index"
    shutil.copytree(OLD_INDEX, root)
    return root


def test_an_index_written_before_is_served_without_a_rebuild(old_index, embedder, options):
    """The stored version opens with every checksum and answers a question about its article."""
    version = LocalStore(old_index).current(verify=True)
    assert version.name == "v-built-by-cb6ffc7" and version.size == 5
    assert set(version.manifest) == FIELDS and version.manifest["dense_index"] == "flat"
    index = Index(version)
    question = "奈良の鹿が国の天然記念物に指定されたのはいつ?"
    qvec = embedder.encode_queries([question])[0]
    ranked = index.rank(question, qvec, options)
    top = index.hit(int(ranked.ids[0]), float(ranked.fused[0]))
    assert top.article == "nara-deer.md" and "1957年" in top.text
    assert index.sentence_scores(int(ranked.ids[0]), qvec).shape == (
        len(version.sentence_vectors(int(ranked.ids[0]))),
    )
    assert not list(old_index.glob(".build-*")) and len(list(old_index.glob("v-*"))) == 1


def test_a_new_build_writes_the_same_manifest_fields(searcher):
    assert set(searcher.index.manifest) == FIELDS
    on_disk = json.loads((searcher.index.version.folder / manifest.MANIFEST).read_text())
    assert set(on_disk) == FIELDS


def test_both_backends_score_bm25_with_the_one_scorer():
    """Lexical.scores and a store's postings rows (Lexical.rows) give the same float32 sums."""
    texts = ["奈良公園の鹿は鹿せんべいを食べる", "将棋の名人戦", "富士山の山開き", "鹿と将棋"] * 3
    lex = Lexical.build(texts)
    by_term = {term: (ids, weights) for term, _, ids, weights in lex.rows()}
    assert list(by_term) == [str(t) for t in lex.terms]
    for query in ("鹿せんべい", "将棋の鹿", "無関係"):
        terms = [str(lex.terms[t]) for t in lex.query_terms(query)]
        from_rows = sum_postings([by_term[t] for t in terms], lex.size)
        expected = np.zeros(lex.size, dtype=np.float32)
        for t in terms:  # the additions in term order, one term after another
            expected[by_term[t][0]] += by_term[t][1]
        scores = lex.scores(query)
        # Exact on purpose: both backends call the one scorer (sum_postings) on the same rows.
        assert scores.dtype == np.float32 and np.array_equal(scores, from_rows)
        # numpy's additions are another implementation: within float32 rounding.
        assert np.allclose(scores, expected, rtol=1e-6, atol=1e-7)
    assert not sum_postings([], 4).any()


def test_info_reads_the_manifest_without_numpy(old_index, options):
    """`newsbot info`'s reading of the live version loads no array library."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from index.options import IndexOptions\n"
        "from index.storage.factory import live_manifest\n"
        f"where, m = live_manifest(IndexOptions(), Path({str(old_index)!r}))\n"
        "print(where.name, m['dense_index'])\n"
        "print(sorted(x for x in ('numpy', 'scipy', 'faiss') if x in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["v-built-by-cb6ffc7 flat", "[]"]
    where, read = live_manifest(options, old_index)
    assert where == old_index / "v-built-by-cb6ffc7" and read["passages"] == 5


def test_info_and_the_searcher_report_the_same_dense_index(searcher):
    info = index_info(searcher.options)
    assert info["dense_index"] == searcher.info()["dense_index"] == "flat"
    assert info["version"] == searcher.index.name


def test_the_cli_words_what_the_core_only_names(tmp_path, capsys):
    """`info` before any index: the core says what is wrong, the CLI says which command helps."""
    path = tmp_path / "settings.toml"
    path.write_text(f'[index]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert main(["--config", str(path), "info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: error: no index in ") and err.count("\n") == 1
    assert "; run 'newsbot index' (settings file " in err


POSTGRES = Settings(index=IndexOptions(store=StoreOptions(backend="postgres")))


@pytest.mark.parametrize(
    ("error", "settings", "says"),
    [
        (IndexNotBuiltError("no index"), Settings(), "; run 'newsbot index'"),
        (IndexNotBuiltError("none"), POSTGRES, "; run 'newsbot index' or 'newsbot db import'"),
        (IndexCorruptError("damaged"), None, "; run 'newsbot index'"),
        (
            EmptyArticlesError("x", hint=ALLOW_EMPTY),
            None,
            "; run 'newsbot index --allow-empty' to empty it",
        ),
        (
            StoreUnavailableError("down", hint=DATABASE_URL),
            None,
            f"; check {ENV} and that the database is running",
        ),
        (StoreUnavailableError("bad", setting="store.schema"), None, " (setting 'store.schema')"),
        (NewsbotError("plain"), None, ""),
    ],
)
def test_each_hint_has_the_clis_words(error, settings, says):
    assert advice(error, settings) == says


def test_store_errors_name_no_environment_variable_or_setting_spelling():
    pg = pytest.importorskip("index.storage.postgres.store")
    with pytest.raises(StoreUnavailableError) as caught:
        pg.PgStore(StoreOptions(backend="postgres"))
    assert caught.value.hint == DATABASE_URL and "NEWSBOT" not in str(caught.value)
    with pytest.raises(StoreUnavailableError) as caught:
        pg.PgStore(StoreOptions(backend="postgres", url="postgresql://h/db", schema="a;b"))
    assert caught.value.setting == "store.schema" and "[store]" not in str(caught.value)
