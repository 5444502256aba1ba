"""The front door: ask questions of the live index and swap in rebuilt ones atomically."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .answer import judge as coverage  # FIXME
from .answer.compose import Asked, Candidate, compose, language, no_answer, quotable
from .build import BuildProgress, build
from .corpus.loader import TEXT_VERSION
from .corpus.text import normalize, sentence_spans
from .encoders.embedder import Embedder, identity_of
from .errors import ArticlesDirError, IndexCorruptError, IndexNotBuiltError
from .options import IndexOptions
from .retrieval import crosslingual
from .retrieval.query import check_question
from .retrieval.ranker import Index, Ranked
from .storage.base import LexicalSide, open_store
from .types import SLOW_STEP, Answer, BuildReport, Hit, Topic

log = logging.getLogger(__name__)


class Searcher:
    """Holds the model and the live index; every query reads one consistent index."""

    def __init__(
        self, options: IndexOptions, embedder: Embedder | None = None, root: Path | None = None
    ):
        self.options = options
        self.root = Path(root or options.index_dir)
        # Where index versions live: this folder, or the database ([store] backend).
        self.store = open_store(options, self.root)
        self.embedder = embedder or Embedder(
            options.model,
            options.model_cache,
            options.batch_size,
            options.threads,
            options.query_prompt,
            options.passage_prompt,
            options.encoder,
        )
        self._index: Index | None = None
        self._topics: tuple[Index | None, list[Topic]] = (None, [])

    @classmethod
    def open(
        cls,
        options: IndexOptions,
        build_missing: bool = True,
        progress: BuildProgress | None = None,
        **kwargs,
    ) -> Searcher:
        """Load the live index, building it first when missing, damaged or from another model.

        When another process or thread is building it, this waits for that build and uses it.
        `progress` is called as in reindex while such a build embeds.
        """
        if build_missing:
            _check_buildable(options, Path(kwargs.get("root") or options.index_dir))
        searcher = cls(options, **kwargs)
        try:
            searcher.load()
        except (IndexNotBuiltError, IndexCorruptError) as e:
            if not build_missing:
                raise
            if isinstance(e, IndexNotBuiltError):  # a first run: expected, not a warning
                log.info("building the index of %s", options.articles_dir, extra=SLOW_STEP)
            else:
                log.warning("%s; building the index", e)
            try:
                # Not rebuild=True: a build that ran meanwhile (another `ask`) is used as is.
                searcher.reindex(wait=True, progress=progress)
            except IndexCorruptError:  # what the live one holds cannot be reused: start over
                searcher.reindex(rebuild=True, wait=True, progress=progress)
        return searcher

    @property
    def index(self) -> Index:
        if self._index is None:
            raise IndexNotBuiltError("the index is not loaded; run 'newsbot index'")
        return self._index

    def load(self) -> Index:
        """(Re)load the store's live version and make it live here."""
        index = Index(self.store.current())
        if index.manifest.get("model") != self.embedder.name:
            raise IndexCorruptError(
                f"index was built with model {index.manifest.get('model')!r}, "
                f"settings say {self.embedder.name!r}"
            )
        # Same model name, other backend or other files: its vectors are not comparable.
        if index.manifest.get("encoder") != identity_of(self.embedder):
            raise IndexCorruptError(
                f"index was built with encoder {index.manifest.get('encoder')!r}, "
                f"this model is {identity_of(self.embedder)!r}"
            )
        if index.manifest.get("text_version") != TEXT_VERSION:
            # Its sentence vectors follow other sentence boundaries than the answer step's.
            raise IndexCorruptError(
                f"index was built with text rules {index.manifest.get('text_version')}, "
                f"this newsbot uses {TEXT_VERSION}"
            )
        if {index.manifest.get("dim"), index.dense.dim} != {self.embedder.dim}:
            raise IndexCorruptError(
                f"index vectors have dimension {index.dense.dim} (manifest: "
                f"{index.manifest.get('dim')}), the model has {self.embedder.dim}"
            )
        self._index = index  # one reference assignment: queries see old or new, never a mix
        log.info("Loaded index %s: %d passages", index.name, index.size)
        return index

    def reindex(
        self,
        rebuild: bool = False,
        progress: BuildProgress | None = None,
        wait: bool = False,
        allow_empty: bool = False,
    ) -> BuildReport:
        """Build beside the live index and swap it in; the old one serves until then.

        Args:
            rebuild: re-embed every passage instead of reusing unchanged ones.
            progress: called as progress(stage, done, total) while embedding.
            wait: wait for a build already running (else BuildInProgressError).
            allow_empty: let an empty articles folder empty a non-empty index.
        """
        # The store's lock (a file lock) keeps builds one at a time across processes and
        # threads; no second lock here.
        report = build(
            self.options,
            self.embedder,
            root=self.root,
            rebuild=rebuild,
            progress=progress,
            wait=wait,
            allow_empty=allow_empty,
            store=self.store,
        )
        if self._index is None or Path(report.path).name != self._index.name:
            self.load()
        return report

    def _refresh(self) -> None:
        """Load the live version when another process switched it (a shared store only)."""
        if self.store.shared and self._index is not None:
            # One cheap query per question; a question is then answered from one version.
            if self.store.live_name() != self._index.name:
                self.load()

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """Top-k passages (one per section) for a question."""
        return self.batch_search([question], k)[0]

    def batch_search(self, questions: Sequence[str], k: int | None = None) -> list[list[Hit]]:
        k = k or self.options.top_k
        index, ranked = self._rank(questions)
        return [[index.hit(i, s) for i, s in zip(r.ids[:k], r.fused[:k])] for _, _, _, r in ranked]

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer from the coverage's own sentences, or say it does not cover the question."""
        return self.batch_ask([question], k)[0]

    def batch_ask(self, questions: Sequence[str], k: int | None = None) -> list[Answer]:
        k = k or self.options.top_k
        index, ranked = self._rank(questions)
        return [answer(index, question, q, v, r, k, self.options) for question, q, v, r in ranked]

    def _rank(self, questions: Sequence[str]) -> tuple[Index, list[tuple]]:
        """Check, encode (one batch) and rank questions against one index version."""
        self._refresh()
        index = self.index  # read once: a concurrent swap cannot mix versions in one call
        cleaned = [check_question(q, self.options) for q in questions]
        qvecs = self.embedder.encode_queries(cleaned)
        ranked = [
            (question, q, v, index.rank(lexical_query(question, q, index), v, self.options))
            for question, q, v in zip(questions, cleaned, qvecs)
        ]
        return index, ranked

    def topics(self, limit: int = 5) -> list[Topic]:
        """The articles the live index holds, newest first (for help and 'not covered')."""
        index = self._index
        if index is None:
            return []
        if self._topics[0] is not index:  # once per index version: it reads every section
            seen: dict[str, Topic] = {}
            for s in index.sections:
                if s["article"] not in seen:
                    seen[s["article"]] = Topic(
                        s["article"], s["title"], s["published"], s["outlet"]
                    )
            newest = sorted(seen.values(), key=lambda t: (t.published or "", t.article))
            self._topics = (index, newest[::-1])
        return self._topics[1][:limit]

    def info(self) -> dict:
        index = self._index
        return {
            "model": self.embedder.name,
            "model_dir": self.embedder.model_dir,
            "dim": self.embedder.dim,
            "articles": len(index.manifest["articles"]) if index else 0,
            "passages": index.size if index else 0,
            "index_dir": str(self.store.root),
            "version": index.name if index else None,
            "built_at": index.manifest.get("built_at") if index else None,
            "dense_index": index.dense.kind if index else None,
            "skipped": index.manifest.get("skipped", []) if index else [],
        }


