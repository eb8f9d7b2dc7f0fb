"""The e.net transport reads proxies and the CA bundle from the environment once per session, and still
sends exactly what `requests.get(url, params=...)` sends (docs/syspro-contract.md, e.net REST: every
argument in the query string)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests.sessions
import responses
from requests.utils import select_proxy

from desktop_app.syspro.enet import EnetClient

from .conftest import COMPANY_PASSWORD, ENET_URL, OPERATOR_PASSWORD, USER_IDS

ENVIRONMENT = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
USER_ID = USER_IDS[0].strip()


@pytest.fixture
def clean_env(monkeypatch):
    """No proxy or CA-bundle variable from the machine running the tests."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def make_client(base_url: str = ENET_URL, **kwargs) -> EnetClient:
    return EnetClient(base_url=base_url, operator="ADMIN", operator_password=OPERATOR_PASSWORD, company_id="L",
                      company_password=COMPANY_PASSWORD, connect_timeout=5, read_timeout=5, **kwargs)


@pytest.fixture
def sent(rsps):
    """`responses` answering every e.net call; the list holds (prepared request, adapter kwargs) per call."""
    calls = []

    def answer(request):
        calls.append((request, request.req_kwargs))
        path = urlsplit(request.url).path
        body = USER_IDS[0] if path.endswith("/Logon") else "0" if path.endswith("/Logoff") else "<Ok/>"
        return 200, {"Content-Type": "application/octet-stream"}, body

    rsps.add_callback(responses.GET, ENET_URL + "/Logon", callback=answer)
    rsps.add_callback(responses.GET, ENET_URL + "/Logoff", callback=answer)
    rsps.add_callback(responses.GET, ENET_URL + "/Query/Query", callback=answer)
    rsps.add_callback(responses.GET, ENET_URL + "/Transaction/Post", callback=answer)
    return calls


def proxy_used(call) -> str | None:
    request, kwargs = call
    return select_proxy(request.url, kwargs["proxies"])


# --- wire format ---------------------------------------------------------------------------------

AWKWARD = ("<PostApInvoice><Item><Supplier>A&amp;B 01</Supplier><Reference>50% + 2 = x?y#z'\"</Reference>"
           "<Notation>Caf\u00e9 \u20ac 1\u00a0000 / tab\there ~_.-</Notation></Item></PostApInvoice>")


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "given session"])
def test_query_string_is_exactly_what_requests_would_send(clean_env, sent, own_session):
    http = None if own_session else requests.Session()
    client = make_client(session=http)
    with client.session() as session:
        session.query("COMFND", AWKWARD)
        session.post("APSTIN", "<PostApInvoice><Parameters><ValidateOnly>N</ValidateOnly></Parameters>"
                               "</PostApInvoice>", AWKWARD)
    if http is not None:
        http.close()
    expected = [
        (ENET_URL + "/Logon", {"Operator": "ADMIN", "OperatorPassword": OPERATOR_PASSWORD, "CompanyId": "L",
                                "CompanyPassword": COMPANY_PASSWORD}),
        (ENET_URL + "/Query/Query", {"UserId": USER_ID, "BusinessObject": "COMFND", "XmlIn": AWKWARD}),
        (ENET_URL + "/Transaction/Post", {"UserId": USER_ID, "BusinessObject": "APSTIN", "XmlParameters":
                                          "<PostApInvoice><Parameters><ValidateOnly>N</ValidateOnly></Parameters>"
                                          "</PostApInvoice>", "XmlIn": AWKWARD}),
        (ENET_URL + "/Logoff", {"UserId": USER_ID}),
    ]
    assert [request.url for request, _ in sent] == [
        requests.Request("GET", url, params=params).prepare().url for url, params in expected]
    assert parse_qs(urlsplit(sent[2][0].url).query)["XmlIn"] == [AWKWARD]


def test_blank_values_are_sent_as_empty_parameters(clean_env, sent):
    client = EnetClient(base_url=ENET_URL, operator="ADMIN", operator_password="", company_id="L")
    with client.session():
        pass
    assert urlsplit(sent[0][0].url).query == "Operator=ADMIN&OperatorPassword=&CompanyId=L&CompanyPassword="


def test_repeated_calls_each_carry_their_own_query_and_the_sessions_headers(clean_env, sent):
    http = requests.Session()
    http.headers["X-Trace"] = "on"
    client = make_client(session=http)
    with client.session() as session:
        for number in ("1", "2", "3"):
            session.post("APSTIN", "<P/>", f"<I>{number}</I>")
    posts = [request for request, _ in sent if request.path_url.startswith("/SYSPROWCFService/Rest/Transaction")]
    assert [parse_qs(urlsplit(request.url).query)["XmlIn"] for request in posts] == [["<I>1</I>"], ["<I>2</I>"],
                                                                                       ["<I>3</I>"]]
    expected = http.prepare_request(requests.Request("GET", ENET_URL + "/Transaction/Post")).headers
    assert all(dict(request.headers) == dict(expected) for request in posts)


