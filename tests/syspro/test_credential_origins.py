"""Credentials go only where the person sent them: real servers on 127.0.0.1, one configured and one
elsewhere (another port, host name or scheme), and what each of them received."""
from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from desktop_app.core.config import Settings
from desktop_app.core.origins import OriginRefused, UnencryptedRefused, is_loopback, same_origin
from desktop_app.syspro.enet import EnetClient
from desktop_app.syspro.odata import ODataReader

from .conftest import COMPANY_PASSWORD, OPERATOR_PASSWORD, USER_IDS, running_server, send_answer

ODATA_PATH = "/SYSPRO8Odata/SYSPROOData"


class _Site(BaseHTTPRequestHandler):
    """An OData site: `$metadata` is missing (every column asked for), ApSupplier answers with what
    `server.answer(path)` returns; every request's path and Authorization header are recorded."""

    def do_GET(self):  # noqa: N802 - http.server API
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        if "$metadata" in self.path:
            send_answer(self, b"", status=404)
            return
        status, headers, body = self.server.answer(self.path)
        send_answer(self, body, status=status, headers=headers)

    def log_message(self, *args):
        pass


@pytest.fixture
def two_servers():
    with running_server(_Site) as configured, running_server(_Site) as elsewhere:
        configured.seen, elsewhere.seen = [], []
        elsewhere.answer = lambda path: (200, {"Content-Type": "application/json"},
                                         json.dumps({"value": [{"Supplier": "EVIL"}]}).encode())
        yield configured, elsewhere


def _origin(server, host="127.0.0.1", scheme="http") -> str:
    return f"{scheme}://{host}:{server.server_address[1]}"


def _page(rows, next_link=None) -> tuple[int, dict, bytes]:
    payload = {"value": rows}
    if next_link:
        payload["@odata.nextLink"] = next_link
    return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _reader(server) -> ODataReader:
    return ODataReader(base_url=_origin(server) + ODATA_PATH, company="L", user="ADMIN", password=OPERATOR_PASSWORD,
                       connect_timeout=5, read_timeout=5)


BASIC = "Basic " + base64.b64encode(f"ADMIN:{OPERATOR_PASSWORD}".encode()).decode()


@pytest.mark.parametrize("where", ["port", "host", "scheme"])
def test_a_next_link_to_another_origin_is_refused_and_the_credentials_stay_home(two_servers, where):
    configured, elsewhere = two_servers
    link = {"port": _origin(elsewhere), "host": _origin(configured, host="localhost"),
            "scheme": _origin(configured, scheme="https")}[where] + f"{ODATA_PATH}/L/ApSupplier?$skiptoken=2"
    configured.answer = lambda path: _page([{"Supplier": "S1"}], next_link=link)
    with _reader(configured) as reader, pytest.raises(OriginRefused) as refused:
        list(reader.rows("ApSupplier", select=["Supplier"], page_size=1))
    message = str(refused.value)
    assert "next-page link for ApSupplier" in message and "syspro.odata_url" in message
    assert OPERATOR_PASSWORD not in message and "skiptoken" not in message
    assert elsewhere.seen == []  # nothing went there, so no Authorization either
    assert all(auth == BASIC for _, auth in configured.seen)
    assert len([path for path, _ in configured.seen if "ApSupplier" in path]) == 1


def test_a_next_link_on_the_configured_origin_is_followed_with_the_credentials(two_servers):
    configured, _ = two_servers
    link = _origin(configured) + f"{ODATA_PATH}/L/ApSupplier?$skiptoken=2"
    configured.answer = lambda path: _page([{"Supplier": "S2"}]) if "skiptoken" in path else \
        _page([{"Supplier": "S1"}], next_link=link)
    with _reader(configured) as reader:
        assert [row["Supplier"] for row in reader.rows("ApSupplier", select=["Supplier"], page_size=1)] == ["S1", "S2"]
    assert [auth for _, auth in configured.seen] == [BASIC] * 3


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_another_port_is_refused_before_anything_is_sent_there(two_servers, status):
    configured, elsewhere = two_servers
    configured.answer = lambda path: (status, {"Location": _origin(elsewhere) + path}, b"")
    with _reader(configured) as reader, pytest.raises(OriginRefused, match="another address"):
        list(reader.suppliers())
    assert elsewhere.seen == []


def test_a_redirect_within_the_origin_is_followed_with_the_credentials(two_servers):
    configured, _ = two_servers
    configured.answer = lambda path: _page([{"Supplier": "S1"}]) if path.startswith("/moved") else \
        (307, {"Location": "/moved" + path}, b"")
    with _reader(configured) as reader:
        assert [s.supplier for s in reader.suppliers()] == ["S1"]
    assert [auth for path, auth in configured.seen if "ApSupplier" in path] == [BASIC, BASIC]


def test_an_enet_redirect_to_another_port_is_refused_and_the_passwords_never_leave(two_servers):
    configured, elsewhere = two_servers
    configured.answer = lambda path: (302, {"Location": _origin(elsewhere) + path}, b"")
    elsewhere.answer = lambda path: (200, {}, USER_IDS[0].encode())
    client = EnetClient(base_url=_origin(configured) + "/SYSPROWCFService/Rest", operator="ADMIN",
                        operator_password=OPERATOR_PASSWORD, company_id="L", company_password=COMPANY_PASSWORD,
                        connect_timeout=5, read_timeout=5)
    with pytest.raises(OriginRefused), client.session():
        pass
    assert elsewhere.seen == []
    assert [urlsplit(path).path for path, _ in configured.seen] == ["/SYSPROWCFService/Rest/Logon"]


