"""Secrets out of text: connection strings' passwords masked in every message and log line.

Two ways, both applied by mask(): patterns for a password in any connection string's usual
places, and the literal values of the configured ones (remember_url): a driver that splits a
malformed string elsewhere (`failed to resolve host 'pw@127.0.0.1'`) quotes them where no
pattern looks.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote

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


# A literal secret's pieces are masked down to this length: shorter ones are ordinary text.
MIN_PIECE = 4
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def remember_url(url: str | None) -> None:
    """Mask this connection string's password wherever its value (or an @-piece of it) shows."""
    password = password_of(url or "")
    if not password:
        return
    values = {password, unquote(password)}
    # A driver that splits at the first @ quotes the rest as a host: each @-piece is masked.
    pieces = {p for v in values for p in v.split("@") if len(p) >= MIN_PIECE}
    with _SECRETS_LOCK:
        _SECRETS.update(v for v in values | pieces if len(v) >= MIN_PIECE)


def forget_secrets() -> None:
    """Forget the remembered literal values (a test, or a program that switches databases)."""
    with _SECRETS_LOCK:
        _SECRETS.clear()


def password_of(url: str) -> str | None:
    """The password of a URL or libpq string as written: up to the LAST @ of the authority."""
    found = re.search(r"(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url)
    if found:
        return found.group(1).strip("'")
    authority = re.sub(r"^[a-z][a-z0-9+.\-]*:/*", "", url.strip(), flags=re.I).split("?")[0]
    userinfo, at, _ = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return password if at and colon and password else None


def one_line(error: BaseException | str) -> str:
    """An error (a driver's spans lines) as one masked line, for messages and log lines."""
    text = " ".join(str(error).split()) or type(error).__name__
    return mask(text)


def mask(text: str) -> str:
    """text with every connection string's password (and secret key=value) replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):  # the whole before its pieces
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    text = _BARE.sub(rf"\g<1>{MASK}@", text)
    return _KEYVALUE.sub(rf"\g<1>{MASK}", text)


class MaskingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it; a
    warning or error is one line (a driver's or Discord's message may span several)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it as logging does
            return True
        masked = mask(message)
        if record.levelno >= logging.WARNING and "\n" in masked:
            masked = " ".join(masked.split())
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