def test_cookies_the_server_sets_go_out_with_the_next_calls(clean_env, rsps):
    """A load balancer in front of e.net may pin a session to one server with a cookie."""
    cookies_seen = []

    def answer(request):
        cookies_seen.append(request.headers.get("Cookie"))
        path = urlsplit(request.url).path
        if path.endswith("/Logon"):
            return 200, {"Set-Cookie": "ARRAffinity=node1; Path=/"}, USER_IDS[0]
        if path.endswith("/Query/Query") and len(cookies_seen) == 3:
            return 200, {"Set-Cookie": "ARRAffinity=node2; Path=/"}, "<Ok/>"
        return 200, {}, "0" if path.endswith("/Logoff") else "<Ok/>"

    for path in ("/Logon", "/Logoff", "/Query/Query"):
        rsps.add_callback(responses.GET, ENET_URL + path, callback=answer)
    with make_client().session() as session:
        for _ in range(3):
            session.query("COMFND", "<Q/>")
    assert cookies_seen == [None, "ARRAffinity=node1", "ARRAffinity=node1", "ARRAffinity=node2",
                            "ARRAffinity=node2"]


def test_a_redirect_within_the_origin_is_followed_as_the_session_would(clean_env, rsps):
    """An e.net moved to a new path on the same server answers with a redirect: the call ends at the
    new address, query string and all, as `session.get` would take it there."""
    moved = ENET_URL.replace("/SYSPROWCFService/Rest", "/SYSPRO8/SYSPROWCFService/Rest")
    targets = []

    def answer(request):
        targets.append(request.url)
        path = urlsplit(request.url).path
        return 200, {}, USER_IDS[0] if path.endswith("/Logon") else "0" if path.endswith("/Logoff") else "<Ok/>"

    for path in ("/Logon", "/Logoff", "/Query/Query"):
        rsps.add_callback(responses.GET, ENET_URL + path,
                          callback=lambda request: (307, {"Location": request.url.replace(ENET_URL, moved)}, ""))
        rsps.add_callback(responses.GET, moved + path, callback=answer)
    with make_client().session() as session:
        assert session.query("COMFND", "<Q/>") == "<Ok/>"
    assert [url.split("?")[0] for url in targets] == [moved + "/Logon", moved + "/Query/Query", moved + "/Logoff"]
    assert "XmlIn=%3CQ%2F%3E" in targets[1] and "UserId=" in targets[1]
    # each call asks the old address once, as session.get would: one redirect, then the new address
    assert [urlsplit(call.request.url).path.rsplit("/", 1)[-1] for call in rsps.calls] == [
        "Logon", "Logon", "Query", "Query", "Logoff", "Logoff"]


@pytest.mark.parametrize("moved", ["https://enet.example.com/SYSPROWCFService/Rest",  # scheme and host
                                   "http://127.0.0.1:10/SYSPROWCFService/Rest",  # port
                                   "https://127.0.0.1:9/SYSPROWCFService/Rest"])  # scheme
def test_a_redirect_to_another_origin_is_refused_and_nothing_is_sent_there(clean_env, rsps, moved):
    from desktop_app.core.origins import OriginRefused

    rsps.add_callback(responses.GET, ENET_URL + "/Logon",
                      callback=lambda request: (307, {"Location": request.url.replace(ENET_URL, moved)}, ""))
    rsps.add(responses.GET, moved + "/Logon", body=USER_IDS[0])
    with pytest.raises(OriginRefused) as refused:
        with make_client().session():
            pass
    assert len(rsps.calls) == 1  # only the configured address was asked
    message = str(refused.value)
    assert "another address" in message and OPERATOR_PASSWORD not in message and "Logon" not in message


def test_response_hooks_of_the_session_see_every_answer(clean_env, sent):
    seen = []
    http = requests.Session()
    http.hooks["response"].append(lambda response, **kwargs: seen.append(urlsplit(response.url).path))
    with make_client(session=http).session() as session:
        session.query("COMFND", "<Q/>")
    assert seen == ["/SYSPROWCFService/Rest/Logon", "/SYSPROWCFService/Rest/Query/Query",
                    "/SYSPROWCFService/Rest/Logoff"]


# --- environment ---------------------------------------------------------------------------------

def test_proxy_from_the_environment_is_used(clean_env, sent):
    clean_env.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    with make_client().session() as session:
        session.query("COMFND", "<Query/>")
    assert [proxy_used(call) for call in sent] == ["http://proxy.corp.example:3128"] * 3


