"""e.net calls through requests, against real local servers.

One kept-alive connection per session; the query string is the form encoding of every value;
cookies and redirects within e.net's origin are honoured; a server that cannot be reached at all is
"not sent", one that drops the connection after the request is "outcome unknown"."""
from __future__ import annotations

import socket
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

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


QUERY_XML = "<Query><Key>A&B 50%+x é</Key></Query>"


def make_client(base_url: str, **kwargs) -> EnetClient:
    return EnetClient(base_url=base_url, operator="ADMIN", operator_password=OPERATOR_PASSWORD, company_id="L",
                      company_password=COMPANY_PASSWORD, connect_timeout=2, read_timeout=5, **kwargs)


def run_calls(client: EnetClient) -> None:
    with client.session() as session:
        session.query("APSQRY", QUERY_XML)
        session.post("APSTIN", "<PostApInvoice><Parameters/></PostApInvoice>", "<PostApInvoice><Item/></PostApInvoice>")


def test_a_session_keeps_one_connection_and_sends_what_a_plain_requests_session_sends(enet_server):
    run_calls(make_client(enet_server.base_url))
    own = enet_server.seen[:]
    assert len({connection for connection, _, _ in own}) == 1, "one kept connection for the whole session"

    enet_server.seen.clear()
    with requests.Session() as given:
        run_calls(make_client(enet_server.base_url, session=given))
    through_given = enet_server.seen[:]
    assert [target for _, target, _ in own] == [target for _, target, _ in through_given]
    assert [headers for _, _, headers in own] == [headers for _, _, headers in through_given]


def test_every_value_is_form_encoded_into_the_query_string_as_sent(enet_server):
    """e.net reads XmlIn and the rest from the query string, form-encoded (space as "+", every
    reserved character escaped): the target is exactly `urlencode` of the values."""
    run_calls(make_client(enet_server.base_url))
    _, target, _ = next(seen for seen in enet_server.seen if "/Query/Query?" in seen[1])
    query = target.split("?", 1)[1]
    values = dict(parse_qsl(query, keep_blank_values=True))
    assert values["XmlIn"] == QUERY_XML
    assert query == urlencode(values)
    assert "+50%25%2Bx+%C3%A9" in query and "%26B" in query


def test_a_client_serves_one_session_after_another(enet_server):
    client = make_client(enet_server.base_url)
    run_calls(client)
    run_calls(client)
    assert len(enet_server.seen) == 8
    assert len({connection for connection, _, _ in enet_server.seen}) == 2, "each session closes its connection"


def test_a_cookie_set_by_the_server_goes_out_with_every_later_call(enet_server):
    enet_server.cookie = "affinity=node-2"
    run_calls(make_client(enet_server.base_url))
    cookies = [headers.get("Cookie") for _, _, headers in enet_server.seen]
    assert cookies == [None, "affinity=node-2", "affinity=node-2", "affinity=node-2"]


@pytest.mark.parametrize("given", [False, True], ids=["own-session", "given-session"])
def test_a_redirect_within_the_origin_is_followed(enet_server, given):
    enet_server.redirect = True
    with requests.Session() as http:
        client = make_client(enet_server.base_url, **({"session": http} if given else {}))
        with client.session() as session:
            assert session.query("APSQRY", "<Query/>") == "<Ok/>"
            session.post("APSTIN", "<P/>", "<I/>")
    paths = [urlsplit(target).path for _, target, _ in enet_server.seen]
    assert paths == ["/SYSPROWCFService/Rest/Logon",
                     "/SYSPROWCFService/Rest/Query/Query",  # answered with the redirect…
                     "/Moved/Query/Query",  # …which is followed
                     "/SYSPROWCFService/Rest/Transaction/Post",
                     "/SYSPROWCFService/Rest/Logoff"]


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


def test_a_refused_connection_is_classified_by_urllib3s_exception_not_its_text(monkeypatch):
    """What decides "not sent" is the `NewConnectionError` under requests' ConnectionError."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

    from desktop_app.core.http import never_sent as _never_sent

    refused = requests.ConnectionError(MaxRetryError(None, "/x", NewConnectionError(None, "no words we match")))
    dropped = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))
    assert _never_sent(refused) and _never_sent(requests.ConnectTimeout())
    assert not _never_sent(dropped) and not _never_sent(requests.ReadTimeout())
    assert not _never_sent(requests.ConnectionError("Failed to establish a new connection"))


def test_xml_with_reserved_and_accented_characters_reaches_the_syspro_simulator_intact():
    """Against the sandbox's SYSPRO: a post whose notation holds &, %, +, spaces, < and an accent
    is stored as written, and an invoice number with / and + is found again by its key."""
    from desktop_app.sandbox.syspro_sim import SysproSimulator
    from tests.sandbox_syspro.conftest import (
        COMPANY,
        OPERATOR,
        PASSWORD,
        apstin_doc,
        apstin_item,
        apstin_params,
        seeded_state,
    )
    from tests.sandbox_syspro.conftest import COMPANY_PASSWORD as SIM_COMPANY_PASSWORD

    state = seeded_state()
    simulator = SysproSimulator(state, session_idle_timeout_s=600)
    simulator.start()
    try:
        client = EnetClient(base_url=simulator.enet_url, operator=OPERATOR, operator_password=PASSWORD,
                            company_id=COMPANY, company_password=SIM_COMPANY_PASSWORD, connect_timeout=5,
                            read_timeout=10)
        notation = "Café & Co: 50% + 5 <net>  two spaces"
        escaped = notation.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        with client.session() as session:
            answer = session.post("APSTIN", apstin_params(), apstin_doc(apstin_item(
                invoice="ST 1/2+3", notation=escaped, reference="R&amp;D 100%")))
        assert "<Journal>" in answer, answer
        (row,) = state.find_invoices("FERGUSON", "ST 1/2+3")
        assert row["Notation"] == notation
    finally:
        simulator.stop()
