"""Safe HTTP GET for pages and feeds: public addresses only, bounded time, size and redirects."""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin

from ..errors import FetchError
from ..options import FetchLimits  # there so that reading settings skips http.client
from .addresses import is_public
from .charset import decode
from .urls import location, request_target, shown, visible

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "application/rdf+xml",
    "application/feed+json",
    # Labels servers give feeds in the wild: the body decides (a feed must parse as one).
    "application/x-rss+xml",
    "application/x-atom+xml",
    "text/rss+xml",
    "text/atom+xml",
    "application/rss",
    "text/rss",
    "text/plain",
    *HTML_TYPES,  # some servers label their feeds text/html; feedparser decides
)
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024
# Signatures of binary formats that servers sometimes label text/html.
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"BZh")


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
    """GET url (an IRI: %-encoded on the wire) following a few redirects; raises FetchError
    with a one-line reason."""
    deadline = time.monotonic() + limits.timeout_seconds
    seen = {url}
    for _ in range(limits.max_redirects + 1):
        response = _get(url, limits, deadline, etag, last_modified, accept)
        if isinstance(response, Response):
            return response
        try:
            target = urljoin(url, location(response).strip())
        except ValueError:
            raise FetchError(
                f"redirect to an invalid URL: {visible(shown(response))[:200]}"
            ) from None
        if target in seen:
            raise FetchError(f"redirect loop at {visible(shown(target))[:200]}")
        log.debug("Redirect %s -> %s", shown(url), shown(target))
        seen.add(target)
        url = target
    raise FetchError(f"more than {limits.max_redirects} redirects")


def check_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL; anything else is refused."""
    scheme, host, port, _ = request_target(url)
    return scheme, host, port


def resolve(host: str, port: int, allow_private: bool, deadline: float | None = None) -> str:
    """The address to connect to, checked after DNS so a name cannot lead inside."""
    try:
        infos = _getaddrinfo(host, port, deadline)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchError(f"cannot resolve {host}: {e}", transient=True) from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise FetchError(f"refused: {host} is a private or local address ({address})")
    return addresses[0]


def _getaddrinfo(host: str, port: int, deadline: float | None) -> list:
    """getaddrinfo, bounded by the deadline: it has no timeout of its own."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal address needs no DNS (and a thread would cost more than the lookup)
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answer: dict = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as e:  # handed to the waiting fetch below
            answer["error"] = e
        finally:
            done.set()

    # A daemon thread: a lookup stuck past the deadline must not hold the process at exit.
    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
        raise TimeoutError
    if "error" in answer:
        raise answer["error"]
    return answer["infos"]


def _get(url, limits, deadline, etag, last_modified, accept) -> Response | str:
    """One request: a Response, or the Location of a redirect."""
    scheme, host, port, path = request_target(url)
    try:
        address = resolve(host, port, limits.allow_private, deadline)
    except TimeoutError:
        raise _timed_out(limits) from None
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
    conn = _connection(scheme, host, port, address, deadline)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status in REDIRECTS:
            location = resp.getheader("Location")
            if not location:
                raise FetchError(f"HTTP {resp.status} without a Location")
            return location
        if resp.status == 304:
            if not (etag or last_modified):  # nothing was asked to be compared with
                raise FetchError("HTTP 304 Not Modified to a request that was not conditional")
            return Response(url, 304, b"", "", None, resp.getheader("ETag") or etag, last_modified)
        if resp.status >= 400:
            reason = f"HTTP {resp.status} {resp.reason}".strip()
            raise FetchError(reason, resp.status >= 500 or resp.status == 429, resp.status)
        if resp.status != 200:
            raise FetchError(f"unexpected HTTP {resp.status} {resp.reason}".strip())
        content_type, charset = _content_type(resp.getheader("Content-Type", ""))
        if not _accepted(content_type, accept):
            raise FetchError(f"not a web page ({content_type or 'no content type'})")
        raw = _read(resp, limits, deadline)
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
        raise _timed_out(limits) from None
    except (OSError, http.client.HTTPException) as e:
        if time.monotonic() >= deadline:  # a handshake the watchdog cut short
            raise _timed_out(limits) from None
        raise FetchError(f"connection failed: {type(e).__name__}: {e}", transient=True) from None
    finally:
        conn.close()


def _accepted(content_type: str, accept: tuple[str, ...]) -> bool:
    """Whether the media type is one asked for; a feed may come as any XML type."""
    if content_type in accept:
        return True
    return "application/xml" in accept and content_type.endswith(("+xml", "/xml"))


def _timed_out(limits: FetchLimits) -> FetchError:
    return FetchError(f"timed out after {limits.timeout_seconds:g}s", transient=True)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _connection(scheme, host, port, address, deadline: float) -> http.client.HTTPConnection:
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    # Connecting happens in request(), where a deadline already passed is reported.
    conn = cls(host, port, timeout=max(0.001, deadline - time.monotonic()))
    conn.address, conn.deadline = address, deadline
    return conn


class _DeadlineSocket:
    """A socket whose every read and write ends by the deadline.

    A socket timeout alone bounds each read, so a server sending its headers a byte a second
    would hold the fetch for as long as it likes; here each read gets only the time left.
    """

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock, self._deadline = sock, deadline
        self._files, self._closed = 0, False

    def _arm(self) -> None:
        self._sock.settimeout(_left(self._deadline))

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes, flags)

    def recv(self, n: int, flags: int = 0) -> bytes:
        self._arm()
        return self._sock.recv(n, flags)

    def send(self, data, flags: int = 0) -> int:
        self._arm()
        return self._sock.send(data, flags)

    def sendall(self, data, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", *args, **kwargs):
        # http.client reads the status line, headers and body through this file.
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))

    def _decref_socketios(self) -> None:
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        # As socket.close: the socket stays open while the response still reads through it.
        self._closed = True
        if self._files <= 0:
            self._sock.close()

    def settimeout(self, timeout) -> None:
        pass  # the deadline decides

    def __getattr__(self, name):
        return getattr(self._sock, name)


def _open(address: str, port: int, deadline: float) -> socket.socket:
    return socket.create_connection((address, port), _left(deadline))


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the name resolves to next."""

    address: str
    deadline: float

    def connect(self):
        self.sock = _DeadlineSocket(_open(self.address, self.port, self.deadline), self.deadline)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the certificate checked against the host name."""

    address: str
    deadline: float

    def connect(self):
        sock = _open(self.address, self.port, self.deadline)
        sock.settimeout(_left(self.deadline))
        # The handshake reads many times; a timer closes the socket if it outlasts the deadline.
        watchdog = threading.Timer(_left(self.deadline), _shut, (sock,))
        watchdog.daemon = True
        watchdog.start()
        try:
            wrapped = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        finally:
            watchdog.cancel()
        self.sock = _DeadlineSocket(wrapped, self.deadline)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _content_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media.strip().lower(), charset


def _read(resp: http.client.HTTPResponse, limits: FetchLimits, deadline: float) -> bytes:
    """Read the body as it comes, stopping at the size limit and at the deadline."""
    declared = resp.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(_too_large(limits.max_bytes))
    chunks, size = [], 0
    while True:
        # read1 returns what has arrived; the socket's reads end at the deadline.
        chunk = resp.read1(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(_too_large(limits.max_bytes))
        chunks.append(chunk)
        _left(deadline)
    # http.client ends a body at a closed connection without saying it was cut short.
    if declared and declared.isdigit() and size < int(declared) and not resp.chunked:
        raise FetchError(f"truncated: {size} of {declared} bytes arrived", transient=True)
    return b"".join(chunks)


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
