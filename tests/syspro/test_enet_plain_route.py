"""Which path an e.net call takes, against real local servers.

Plain-HTTP calls without a proxy go through `PlainGet` (http.client, one kept connection) and must
send what requests would send; https, proxies, cookies and redirects go through requests; a server
that cannot be reached at all is "not sent", one that drops the connection after the request is
"outcome unknown"."""
from __future__ import annotations

import socket
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest
import requests
import requests.adapters

from desktop_app.syspro.enet import EnetClient
from desktop_app.syspro.errors import PostOutcomeUnknown, TransportError

from .conftest import (
    COMPANY_PASSWORD,
    OPERATOR_PASSWORD,
    USER_IDS,
    running_server,
    send_answer,
)

ENVIRONMENT = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class _Enet(BaseHTTPRequestHandler):
    """e.net over HTTP/1.1 (kept-alive connections); records each request with its connection."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server
        path = urlsplit(self.path).path
        server.seen.append((id(self.connection), self.path, dict(self.headers)))
        server.connections.add(self.connection)
        if path.endswith("/Logon"):
            cookie = {"Set-Cookie": f"{server.cookie}; Path=/"} if server.cookie else {}
            send_answer(self, USER_IDS[0].encode(), headers={"Content-Type": "application/octet-stream", **cookie})
        elif path.endswith("/Logoff"):
            send_answer(self, b"0")
        elif server.redirect and path.startswith("/SYSPROWCFService/Rest/Query"):
            send_answer(self, b"", 307, {"Location": self.path.replace("/SYSPROWCFService/Rest/", "/Moved/")})
        elif path.endswith("/Transaction/Post") and server.drop_posts:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            send_answer(self, b"<Ok/>")

    def log_message(self, *args):
        pass


@pytest.fixture
def enet_server(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with running_server(_Enet) as httpd:
        httpd.seen, httpd.connections, httpd.cookie, httpd.redirect, httpd.drop_posts = [], set(), None, False, False
        httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/SYSPROWCFService/Rest"
        yield httpd


@pytest.fixture
def adapter_calls(monkeypatch):
    """Every request requests' adapter sends (the requests path), by URL path."""
    calls = []
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        calls.append(urlsplit(request.url).path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return calls


def make_client(base_url: str, **kwargs) -> EnetClient:
    return EnetClient(base_url=base_url, operator="ADMIN", operator_password=OPERATOR_PASSWORD, company_id="L",
                      company_password=COMPANY_PASSWORD, connect_timeout=2, read_timeout=5, **kwargs)


def run_calls(client: EnetClient) -> None:
    with client.session() as session:
        session.query("APSQRY", "<Query><Key>A&B 50%+x</Key></Query>")
        session.post("APSTIN", "<PostApInvoice><Parameters/></PostApInvoice>", "<PostApInvoice><Item/></PostApInvoice>")


def test_plain_http_calls_bypass_requests_and_send_what_requests_sends(enet_server, adapter_calls):
    run_calls(make_client(enet_server.base_url))
    plain = enet_server.seen[:]
    assert adapter_calls == [], "no call went through requests"
    assert len({connection for connection, _, _ in plain}) == 1, "one kept connection for the whole session"

    enet_server.seen.clear()
    with requests.Session() as given:  # a session given by the caller is used as given: the requests path
        run_calls(make_client(enet_server.base_url, session=given))
    through_requests = enet_server.seen[:]
    assert [path.rsplit("/", 1)[-1] for path in adapter_calls] == ["Logon", "Query", "Post", "Logoff"]

    assert [target for _, target, _ in plain] == [target for _, target, _ in through_requests]
    assert [headers for _, _, headers in plain] == [headers for _, _, headers in through_requests]


def test_a_client_serves_one_session_after_another(enet_server, adapter_calls):
    client = make_client(enet_server.base_url)
    run_calls(client)
    run_calls(client)
    assert adapter_calls == []
    assert len(enet_server.seen) == 8
    assert len({connection for connection, _, _ in enet_server.seen}) == 2, "each session closes its connection"


def test_https_goes_through_requests(monkeypatch, adapter_calls):
    def refuse(self, request, *args, **kwargs):
        adapter_calls.append(urlsplit(request.url).path)
        raise requests.ConnectionError("refused in the test")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    with pytest.raises(TransportError):
        make_client("https://127.0.0.1:9/SYSPROWCFService/Rest").session().__enter__()
    assert adapter_calls == ["/SYSPROWCFService/Rest/Logon"]


def test_a_cookie_set_by_the_server_goes_out_with_every_later_call(enet_server, adapter_calls):
    enet_server.cookie = "affinity=node-2"
    run_calls(make_client(enet_server.base_url))
    cookies = [headers.get("Cookie") for _, _, headers in enet_server.seen]
    assert cookies == [None, "affinity=node-2", "affinity=node-2", "affinity=node-2"]
    assert [path.rsplit("/", 1)[-1] for path in adapter_calls] == ["Query", "Post", "Logoff"]


def test_a_redirect_is_followed_through_requests_and_later_calls_stay_there(enet_server, adapter_calls):
    enet_server.redirect = True
    client = make_client(enet_server.base_url)
    with client.session() as session:
        assert session.query("APSQRY", "<Query/>") == "<Ok/>"
        session.post("APSTIN", "<P/>", "<I/>")
    paths = [urlsplit(target).path for _, target, _ in enet_server.seen]
    assert paths == ["/SYSPROWCFService/Rest/Logon",
                     "/SYSPROWCFService/Rest/Query/Query",  # plain: answered with the redirect
                     "/SYSPROWCFService/Rest/Query/Query",  # the same call again through requests…
                     "/Moved/Query/Query",  # …which follows the redirect
                     "/SYSPROWCFService/Rest/Transaction/Post",
                     "/SYSPROWCFService/Rest/Logoff"]
    assert [path.rsplit("/", 1)[-1] for path in adapter_calls] == ["Query", "Query", "Post", "Logoff"]


def test_a_server_that_is_gone_before_a_post_means_the_post_was_not_sent(enet_server):
    client = make_client(enet_server.base_url)
    with client.session() as session:
        # SYSPRO's service stops: the listener and the kept connection close
        enet_server.server_close()
        for connection in enet_server.connections:
            connection.shutdown(socket.SHUT_RDWR)
        time.sleep(0.2)
        with pytest.raises(TransportError, match="could not complete Transaction/Post"):
            session.post("APSTIN", "<P/>", "<I/>")
    posts = [target for _, target, _ in enet_server.seen if "/Transaction/Post" in target]
    assert posts == []


def test_a_connection_dropped_after_a_post_was_sent_leaves_its_outcome_unknown(enet_server):
    enet_server.drop_posts = True
    client = make_client(enet_server.base_url)
    with client.session() as session, pytest.raises(PostOutcomeUnknown) as caught:
        session.post("APSTIN", "<P/>", "<I/>")
    assert caught.value.exchange.response_text is None
    assert OPERATOR_PASSWORD not in str(caught.value)
