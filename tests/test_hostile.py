"""Pages and feeds from the real web (issue 30): IRIs, failures that must not stop a poll,
retries, charsets, credentials, terminal escapes and the transport's edge cases."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import unicodedata
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli.output import format_report, printable
from index import BuildReport, Skipped
from index.corpus import frontmatter
from index.errors import FetchError, PageError
from index.ingest.articles import add_url, fetch_page
from index.ingest.feeds import BACKOFF, poll
from index.ingest.fetch import FetchLimits, check_url, fetch, is_public
from index.ingest.urls import request_target, shown, stored

from .conftest import MODEL_CACHE
from .page_server import PAGES, Site

LIMITS = FetchLimits(timeout_seconds=2.0, max_bytes=1_000_000, allow_private=True)
PUBLIC_ONLY = FetchLimits(timeout_seconds=2.0, max_bytes=1_000_000, allow_private=False)
ARTICLE = "日本銀行は24日"  # a sentence of boj-rate's body, made distinct per page below


@pytest.fixture(scope="module")
def site():
    with Site() as s:
        yield s


@pytest.fixture(autouse=True)
def clean(site):
    yield
    site.overrides.clear()


def page(site: Site, path: str, n: int, canonical: str | None = None) -> bytes:
    """boj-rate made into a page of its own (its text and canonical link changed)."""
    html = site.page("boj-rate")[0].decode("utf-8")
    html = html.replace(site.url("/articles/boj-rate"), canonical or site.url(path))
    return html.replace(ARTICLE, f"日本銀行は第{n}回の会合で").encode("utf-8")


def serve(site: Site, raw_path: str, body: bytes, ctype: str = "text/html; charset=utf-8"):
    """Serve body at a path written as people write it (the server sees it %-encoded)."""
    site.overrides[quote(raw_path, safe="/?=&%")] = (body, ctype)


def rss(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>記事{i}</title><link>{link}</link>"
        f"<pubDate>Fri, 24 Jan 2025 0{i}:00:00 GMT</pubDate></item>"
        for i, link in enumerate(links)
    )
    head = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
    return (head + items + "</channel></rss>").encode("utf-8")


def raw_redirect(target: str):
    """A 302 whose Location holds raw UTF-8 bytes (http.server would refuse to write them)."""

    def answer(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", target.encode("utf-8").decode("latin-1"))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def status_then(statuses: list[int], body: bytes):
    """Answers each status in turn (the last one from then on); 200 sends body."""
    seen = []

    def answer(handler) -> None:
        status = statuses[min(len(seen), len(statuses) - 1)]
        seen.append(status)
        if status == 200:
            handler.send_page(body, "text/html; charset=utf-8")
        else:
            handler.send_page(b"<h1>busy</h1>", "text/html", status=status)

    answer.seen = seen
    return answer


def meta_url(path) -> str:
    meta, _ = frontmatter.split(path.read_text("utf-8"))
    return meta["url"]


# --- IRIs ---------------------------------------------------------------------------------


def test_a_non_ascii_path_and_query_are_percent_encoded_on_the_wire(site, tmp_path):
    serve(site, "/記事/1?kw=東京", page(site, "/記事/1?kw=東京", 1))
    added = add_url(site.url("/記事/1?kw=東京"), tmp_path, LIMITS)
    assert added.status == "added"
    sent = [p for p, _ in site.requests if p.startswith("/%E8%A8%98")]
    assert sent[-1] == "/%E8%A8%98%E4%BA%8B/1?kw=%E6%9D%B1%E4%BA%AC"


def test_a_redirect_whose_location_holds_raw_utf8_is_followed(site, tmp_path):
    serve(site, "/記事/2", page(site, "/記事/2", 2))
    site.overrides["/jump"] = raw_redirect("/記事/2")
    added = add_url(site.url("/jump"), tmp_path, LIMITS)
    assert added.status == "added" and added.article.url == site.url("/記事/2")


def test_a_feed_with_non_ascii_items_between_good_ones_adds_them_all(site, tmp_path):
    serve(site, "/記事/3?kw=東京", page(site, "/記事/3?kw=東京", 3))
    serve(site, "/記事/4", page(site, "/記事/4", 4))
    site.overrides["/jump4"] = raw_redirect("/記事/4")
    links = ["/articles/typhoon", "/記事/3?kw=東京", "/jump4", "/articles/tech-blog"]
    site.overrides["/iri.xml"] = (rss(links), "application/rss+xml")
    report = poll([site.url("/iri.xml")], tmp_path / "a", tmp_path / "feeds.json", LIMITS)
    assert report.failed == []
    assert len(report.changed) == 4


# --- nothing escapes, nothing sticks ------------------------------------------------------


def test_an_item_whose_reading_raises_is_one_failed_line_and_the_next_items_are_added(
    site, tmp_path, caplog
):
    serve(site, "/bad", page(site, "/bad", 5))
    links = ["/articles/typhoon", "/bad", "/articles/tech-blog"]
    site.overrides["/crash.xml"] = (rss(links), "application/rss+xml")

    def reader(url, *args):  # the documented seam: how one item is fetched and read
        if url.endswith("/bad"):
            raise ValueError("Input object is not an XML element: HtmlComment")
        return fetch_page(url, *args)

    state = tmp_path / "feeds.json"
    with caplog.at_level(logging.DEBUG, logger="index.ingest.feeds"):
        report = poll([site.url("/crash.xml")], tmp_path / "a", state, LIMITS, reader=reader)
    assert report.failed == [
        (
            site.url("/bad"),
            "unexpected error: ValueError: Input object is not an XML element: HtmlComment",
        )
    ]
    assert len(report.changed) == 2
    assert "Traceback" in caplog.text  # at DEBUG, for whoever fixes it
    item = json.loads(state.read_text("utf-8"))["items"][site.url("/bad")]
    assert item["failed"].startswith("unexpected error") and item["tries"] == 1


def test_429_then_200_is_added_at_a_later_poll_after_its_backoff(site, tmp_path):
    flaky = status_then([429, 200], page(site, "/flaky", 6))
    site.overrides["/flaky"] = flaky
    site.overrides["/retry.xml"] = (rss(["/flaky", "/articles/typhoon"]), "application/rss+xml")
    now = [1_000_000.0]
    args = ([site.url("/retry.xml")], tmp_path / "a", tmp_path / "feeds.json", LIMITS)

    first = poll(*args, clock=lambda: now[0])
    assert first.failed == [(site.url("/flaky"), "HTTP 429 Too Many Requests")]
    assert len(first.changed) == 1

    now[0] += BACKOFF / 2  # too soon: not fetched, and the feed is read again (no 304)
    second = poll(*args, clock=lambda: now[0])
    assert (second.waiting, second.not_modified, second.failed) == (1, 0, [])
    assert flaky.seen == [429]

    now[0] += BACKOFF
    third = poll(*args, clock=lambda: now[0])
    assert [a.url for a in third.changed] == [site.url("/flaky")]
    assert flaky.seen == [429, 200]
    assert poll(*args, clock=lambda: now[0]).not_modified == 1  # all done: 304 again


def test_403_is_tried_once_more_and_404_is_refused_at_once(site, tmp_path):
    forbidden = status_then([403], b"")
    site.overrides["/forbidden"] = forbidden
    site.overrides["/gone.xml"] = (rss(["/forbidden", "/status/404"]), "application/rss+xml")
    now = [0.0]
    args = ([site.url("/gone.xml")], tmp_path / "a", tmp_path / "feeds.json", LIMITS)
    polls = []
    for _ in range(3):
        polls.append(poll(*args, clock=lambda: now[0]))
        now[0] += 10 * BACKOFF
    assert [len(p.failed) for p in polls] == [2, 1, 0]
    assert forbidden.seen == [403, 403]
    items = json.loads((tmp_path / "feeds.json").read_text("utf-8"))["items"]
    assert items[site.url("/status/404")]["refused"] == "HTTP 404 Not Found"
    assert items[site.url("/forbidden")]["refused"].startswith("HTTP 403")
    assert polls[2].not_modified == 1


def test_a_deep_feed_state_is_reported_and_started_afresh(site, tmp_path, caplog):
    state = tmp_path / "feeds.json"
    state.write_text('{"version": 1, "feeds": {}, "items": ' + "[" * 100_000, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="index.ingest.feed_state"):
        report = poll([site.url("/feeds/rss.xml")], tmp_path / "a", state, LIMITS)
    assert "(nested more than 16 deep); starting afresh" in caplog.text
    assert len(report.changed) == 3
    assert json.loads(state.read_text("utf-8"))["items"]


def test_null_etags_in_the_state_are_read_without_a_repair(site, tmp_path, caplog):
    url, state = site.url("/feeds/rss.xml"), tmp_path / "feeds.json"
    poll([url], tmp_path / "a", state, LIMITS)
    data = json.loads(state.read_text("utf-8"))
    data["feeds"][url]["last_modified"] = None
    for item in data["items"].values():
        item["etag"] = None
    state.write_text(json.dumps(data), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="index.ingest"):
        again = poll([url], tmp_path / "a", state, LIMITS)
    assert again.not_modified == 1 and "repaired" not in caplog.text
    assert " object at 0x" not in caplog.text


def test_a_poll_past_its_deadline_leaves_the_rest_for_the_next(site, tmp_path):
    for n in range(8):
        serve(site, f"/late/{n}", page(site, f"/late/{n}", 100 + n))
    site.overrides["/late.xml"] = (rss([f"/late/{n}" for n in range(8)]), "application/rss+xml")
    ticks = iter(range(10_000))
    args = ([site.url("/late.xml"), site.url("/feeds/atom.xml")], tmp_path / "a")
    state = tmp_path / "feeds.json"
    first = poll(*args, state, LIMITS, deadline_seconds=6, clock=lambda: next(ticks))
    assert first.deferred and len(first.changed) + first.deferred == 8
    assert first.late == 1  # the second feed waits for the next poll
    second = poll(*args, state, LIMITS)
    assert len(second.changed) == first.deferred + 3  # the rest, and the Atom feed's items


# --- charsets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label", "strip_meta"),
    [
        ("sjis-local", "utf-8", False),  # the <meta> is right
        ("sjis-local", "utf-8", True),  # nothing right is declared
        ("eucjp-science", "Shift_JIS", False),
        ("eucjp-science", "Shift_JIS", True),
    ],
)
def test_a_page_in_another_charset_than_declared_is_read(site, tmp_path, name, label, strip_meta):
    raw = (PAGES / f"{name}.html").read_bytes().replace(b"{BASE}", site.base.encode())
    if strip_meta:
        raw = raw.replace(b"charset=", b"x-charset=")
    site.overrides[f"/mislabelled/{name}"] = (raw, f"text/html; charset={label}")
    added = add_url(site.url(f"/mislabelled/{name}"), tmp_path, LIMITS, dry_run=True)
    want = (PAGES / f"{name}.body.txt").read_text("utf-8").split()[0]
    assert want in added.content and "\ufffd" not in added.content


def test_a_page_nothing_decodes_is_refused_with_a_reason(site, tmp_path):
    raw = b"<html><body><p>" + bytes(range(0x80, 0x100)) * 40 + b"</p></body></html>"
    site.overrides["/garbled"] = (raw, "text/html; charset=utf-8")
    with pytest.raises(PageError, match="cannot be decoded"):
        add_url(site.url("/garbled"), tmp_path, LIMITS)


# --- what is stored and shown -------------------------------------------------------------


def test_credentials_and_utm_are_not_stored_nor_printed(site, tmp_path, capsys):
    canonical = site.url("/cred?id=7&utm_source=feed&utm_medium=rss").replace(
        "http://", "http://user:s3cret@"
    )
    site.overrides["/cred?id=7&utm_source=feed"] = (page(site, "", 7, canonical), "text/html")
    url = site.url("/cred?id=7&utm_source=feed").replace("http://", "http://user:s3cret@")
    added = add_url(url, tmp_path, LIMITS)
    (file,) = tmp_path.glob("*.md")
    assert meta_url(file) == site.url("/cred?id=7")
    assert "s3cret" not in file.read_text("utf-8") and "utm_" not in file.read_text("utf-8")
    assert added.url == site.url("/cred?id=7")


def write_config(tmp_path) -> str:
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[index]\narticles_dir = "{tmp_path / "articles"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[fetch]\nallow_private = true\n',
        encoding="utf-8",
    )
    return str(path)


def test_escapes_and_bidi_overrides_reach_neither_stdout_nor_stderr(site, tmp_path):
    escaped = quote("/page?x=\x1b[2J\u202eevil", safe="/?=")
    site.overrides[escaped] = (page(site, "/page", 8), "text/html; charset=utf-8")
    site.overrides["/esc"] = raw_redirect("/page?x=\x1b[2J\u202eevil")
    bad = site.url("/nothing") + "\x1b[31m\u202e"
    secret = site.url("/status/410").replace("http://", "http://user:s3cret@")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "--config", write_config(tmp_path), "-v", "add"]
        + ["--dry-run", site.url("/esc"), bad, secret],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    for stream in (run.stdout, run.stderr):
        assert "\x1b" not in stream and "\u202e" not in stream and "s3cret" not in stream
    assert "\\x1b[2J\\u202eevil" in run.stderr  # the redirect, logged at DEBUG, escaped
    assert "failed: " + site.url("/nothing") + "\\x1b[31m\\u202e: HTTP 404" in run.stdout
    assert "would be added: " in run.stdout


# --- the transport ------------------------------------------------------------------------


def test_a_body_shorter_than_its_content_length_is_refused(site):
    def cut(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", "5000")
        handler.end_headers()
        handler.wfile.write(b"<html><body><p>" + b"x" * 100)
        handler.close_connection = True

    site.overrides["/cut"] = cut
    with pytest.raises(FetchError, match="truncated: 115 of 5000 bytes") as e:
        fetch(site.url("/cut"), LIMITS)
    assert e.value.transient


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:0:7f00:1",  # IPv4-translated (RFC 2765) 127.0.0.1
        "::ffff:0:a9fe:a9fe",  # ... 169.254.169.254, the cloud metadata service
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::7f00:1",  # NAT64
        "64:ff9b::a00:1",  # NAT64 10.0.0.1
        "64:ff9b:1:7f00:0:100::",  # local-use NAT64 as a /48 (RFC 6052 2.2): 127.0.0.1
        "2002:7f00:1::",  # 6to4
        "2002:c0a8:101::1",  # 6to4 192.168.1.1
    ],
)
def test_ipv6_addresses_embedding_a_private_ipv4_are_refused_before_connecting(site, address):
    assert not is_public(address)
    before = len(site.requests)
    with pytest.raises(FetchError, match="private or local address"):
        fetch(f"http://[{address}]:{site.server.server_port}/articles/typhoon", PUBLIC_ONLY)
    assert len(site.requests) == before


def test_ipv6_addresses_embedding_a_public_ipv4_are_public():
    assert is_public("64:ff9b::808:808") and is_public("2002:808:808::1")


@pytest.mark.parametrize(
    "ctype", ["application/x-rss+xml", "text/rss+xml", "text/plain", "application/x-atom+xml"]
)
def test_feeds_under_the_labels_servers_give_them_are_read(site, tmp_path, ctype):
    body, _ = site.feed("rss.xml")
    site.overrides["/labelled.xml"] = (body, ctype)
    report = poll([site.url("/labelled.xml")], tmp_path / "a", tmp_path / "f.json", LIMITS)
    assert len(report.changed) == 3


def test_plain_text_that_is_no_feed_is_refused(site, tmp_path):
    site.overrides["/notes.txt"] = ("ただのメモです。".encode(), "text/plain; charset=utf-8")
    report = poll([site.url("/notes.txt")], tmp_path / "a", tmp_path / "f.json", LIMITS)
    assert report.failed == [(site.url("/notes.txt"), "not an RSS or Atom feed")]


def test_a_304_to_an_unconditional_request_is_an_error_not_unchanged(site, tmp_path):
    def not_modified(handler) -> None:
        handler.send_response(304)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.overrides["/never-added"] = not_modified
    with pytest.raises(FetchError, match="304 Not Modified to a request that was not"):
        add_url(site.url("/never-added"), tmp_path, LIMITS)
    assert not list(tmp_path.glob("*.md"))


# --- any URL shape ------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_HOSTS = st.one_of(
    st.sampled_from(["127.0.0.1", "[::1]", "例え.jp", "EXAMPLE.com", "xn--r8jz45g.jp", "a..b"]),
    _TEXT,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp", "", "javascript"]),
    userinfo=st.one_of(st.just(""), _TEXT.map(lambda t: t + "@")),
    host=_HOSTS,
    port=st.one_of(st.just(""), st.integers(-5, 70_000).map(lambda n: f":{n}"), _TEXT),
    path=_TEXT,
    query=st.one_of(st.just(""), _TEXT.map(lambda t: "?" + t)),
    fragment=st.one_of(st.just(""), _TEXT.map(lambda t: "#" + t)),
)
def test_any_url_is_a_clear_refusal_or_an_ascii_request_target(
    scheme, userinfo, host, port, path, query, fragment
):
    url = f"{scheme}://{userinfo}{host}{port}/{path}{query}{fragment}"
    try:
        scheme_, host_, port_, target = request_target(url)
    except FetchError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert scheme_ in ("http", "https") and 0 < port_ <= 65535
        assert host_.isascii() and target.startswith("/") and target.isascii()
        assert target.isprintable() and " " not in target and "#" not in target
        assert check_url(url) == (scheme_, host_, port_)
    kept, said = stored(url), shown(url)
    rest = host + port + path + query + fragment
    if scheme and userinfo and "@" not in rest and not set("/?#[]") & set(userinfo):
        assert userinfo not in kept and userinfo not in said
    assert not any(unicodedata.category(c) == "Cc" or c in "\u202e\u2066" for c in kept)
    try:
        pairs = parse_qsl(urlsplit(kept).query, keep_blank_values=True)
    except ValueError:
        pairs = []
    assert not any(key.lower().startswith("utm_") for key, _ in pairs)


class DeepState:
    """A feed state kept elsewhere (the database's has this interface: load and save)."""

    def __init__(self):
        self.saved = None

    def load(self):
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")

    def save(self, state):
        self.saved = state


def test_a_feed_state_elsewhere_that_cannot_be_read_is_named_not_reprd(site, tmp_path, caplog):
    state = DeepState()
    with caplog.at_level(logging.WARNING, logger="index.ingest.feed_state"):
        report = poll([site.url("/feeds/rss.xml")], tmp_path / "a", state, LIMITS)
    assert "Cannot read feed state in the database (nested too deeply); starting afresh" in (
        caplog.text
    )
    assert " object at 0x" not in caplog.text
    assert len(report.changed) == 3 and state.saved["items"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
# A user name that would end the authority early would name another host: a DNS lookup.
@given(
    userinfo=_TEXT.filter(lambda t: not set("/?#@[]\\") & set(t)),
    path=_TEXT,
    query=_TEXT,
    fragment=_TEXT,
)
def test_any_path_reaches_the_server_as_a_request_or_is_refused(
    site, userinfo, path, query, fragment
):
    """End to end through http.client: a page, an HTTP error or a refusal, never a crash."""
    url = site.url(f"/{path}?{query}#{fragment}").replace("://", f"://{userinfo}@", 1)
    before = len(site.requests)
    try:
        fetch(url, LIMITS)
    except FetchError as e:
        assert str(e) and "\n" not in str(e)
    sent = [p for p, _ in site.requests[before:]]
    assert all(p.isascii() and p.isprintable() and " " not in p for p in sent)


@pytest.mark.parametrize("hostile", ["\x1b[2J", "\u202e", "\u2066", "\x9b31m", "\x07"])
def test_the_cli_output_functions_escape_controls_and_bidi_overrides(hostile):
    report = BuildReport(added=[f"a{hostile}.md"], skipped=[Skipped("b.md", f"bad {hostile} text")])
    text = format_report(report) + printable(f"title {hostile}")
    assert hostile not in text and ascii(hostile)[1:-1] in text
