"""A local news site for the add/feeds tests: the pages in data/pages, feeds, and faults."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).resolve().parent / "data" / "pages"
# Pages the extractor must turn into articles (each has .body.txt and .junk.txt beside it).
GOOD = sorted(p.name.removesuffix(".body.txt") for p in PAGES.glob("*.body.txt"))
REFUSED = {
    "paywall": "paywalled",
    "js-shell": "needs JavaScript",
    "soft404": "not found",
}
# Title, date and outlet a page must give (old table layouts, site names in titles).
EXPECTED = {
    p.name.removesuffix(".meta.json"): json.loads(p.read_text("utf-8"))
    for p in PAGES.glob("*.meta.json")
}
# Header charsets: the Shift_JIS pages without one declare theirs only in <meta>.
CHARSETS = {
    "sjis-local": None,
    "eucjp-science": "EUC-JP",
    "old-sjis-harbor": None,
    "old-eucjp-orchard": "EUC-JP",
    "old-sjis-festival": "Shift_JIS",
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
BIG = 50_000_000


class Site:
    """Routes of the local site; tests change `overrides` to make pages and feeds change."""

    def __init__(self, host: str = "127.0.0.1"):
        # path → (body, content type), or a function answering the request itself (raw headers,
        # cut bodies, a status that changes between polls).
        self.overrides: dict[str, tuple[bytes, str] | Callable[[_Handler], None]] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, If-None-Match)
        self.release = threading.Event()  # lets a deliberately slow response end at teardown
        self._bomb: bytes | None = None
        handler = type("Handler", (_Handler,), {"site": self})
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, name: str) -> tuple[bytes, str]:
        """A page from data/pages with its links pointing at this server."""
        raw = (PAGES / f"{name}.html").read_bytes().replace(b"{BASE}", self.base.encode())
        charset = CHARSETS.get(name, "utf-8")
        return raw, "text/html" + (f"; charset={charset}" if charset else "")

    def feed(self, name: str) -> tuple[bytes, str]:
        raw = (PAGES / "feeds" / name).read_bytes().replace(b"{BASE}", self.base.encode())
        kind = "application/atom+xml" if name.startswith("atom") else "application/rss+xml"
        return raw, f"{kind}; charset=utf-8"

    def bomb(self) -> bytes:
        """50 MB of spaces, gzipped to about 50 kB."""
        if self._bomb is None:
            self._bomb = gzip.compress(b"<html><body><p>" + b" " * BIG, compresslevel=9)
        return self._bomb


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # quiet: pytest shows failures
        pass

    def do_GET(self) -> None:
        site, path = self.site, self.path
        site.requests.append((path, self.headers.get("If-None-Match")))
        try:
            self._route(site, path)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its limit, as it should

    def _route(self, site: Site, path: str) -> None:
        if path in site.overrides:
            override = site.overrides[path]
            return override(self) if callable(override) else self.send_page(*override)
        kind, _, rest = path.strip("/").partition("/")
        if kind == "articles" and (PAGES / f"{rest}.html").is_file():
            return self.send_page(*site.page(rest))
        if kind == "amp" and (PAGES / f"{rest}.html").is_file():
            return self.send_page(*site.page(rest))
        if kind == "feeds" and (PAGES / "feeds" / rest).is_file():
            return self.send_page(*site.feed(rest))
        if kind == "status":
            return self.send_page(b"<h1>error</h1>", "text/html", status=int(rest))
        if kind == "slow":
            site.release.wait(10)  # longer than the client's limit; released at teardown
            return self.send_page(*site.page("typhoon"))
        if kind == "drip":
            return self._drip()
        if kind == "slowheaders":
            return self._slow_headers()
        if kind == "reason":  # a reason phrase that would drive a terminal
            self.send_response(503, "Busy\x1b[2J\x07 now")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if kind == "loop":
            return self._redirect("/loop/" + ("b" if rest == "a" else "a"))
        if kind == "hops":
            n = int(rest)
            return self._redirect(f"/hops/{n - 1}" if n > 1 else "/articles/typhoon")
        if kind == "to":  # /to/<url>: a redirect anywhere
            return self._redirect(path[len("/to/") :])
        if kind == "big":
            return self._big(declared=rest == "declared")
        if kind == "bomb":
            body = site.bomb()
            return self.send_page(body, "text/html; charset=utf-8", encoding="gzip")
        if kind == "binary":
            return self.send_page(PNG, "text/html")
        if kind == "pdf":
            return self.send_page(b"%PDF-1.7\n" + b"x" * 500, "application/pdf")
        self.send_page(b"<h1>Not Found</h1>", "text/html", status=404)

    def send_page(self, body: bytes, ctype: str, status: int = 200, encoding: str = "") -> None:
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(0, usegmt=True))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _drip(self) -> None:
        """Headers at once, then a byte every 50 ms: each read is quick, the whole is not."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            if self.site.release.wait(0.05):
                return
            self.wfile.write(b" ")
            self.wfile.flush()

    def _slow_headers(self) -> None:
        """Status line and headers a byte every 50 ms: no read waits long, the headers take 10 s."""
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Pad: " + b"x" * 120 + b"\r\n\r\n"
        for byte in head:
            if self.site.release.wait(0.05):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
        self.close_connection = True

    def _big(self, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if declared:
            self.send_header("Content-Length", str(BIG))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<p>" + "大きなページ".encode() * 5000 + b"</p>\n"
        sent, deadline = 0, time.monotonic() + 10
        while sent < BIG and time.monotonic() < deadline:
            self.wfile.write(chunk)
            sent += len(chunk)
        self.close_connection = True
