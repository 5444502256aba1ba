"""The `newsbot` command line: ask, index, eval, info and run over the same pipeline as the bot."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from index import errors, redact
from index.errors import ArticlesDirError, IndexNotBuiltError, NewsbotError

from ..searchers import OpenSearcher, open_searcher
from ..settings import DATABASE_URL_ENV, Settings, load_settings
from .output import one_line, printable
from .parser import parser

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None, open_searcher: OpenSearcher = open_searcher) -> int:
    """Entry point of the `newsbot` console script; returns the exit status.

    open_searcher: how the commands open a Searcher (searchers.py; a test hands in its own).
    """
    args = parser().parse_args(argv)
    args.open_searcher = open_searcher
    settings = None
    try:
        if args.command != "run":  # the bot handles its own signals
            exit_on_sigterm()
        # `db dev` starts the server that NEWSBOT_DATABASE_URL will name: it may be unset yet.
        dev = args.command == "db" and args.db_command == "dev"
        settings = load_settings(args.config, need_database=not dev)
        quiet = args.command in ("ask", "chat", "topics", "eval", "info", "follow")
        _setup_logging(settings, args.verbose, quiet, steps=args.command != "run")
        return args.func(args, settings)
    except NewsbotError as e:
        where = ""
        if settings is not None and (
            isinstance(e, IndexNotBuiltError)
            or (isinstance(e, ArticlesDirError) and str(settings.index.articles_dir) in str(e))
        ):
            where = f" ({settings.describe()})"  # a wrong folder is the usual cause
        notes = "".join(f" {note}" for note in getattr(e, "__notes__", ()))  # ask's count
        text = f"{one_line(e)}{advice(e, settings)}{where}{notes}"
        print(f"newsbot: error: {printable(text)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`newsbot ask ... | head -2`): stop quietly, as `yes | head`
        # does. Python would otherwise complain again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as e:  # disk full, permissions, a closed pipe: the system's words suffice
        print(f"newsbot: error: {printable(one_line(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line by default, the traceback with -v
        if args.verbose:
            log.exception("Unexpected error")
        print(
            f"newsbot: internal error: {type(e).__name__}: {printable(one_line(e))} "
            "(run with -v for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        _end_logging()


def advice(error: NewsbotError, settings: Settings | None) -> str:
    """What to do next, in the CLI's words: the core names the action (error.hint)."""
    database = settings is not None and settings.index.store.backend == "postgres"
    hints = {
        errors.REINDEX: "run 'newsbot index'" + (" or 'newsbot db import'" if database else ""),
        errors.ALLOW_EMPTY: "run 'newsbot index --allow-empty' to empty it",
        errors.DATABASE_URL: f"check {DATABASE_URL_ENV} and that the database is running",
        errors.POSTGRES_EXTRA: "pip install 'newsbot[postgres]'",
        errors.UPGRADE: "upgrade newsbot",
    }
    text = f"; {hints[error.hint]}" if error.hint in hints else ""
    return text + (f" (setting '{error.setting}')" if error.setting else "")


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a build being stopped removes its unfinished folder."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    # Only the main thread may set handlers (main() can be called from a test's thread).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


class _Steps(logging.Handler):
    """Shows the core's slow steps (records with SLOW_STEP) as plain lines on stderr."""

    def __init__(self):
        super().__init__()
        self.on = True
        self.level_before: int | None = None  # the core logger's level before main()

    def emit(self, record: logging.LogRecord) -> None:
        if self.on and getattr(record, "slow_step", False):
            print(printable(record.getMessage()), file=sys.stderr, flush=True)


class _Printable(logging.Formatter):
    """Log lines with control characters and bidi overrides escaped: a page's URL, title or
    error text must not drive the terminal the log is read on."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei) -> str:
        return printable(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return printable(super().formatStack(stack_info))


class _LogView(logging.Filter):
    """On the log handler: slow steps are _Steps' to show; quiet commands hide the core's notes."""

    def __init__(self):
        super().__init__()
        self.steps, self.floor = True, logging.NOTSET

    def filter(self, record: logging.LogRecord) -> bool:
        if self.steps and getattr(record, "slow_step", False):
            return False
        return record.levelno >= self.floor or not record.name.startswith("index")


# One of each per process; attached for one main() call (tests call it many times).
_STEPS, _VIEW = _Steps(), _LogView()


def _setup_logging(settings: Settings, verbose: bool, quiet: bool, steps: bool = True) -> None:
    """Configure logging once for the process; `newsbot run` keeps it (see runner).

    `steps`: the core's slow steps (preparing the model, building the index) as plain lines;
    with -v they stay in the log, with the rest.
    """
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level, logging.INFO)
    before = list(logging.getLogger().handlers)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    # Only the handler made here is this command's view of the log: handlers someone else set
    # up (an embedding program, a test runner) keep every record they had.
    mine = [h for h in logging.getLogger().handlers if h not in before]
    for handler in mine:
        handler.setFormatter(_Printable(LOG_FORMAT))
    redact.install()  # a connection string in any log line shows no password
    # Library chatter drowns the answers; operators can ask for it with -v.
    for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub", "faiss"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    _STEPS.on = _VIEW.steps = steps and not verbose
    # Answers on stdout should not be interleaved with the index's progress notes.
    _VIEW.floor = max(level, logging.WARNING) if quiet and not verbose else level
    core = logging.getLogger("index")
    _STEPS.level_before = core.level  # put back by _end_logging
    core.setLevel(min(level, logging.INFO))  # the steps are INFO records
    core.addHandler(_STEPS)
    for handler in mine:
        handler.addFilter(_VIEW)


def _end_logging() -> None:
    """Detach what _setup_logging attached: the core logs as before once main() returns."""
    core = logging.getLogger("index")
    core.removeHandler(_STEPS)
    if _STEPS.level_before is not None:
        core.setLevel(_STEPS.level_before)
        _STEPS.level_before = None
    for handler in logging.getLogger().handlers:
        handler.removeFilter(_VIEW)
