"""Safe HTTP GET for pages and feeds: public addresses only, bounded time, size and redirects."""

from __future__ import annotations

import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import FetchError
from ..options import FetchLimits  # there so that reading settings skips http.client

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "application/rdf+xml",
    "application/feed+json",
    *HTML_TYPES,  # some servers label their feeds text/html; feedparser decides
)
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024
# Signatures of binary formats that servers sometimes label text/html.
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"BZh")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Japanese sites label their encodings loosely; these are the codecs that decode what they mean.
_CODECS = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "ms_kanji": "cp932",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "eucjp": "euc_jis_2004",
    "iso-2022-jp": "iso2022_jp_ext",
}


@dataclass(frozen=True)
class Response:
    """A fetched body; `not_modified` when a conditional request was answered 304."""

    url: str  # after redirects
    status: int
    body: bytes
    content_type: str
    charset: str | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body decoded by its declared charset (header, then <meta>), else guessed."""
        return decode(self.body, self.charset)


def fetch(
    url: str,
    limits: FetchLimits,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: tuple[str, ...] = HTML_TYPES,
) -> Response:
    """GET url following a few redirects; raises FetchError with a one-line reason."""
    deadline = time.monotonic() + limits.timeout_seconds
    seen = {url}
    for _ in range(limits.max_redirects + 1):
        response = _get(url, limits, deadline, etag, last_modified, accept)
        if isinstance(response, Response):
            return response
        target = urljoin(url, response)
        if target in seen:
            raise FetchError(f"redirect loop at {target}")
        log.debug("Redirect %s -> %s", url, target)
        seen.add(target)
        url = target
    raise FetchError(f"more than {limits.max_redirects} redirects")


def check_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL; anything else is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(f"not a valid URL: {url[:200]}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https links can be fetched, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise FetchError(f"no host in {url[:200]}")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to, checked after DNS so a name cannot lead inside."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchError(f"cannot resolve {host}: {e}", transient=True) from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise FetchError(f"refused: {host} is a private or local address ({address})")
    return addresses[0]


def is_public(address: str) -> bool:
    """False for private, loopback, link-local (cloud metadata), multicast and reserved IPs."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _get(url, limits, deadline, etag, last_modified, accept) -> Response | str:
    """One request: a Response, or the Location of a redirect."""
    scheme, host, port = check_url(url)
    address = resolve(host, port, limits.allow_private)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "User-Agent": limits.user_agent,
        "Accept": ", ".join(accept) + ", */*;q=0.1",
        "Accept-Encoding": "gzip, deflate",
        "Accept-Language": "ja,en;q=0.8",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    conn = _connection(scheme, host, port, address, _left(deadline))
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status in REDIRECTS:
            location = resp.getheader("Location")
            if not location:
                raise FetchError(f"HTTP {resp.status} without a Location")
            return location
        if resp.status == 304:
            return Response(url, 304, b"", "", None, resp.getheader("ETag") or etag, last_modified)
        if resp.status >= 400:
            raise FetchError(f"HTTP {resp.status} {resp.reason}".strip(), resp.status >= 500)
        if resp.status != 200:
            raise FetchError(f"unexpected HTTP {resp.status} {resp.reason}".strip())
        content_type, charset = _content_type(resp.getheader("Content-Type", ""))
        if content_type not in accept:
            raise FetchError(f"not a web page ({content_type or 'no content type'})")
        raw = _read(resp, conn.sock, limits, deadline)
        body = _decompress(raw, resp.getheader("Content-Encoding", ""), limits.max_bytes)
        if _binary(body):
            raise FetchError("binary content, not a web page")
        return Response(
            url,
            200,
            body,
            content_type,
            charset,
            resp.getheader("ETag"),
            resp.getheader("Last-Modified"),
        )
    except TimeoutError:
        raise FetchError(f"timed out after {limits.timeout_seconds:g}s", transient=True) from None
    except (OSError, http.client.HTTPException) as e:
        raise FetchError(f"connection failed: {type(e).__name__}: {e}", transient=True) from None
    finally:
        conn.close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _connection(scheme, host, port, address, timeout) -> http.client.HTTPConnection:
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = cls(host, port, timeout=timeout)
    conn.address = address
    return conn


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the name resolves to next."""

    address: str

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the certificate checked against the host name."""

    address: str

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


def _content_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media.strip().lower(), charset


def _read(resp: http.client.HTTPResponse, sock, limits: FetchLimits, deadline: float) -> bytes:
    """Read the body as it comes, stopping at the size limit and at the deadline."""
    declared = resp.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(_too_large(limits.max_bytes))
    chunks, size = [], 0
    while True:
        # read1 returns what has arrived, so a server that drips bytes still meets the deadline.
        if sock is not None:
            sock.settimeout(_left(deadline))
        chunk = resp.read1(CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(_too_large(limits.max_bytes))
        chunks.append(chunk)
        _left(deadline)


def _decompress(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo gzip/deflate without ever holding more than max_bytes (a gzip bomb stops here)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported content encoding {encoding!r}")
    wbits = 47 if encoding != "deflate" else 15  # 47: gzip or zlib header, detected
    try:
        d = zlib.decompressobj(wbits)
        out = d.decompress(raw, max_bytes + 1)
        if encoding == "deflate" and not out and raw:
            raise zlib.error
    except zlib.error:
        try:  # some servers send raw deflate without the zlib header
            d = zlib.decompressobj(-15)
            out = d.decompress(raw, max_bytes + 1)
        except zlib.error:
            raise FetchError(f"broken {encoding} content") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise FetchError(_too_large(max_bytes) + " after decompression")
    return out


def _too_large(max_bytes: int) -> str:
    return f"too large (limit {max_bytes / 1e6:g} MB)"


def _binary(body: bytes) -> bool:
    head = body[:1024]
    return head.startswith(_MAGIC) or b"\x00" in head


def decode(body: bytes, charset: str | None = None) -> str:
    """Bytes → text by the declared charset (header, BOM, <meta>), else UTF-8, CP932, EUC-JP."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    declared = charset
    if not declared:
        m = _META_CHARSET.search(body[:8192])
        declared = m.group(1).decode("ascii") if m else None
    if declared:
        codec = _CODECS.get(declared.lower(), declared)
        try:
            return body.decode(codec, errors="replace")
        except LookupError:
            log.info("Unknown charset %r; guessing", declared)
    for codec in ("utf-8", "cp932", "euc_jis_2004"):
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", errors="replace")
