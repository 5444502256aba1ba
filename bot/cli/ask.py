"""`newsbot ask`: questions answered in batches, each printed as soon as it is ready."""

from __future__ import annotations

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
    answer_json,
    format_answer,
    one_line,
)
from .usage import log_questions

log = logging.getLogger(__name__)


# Questions answered together (one encode batch) and printed one by one as each is ready: a
# failure midway loses at most the batch being answered, never what was already printed.
ASK_BATCH = 16


def cmd_ask(args, settings: Settings) -> int:
    from index import Filters  # faiss, scipy, the model runtime: not for info

    questions = read_questions(args.questions)
    for q in questions:
        # Check every question before the model loads: a typo should not cost seconds.
        # (Bytes that are not UTF-8 reach argv as lone surrogates; this refuses them too.)
        check_question(q, settings.index)
    filters = Filters.parse(args.outlet, args.since, args.until)
    bar = EmbeddingBar()  # a first run builds the index: its progress, then the answers
    try:
        searcher = args.open_searcher(settings.index, load=True, progress=bar)
    finally:
        bar.close()
    answered = 0
    try:
        for start in range(0, len(questions), ASK_BATCH):
            batch = questions[start : start + ASK_BATCH]
            started = time.perf_counter()
            answers = answer_each(searcher, batch, args.k, filters)
            seconds = time.perf_counter() - started
            for answer in answers:
                if answer is None:  # its error line is printed
                    continue
                if args.json:
                    print(answer_json(answer), flush=True)
                else:
                    print(format_answer(answer, passages=args.passages), flush=True)
                answered += 1
            # The answers first, the record after: a slow or locked database never delays them.
            if settings.usage.enabled and settings.usage.log_cli:
                log_questions(settings, [a for a in answers if a is not None], seconds)
    except NewsbotError as e:
        if len(questions) > 1:  # main() ends its one error line with this note
            e.add_note(f"(answered {answered} of {len(questions)})")
        raise
    return 0


def answer_each(searcher, questions: list[str], k, filters) -> list:
    """The batch's answers; when an unexpected error stops the batch, each question is asked
    alone and one that fails again gets its error line (None in its place), not the others."""
    try:
        return searcher.batch_ask(questions, k, filters=filters)
    except NewsbotError:
        raise  # the index or the database, not one question: main() says what to do
    except Exception as e:
        log.debug("a batch of %d questions failed; asking each alone", len(questions), exc_info=e)
    out = []
    for q in questions:
        try:
            out.append(searcher.ask(q, k, filters=filters))
        except NewsbotError:
            raise
        except Exception as e:
            print(unexpected_line(e), file=sys.stderr, flush=True)
            out.append(None)
    return out


def unexpected_line(error: Exception) -> str:
    """One line for a question that hit a bug; its traceback goes to the log at DEBUG (-v)."""
    log.debug("Unexpected error on a question", exc_info=error)
    return (
        f"newsbot: error on this question: {type(error).__name__}: {one_line(error)} "
        "(run with -v for the traceback)"
    )


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
