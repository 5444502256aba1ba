"""The front door: ask questions of the live index and swap in rebuilt ones atomically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from . import layout
from .answer import compose, no_answer
from .build import BuildProgress, build
from .embedder import Embedder, identity_of
from .errors import BuildInProgressError, IndexCorruptError, IndexNotBuiltError
from .options import IndexOptions
from .search import Index, Ranked, check_question
from .types import Answer, BuildReport, Hit, Topic

log = logging.getLogger(__name__)


class Searcher:
    """Holds the model and the live index; every query reads one consistent index."""

    def __init__(
        self, options: IndexOptions, embedder: Embedder | None = None, root: Path | None = None
    ):
        self.options = options
        self.root = Path(root or options.index_dir)
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
        self._build_lock = threading.Lock()
        self._topics: tuple[Index | None, list[Topic]] = (None, [])

    @classmethod
    def open(cls, options: IndexOptions, build_missing: bool = True, **kwargs) -> Searcher:
        """Load the live index, building it first when missing, damaged or from another model."""
        searcher = cls(options, **kwargs)
        try:
            searcher.load()
        except (IndexNotBuiltError, IndexCorruptError) as e:
            if not build_missing:
                raise
            log.warning("%s; building the index", e)
            searcher.reindex(rebuild=True)
        return searcher

    @property
    def index(self) -> Index:
        if self._index is None:
            raise IndexNotBuiltError("the index is not loaded; run 'newsbot index'")
        return self._index

    def load(self) -> Index:
        """(Re)load the version CURRENT points to and make it live."""
        index = Index.load(layout.current_version(self.root))
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
        if {index.manifest.get("dim"), index.dense.dim} != {self.embedder.dim}:
            raise IndexCorruptError(
                f"index vectors have dimension {index.dense.dim} (manifest: "
                f"{index.manifest.get('dim')}), the model has {self.embedder.dim}"
            )
        self._index = index  # one reference assignment: queries see old or new, never a mix
        log.info("Loaded index %s: %d passages", index.folder.name, index.size)
        return index

    def reindex(self, rebuild: bool = False, progress: BuildProgress | None = None) -> BuildReport:
        """Build beside the live index and swap it in; the old one serves until then."""
        if not self._build_lock.acquire(blocking=False):
            raise BuildInProgressError("another reindex is already running")
        try:
            report = build(
                self.options, self.embedder, root=self.root, rebuild=rebuild, progress=progress
            )
            if self._index is None or report.path != str(self._index.folder):
                self.load()
            return report
        finally:
            self._build_lock.release()

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
        out = []
        for question, q, v, r in ranked:
            if not answers(r, self.options):
                out.append(no_answer(question))
                continue
            ids = r.ids[:k]
            hits = [index.hit(i, s) for i, s in zip(ids, r.fused[:k])]
            scores = [index.sentence_scores(int(i), v) for i in ids]
            weights = index.lexical.term_weights(q)
            out.append(compose(question, hits, scores, weights, self.options.answer_sentences))
        return out

    def _rank(self, questions: Sequence[str]) -> tuple[Index, list[tuple]]:
        """Check, encode (one batch) and rank questions against one index version."""
        index = self.index  # read once: a concurrent swap cannot mix versions in one call
        cleaned = [check_question(q, self.options) for q in questions]
        qvecs = self.embedder.encode_queries(cleaned)
        ranked = [
            (question, q, v, index.rank(q, v, self.options))
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
            "index_dir": str(self.root),
            "version": index.folder.name if index else None,
            "built_at": index.manifest.get("built_at") if index else None,
            "dense_index": index.dense.kind if index else None,
            "skipped": index.manifest.get("skipped", []) if index else [],
        }


def answers(r: Ranked, options: IndexOptions) -> bool:
    """Whether the coverage answers: semantic evidence above the background, or strong words."""
    if not len(r.ids):
        return False
    return r.evidence - r.background >= options.min_margin or r.lexical >= options.min_lexical
