"""PlainGet against real sockets: keep-alive, a connection the server closed meanwhile, and every way an
answer can fail, each raised as the requests exception that says whether the request may have arrived."""
from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib

import pytest
import requests

from desktop_app.core.plain_http import ConnectFailed, PlainGet

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\n<Ok/>"


class ScriptedServer:
    """Accepts connections on 127.0.0.1; `script(conn, number)` handles the number-th connection.

    `requests` lists, per connection, the request heads it received (as far as the script read them).
    Stops by itself after `lifetime` seconds at the latest."""

    def __init__(self, script, lifetime: float = 20):
        self.script = script
        self.requests: list[list[bytes]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._deadline = time.monotonic() + lifetime
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            self._conns.append(conn)
            self.requests.append([])
            number = len(self.requests) - 1
            threading.Thread(target=self._handle, args=(conn, number), daemon=True).start()

    def _handle(self, conn: socket.socket, number: int) -> None:
        try:
            self.script(Connection(conn, self.requests[number]), number)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()
        for conn in self._conns:
            conn.close()


class Connection:
    def __init__(self, sock: socket.socket, heads: list[bytes]):
        self.sock = sock
        self.heads = heads
        self._buffer = b""

    def read_request(self) -> bytes | None:
        """The next request head, or None when the client closed the connection."""
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        self.heads.append(head)
        return head

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.fixture
def serve():
    servers = []

    def start(script, **kwargs) -> ScriptedServer:
        server = ScriptedServer(script, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def answer_all(conn: Connection, number: int) -> None:
    while conn.read_request() is not None:
        conn.send(OK)


def client(server: ScriptedServer, read_timeout: float = 5) -> PlainGet:
    return PlainGet(server.url, connect_timeout=2, read_timeout=read_timeout)


def test_requests_share_one_kept_connection_and_arrive_as_given(serve):
    server = serve(answer_all)
    http = client(server)
    headers = {"User-Agent": "ml-connector-test", "Accept": "*/*", "Connection": "keep-alive"}
    answers = [http.get(f"/Rest/Query/Query?XmlIn=%3CA%3E{n}", headers) for n in range(3)]
    http.close()
    assert [(a.status, a.content) for a in answers] == [(200, b"<Ok/>")] * 3
    assert answers[0].headers["Content-Type"] == "text/xml"
    assert len(server.requests) == 1, "one connection for all three requests"
    first = server.requests[0][0].decode().split("\r\n")
    assert first[0] == "GET /Rest/Query/Query?XmlIn=%3CA%3E0 HTTP/1.1"
    assert sorted(first[1:]) == sorted([f"Host: 127.0.0.1:{server.port}", "User-Agent: ml-connector-test",
                                        "Accept: */*", "Connection: keep-alive"])
    assert http.connections_opened == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(serve):
    def close_after_one(conn: Connection, number: int) -> None:
        conn.read_request()
        conn.send(OK)
        if number == 0:
            conn.close()  # an idle timeout on the server's side
            return
        answer_all(conn, number)

    server = serve(close_after_one)
    http = client(server)
    assert http.get("/a", {}).content == b"<Ok/>"
    time.sleep(0.2)  # the server's FIN has arrived
    assert http.get("/b", {}).content == b"<Ok/>"
    assert [len(heads) for heads in server.requests] == [1, 1], "nothing written into the closed connection"
    assert http.connections_opened == 2
    http.close()


def test_a_refused_connection_says_nothing_was_sent(serve):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free now, closed when the block ends: connecting is refused
    http = PlainGet(f"http://127.0.0.1:{port}", connect_timeout=2, read_timeout=2)
    with pytest.raises(ConnectFailed) as caught:
        http.get("/Rest/Logon?OperatorPassword=secret", {})
    assert isinstance(caught.value, requests.ConnectionError)
    assert "secret" not in str(caught.value)


def test_an_unresolvable_host_says_nothing_was_sent():
    http = PlainGet("http://no-such-host.invalid", connect_timeout=2, read_timeout=2)
    with pytest.raises(ConnectFailed):
        http.get("/", {})


def test_a_connection_dropped_after_the_request_is_not_a_connect_failure(serve):
    def drop(conn: Connection, number: int) -> None:
        conn.read_request()
        conn.close()

    server = serve(drop)
    http = client(server)
    with pytest.raises(requests.ConnectionError) as caught:
        http.get("/Rest/Transaction/Post?XmlIn=x", {})
    assert not isinstance(caught.value, ConnectFailed)
    assert len(server.requests[0]) == 1, "the request did arrive"


def test_an_answer_that_never_comes_is_a_read_timeout(serve):
    stop = threading.Event()

    def silent(conn: Connection, number: int) -> None:
        conn.read_request()
        stop.wait(5)

    server = serve(silent)
    http = client(server, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        http.get("/Rest/Transaction/Post?XmlIn=x", {})
    assert time.monotonic() - started < 3
    stop.set()


def test_an_incomplete_answer_is_a_connection_error_and_the_connection_is_not_kept(serve):
    def short(conn: Connection, number: int) -> None:
        if number > 0:
            answer_all(conn, number)
            return
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<Partial")
        conn.close()

    server = serve(short)
    with client(server) as http:
        with pytest.raises(requests.ConnectionError) as caught:
            http.get("/a", {})
        assert not isinstance(caught.value, ConnectFailed)
        assert http.get("/b", {}).content == b"<Ok/>"
        assert http.connections_opened == 2


def test_chunked_and_close_delimited_answers_are_read_whole(serve):
    def varied(conn: Connection, number: int) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n<Ok\r\n2\r\n/>\r\n0\r\n\r\n")
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<Done/>")
        conn.close()

    server = serve(varied)
    http = client(server)
    assert http.get("/a", {}).content == b"<Ok/>"
    assert http.get("/b", {}).content == b"<Done/>"
    assert http._conn is None, "a connection the server closes is not kept"


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
])
def test_compressed_answers_are_decoded(serve, encoding, encode):
    body = encode(b"<Ok>" + b"x" * 500 + b"</Ok>")

    def compressed(conn: Connection, number: int) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s"
                  % (encoding.encode(), len(body), body))

    with client(serve(compressed)) as http:
        assert http.get("/a", {"Accept-Encoding": "gzip, deflate"}).content == b"<Ok>" + b"x" * 500 + b"</Ok>"


def test_an_encoding_not_asked_for_is_an_error(serve):
    def brotli(conn: Connection, number: int) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc")

    with client(serve(brotli)) as http, pytest.raises(requests.exceptions.ContentDecodingError, match="br"):
        http.get("/a", {})


def test_error_statuses_are_answers_not_exceptions(serve):
    def failing(conn: Connection, number: int) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")

    with client(serve(failing)) as http:
        answer = http.get("/a", {})
    assert (answer.status, answer.reason, answer.content) == (503, "Service Unavailable", b"busy")


def test_only_plain_http_origins_are_taken():
    with pytest.raises(ValueError, match="plain-HTTP"):
        PlainGet("https://syspro.example.com", connect_timeout=1, read_timeout=1)
