"""`newsbot chat` and `newsbot topics`: a conversation on stdin, and what the coverage holds."""

from __future__ import annotations

import json
import sys
import time

from index.errors import NewsbotError, QuestionError

from ..settings import Settings
from .ask import unexpected_line
from .output import answer_json, format_answer, format_topics, one_line, printable
from .usage import log_questions

PROMPT = "質問> "


def cmd_chat(args, settings: Settings) -> int:
    """Answer questions one a line, each follow-up in the frame of the turn before it; a blank
    line starts a new conversation. With a terminal on stdin: a prompt and line editing."""
    from index import Conversations, Filters  # the model runtime: not for info

    filters = Filters.parse(args.outlet, args.since, args.until)
    searcher = args.open_searcher(settings.index, load=True)
    filters = filters.resolve(searcher.outlets())  # an unknown outlet: one error, not one a line
    c = settings.conversation
    conversations = Conversations(c.window_seconds, c.turns)
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    searcher.watch()  # PostgreSQL: a version another process publishes is served once it is live
    for line in _lines(interactive, searcher):
        question = line.strip()
        if not question:
            conversations.forget("cli")
            continue
        try:
            started = time.perf_counter()
            answer = searcher.ask(
                question, args.k, context=conversations.last("cli"), filters=filters
            )
        except QuestionError as e:
            print(f"newsbot: {printable(one_line(e))}", file=sys.stderr, flush=True)
            continue
        except NewsbotError:
            raise  # the index or the database, not this question: main() says what to do
        except Exception as e:  # a bug on this question: said in one line, the next is answered
            print(unexpected_line(e), file=sys.stderr, flush=True)
            continue
        seconds = time.perf_counter() - started
        conversations.add("cli", question, answer)
        if args.json:
            print(answer_json(answer), flush=True)
        else:
            print(continued_line(answer) + format_answer(answer), flush=True)
        if settings.usage.enabled and settings.usage.log_cli:  # after the answer is seen
            log_questions(settings, [answer], seconds)
    return 0


def continued_line(answer) -> str:
    """One line naming the question a follow-up continued ("" for a fresh question), and one
    saying that it repeats the previous answer when nothing else answers it."""
    if not answer.follow_up:
        return ""
    q = printable(" ".join(answer.continued.split()))
    q = q if len(q) <= 60 else q[:59] + "…"
    line = f"↪ continuing: {q}\n" if answer.lang == "en" else f"↪ 「{q}」の続き\n"
    if answer.repeated and not answer.no_answer:
        line += REPEATED[answer.lang] + "\n"
    return line


REPEATED = {
    "ja": "（前の回答と同じです。記事にはこれ以上の内容がありません）",
    "en": "(Same as the previous answer: the coverage says nothing more on this.)",
}


def cmd_topics(args, settings: Settings) -> int:
    """The articles the index holds, newest first, with outlet, date and sections."""
    searcher = args.open_searcher(settings.index, load=True)
    topics = searcher.topics(args.limit or searcher.topic_count(), args.offset)
    if args.json:
        for t in topics:
            print(json.dumps(t.to_dict(), ensure_ascii=False), flush=True)
    else:
        print(format_topics(topics, searcher.topic_count(), args.offset), flush=True)
    return 0


def _lines(interactive: bool, searcher):
    """stdin's lines; when they end (or the chat does) the searcher stops listening."""
    try:
        if not interactive:
            yield from sys.stdin
            return
        while True:
            try:
                yield input(PROMPT)
            except EOFError:
                print(file=sys.stderr)
                return
    finally:
        searcher.close()
