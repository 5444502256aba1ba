"""`newsbot ask`: questions answered in order, each printed as soon as it is ready."""

from __future__ import annotations

import json
import logging
import sys
import time

from index import check_question
from index.errors import (
    NewsbotError,
    QuestionError,
)

from ..settings import Settings
from .output import (
    EmbeddingBar,
    format_answer,
)
from .stream import answered as stream
from .usage import log_questions

log = logging.getLogger(__name__)


# Answers are recorded (usage) this many at a time; they are printed one by one as each is
# ready (stream.py): a failure midway loses none of what was already printed.
ASK_BATCH = 16


def cmd_ask(args, settings: Settings) -> int:
    from index import Filters, Searcher  # faiss, scipy, the model runtime: not for info

    questions = read_questions(args.questions)
    for q in questions:
        # Check every question before the model loads: a typo should not cost seconds.
        # (Bytes that are not UTF-8 reach argv as lone surrogates; this refuses them too.)
        check_question(q, settings.index)
    filters = Filters.parse(args.outlet, args.since, args.until)
    bar = EmbeddingBar()  # a first run builds the index: its progress, then the answers
    try:
        searcher = Searcher.open(settings.index, progress=bar)
    finally:
        bar.close()
    answered, unlogged = 0, []
    started = time.perf_counter()
    try:
        for answer in stream(searcher, questions, args.k, filters):
            if args.json:
                print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(format_answer(answer, passages=args.passages), flush=True)
            answered += 1
            unlogged.append(answer)
            # The answers first, the record after: a slow or locked database never delays them.
            if len(unlogged) == ASK_BATCH or answered == len(questions):
                if settings.usage.enabled and settings.usage.log_cli:
                    log_questions(settings, unlogged, time.perf_counter() - started)
                unlogged, started = [], time.perf_counter()
    except NewsbotError as e:
        if len(questions) > 1:  # main() ends its one error line with this note
            e.add_note(f"(answered {answered} of {len(questions)})")
        raise
    return 0


def read_questions(given: list[str]) -> list[str]:
    """The questions given, where a lone - stands for stdin's lines (blank ones skipped)."""
    questions = []
    for q in given:
        if q == "-":
            questions += [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
        else:
            questions.append(q)
    if not questions:
        raise QuestionError("no questions: stdin was empty")
    return questions
