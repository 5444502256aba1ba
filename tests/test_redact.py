"""Issue 26: a connection string's password is never printed, whatever its scheme or typo."""

from __future__ import annotations

import io
import logging

import pytest

from bot.cli import main
from index.errors import StoreUnavailableError
from index.options import StoreOptions
from index.redact import MaskingFilter, install, mask
from index.storage.postgres.store import PgStore

SECRET = "S3cretPw"
# Nothing listens on port 1 of loopback: a connection is refused at once, never sent anywhere.
URLS = [
    f"postgresql+psycopg://newsbot:{SECRET}@127.0.0.1:1/newsbot",  # SQLAlchemy style
    f"postgresq://newsbot:{SECRET}@127.0.0.1:1/newsbot",  # a typo in the scheme
    f"postgres:/newsbot:{SECRET}@127.0.0.1:1/newsbot",  # a slash missing
    f"postgresql://newsbot:{SECRET}@127.0.0.1:1/newsbot",
    "postgresql://newsbot:S3c@ret:Pw@127.0.0.1:1/newsbot",  # an @ and a : in the password
    f"host=127.0.0.1 port=1 user=newsbot password={SECRET} dbname=newsbot",
    f"host=127.0.0.1 port=1 user=newsbot password='{SECRET} x' dbname=newsbot",
    f"postgresql://newsbot@127.0.0.1:1/newsbot?password={SECRET}&sslmode=disable",
    f"newsbot:{SECRET}@127.0.0.1:1/newsbot",  # no scheme at all
]


def leaks(text: str) -> bool:
    return any(part in text for part in (SECRET, "S3c@ret", "ret:Pw"))


@pytest.mark.parametrize("url", URLS)
def test_mask_hides_the_password_and_keeps_the_rest(url):
    masked = mask(f"cannot connect ({url}); try again")
    assert not leaks(masked), masked
    assert "***" in masked and "127.0.0.1" in masked and masked.endswith("; try again")


def test_mask_leaves_ordinary_text_and_urls_alone():
    for text in (
        "Added 2025-04-01-fuji-snow.md (https://www.nhk.or.jp/news/html/20250401/k1.html)",
        "https://medium.com/@user/post-1 and mail a@b.example",
        "富士山の山開きはいつ? 12:30@東京",
        "postgresql://newsbot@/newsbot?host=/tmp/pg",  # no password: nothing to hide
    ):
        assert mask(text) == text


@pytest.mark.parametrize("url", URLS)
def test_store_errors_never_carry_the_password(url):
    """The real driver's messages (which quote a malformed string whole) come out masked."""
    with pytest.raises(StoreUnavailableError) as e:
        PgStore(StoreOptions(backend="postgres", url=url)).connect()
    assert not leaks(str(e.value)) and "index database" in str(e.value)


@pytest.mark.parametrize("url", URLS[:3] + URLS[5:6])
def test_cli_error_line_and_log_lines_are_masked(url, tmp_path, monkeypatch, capsys, caplog):
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{tmp_path}"\ndata_dir = "{tmp_path}"\n'
        '[store]\nbackend = "postgres"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", url)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        status = main(["--config", str(config), "-v", "db", "init"])
        # Whatever the process logs after the entry point ran goes through the filter.
        logging.getLogger("index.test").error("retrying %s", url)
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
    err = capsys.readouterr().err
    assert status == 2 and "newsbot: error: cannot connect to the index database" in err
    assert "retrying" in caplog.text and "***" in caplog.text
    assert not leaks(err + caplog.text), err + caplog.text


def test_filter_masks_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("newsbot.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    install(logger)
    install(logger)  # twice: still one filter
    assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1
    try:
        logger.warning("connecting to %s", URLS[0])
        try:
            raise RuntimeError(f"bad dsn {URLS[5]}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "connecting to postgresql+psycopg://newsbot:***@" in text
    assert "RuntimeError: bad dsn" in text and "password=***" in text
    assert not leaks(text)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://newsbot:pw@secretpw@127.0.0.1:1/newsbot",  # libpq splits at the first @
        "postgresql://newsbot:secret%40pw@127.0.0.1:1/newsbot",  # escaped: the value unescaped
    ],
)
def test_the_configured_passwords_value_is_masked_whatever_the_urls_shape(url):
    """The driver quotes part of a malformed string as a host name: the value is still hidden."""
    with pytest.raises(StoreUnavailableError) as e:
        PgStore(StoreOptions(backend="postgres", url=url)).connect()
    message = str(e.value)
    assert "secret" not in message and "index database" in message, message
    assert "secretpw" not in mask(f"an echo of secretpw and secret@pw: {url}")


def test_a_warning_is_one_line_whatever_its_arguments_hold():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("newsbot.test.oneline")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    install(logger)
    try:
        logger.warning("Cannot send: %s", "400 Bad Request\nIn content: too long\n")
        logger.info("a note\nin two lines")  # below WARNING: as written
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == (
        "Cannot send: 400 Bad Request In content: too long\na note\nin two lines\n"
    )
