"""Library chatter during the one-time model conversion and export, kept in the log at DEBUG."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

log = logging.getLogger(__name__)

# The libraries that speak while a model is converted and exported: their warnings (a
# TracerWarning, torch.onnx's note on negative indices, onnxruntime's advice to pre-process)
# concern the export's internals, which the reference check after it verifies.
LIBRARIES = ("transformers", "sentence_transformers", "torch", "onnxruntime", "onnx")


class _Relay(logging.Handler):
    """Re-logs a library's record on this module's logger: DEBUG, or its own level from ERROR."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelno if record.levelno >= logging.ERROR else logging.DEBUG
        log.log(level, "%s: %s", record.name, record.getMessage())


class _RootRelay(logging.Filter):
    """onnxruntime's quantizer logs on the root logger itself: relay those records, drop them."""

    def __init__(self, relay: _Relay):
        super().__init__()
        self.relay = relay

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "root":
            return True
        self.relay.handle(record)
        return False


@contextlib.contextmanager
def library_noise_to_debug() -> Iterator[None]:
    """Inside: library warnings, log records and progress bars go to this log at DEBUG.

    An exception still propagates as it is: a real failure is reported by its caller.
    """
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # also huggingface_hub's
    relay, loggers = _Relay(), [logging.getLogger(n) for n in LIBRARIES]
    saved = [(x, x.handlers, x.propagate) for x in loggers]
    root_filter = _RootRelay(relay)
    logging.getLogger().addFilter(root_filter)
    for x in loggers:  # their own handlers too (transformers prints to stderr by itself)
        x.handlers, x.propagate = [relay], False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for w in caught:
            log.debug("%s: %s (%s:%s)", w.category.__name__, w.message, w.filename, w.lineno)
        logging.getLogger().removeFilter(root_filter)
        for x, handlers, propagate in saved:
            x.handlers, x.propagate = handlers, propagate
        if bars:
            transformers_logging.enable_progress_bar()