def test_no_proxy_sends_the_host_direct(clean_env, sent):
    clean_env.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    clean_env.setenv("NO_PROXY", "localhost,127.0.0.1")
    with make_client().session():
        pass
    assert len(sent) == 2 and not any(proxy_used(call) for call in sent)  # no proxy: connect directly


def test_ca_bundle_from_the_environment_is_honoured(clean_env, sent, tmp_path):
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with make_client().session():
        pass
    assert [kwargs["verify"] for _, kwargs in sent] == [str(bundle)] * 2


def test_curl_ca_bundle_is_honoured_too(clean_env, sent, tmp_path):
    clean_env.setenv("CURL_CA_BUNDLE", str(tmp_path / "ca.pem"))
    with make_client().session():
        pass
    assert sent[0][1]["verify"] == str(tmp_path / "ca.pem")


def test_given_session_keeps_its_own_settings(clean_env, sent):
    clean_env.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    http = requests.Session()
    http.verify = False
    with make_client(session=http).session():
        pass
    http.close()
    # a caller's session is used as requests would use it: environment per request, its verify kept
    assert http.trust_env is True
    assert [proxy_used(call) for call in sent] == ["http://proxy.corp.example:3128"] * 2
    assert [kwargs["verify"] for _, kwargs in sent] == [False, False]


def test_environment_is_read_once_per_session_not_per_call(clean_env, sent, environment_lookups, tmp_path):
    clean_env.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    client = make_client()
    # what the environment says later does not change a session made before
    clean_env.setenv("HTTP_PROXY", "http://other-proxy.example:8080")
    clean_env.delenv("REQUESTS_CA_BUNDLE")
    with client.session() as session:
        for _ in range(3):
            session.query("COMFND", "<Query/>")
    assert environment_lookups == [ENET_URL]
    assert len(sent) == 5
    assert {proxy_used(call) for call in sent} == {"http://proxy.corp.example:3128"}
    assert {kwargs["verify"] for _, kwargs in sent} == {str(tmp_path / "ca.pem")}


# --- real sockets: a forward proxy, and no_proxy --------------------------------------------------

def test_real_requests_go_through_the_environment_proxy(clean_env, local_server):
    proxy = f"http://127.0.0.1:{local_server.server_address[1]}"
    clean_env.setenv("HTTP_PROXY", proxy)
    # nothing listens there: only the proxy answers (an http:// e.net elsewhere than this machine is
    # never sent through a proxy: its passwords would be in the proxy's logs)
    base = "http://localhost:20000/SYSPROWCFService/Rest"
    with make_client(base).session() as session:
        assert session.query("COMFND", AWKWARD) == "<Ok/>"
    assert [urlsplit(path).path for path in local_server.seen] == [
        "/SYSPROWCFService/Rest/Logon", "/SYSPROWCFService/Rest/Query/Query", "/SYSPROWCFService/Rest/Logoff"]
    assert local_server.seen[1] == requests.Request(
        "GET", base + "/Query/Query", params={"UserId": USER_ID, "BusinessObject": "COMFND", "XmlIn": AWKWARD},
    ).prepare().url


def test_real_requests_bypass_the_proxy_for_no_proxy_hosts(clean_env, local_server):
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    clean_env.setenv("no_proxy", "127.0.0.1")
    base = f"http://127.0.0.1:{local_server.server_address[1]}/SYSPROWCFService/Rest"
    with make_client(base).session() as session:
        assert session.query("COMFND", "<Query/>") == "<Ok/>"
    assert [urlsplit(path).path.rsplit("/", 1)[-1] for path in local_server.seen] == ["Logon", "Query", "Logoff"]


# --- the OData reader: the same once-per-session environment ---------------------------------------

def test_odata_reader_uses_the_environment_read_once(clean_env, rsps, environment_lookups, tmp_path):
    from desktop_app.syspro.odata import ODataReader

    from .conftest import ODATA_URL

    clean_env.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    reader = ODataReader(base_url=ODATA_URL, company="L", user="ADMIN", password=OPERATOR_PASSWORD)
    clean_env.delenv("HTTP_PROXY")
    rsps.add(responses.GET, f"{ODATA_URL}/L/$metadata", status=404)  # no $metadata: every column asked for
    rsps.add(responses.GET, f"{ODATA_URL}/L/ApSupplier", body='{"value": []}')
    assert list(reader.suppliers()) == []
    reader.close()
    assert len(rsps.calls) == 2
    request = rsps.calls[1].request
    assert select_proxy(request.url, request.req_kwargs["proxies"]) == "http://proxy.corp.example:3128"
    assert request.req_kwargs["verify"] == str(tmp_path / "ca.pem")
