"""Secrets out of text: connection strings' passwords masked in every message and log line."""

from __future__ import annotations

import logging
import re

MASK = "***"
# Keys whose values are secrets, in a libpq "host=… password=…" string or a URL's query.
_SECRET_KEYS = r"password|passwd|pwd|passphrase|sslpassword|secret|token|api_?key"
# Whatever the scheme, a typo in it included (postgresq://, postgresql+psycopg://, postgres:/):
# scheme:[//]user:PASSWORD@host. The password runs to the last @ before a space, so one
# holding an @ is masked whole.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*:/*[^\s:/@'\"]*:)[^\s'\"]*@")
# No scheme at all: user:PASSWORD@host/db or user:PASSWORD@host:5432.
_BARE = re.compile(r"(?<![\w/:])([\w.\-]+:)[^\s:/@'\"]+@(?=[\w.\-\[]+[:/])")
# key=value and key: value pairs, quoted or not (libpq strings, query strings, JSON-ish dumps).
_KEYVALUE = re.compile(
    rf"(?i)\b((?:{_SECRET_KEYS})['\"]?\s*[=:]\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\"]+)"
)


def mask(text: str) -> str:
    """text with every connection string's password (and secret key=value) replaced by ***."""
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    text = _BARE.sub(rf"\g<1>{MASK}@", text)
    return _KEYVALUE.sub(rf"\g<1>{MASK}", text)


class MaskingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it as logging does
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add the masking filter to every handler of logger (default: the root), once each."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