def answer(
    index: Index, question: str, q: str, qvec: np.ndarray, r: Ranked, k: int, options: IndexOptions
) -> Answer:
    """Judge whether the ranked passages answer the question, then compose the answer."""
    if not len(r.ids):
        return no_answer(question)
    ids = [int(i) for i in r.ids[:k]]
    hits = [index.hit(i, s) for i, s in zip(ids, r.fused[:k])]
    candidates = gather(index, ids, qvec)
    weights = index.lexical.term_weights(q)
    verdict = judge(index, question, q, qvec, ids, candidates, options, weights)
    if not verdict.covered:
        # Nearby coverage helps only when the question is close in meaning but about something
        # else (ガザの停戦交渉 next to 米ロの停戦交渉), not when it is far from all of it (weather).
        near = verdict.missing and verdict.margin > 0
        nearby = tuple(dict.fromkeys(h.title for h in hits[:3])) if near else ()
        return no_answer(question, nearby, verdict.missing)
    return compose(
        question,
        hits,
        candidates,
        weights,
        options.answer_sentences,
        extra_hit=index.hit,
        asked=asked_of(question, weights, index.lexical, index.katakana),
    )


def asked_of(
    question: str,
    weights: dict[str, float],
    lexical: LexicalSide | None = None,
    katakana: dict[str, tuple[str, ...]] | None = None,
) -> Asked:
    """The question as the answer step scores sentences against it (lexical, katakana: the
    corpus's; see Index)."""
    if language(question) == "en":
        terms = crosslingual.terms_in(question, katakana)
        japanese = normalize(" ".join(t for _, _, js in terms for t in js))
        return Asked.english(question, terms, lexical.term_weights(japanese) if lexical else None)
    return Asked.of(question, weights)


