"""The simulators' HTTP/1.1 server: kept connections, hang-ups, and a stop that closes everything."""
from __future__ import annotations

import logging
import threading
import time

import pytest
import requests
from werkzeug.wrappers import Request, Response

from desktop_app.sandbox import http_server
from desktop_app.sandbox.http_server import WsgiServer
from tests.serving import serving


def echo_app(environ, start_response):
    request = Request(environ)
    if request.path == "/drop":
        raise ConnectionAbortedError("hang up")
    if request.path == "/boom":
        raise RuntimeError("bug in the simulator")
    body = f"{request.method} {request.path} {dict(request.args)} {request.get_data(as_text=True)}"
    return Response(body, content_type="text/plain")(environ, start_response)


@pytest.fixture
def server():
    with serving(WsgiServer(echo_app)) as srv:
        yield srv


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def url(server, path):
    return f"http://127.0.0.1:{server.server_port}{path}"


def test_one_connection_carries_many_requests_and_their_bodies(server, session):
    echoed = session.get(url(server, "/a"), params={"XmlIn": "<x a='1'>&</x>"}).text
    assert echoed == "GET /a {'XmlIn': \"<x a='1'>&</x>\"} "
    assert session.post(url(server, "/b"), data={"k": "v w"}).text == "POST /b {} k=v+w"
    # a chunked body is read to its end, so the next request on the connection is parsed right
    assert session.post(url(server, "/c"), data=iter([b"one", b"two"])).text == "POST /c {} onetwo"
    head = session.head(url(server, "/d"))
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0 and head.content == b""
    assert session.get(url(server, "/%C3%A9t%C3%A9")).content.decode() == "GET /été {} "
    assert server.connections_accepted == 1


def test_an_application_that_hangs_up_sends_no_answer_and_the_next_request_gets_a_new_connection(server, session):
    with pytest.raises(requests.ConnectionError):
        session.get(url(server, "/drop"))
    assert session.get(url(server, "/after")).text.startswith("GET /after")
    assert server.connections_accepted == 2


def test_an_application_error_is_a_500_and_its_log_line_has_no_query(server, session, caplog):
    with caplog.at_level(logging.ERROR, logger=http_server.__name__):
        answer = session.get(url(server, "/boom"), params={"OperatorPassword": "hunter2"})
    assert answer.status_code == 500 and answer.headers["Connection"] == "close"
    assert "/boom" in caplog.text and "hunter2" not in caplog.text


def test_a_stopped_server_answers_nothing_more_on_a_kept_connection(server, session):
    session.get(url(server, "/a"))
    assert server.open_connections() == 1
    server.shutdown()
    server.server_close()
    with pytest.raises(requests.ConnectionError):
        session.get(url(server, "/b"), timeout=5)


def test_when_serving_ends_the_port_and_the_kept_connections_are_closed(session):
    import socket

    srv = WsgiServer(echo_app)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    session.get(url(srv, "/a"))
    srv.shutdown()  # what a simulator's stop() does first; server_close() comes after
    thread.join(timeout=5)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", srv.server_port)) != 0
    with pytest.raises(requests.ConnectionError):
        session.get(url(srv, "/b"), timeout=5)
    srv.server_close()  # the owner's close after it is harmless


def test_an_idle_connection_is_closed_and_the_client_opens_another(server, session, monkeypatch):
    monkeypatch.setattr(http_server._Handler, "timeout", 0.2)
    session.get(url(server, "/a"))
    deadline = time.monotonic() + 5
    while server.open_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.open_connections() == 0
    assert session.get(url(server, "/b")).status_code == 200
    assert server.connections_accepted == 2


def test_a_bad_content_length_is_refused(server):
    import socket

    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length is not a number" in answer
