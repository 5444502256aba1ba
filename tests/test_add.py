"""`newsbot add`: safe fetching, extraction quality, article files, and answers citing the page."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
from collections import Counter

import pytest

from bot.cli import main
from bot.settings import SettingsError, load_settings
from index import Searcher
from index.corpus.loader import load_article, load_articles
from index.errors import FetchError, PageError
from index.ingest.articles import add_url, slug
from index.ingest.extract import extract
from index.ingest.fetch import FetchLimits, decode, fetch, is_public
from index.storage.local import LocalStore

from .conftest import MODEL_CACHE, cli_for, make_options
from .page_server import EXPECTED, GOOD, PAGES, REFUSED, Site

LIMITS = FetchLimits(timeout_seconds=2.0, max_bytes=1_000_000, allow_private=True)
BOJ_QUESTION = "日銀は短期金利の誘導目標を何%に引き上げた?"


@pytest.fixture(scope="module")
def site():
    with Site() as s:
        yield s


def char_f1(got: str, want: str) -> float:
    """Character-level F1 (a bag of characters, whitespace ignored)."""
    a, b = Counter("".join(got.split())), Counter("".join(want.split()))
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def junk_of(name: str) -> list[str]:
    return [x for x in (PAGES / f"{name}.junk.txt").read_text("utf-8").splitlines() if x]


def page_url(site: Site, name: str) -> str:
    return site.url(f"/amp/{name}" if name.startswith("amp-") else f"/articles/{name}")


# --- extraction -------------------------------------------------------------------------


def test_the_page_set_is_the_one_the_issue_asks_for():
    """At least 12 pages, the hard kinds included; the junk lists really occur in the pages."""
    assert len(GOOD) + len(REFUSED) >= 12
    assert {"amp-election", "sjis-local", "eucjp-science"} <= set(GOOD)
    assert b"\xe2\x9a\xa1" in (PAGES / "amp-election.html").read_bytes()  # <html ⚡>
    pages = [(PAGES / f"{n}.html").read_bytes() for n in GOOD]
    assert sum(b'"@type": "NewsArticle"' in p for p in pages) >= 6
    assert sum(b'property="og:site_name"' in p for p in pages) >= 6
    for name in GOOD:
        html = decode((PAGES / f"{name}.html").read_bytes(), "EUC-JP" if "euc" in name else None)
        assert len(junk_of(name)) >= 8 and all(j in html for j in junk_of(name)), name


@pytest.mark.parametrize("name", GOOD)
def test_extracted_body_matches_the_hand_marked_one(site, name):
    response = fetch(page_url(site, name), LIMITS)
    article = extract(response.text(), response.url)
    want = (PAGES / f"{name}.body.txt").read_text("utf-8")
    assert char_f1(article.plain(), want) >= 0.95
    for junk in junk_of(name):
        assert junk not in article.body, junk


def test_extraction_f1_over_the_whole_page_set(site):
    scores = []
    for name in GOOD:
        response = fetch(page_url(site, name), LIMITS)
        got = extract(response.text(), response.url).plain()
        scores.append(char_f1(got, (PAGES / f"{name}.body.txt").read_text("utf-8")))
    assert sum(scores) / len(scores) >= 0.97


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_page_without_an_article_is_refused_and_nothing_is_written(site, tmp_path, name):
    (tmp_path / "kept.md").write_text("---\ntitle: 既存\n---\n\n本文。\n", encoding="utf-8")
    with pytest.raises(PageError, match=REFUSED[name]):
        add_url(site.url(f"/articles/{name}"), tmp_path, LIMITS)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.md"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_title_date_and_outlet_of_old_layouts_and_titles_with_the_site_name(site, name):
    response = fetch(site.url(f"/articles/{name}"), LIMITS)
    a = extract(response.text(), response.url)
    assert {"title": a.title, "published": a.published, "outlet": a.outlet} == EXPECTED[name]


def test_old_table_layouts_and_site_name_titles_are_in_the_page_set():
    old = [n for n in EXPECTED if n.startswith("old-")]
    assert len(old) >= 3 and len(EXPECTED) - len(old) >= 4
    for name in old:
        raw = (PAGES / f"{name}.html").read_bytes()
        html = decode(raw, "EUC-JP" if "euc" in name else None)
        assert re.search(rb"charset=(?:Shift_JIS|x-sjis|EUC-JP)", raw, re.I), name
        assert "<h1" not in html.lower() and "<br><br>" in html.lower(), name
        assert "戻る" in html and "無断転載を禁じます。" in html, name
        # The date is only in the text: no <time>, JSON-LD or meta date to read it from.
        assert not re.search(r"<time|datePublished|published_time|<meta[^>]+date", html, re.I)


@pytest.mark.parametrize(
    ("title", "site", "headline"),
    [
        ("見出しの文章 - 湖北ウェブ", "湖北ウェブ", "見出しの文章"),
        ("見出しの文章｜湖北ウェブ", "湖北ウェブ", "見出しの文章"),
        ("県議会：補正予算を可決：湖北ウェブ", "湖北ウェブ", "県議会：補正予算を可決"),
        ("【湖北ウェブ】見出しの文章", "湖北ウェブ", "見出しの文章"),
        ("【速報】見出しの文章", "湖北ウェブ", "【速報】見出しの文章"),  # not the site's name
        ("県議会：補正予算を可決", "湖北ウェブ", "県議会：補正予算を可決"),
    ],
)
def test_the_site_name_is_taken_off_the_title(title, site, headline):
    html = (
        f'<html><head><meta property="og:title" content="{title}">'
        f'<meta property="og:site_name" content="{site}"></head><body><article>'
        + "<p>湖北市の議会は補正予算案を賛成多数で可決した。物価高への対策が柱となっている。</p>"
        * 4
        + "</article></body></html>"
    )
    assert extract(html, "https://kohoku.example.jp/a/1").title == headline


def test_metadata_from_og_tags_and_json_ld(site):
    response = fetch(site.url("/articles/boj-rate"), LIMITS)
    a = extract(response.text(), response.url)
    assert a.title == "日銀、追加利上げを決定 政策金利0.5%に"
    assert (a.outlet, a.published, a.modified) == ("東都新聞", "2025-01-24", "2025-01-24")
    assert a.url == site.url("/articles/boj-rate")
    assert a.sections == 3
    assert "[日銀の公表文](https://www.boj.example/mopo/mpmdeci/2025/k250124a.pdf)" in a.body


@pytest.mark.parametrize(
    ("name", "outlet", "published", "modified"),
    [
        ("sports-graph", "スポーツ日和", "2025-03-23", "2025-03-23"),  # JSON-LD @graph
        ("health-news", "くらし医療ニュース", "2025-01-30", None),  # publisher.name only
        ("culture-modified", "まほろば文化通信", "2025-09-01", "2025-09-03"),
        # No metadata: the name in the logo and <title>; the date in the text.
        ("sjis-local", "地域ニュース", "2025-04-02", None),
    ],
)
def test_outlet_and_dates(site, name, outlet, published, modified):
    response = fetch(site.url(f"/articles/{name}"), LIMITS)
    a = extract(response.text(), response.url)
    assert (a.outlet, a.published, a.modified) == (outlet, published, modified)


def test_amp_page_is_filed_under_its_canonical_url(site):
    response = fetch(site.url("/amp/amp-election"), LIMITS)
    assert extract(response.text(), response.url).url == site.url("/articles/amp-election")


def test_canonical_on_another_site_is_ignored():
    html = (PAGES / "typhoon.html").read_text("utf-8").replace("{BASE}", "https://evil.example")
    assert extract(html, "https://news.example.jp/a/1").url == "https://news.example.jp/a/1"


@pytest.mark.parametrize(
    ("page", "canonical", "kept"),
    [
        ("https://attacker.github.io/x", "https://victim.github.io/news/1", False),
        ("https://a.blogspot.com/x", "https://b.blogspot.com/1", False),
        ("https://evil.example/x", "http://93.184.216.34/news/1", False),
        ("http://93.184.216.35/x", "http://93.184.216.34/news/1", False),
        ("https://news.example.co.jp/x", "https://example.co.jp/news/1", True),
        ("https://victim.github.io/amp/1", "https://victim.github.io/news/1", True),
        ("http://93.184.216.34/amp/1", "http://93.184.216.34/news/1", True),
    ],
)
def test_canonical_counts_only_on_the_same_registrable_domain(page, canonical, kept):
    html = (PAGES / "typhoon.html").read_text("utf-8").replace("{BASE}", "https://n.example.jp")
    html = re.sub(
        r'<link rel="canonical"[^>]*>', f'<link rel="canonical" href="{canonical}">', html
    )
    html = re.sub(r'<meta property="og:url"[^>]*>', "", html)
    assert extract(html, page).url == (canonical if kept else page)


def test_known_japanese_news_domain_names_the_outlet():
    html = (PAGES / "sjis-local.html").read_bytes().decode("cp932")
    assert extract(html, "https://www.nikkei.com/article/DGXZQO1").outlet == "日本経済新聞"
    assert extract(html, "https://local.example.jp/a/1").outlet == "地域ニュース"  # its logo
    nameless = html.replace('alt="地域ニュース"', 'alt=""')
    assert extract(nameless, "https://local.example.jp/a/1").outlet == "local.example.jp"


def test_xhtml_page_with_an_xml_declaration_is_read():
    html = (PAGES / "typhoon.html").read_text("utf-8").replace("{BASE}", "https://n.example.jp")
    xhtml = '<?xml version="1.0" encoding="UTF-8"?>\n' + html.replace("<!DOCTYPE html>", "")
    assert extract(xhtml, "https://n.example.jp/a").title.startswith("台風10号")


@pytest.mark.parametrize("name", ["sjis-local", "eucjp-science"])
def test_japanese_legacy_charsets_are_decoded(site, name):
    response = fetch(site.url(f"/articles/{name}"), LIMITS)
    text = response.text()
    assert "\ufffd" not in text
    assert ("図書館" if "sjis" in name else "クラゲ") in extract(text, response.url).title


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "rot13", "no-such-codec"])
@pytest.mark.parametrize("where", ["meta", "header"])
def test_a_charset_that_is_no_text_encoding_is_guessed_around(charset, where):
    html = (PAGES / "typhoon.html").read_text("utf-8")
    if where == "meta":
        body, header = html.replace("<head>", f'<head><meta charset="{charset}">', 1), None
    else:
        body, header = html, charset
    assert decode(body.encode("utf-8"), header) == body


def test_utf8_page_declared_shift_jis_is_read_as_utf8_and_logged(caplog):
    html = (PAGES / "typhoon.html").read_text("utf-8")
    with caplog.at_level(logging.WARNING, logger="index.ingest.charset"):
        assert decode(html.encode("utf-8"), "Shift_JIS") == html
    assert "declared Shift_JIS but is utf-8" in caplog.text


def test_a_stray_broken_byte_is_dropped_and_counted_never_replaced(caplog):
    text = "記事の本文です。" * 200
    raw = text.encode("cp932") + b"\x81\xff" + "以上。".encode("cp932")
    with caplog.at_level(logging.WARNING, logger="index.ingest.charset"):
        decoded = decode(raw, "Shift_JIS")
    assert decoded.startswith(text) and decoded.endswith("以上。") and "\ufffd" not in decoded
    assert "not valid cp932: 1 broken characters dropped" in caplog.text


def test_bytes_that_no_charset_decodes_are_refused():
    raw = "記事".encode("cp932") + bytes(range(0x80, 0x100)) * 4
    with pytest.raises(PageError, match="cannot be decoded"):
        decode(raw, "Shift_JIS")


# --- safety and faults --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/status/404", "HTTP 404"),
        ("/status/500", "HTTP 500"),
        ("/slow/", "timed out"),
        ("/drip/", "timed out"),
        ("/slowheaders/", "timed out"),  # every read is quick; the headers take 10 s
        ("/to/file:///etc/passwd", "only http and https"),
        ("/loop/a", "redirect loop"),
        ("/hops/5", "more than 3 redirects"),
        ("/big/", "too large"),
        ("/big/declared", "too large"),
        ("/bomb/", "after decompression"),
        ("/binary/", "binary content"),
        ("/pdf/", "not a web page (application/pdf)"),
    ],
)
def test_fault_is_one_reason_and_loses_nothing(site, tmp_path, path, says):
    limits = FetchLimits(timeout_seconds=0.5, max_bytes=1_000_000, allow_private=True)
    kept = tmp_path / "kept.md"
    kept.write_text("---\ntitle: 既存\n---\n\n本文。\n", encoding="utf-8")
    site.bomb()  # made before the request: compressing 50 MB takes longer than the time limit
    with pytest.raises(FetchError, match=re.escape(says)) as e:
        add_url(site.url(path), tmp_path, limits)
    assert "\n" not in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.md"]
    assert kept.read_text(encoding="utf-8").endswith("本文。\n")


def test_a_few_redirects_are_followed(site):
    assert fetch(site.url("/hops/3"), LIMITS).url == site.url("/articles/typhoon")


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a", "file:///etc/passwd", "javascript:alert(1)", "http://", "nonsense"],
)
def test_only_http_links_are_fetched(url):
    with pytest.raises(FetchError):
        fetch(url, FetchLimits())


def test_private_addresses_are_refused_unless_allowed(site):
    with pytest.raises(FetchError, match="private or local address"):
        fetch(site.url("/articles/typhoon"), FetchLimits(timeout_seconds=1))
    port = site.url("").rsplit(":", 1)[1]
    with pytest.raises(FetchError, match="private or local address"):
        fetch(f"http://localhost:{port}/articles/typhoon", FetchLimits(timeout_seconds=1))


@pytest.mark.parametrize("host", ["[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]"])
def test_ipv6_literal_leading_inside_is_refused_before_connecting(monkeypatch, host):
    def no_connection(*args, **kwargs):
        raise AssertionError("connected")

    monkeypatch.setattr("socket.create_connection", no_connection)
    with pytest.raises(FetchError, match="private or local address"):
        fetch(f"http://{host}/articles/typhoon", FetchLimits(timeout_seconds=1))


def test_redirect_to_a_private_address_is_refused(monkeypatch):
    """A public server (played by 127.0.0.2) redirecting to 127.0.0.1 is checked again."""
    monkeypatch.setattr("index.ingest.fetch.is_public", lambda address: address == "127.0.0.2")
    with Site("127.0.0.2") as public, Site("127.0.0.1") as private:
        limits = FetchLimits(timeout_seconds=1)
        assert fetch(public.url("/articles/typhoon"), limits).status == 200
        with pytest.raises(FetchError, match=r"private or local address \(127\.0\.0\.1\)"):
            fetch(public.url("/to/" + private.url("/articles/typhoon")), limits)
        assert private.requests == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        # IPv6 forms that lead to an IPv4 address are judged by that address.
        ("::127.0.0.1", False),  # IPv4-compatible
        ("64:ff9b::7f00:1", False),  # NAT64 of loopback
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of the metadata address
        ("64:ff9b:1::a00:1", False),  # local-use NAT64 of 10.0.0.1
        ("2002:7f00:1::1", False),  # 6to4 of loopback
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo of 127.0.0.1
        ("fec0::1", False),  # site-local
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("2002:808:808::1", True),  # 6to4 of a public address
    ],
)
def test_public_address_check(address, public):
    assert is_public(address) is public


# --- article files ------------------------------------------------------------------------


def test_added_page_is_a_valid_article_file(site, tmp_path, caplog):
    added = add_url(site.url("/articles/boj-rate"), tmp_path, LIMITS)
    assert added.status == "added"
    assert added.file == "2025-01-24-127-0-0-1-boj-rate.md"
    text = (tmp_path / added.file).read_text(encoding="utf-8")
    assert "\nmodified: '2025-01-24'\n" in text and "\nfetched: '" in text
    with caplog.at_level(logging.INFO, logger="index.corpus.loader"):
        article = load_article(tmp_path / added.file, tmp_path)
    assert "unknown front matter" not in caplog.text
    assert (article.title, article.url, article.published, article.outlet) == (
        "日銀、追加利上げを決定 政策金利0.5%に",
        site.url("/articles/boj-rate"),
        "2025-01-24",
        "東都新聞",
    )
    assert [s.heading for s in article.sections] == ["", "春闘の賃上げに自信", "住宅ローンへの影響"]
    assert article.sections[1].links == ("https://www.boj.example/mopo/mpmdeci/2025/k250124a.pdf",)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_same_page_twice_or_by_another_url_is_not_duplicated(site, tmp_path):
    first = add_url(site.url("/articles/amp-election"), tmp_path, LIMITS)
    again = add_url(site.url("/articles/amp-election"), tmp_path, LIMITS)
    amp = add_url(site.url("/amp/amp-election"), tmp_path, LIMITS)
    assert first.status == "added"
    assert (again.status, again.file) == ("unchanged", first.file)
    assert (amp.status, amp.file) == ("unchanged", first.file)
    # The same text under another address (no canonical link) is a duplicate.
    html, ctype = site.page("typhoon")
    stripped = html.replace(b'rel="canonical"', b'rel="x"').replace(b"og:url", b"og:x")
    site.overrides["/mirror/typhoon"] = (stripped, ctype)
    original = add_url(site.url("/articles/typhoon"), tmp_path, LIMITS)
    mirror = add_url(site.url("/mirror/typhoon"), tmp_path, LIMITS)
    assert (mirror.status, mirror.file) == ("duplicate", original.file)
    assert len(list(tmp_path.glob("*.md"))) == 2


def test_the_file_cache_of_the_duplicate_check_is_bounded(tmp_path, monkeypatch):
    from index.ingest import articles

    monkeypatch.setattr(articles, "SEEN_MAX", 3)
    monkeypatch.setattr(articles, "SEEN", {})
    for i in range(6):
        (tmp_path / f"{i}.md").write_text(
            f"---\ntitle: t{i}\nurl: https://e.jp/{i}\n---\n\n本文{i}。\n", encoding="utf-8"
        )
    by_url, _ = articles.catalogue(tmp_path)
    assert sorted(by_url) == [f"https://e.jp/{i}" for i in range(6)]  # all seen, 3 remembered
    assert len(articles.SEEN) == 3


def test_changed_page_updates_its_file(site, tmp_path):
    url = site.url("/articles/transport-portal")
    first = add_url(url, tmp_path, LIMITS)
    html, ctype = site.page("transport-portal")
    changed = html.replace("5.3兆円".encode(), "5.5兆円".encode())
    site.overrides["/articles/transport-portal"] = (changed, ctype)
    try:
        second = add_url(url, tmp_path, LIMITS)
    finally:
        del site.overrides["/articles/transport-portal"]
    assert (second.status, second.file) == ("updated", first.file)
    assert "5.5兆円" in (tmp_path / first.file).read_text(encoding="utf-8")
    assert len(list(tmp_path.glob("*.md"))) == 1


def test_failed_write_keeps_the_old_file_and_leaves_no_scraps(site, tmp_path, monkeypatch):
    url = site.url("/articles/economy-divs")
    first = add_url(url, tmp_path, LIMITS)
    before = (tmp_path / first.file).read_text(encoding="utf-8")
    html, ctype = site.page("economy-divs")
    site.overrides["/articles/economy-divs"] = (
        html.replace("1055円".encode(), "1060円".encode()),
        ctype,
    )

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.ingest.articles.os.replace", disk_full)
    try:
        with pytest.raises(OSError, match="No space left"):
            add_url(url, tmp_path, LIMITS)
    finally:
        del site.overrides["/articles/economy-divs"]
    assert (tmp_path / first.file).read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.file]


def test_dry_run_writes_nothing(site, tmp_path, capsys):
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{tmp_path / "articles"}"\ndata_dir = "{tmp_path / "data"}"\n'
        "[fetch]\nallow_private = true\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "add", "--dry-run", site.url("/articles/typhoon")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would be added: 2024-08-28-127-0-0-1-typhoon.md: 台風10号")
    assert "(みなと放送, 2024-08-28, 3 sections)" in out
    assert "\n---\ntitle: 台風10号" in out and "## 交通機関に影響" in out
    assert not (tmp_path / "articles").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://www3.nhk.or.jp/news/html/20250319/k10014753041000.html", "nhk-k10014753041000"),
        ("https://mainichi.jp/articles/20250319/k00/00m/030/319000c", "mainichi-319000c"),
        ("https://www.fnn.jp/articles/-/844910", "fnn-844910"),
        ("https://news.example.jp/", "example"),
    ],
)
def test_file_names_are_short_ascii(url, name):
    assert slug(url).startswith(name)


# --- settings -----------------------------------------------------------------------------


def test_feed_and_fetch_settings_load(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[feeds]\nurls = ["https://example.com/rss"]\ninterval_minutes = 5\n'
        "admin_channel_id = 42\n[fetch]\ntimeout_seconds = 3\nallow_private = true\n",
        encoding="utf-8",
    )
    settings = load_settings(path, env={})
    assert settings.feeds.urls == ("https://example.com/rss",)
    assert (settings.feeds.interval_minutes, settings.feeds.admin_channel_id) == (5, 42)
    assert (settings.fetch.timeout_seconds, settings.fetch.allow_private) == (3.0, True)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[feeds]\nurls = "https://example.com/rss"\n', "feeds.urls"),
        ('[feeds]\nurls = ["ftp://example.com/rss"]\n', "http(s) links"),
        ("[feeds]\ninterval_minutes = 0\n", "feeds.interval_minutes"),
        ("[fetch]\ntimeout_seconds = 0\n", "more than 0"),
        ("[fetch]\nmax_bytes = -1\n", "fetch.max_bytes"),
        ("[fetch]\nallow_private = 1\n", "fetch.allow_private"),
        ("[fetch]\nproxy = 1\n", "unknown setting 'fetch.proxy'"),
        ('[fetch]\nuser_agent = "bot\\r\\nX-Evil: 1"\n', "fetch.user_agent"),
        ('[fetch]\nuser_agent = "bot\\u001b[31m"\n', "one line of printable"),
        ('[fetch]\nuser_agent = " "\n', "fetch.user_agent"),
    ],
)
def test_bad_feed_or_fetch_setting_is_named(tmp_path, text, says):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_settings(path, env={})


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def added_by_cli(site, embedder, tmp_path_factory):
    """Every good page added with one `newsbot add` (one URL failing), indexed by it."""
    folder = tmp_path_factory.mktemp("added")
    config = folder / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{folder / "articles"}"\ndata_dir = "{folder / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[fetch]\nallow_private = true\n',
        encoding="utf-8",
    )
    urls = [page_url(site, name) for name in GOOD] + [site.url("/status/404")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli_for(embedder)(["--config", str(config), "add", *urls])
    return folder, config, status, out.getvalue()


def test_cli_add_reports_each_url_and_fails_for_the_bad_one(added_by_cli, site):
    folder, _, status, out = added_by_cli
    lines = out.splitlines()
    assert status == 1
    assert sum(line.startswith("added: ") and " sections) " in line for line in lines) == len(GOOD)
    assert f"failed: {site.url('/status/404')}: HTTP 404 Not Found" in lines
    assert f"{len(GOOD)} articles" in out  # the reindex summary
    articles, skipped = load_articles(folder / "articles")
    assert len(articles) == len(GOOD) and not skipped


def test_no_page_furniture_reaches_any_indexed_passage(added_by_cli, embedder):
    folder = added_by_cli[0]
    searcher = Searcher.open(make_options(folder, folder / "articles"), embedder=embedder)
    index = searcher.index
    texts = [index.text(i) for i in range(index.size)]
    assert len(texts) >= 2 * len(GOOD)
    for name in GOOD:
        for junk in junk_of(name):
            assert not any(junk in t for t in texts), (name, junk)


def test_added_page_is_answered_by_newsbot_ask_citing_its_url(
    added_by_cli, site, embedder, monkeypatch, capsys
):
    cli = cli_for(embedder)
    assert cli(["--config", str(added_by_cli[1]), "ask", BOJ_QUESTION]) == 0
    out = capsys.readouterr().out
    assert "0.5%" in out.split("\n\n")[1]  # the answer text
    assert f"    {site.url('/articles/boj-rate')}" in out.splitlines()


def test_cli_add_of_an_unchanged_page_does_not_reindex(added_by_cli, site, capsys):
    """Nothing changed, so no model is loaded (Embedder is not patched here) and no build."""
    folder, config = added_by_cli[0], added_by_cli[1]
    before = (folder / "data" / "index" / "CURRENT").read_text()
    assert main(["--config", str(config), "add", site.url("/articles/typhoon")]) == 0
    assert capsys.readouterr().out.startswith("unchanged: ")
    assert (folder / "data" / "index" / "CURRENT").read_text() == before


# --- hostile pages and settings, end to end -----------------------------------------------


def hostile_pages(site: Site) -> list[str]:
    """Pages that once ended `newsbot add` or wrote nonsense, each a different article."""
    typhoon, _ = site.page("typhoon")
    boj, _ = site.page("boj-rate")
    tech, _ = site.page("tech-blog")
    culture, _ = site.page("culture-modified")
    site.overrides.update(
        {
            "/h/meta-undefined": (
                typhoon.replace(b"<head>", b'<head><meta charset="undefined">'),
                "text/html",
            ),
            "/h/header-idna": (culture, "text/html; charset=idna"),
            "/h/utf8-declared-sjis": (boj, "text/html; charset=Shift_JIS"),
            "/h/escape-title": (
                tech.replace("国産の生成AI".encode(), b"\x1b[31m\x07" + "国産の生成AI".encode()),
                "text/html; charset=utf-8",
            ),
        }
    )
    return [
        site.url("/h/meta-undefined"),
        site.url("/slowheaders/"),
        site.url("/h/header-idna"),
        site.url("/reason/"),
        site.url("/h/utf8-declared-sjis"),
        site.url("/h/escape-title"),
    ]


def test_hostile_pages_end_in_one_line_each_and_the_rest_are_added(
    site, tmp_path, embedder, monkeypatch, capsys
):
    cli = cli_for(embedder)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{tmp_path / "articles"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[fetch]\nallow_private = true\ntimeout_seconds = 1\n',
        encoding="utf-8",
    )
    urls = hostile_pages(site)
    try:
        status = cli(["--config", str(config), "add", *urls])
    finally:
        site.overrides.clear()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert status == 1
    assert not any(c in out for c in "\x1b\x07")  # shown as escapes, never sent to the terminal
    per_url = lines[: len(urls)]
    assert [line.split(": ")[0] for line in per_url] == [
        "added", "failed", "added", "failed", "added", "added"
    ]  # fmt: skip
    assert per_url[1] == f"failed: {urls[1]}: timed out after 1s"
    assert per_url[3] == f"failed: {urls[3]}: HTTP 503 Busy\\x1b[2J\\x07 now"
    assert "[31m国産の生成AI" in per_url[5]  # the page's control characters are dropped
    assert "4 articles" in out  # all four indexed by the one reindex
    articles, skipped = load_articles(tmp_path / "articles")
    assert not skipped
    titles = {a.title for a in articles}
    assert "日銀、追加利上げを決定 政策金利0.5%に" in titles  # UTF-8 won over Shift_JIS
    assert not any("\ufffd" in a.title or "\x1b" in a.title for a in articles)


class _Watch(io.StringIO):
    """Captured output that says when a line has appeared."""

    def __init__(self, wanted: str):
        super().__init__()
        self.wanted, self.seen = wanted, threading.Event()

    def write(self, text: str) -> int:
        n = super().write(text)
        if self.wanted in self.getvalue():
            self.seen.set()
        return n


def test_add_during_another_reindex_says_so_and_indexes_when_it_ends(
    site, tmp_path, embedder, monkeypatch
):
    cli = cli_for(embedder)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[index]\narticles_dir = "{tmp_path / "articles"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n[fetch]\nallow_private = true\n',
        encoding="utf-8",
    )
    store = LocalStore(load_settings(config, env={}).index.index_dir)
    out = _Watch("another reindex is running")
    result = {}

    def add() -> None:
        result["status"] = cli(["--config", str(config), "add", site.url("/articles/typhoon")])

    with contextlib.redirect_stdout(out):
        with store.lock():  # another process's build, as far as `add` can tell
            worker = threading.Thread(target=add)
            worker.start()
            assert out.seen.wait(60), out.getvalue()
            assert "1 articles saved; another reindex is running: waiting" in out.getvalue()
        worker.join(120)
    assert not worker.is_alive() and result["status"] == 0
    assert "1 articles, " in out.getvalue()  # indexed once the other build let go
    searcher = Searcher.open(make_options(tmp_path, tmp_path / "articles"), embedder=embedder)
    assert searcher.index.size > 0


def test_a_name_that_never_resolves_is_bounded_by_the_fetch_time_limit(monkeypatch):
    release = threading.Event()

    def stuck_resolver(*args, **kwargs):
        release.wait(30)  # a dead DNS server; released below
        raise OSError("released")

    monkeypatch.setattr("socket.getaddrinfo", stuck_resolver)
    try:
        with pytest.raises(FetchError, match=r"timed out after 0\.5s"):
            fetch("http://news.example.jp/a", FetchLimits(timeout_seconds=0.5))
    finally:
        release.set()


def test_a_tls_handshake_that_drips_is_bounded_by_the_fetch_time_limit():
    """A server that accepts and sends a byte every 50 ms, never finishing the handshake."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 kB, to come
            while not stop.wait(0.05):
                try:
                    conn.sendall(b"\x00")
                except OSError:
                    return

    worker = threading.Thread(target=drip, daemon=True)
    worker.start()
    port = server.getsockname()[1]
    try:
        with pytest.raises(FetchError) as e:
            fetch(
                f"https://127.0.0.1:{port}/", FetchLimits(timeout_seconds=0.5, allow_private=True)
            )
        assert "timed out after 0.5s" in str(e.value) or "connection failed" in str(e.value)
    finally:
        stop.set()
        server.close()
        worker.join(5)


def test_reading_a_page_never_silences_the_processs_loggers(monkeypatch):
    """dateparser would disable every existing logger when the root logger has no handler."""
    import logging

    import dateparser.utils

    from index.ingest.extract import extract

    ours = logging.getLogger("index.ingest.extract")
    monkeypatch.setattr(logging.root, "handlers", [])
    html = (PAGES / f"{GOOD[0]}.html").read_bytes().decode("utf-8")
    extract(html, f"https://example.com/news/{GOOD[0]}")
    dateparser.utils.get_logger()  # what htmldate's date parsing calls
    assert not ours.disabled
