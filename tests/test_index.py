"""The real model, real FAISS and real files: search quality, save/load, incremental reindex."""

from __future__ import annotations

import shutil
from pathlib import PurePath

import numpy as np
import pytest

from index import Searcher
from index.answer.anchors import ANCHORS
from index.corpus.loader import TEXT_VERSION
from index.corpus.text import sentence_spans, split_sentences
from index.errors import IndexCorruptError, QuestionError
from index.retrieval.lexical import Lexical
from index.retrieval.ranker import Index
from index.storage.faiss import DenseStore
from index.storage.local import LocalVersion

from .conftest import (
    SEED_ARTICLE,
    assert_same_answer,
    assert_same_hits,
    make_options,
    read_jsonl,
)
from .test_chunking import FNN, MAINICHI


@pytest.mark.parametrize("q", read_jsonl("corpus_questions.jsonl"), ids=lambda q: q["question"])
def test_question_about_an_article_ranks_its_section_first(searcher, q):
    hits = searcher.search(q["question"], k=3)
    assert (hits[0].article, hits[0].section) == (q["article"], q["section"])


def test_ceasefire_question_cites_the_seed_sources(searcher):
    answer = searcher.ask("ロシアの停戦条件は?")
    assert not answer.no_answer
    assert answer.hits[0].article == SEED_ARTICLE.name
    cited = {url for h in answer.hits[:2] for url in h.sources}
    assert cited & {MAINICHI, FNN}


@pytest.mark.parametrize(
    "variant", ["ロシアの停戦条件は？", "ﾛｼｱの停戦条件は?", "  ロシアの停戦条件は?\u200b "]
)
def test_width_and_invisible_variants_find_the_same_passages(searcher, variant):
    base = [h.passage_id for h in searcher.search("ロシアの停戦条件は?")]
    assert [h.passage_id for h in searcher.search(variant)] == base


@pytest.mark.parametrize("bad", ["", "   ", "？！。", "\u200b\u200b"])
def test_questions_with_nothing_to_search_are_refused(searcher, bad):
    with pytest.raises(QuestionError):
        searcher.search(bad)


def test_saved_index_loads_with_identical_results(searcher):
    again = Index(LocalVersion.open(searcher.index.version.folder))
    assert again.size == searcher.index.size
    assert np.array_equal(again.vectors, searcher.index.vectors)
    twin = Searcher(searcher.options, embedder=searcher.embedder)
    twin.use(again)
    for q in ["奈良の鹿は何を食べる?", "ロシアの停戦条件は?"]:
        assert_same_hits(twin.search(q), searcher.search(q), q)


class MemoryVersion:
    """An index version held in memory: a second backend behind the same seam (storage/base.py)."""

    def __init__(self, local):
        self.name, self.format, self.manifest = "memory", local.format, dict(local.manifest)
        self.location = PurePath("memory")
        self.vectors = np.array(local.vectors)
        self.dense = DenseStore.build(self.vectors)
        lex = local.lexical
        self.lexical = Lexical(np.array(lex.terms), lex.matrix.copy(), np.array(lex.idf))
        self.keys = np.array(local.keys)
        self.passage_section = np.array(local.passage_section)
        self.sections = list(local.sections)
        self.anchors = np.array(local.anchors)
        self._texts = [local.text(i) for i in range(local.size)]
        self._sentences = [np.array(local.sentence_vectors(i)) for i in range(local.size)]

    @property
    def size(self) -> int:
        return len(self._texts)

    def text(self, i: int) -> str:
        return self._texts[i]

    def sentence_vectors(self, i: int) -> np.ndarray:
        return self._sentences[i]


def test_ranking_reads_the_index_only_through_the_version_seam(searcher):
    """A version that is not a folder answers exactly like the folder it was copied from."""
    twin = Searcher(searcher.options, embedder=searcher.embedder)
    twin.use(Index(MemoryVersion(searcher.index.version)))
    for q in ["奈良の鹿は何を食べる?", "ロシアの停戦条件は?", "火星の天気は?"]:
        assert_same_answer(twin.ask(q), searcher.ask(q), q)


