"""The front door: ask questions of the live index and swap in rebuilt ones atomically."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .answer import answer
from .build import BuildProgress, build
from .conversation import Turn, follow_up
from .corpus.loader import TEXT_VERSION
from .coverage import Coverage
from .encoders.embedder import Embedder, identity_of
from .errors import ArticlesDirError, IndexCorruptError, IndexNotBuiltError, OutdatedError
from .options import IndexOptions
from .retrieval.filters import (
    Filters,
    narrow,
    newest_first,
    outlets_of,
    prefer,
    trim_links,
)
from .retrieval.query import Query
from .retrieval.ranker import Index, Ranked
from .storage.factory import open_store
from .types import SLOW_STEP, Answer, BuildReport, Hit, Topic

log = logging.getLogger(__name__)

# With filters, each side hands fusion this many times its usual candidates (see Filters).
FILTERED_CANDIDATES = 4


class Ranking(NamedTuple):
    """A query as ranked: its vector and ranking (both None for a query that lacks a subject)."""

    query: Query
    qvec: np.ndarray | None
    ranked: Ranked | None
    filtered: bool = False  # narrowed by the asker's filters
    filters: Filters | None = None  # those filters, their outlet as the index names it


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
        self._listener = None  # follows other processes' reindexes (watch(), a database)
        self._stopped: str | None = None  # why this process no longer answers (a newer schema)

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
            raise IndexNotBuiltError("the index is not loaded")
        return self._index

    def load(self) -> Index:
        """(Re)load the store's live version and make it live here."""
        return self.use(Index(self.store.current()))

    def use(self, index: Index) -> Index:
        """Make index live here once it is checked to suit this model and these text rules."""
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
        sync: bool = True,
        prune: bool = False,
    ) -> BuildReport:
        """Build beside the live index and swap it in; the old one serves until then.

        Args:
            rebuild: re-embed every passage instead of reusing unchanged ones.
            progress: called as progress(stage, done, total) while embedding.
            wait: wait for a build already running (else BuildInProgressError).
            allow_empty: let an empty articles folder empty a non-empty index.
            sync: with the database's shared articles, copy this machine's folder in first
                (sync_articles; the report's `synced`); False builds from what it holds.
            prune: that sync also removes shared articles the folder lacks, whoever added them.
        """
        synced = None
        if self.store.shared and sync:
            # This machine's folder joins the shared coverage first, as `newsbot index` does.
            if Path(self.options.articles_dir).is_dir():
                synced = self.sync_articles(prune=prune)
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
        if synced is not None:  # files of this folder that could not be copied in, and why
            report.skipped = synced.skipped + report.skipped
            report.synced = synced
        if self._index is None or Path(report.path).name != self._index.name:
            self.load()
        return report

    def sync_articles(self, folder: Path | None = None, prune: bool = False):
        """Copy a folder's articles into the database's shared ones (the PostgreSQL backend).

        Adds and updates; removes only the articles this folder added before (all that are
        absent from it with prune). Returns a storage.postgres.articles.SyncReport.
        """
        if not self.store.shared:
            raise ArticlesDirError("only the PostgreSQL backend keeps articles in the database")
        shared = self.store.articles
        folder = Path(folder or self.options.articles_dir)
        if not folder.is_dir():
            raise ArticlesDirError(f"articles folder not found: {folder}")
        return shared.sync(
            folder, self.options.max_article_bytes, self.options.data_dir, prune=prune
        )

    def watch(self) -> None:
        """Swap to other processes' new versions as they go live, not at the next question.

        A shared store only (the database: storage/postgres/listen.py); stopped by close().
        """
        if self.store.shared and self._listener is None:
            self._listener = self.store.listen(self._follow)

    def close(self) -> None:
        """Stop following other processes' reindexes."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()

    @functools.cached_property
    def coverage(self) -> Coverage:
        """This index's articles and feeds: pages added, feeds polled (index/coverage.py)."""
        return Coverage(self.store)

    @property
    def listening(self) -> bool:
        """Whether this process hears other processes' reindexes as they happen (watch())."""
        return self._listener is not None and self._listener.connected.is_set()

    @property
    def stopped(self) -> str | None:
        """Why this process no longer answers (a newer database schema), or None."""
        return self._stopped

    def _follow(self, notice: str | None) -> None:
        """A NOTIFY (a version's name, or schema:<n>); None after the listener (re)connected."""
        if notice is None or notice.startswith("schema:"):
            stop = self.store.newer_schema()
            if stop and not self._stopped:
                self._stopped = stop
                log.error("Stopped answering: %s", stop)
            if notice is not None:
                return
        if self._index is not None and self.store.live_name() != self._index.name:
            self.load()  # its caches (postings, rows, topics) go with the old version

    def _refresh(self) -> None:
        """Load the live version when another process switched it (a shared store only)."""
        if self._stopped:
            raise OutdatedError(self._stopped)  # logged once, when it was noticed
        if self.store.shared and self._index is not None:
            if self.listening:
                return  # the listener swaps versions as they go live
            # One cheap query per question; a question is then answered from one version.
            if self.store.live_name() != self._index.name:
                self.load()

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """Top-k passages (one per section) for a question."""
        return self.batch_search([question], k)[0]

    def batch_search(self, questions: Sequence[str], k: int | None = None) -> list[list[Hit]]:
        k = k or self.options.top_k
        katakana = self._index.katakana if self._index else None
        index, rankings = self.rank([Query.of(q, self.options, katakana) for q in questions])
        ranked = [ranking.ranked for ranking in rankings]
        return [[index.hit(i, s) for i, s in zip(r.ids[:k], r.fused[:k])] for r in ranked]

    def more(self, answer: Answer, k: int, filters: Filters | None = None) -> list[Hit]:
        """Top-k passages for what an answer was asked (「他の結果」): its question in the frame
        it was answered in (a follow-up's earlier questions), with the filters it was asked with."""
        katakana = self._index.katakana if self._index else None
        query = Query.of(answer.question, self.options, katakana)  # answered: it had a subject
        if answer.follow_up and answer.asked_about.endswith(answer.question):
            context = answer.asked_about[: -len(answer.question)].strip()
            query = replace(query, context=context, continued=answer.continued)
        index, [ranking] = self.rank([query], filters)
        r = ranking.ranked
        return [index.hit(i, s) for i, s in zip(r.ids[:k], r.fused[:k])]

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        context: Turn | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer from the coverage's own sentences, or say it does not cover the question.

        Args:
            context: the conversation's previous turn: a follow-up (期間は?, and about …?) is
                answered in its frame; a follow-up without one is asked for its subject.
            filters: only articles of this outlet and these dates.
        """
        return self.batch_ask([question], k, contexts=[context], filters=filters)[0]

    def batch_ask(
        self,
        questions: Sequence[str],
        k: int | None = None,
        *,
        contexts: Sequence[Turn | None] | None = None,
        filters: Filters | None = None,
    ) -> list[Answer]:
        contexts = contexts or [None] * len(questions)
        queries = [self.query(q, c) for q, c in zip(questions, contexts)]
        index, rankings = self.rank(queries, filters)
        return [self.respond(index, ranking, k) for ranking in rankings]

    def query(self, question: str, context: Turn | None = None) -> Query:
        """The question checked and decided, framed by the previous turn when it leans on it."""
        query = Query.of(question, self.options, self._index.katakana if self._index else None)
        return follow_up.frame(query, context)

    def rank(
        self,
        queries: Sequence[Query],
        filters: Filters | None = None,
        vectors: np.ndarray | None = None,
    ) -> tuple[Index, list[Ranking]]:
        """Encode (one batch, unless vectors are given) and rank queries against one index version.

        A query that lacks a subject is neither encoded nor ranked (its vector and ranking: None).
        An outlet filter is read as the index names its outlets (OutletError when it names none).
        """
        self._refresh()
        index = self.index  # read once: a concurrent swap cannot mix versions in one call
        if filters:
            filters = filters.resolve(self.outlets())
        live = [q for q in queries if not q.lacks_subject]
        if vectors is None:
            vectors = self.embedder.encode_queries([q.searched_normal for q in live])
        found = iter(self._ranked(index, q, v, filters) for q, v in zip(live, vectors))
        return index, [Ranking(q, None, None) if q.lacks_subject else next(found) for q in queries]

    def respond(self, index: Index, ranking: Ranking, k: int | None = None) -> Answer:
        """The answer to one ranked query (see rank)."""
        query, qvec, ranked, filtered, filters = ranking
        if qvec is None:
            return follow_up.ask_for_subject(query)
        k = k or self.options.top_k
        reply = answer(index, query, qvec, ranked, k, self.options, filtered)
        if filters and filters.outlet:  # a section of several outlets cites the one asked for
            reply = replace(reply, hits=tuple(trim_links(h, filters) for h in reply.hits))
        return follow_up.framed(query, reply)

    def _ranked(
        self, index: Index, query: Query, qvec: np.ndarray, filters: Filters | None
    ) -> Ranking:
        options = self.options
        if filters:  # the filters drop candidates after ranking: take more of them
            options = replace(options, candidates=options.candidates * FILTERED_CANDIDATES)
        r = index.rank(query.lexical(index.katakana), qvec, options)
        if filters:
            r = narrow(index, r, filters)
        if query.prefer:
            r = prefer(index, r, query.prefer)
        if query.latest:
            r = newest_first(index, r)
        return Ranking(query, qvec, r, bool(filters), filters)

    def topics(self, limit: int = 5, offset: int = 0) -> list[Topic]:
        """The articles the live index holds, newest first (for help, /topics, 'not covered')."""
        return self._topic_list()[offset : offset + limit]

    def topic_count(self) -> int:
        return len(self._topic_list())

    def outlets(self) -> list[str]:
        """The outlet names the live index's articles give, most articles first."""
        counts: dict[str, int] = {}
        for topic in self._topic_list():
            for name in outlets_of({"outlet": topic.outlet}):
                counts[name] = counts.get(name, 0) + 1
        return sorted(counts, key=lambda name: (-counts[name], name))

    def _topic_list(self) -> list[Topic]:
        index = self._index
        if index is None:
            return []
        if self._topics[0] is not index:  # once per index version: it reads every section
            seen: dict[str, tuple[dict, list[str]]] = {}
            for s in index.sections:
                first, sections = seen.setdefault(s["article"], (s, []))
                if s["section"] and s["section"] not in sections:
                    sections.append(s["section"])
            topics = [
                Topic(a, s["title"], s["published"], s["outlet"], tuple(sections))
                for a, (s, sections) in seen.items()
            ]
            newest = sorted(topics, key=lambda t: (t.published or "", t.article))
            self._topics = (index, newest[::-1])
        return self._topics[1]

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


def _check_buildable(options: IndexOptions, root: Path) -> None:
    """Refuse at once when there is no index and no articles to build one from."""
    # Checked before the model loads: converting it takes a minute and hundreds of MB, and
    # a wrong working directory would otherwise find out only afterwards.
    store = open_store(options, root)
    if store.shared:
        store.live_name()  # a database that is down says so here, in one line
    shared = store.articles if store.shared else None
    if shared is not None and store.live_name() is None and not shared.count():
        if not Path(options.articles_dir).is_dir():
            raise IndexNotBuiltError(
                "the index database holds no articles yet; run 'newsbot index' where the "
                "articles folder is, or 'newsbot add URL'"
            )
        # Said, not done quietly: this folder becomes the shared coverage of every process.
        log.warning(
            "The index database holds no articles yet: copying %s into it and building",
            options.articles_dir,
        )
        return
    if shared is not None or Path(options.articles_dir).is_dir():
        return
    try:
        store.current(verify=False)
    except (IndexNotBuiltError, IndexCorruptError):
        raise ArticlesDirError(f"articles folder not found: {options.articles_dir}") from None