def gather(index: Index, ids: list[int], qvec: np.ndarray) -> list[Candidate]:
    """Quotable sentences of the ranked passages and of their sections' other passages."""
    out: list[Candidate] = []
    seen: set[int] = set()
    for rank, i in enumerate(ids):
        for p in index.siblings(i):
            if p in seen:
                continue
            seen.add(p)
            text = index.text(p)
            cosines = index.sentence_scores(p, qvec)
            for pos, ((a, b), cos) in enumerate(zip(sentence_spans(text), cosines)):
                sentence = text[a:b]
                if quotable(sentence):
                    out.append(Candidate(rank, p, pos, sentence, float(cos)))
    return out


def judge(
    index: Index,
    question: str,
    q: str,
    qvec: np.ndarray,
    ids: list[int],
    candidates: list[Candidate],
    options: IndexOptions,
    weights: dict[str, float] | None = None,
) -> coverage.Verdict:
    """The 'does the coverage answer?' signals from the top passages, weighed in coverage.py.

    weights: the term weights of q (lexical.term_weights), when the caller has them.
    """
    top = [c for c in candidates if c.hit < options.evidence_passages]
    best = max((c.cosine for c in top), default=-1.0)
    background = float((index.anchors @ qvec).max(initial=-1))
    passages = dict.fromkeys(c.passage for c in top) or dict.fromkeys(ids[:1])
    evidence = normalize(
        "\n".join(
            f"{h.title}\n{h.section}\n{h.text}" for h in (index.hit(p, 0.0) for p in passages)
        )
    )
    if language(question) == "en" and language(evidence) == "ja":
        # The question's words are looked for by their Japanese terms (retrieval/crosslingual.py).
        terms = crosslingual.terms_in(question, index.katakana)
        names, words = coverage.missing_english(terms, evidence)
        crossing, subject = True, bool(terms)
    else:
        terms = coverage.subject_terms(q)
        missing = coverage.missing_terms(terms, evidence)
        names = [t for t in missing if coverage.is_name(t)]
        words = [t for t in missing if not coverage.is_name(t)]
        crossing, subject = False, bool(terms)
    return coverage.decide(
        best - background,
        index.coverage(q, ids[0], weights),
        names,
        words,
        options,
        crossing,
        subject,
    )


def lexical_query(question: str, q: str, index: Index | None = None) -> str:
    """What BM25 matches: an English question also by its words' Japanese terms (and by the
    index's katakana spellings of names the glossary lacks)."""
    if language(question) != "en":
        return q
    return normalize(crosslingual.expand(q, index.katakana if index else None))


def _check_buildable(options: IndexOptions, root: Path) -> None:
    """Refuse at once when there is no index and no articles to build one from."""
    # Checked before the model loads: converting it takes a minute and hundreds of MB, and
    # a wrong working directory would otherwise find out only afterwards.
    store = open_store(options, root)
    if store.shared:
        store.live_name()  # a database that is down says so here, in one line
    if Path(options.articles_dir).is_dir():
        return
    try:
        store.current(verify=False)
    except (IndexNotBuiltError, IndexCorruptError):
        raise ArticlesDirError(f"articles folder not found: {options.articles_dir}") from None