class CountingEmbedder:
    """The real embedder, counting what it is asked to encode (same interface)."""

    def __init__(self, inner):
        self.inner, self.encoded = inner, []
        self.name, self.dim, self.model_dir = inner.name, inner.dim, inner.model_dir
        self.identity = inner.identity

    def encode_passages(self, texts, progress=None, spans=None):
        self.encoded.extend(texts)
        return self.inner.encode_passages(texts, progress, spans)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


def test_reindex_embeds_only_changed_sections_and_drops_deleted_articles(
    tmp_path, corpus_dir, embedder
):
    articles = tmp_path / "articles"
    shutil.copytree(corpus_dir, articles)
    counting = CountingEmbedder(embedder)
    searcher = Searcher.open(make_options(tmp_path, articles), embedder=counting)
    total = searcher.index.size
    anchors = len(ANCHORS)  # encoded with every build, outside the passage cache
    # Every passage, then each of its sentences on its own (they back the answer step).
    sentences = sum(len(sentence_spans(searcher.index.text(i))) for i in range(total))
    assert len(counting.encoded) == total + sentences + anchors

    # Change one sentence of one section of one article.
    deer = articles / "nara-deer.md"
    text = deer.read_text(encoding="utf-8")
    first_section = text.index("\n## ")
    body_start = text.index("\n\n", first_section + 4) + 2
    deer.write_text(
        text[:body_start] + "新しい一文を加えた。" + text[body_start:], encoding="utf-8"
    )
    (articles / "fuji-climbing.md").unlink()
    old_keys = np.load(searcher.index.version.folder / "keys.npy")
    before = {bytes(k): v.copy() for k, v in zip(old_keys, searcher.index.vectors)}
    counting.encoded.clear()
    report = searcher.reindex()

    # Reused embeddings are the old ones, bit for bit.
    after = zip(np.load(searcher.index.version.folder / "keys.npy"), searcher.index.vectors)
    reused = [(bytes(k), v) for k, v in after if bytes(k) in before]
    assert len(reused) == searcher.index.size - 1
    assert all(np.array_equal(before[k], v) for k, v in reused)
    assert report.changed == ["nara-deer.md"] and report.removed == ["fuji-climbing.md"]
    changed = searcher.index.text(
        int(
            np.flatnonzero(
                [
                    "新しい一文を加えた。" in searcher.index.text(i)
                    for i in range(searcher.index.size)
                ]
            )[0]
        )
    )
    assert counting.encoded == [counting.encoded[0], *split_sentences(changed)]
    assert "新しい一文を加えた。" in counting.encoded[0]
    assert {h.article for h in searcher.search("富士山の山小屋は何月に開く?", k=10)}.isdisjoint(
        {"fuji-climbing.md"}
    )
    assert searcher.index.size < total

    # Nothing changed: nothing embedded, the same version stays live.
    counting.encoded.clear()
    folder = searcher.index.version.folder
    report = searcher.reindex()
    assert not report.changed_anything and counting.encoded == []
    assert searcher.index.version.folder == folder


def test_an_index_cut_by_older_sentence_rules_is_rebuilt_when_opened(
    tmp_path, corpus_dir, embedder, monkeypatch
):
    """Its sentence vectors follow other boundaries: answering from it would misquote."""
    import index.build
    import index.searcher

    articles = tmp_path / "articles"
    shutil.copytree(corpus_dir, articles)
    options = make_options(tmp_path, articles)
    for module in (index.build, index.searcher):  # an older newsbot built this one
        monkeypatch.setattr(module, "TEXT_VERSION", 3)
    monkeypatch.setattr(index.build, "VECTORS", "sentences-2")
    old = Searcher.open(options, embedder=embedder).index
    assert old.manifest["text_version"] == 3
    monkeypatch.undo()
    with pytest.raises(IndexCorruptError, match="text rules 3"):
        Searcher(options, embedder=embedder).load()

    counting = CountingEmbedder(embedder)
    searcher = Searcher.open(options, embedder=counting)
    assert searcher.index.name != old.name
    assert searcher.index.manifest["text_version"] == TEXT_VERSION
    assert len(counting.encoded) > old.size  # every passage and sentence again (VECTORS)
    for i in range(searcher.index.size):
        rows = searcher.index.version.sentence_vectors(i)
        assert len(rows) == len(sentence_spans(searcher.index.text(i)))