def test_a_servicetitan_sign_in_redirected_elsewhere_is_refused(two_servers):
    from desktop_app.servicetitan.client import ServiceTitanClient

    configured, elsewhere = two_servers
    configured.seen_posts = []

    def do_post(handler):
        handler.server.seen.append((handler.path, handler.headers.get("Authorization")))
        send_answer(handler, b"", status=307, headers={"Location": _origin(elsewhere) + "/connect/token"})

    _Site.do_POST = do_post  # both servers: the elsewhere one must not be asked at all
    try:
        client = ServiceTitanClient(api_url=_origin(configured), auth_url=_origin(configured) + "/connect/token",
                                    tenant="1", client_id="cid.x", client_secret="the-client-secret",
                                    app_key="ak1.x", connect_timeout=5, read_timeout=5)
        with client, pytest.raises(OriginRefused):
            client.business_units()
    finally:
        del _Site.do_POST
    assert elsewhere.seen == [] and [path for path, _ in configured.seen] == ["/connect/token"]


# --- plain http:// ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url, loopback", [
    ("http://127.0.0.1:20000/x", True), ("http://127.8.9.10/x", True), ("http://[::1]:8080/x", True),
    ("http://localhost/x", True), ("http://LOCALHOST./x", True), ("http://erp:20000/x", False),
    ("http://10.0.0.5/x", False), ("http://127.0.0.1.example.com/x", False), ("http://[::2]/x", False)])
def test_loopback_addresses(url, loopback):
    assert is_loopback(url) is loopback


def test_origins_compare_scheme_host_and_default_port():
    assert same_origin("http://ERP/a", "http://erp:80/b") and same_origin("https://erp/", "https://erp:443/x")
    assert not same_origin("http://erp/", "https://erp/") and not same_origin("http://erp/", "http://erp:8080/")


def _settings(**values) -> Settings:
    return Settings({key: str(value) for key, value in values.items()})


@pytest.mark.parametrize("build", ["enet", "odata", "st_auth", "st_api"])
def test_plain_http_to_another_machine_is_refused_unless_allowed(build):
    from desktop_app.servicetitan.client import ServiceTitanClient

    def make(allow: bool):
        if build == "enet":
            return EnetClient(base_url="http://erp.example:20000/SYSPROWCFService/Rest", operator="ADMIN",
                              operator_password="pw", company_id="L", allow_unencrypted=allow)
        if build == "odata":
            return ODataReader(base_url="http://erp.example/SYSPRO8Odata", company="L", user="ADMIN",
                               password="pw", allow_unencrypted=allow)
        auth = "http://auth.example/connect/token" if build == "st_auth" else "https://auth.example/connect/token"
        api = "http://api.example" if build == "st_api" else "https://api.example"
        return ServiceTitanClient(api_url=api, auth_url=auth, tenant="1", client_id="c", client_secret="s3cret",
                                  app_key="k3y", allow_unencrypted=allow)

    with pytest.raises(UnencryptedRefused) as refused:
        make(False)
    message = str(refused.value)
    assert "unencrypted" in message and "https://" in message and "syspro.allow_unencrypted" in message
    assert refused.value.exit_code == 2
    make(True).close()


def test_http_enet_through_a_proxy_is_refused_even_when_unencrypted_is_allowed(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    with pytest.raises(UnencryptedRefused, match="through the proxy") as refused:
        EnetClient(base_url="http://erp.example:20000/SYSPROWCFService/Rest", operator="ADMIN",
                   operator_password="pw", company_id="L", allow_unencrypted=True)
    assert "NO_PROXY" in str(refused.value)
    monkeypatch.setenv("NO_PROXY", "erp.example")  # reached directly: the setting allows it
    EnetClient(base_url="http://erp.example:20000/SYSPROWCFService/Rest", operator="ADMIN",
               operator_password="pw", company_id="L", allow_unencrypted=True).close()
    monkeypatch.delenv("NO_PROXY")
    # https through the proxy is a tunnel: the query is encrypted
    EnetClient(base_url="https://erp.example/SYSPROWCFService/Rest", operator="ADMIN", operator_password="pw",
               company_id="L").close()


def test_test_connection_refuses_plain_http_with_exit_2_and_allows_it_with_the_setting(capsys):
    from desktop_app.cli import main
    from desktop_app.core import config, db

    db.open_database()
    try:
        for key, value in (("syspro.enet_url", "http://erp.invalid:20000/SYSPROWCFService/Rest"),
                           ("syspro.operator", "ADMIN"), ("syspro.company", "L")):
            config.save_setting(key, value)
    finally:
        db.close_database()
    assert main(["test-connection", "--syspro"]) == 2
    out = capsys.readouterr().out
    assert "syspro.enet_url (http://erp.invalid:20000) is a plain http:// address" in out
    assert "syspro.allow_unencrypted" in out
    assert main(["config", "set", "syspro.allow_unencrypted", "true"]) == 0
    capsys.readouterr()
    assert main(["test-connection", "--syspro"]) == 3  # now tried: the host cannot be reached
    assert "plain http://" not in capsys.readouterr().out
