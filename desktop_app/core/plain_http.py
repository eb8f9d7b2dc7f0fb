"""GET requests over one kept-alive `http.client` connection, for plain-HTTP origins reached directly.

Why: an e.net call is a GET with a ~3 kB query string and a small XML answer, on a LAN, one after
another from one thread. Through requests and urllib3 such a call costs ~0.5 ms of CPU; the same
request and answer through `http.client` cost ~0.2 ms. At one call per posted document that is the
largest part of the engine's CPU that is not our own work.

What this does NOT do, so the caller keeps requests for it: TLS, proxies, cookies, redirects,
authentication, retries. `PlainGet` refuses any URL that is not `http://` and any answer that asks
for more (a redirect, a cookie) is handed back for the caller to decide.

Failures are raised as requests' exceptions, so callers classify them one way whichever path
carried the request:

- `ConnectFailed` (a `requests.ConnectionError`) or `ConnectTimeout`: no connection could be
  opened, so the request surely never reached the server;
- `ReadTimeout` / `requests.ConnectionError`: the request may have arrived and been processed
  (no answer, an incomplete answer, a connection dropped after sending).

A kept connection the server has closed meanwhile (idle timeout) is noticed before it is used,
as urllib3 does (a zero-timeout poll finds it readable: at EOF, or holding bytes no request asked
for), and replaced by a new one, so a request is never written into a connection already closed.
"""
from __future__ import annotations

import http.client
import select
import socket
import zlib
from typing import Self
from urllib.parse import urlsplit

import requests

_HAS_POLL = hasattr(select, "poll")


class ConnectFailed(requests.ConnectionError):
    """No connection to the server could be opened: nothing was sent."""


class PlainAnswer:
    __slots__ = ("content", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: http.client.HTTPMessage, content: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content = content


class PlainGet:
    """GETs to one `http://host:port` origin over a single kept-alive connection (one thread)."""

    def __init__(self, origin: str, *, connect_timeout: float, read_timeout: float):
        parts = urlsplit(origin)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain-HTTP origin: {parts.scheme}://{parts.hostname}")
        self.origin = origin
        self.host = parts.hostname
        self.port = parts.port or 80
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._conn: http.client.HTTPConnection | None = None
        self.connections_opened = 0

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def get(self, target: str, headers: dict[str, str]) -> PlainAnswer:
        """Send `GET target` with `headers` (the Host header is added) and read the whole answer."""
        conn = self._connection()
        try:
            conn.putrequest("GET", target, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            content = response.read()
        except TimeoutError:
            self.close()
            raise requests.ReadTimeout(f"no answer from {self.host}:{self.port} within {self.read_timeout} s") \
                from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise requests.ConnectionError(f"the connection to {self.host}:{self.port} failed after the request "
                                           f"was started ({type(exc).__name__})") from None
        if response.will_close:
            self.close()
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            content = _decompress(encoding, content)
        return PlainAnswer(response.status, response.reason, response.headers, content)

    def _connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and _dropped(conn.sock):
            self.close()
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
            try:
                conn.connect()
            except TimeoutError:
                conn.close()
                raise requests.ConnectTimeout(f"could not connect to {self.host}:{self.port} within "
                                              f"{self.connect_timeout} s") from None
            except OSError as exc:  # refused, unreachable, name not resolved
                conn.close()
                raise ConnectFailed(f"could not connect to {self.host}:{self.port} "
                                    f"({type(exc).__name__}: {exc.strerror or exc})") from None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sock.settimeout(self.read_timeout)
            self._conn = conn
            self.connections_opened += 1
        return conn


def _dropped(sock: socket.socket | None) -> bool:
    """True when a kept connection cannot carry a request: closed, or readable before we asked."""
    if sock is None:
        return True
    try:
        if _HAS_POLL:
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])  # Windows has no poll
    except (OSError, ValueError):
        return True


def _decompress(encoding: str, content: bytes) -> bytes:
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(content, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(content)
            except zlib.error:  # some servers send raw deflate without the zlib header
                return zlib.decompress(content, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise requests.exceptions.ContentDecodingError(f"the answer's {encoding} encoding is broken: {exc}") \
            from None
    raise requests.exceptions.ContentDecodingError(f"the answer came in an encoding not asked for: {encoding}")
