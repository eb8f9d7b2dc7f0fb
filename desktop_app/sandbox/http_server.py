"""The simulators' HTTP server: HTTP/1.1 with persistent connections, as the real services have.

HTTP.sys (under SYSPRO's e.net REST service and OData) and ServiceTitan's front end keep a
connection open between requests. werkzeug's development server closes every connection, so a
client's connection pool was never used against the sandbox and every call paid for a new TCP
connection. werkzeug still parses requests and builds answers (`Request`, `Response`, routing);
this module only carries them.

An application makes the server hang up without answering by raising `ConnectionError` (the
simulators' "drop" faults). Stopping the server also closes the connections it keeps open, so a
stopped simulator answers nothing more.
"""
from __future__ import annotations

import io
import logging
import socket
import socketserver
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

log = logging.getLogger(__name__)

# An idle kept connection is closed after this many seconds (HTTP.sys's default is 120 s); a client
# sees the close before it reuses the connection.
IDLE_TIMEOUT_S = 30.0
# The environ key that holds the connection's socket, for an application that shuts it down itself.
SOCKET_KEY = "mlc.socket"
# The environ keys that hold the request line's length and the request line and headers' length, in bytes.
REQUEST_LINE_KEY = "mlc.request_line_bytes"
REQUEST_HEAD_KEY = "mlc.request_head_bytes"
# Headers the server sets itself from the answer it sends.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "date"})
_MAX_CHUNK_LINE = 1024
# The body is passed read and de-chunked, with CONTENT_LENGTH and CONTENT_TYPE set from it.
_NOT_PASSED = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING"})

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server: WsgiServer

    def setup(self) -> None:
        super().setup()
        # An answer goes out in one write; without this the client's next request can wait for
        # a delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    # Request lines carry passwords (e.net's OperatorPassword): nothing of them is logged.
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _run_app(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest as error:
            self.close_connection = True
            self._send("400 Bad Request", [("Content-Type", "text/plain")], str(error).encode())
            return
        answer: list = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            if exc_info is not None and answer:
                raise exc_info[1].with_traceback(exc_info[2])
            answer[:] = [status, headers]
            return answer.append  # WSGI's write(): not used by werkzeug's Response

        try:
            result = self.server.app(self._environ(body), start_response)
            try:
                data = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except ConnectionError:
            self.close_connection = True
            return
        except Exception:
            log.exception("simulator: error answering %s %s", self.command, self.path.partition("?")[0])
            self.close_connection = True
            self._send("500 Internal Server Error", [("Content-Type", "text/plain")], b"Internal Server Error")
            return
        if any(name.lower() == "connection" and value.lower() == "close" for name, value in answer[1]):
            self.close_connection = True  # the application hangs up after this answer (HTTP.sys after a refusal)
        self._send(answer[0], answer[1], b"".join(answer[2:]) + data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _run_app

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            raise _BadRequest(f"Content-Length is not a number: {length!r}")
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(f"bad chunk size line: {line[:40]!r}") from None
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline(_MAX_CHUNK_LINE)
        while self.rfile.readline(_MAX_CHUNK_LINE) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _environ(self, body: bytes) -> dict:
        target = self.path
        if "://" in target.partition("?")[0]:  # absolute form: keep the path and query
            split = urllib.parse.urlsplit(target)
            target = split.path + ("?" + split.query if split.query else "")
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        # what HTTP.sys measures against its limits: the request line and the header block as received
        line_bytes = len(self.raw_requestline.rstrip(b"\r\n"))
        head_bytes = len(self.raw_requestline) + sum(len(name) + len(value) + 4 for name, value in self.headers.items())
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "REQUEST_URI": self.path,
            "RAW_URI": self.path,
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            SOCKET_KEY: self.connection,
            REQUEST_LINE_KEY: line_bytes,
            REQUEST_HEAD_KEY: head_bytes,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in _NOT_PASSED:
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _send(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        lines = [f"{self.protocol_version} {status}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers if name.lower() not in _OWN_HEADERS]
        lines.append(f"Date: {self.date_time_string()}\r\n")
        if self.close_connection:
            lines.append("Connection: close\r\n")
        length = len(data)
        if self.command == "HEAD":  # the length the GET would have, as the application said it
            length = next((value for name, value in headers if name.lower() == "content-length"), length)
        lines.append(f"Content-Length: {length}\r\n\r\n")
        head = "".join(lines).encode("latin-1")
        try:
            self.wfile.write(head if self.command == "HEAD" else head + data)
        except OSError:  # the client went away (it timed out, or hung up)
            self.close_connection = True


class WsgiServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 for a WSGI application; port 0 picks a free one."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, app: WsgiApp, port: int = 0):
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.connections_accepted = 0
        super().__init__(("127.0.0.1", port), _Handler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        # Closed here as well as by the owner's stop(): whoever sees the serving thread end may
        # count on the port being closed (werkzeug's server does the same).
        try:
            super().serve_forever(poll_interval)
        finally:
            self.server_close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's name (a reverse DNS query): not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)
            self.connections_accepted += 1

    def shutdown_request(self, request) -> None:
        # counted as open until its socket is closed: a client told "no open connections" must find
        # the one it kept already hung up, not one that closes under its next request
        try:
            super().shutdown_request(request)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-request is not an error of the simulator.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class ServedSimulator:
    """What both simulators share: a `WsgiServer` serving `_wsgi` on its own thread from `start` to
    `stop`, which ends by itself after `max_lifetime_s` (a test or benchmark that forgets a simulator
    leaves no server behind). A subclass calls `_serve_on` in its __init__ and names its thread."""

    thread_name = "simulator"

    def _serve_on(self, port: int, max_lifetime_s: float | None) -> None:
        self._port = port  # 0: a free port
        self.max_lifetime_s = max_lifetime_s
        self._server: WsgiServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._lifecycle = threading.Lock()
        self._last_port = 0

    def _wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        raise NotImplementedError

    def start(self) -> Self:
        with self._lifecycle:
            if self._server is not None:
                return self
            server = self._server = WsgiServer(self._wsgi, self._port)
            self._last_port = server.server_port
            # a short poll interval keeps stop() quick (shutdown waits for the next poll)
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=self.thread_name, daemon=True)
            self._thread.start()
            if self.max_lifetime_s is not None:
                self._timer = threading.Timer(self.max_lifetime_s, self.stop)
                self._timer.daemon = True
                self._timer.start()
        return self

    def stop(self) -> None:
        with self._lifecycle:
            server, self._server = self._server, None
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The port it serves on; once stopped, the one it served on (0 before the first start)."""
        server = self._server
        return server.server_port if server is not None else self._last_port

    @property
    def connections_accepted(self) -> int:
        """TCP connections opened by clients since start (they stay open between requests)."""
        server = self._server
        return server.connections_accepted if server is not None else 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
