"""newsbot's retrieval core: articles → passages → hybrid index → cited answers.

Plain Python with no Discord dependency; `Searcher` is the front door.
"""

import logging

from .errors import NewsbotError
from .options import IndexOptions
from .question import check_question
from .searcher import Searcher
from .types import Answer, BuildReport, Hit, Topic

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Answer",
    "BuildReport",
    "Hit",
    "IndexOptions",
    "NewsbotError",
    "Searcher",
    "Topic",
    "check_question",
]
