"""newsbot's retrieval core: articles → passages → hybrid index → cited answers.

Plain Python with no Discord dependency; `Searcher` is the front door.

The public surface (tests/test_architecture.py holds bot/ to it): this package's names below,
the packages `index.ingest` and `index.storage` (their own lists), and the modules
`index.evaluate`, `index.usage`, `index.errors` (every error the edge turns into a reply) and
`index.options` (every setting the edge passes down). Result types come from here, not from
`index.types`. The rest may move without notice.
"""

import logging

from .lazy import exports

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Names are imported on first use (PEP 562): `newsbot info` and the settings loader need a
# few small modules, not faiss, scipy and the model runtime that Searcher pulls in.
_LAZY = {
    "Answer": "types",
    "BuildProgress": "build",
    "BuildReport": "types",
    "Skipped": "types",
    "Hit": "types",
    "Topic": "types",
    "IndexOptions": "options",
    "Filters": "retrieval.filters",
    "Query": "retrieval.query",
    "Conversations": "conversation",
    "Coverage": "coverage",
    "Turn": "conversation",
    "NewsbotError": "errors",
    "Searcher": "searcher",
    "article_files": "corpus.loader",
    "check_question": "retrieval.query",
    "Reason": "types",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = exports(__name__, _LAZY)
