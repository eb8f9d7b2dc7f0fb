"""core.http: the environment's proxies, no_proxy and CA bundle, resolved once and pinned on a session."""
from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy

from desktop_app.core.http import (
    PoolKeepingAdapter,
    configure_from_environment,
    environment_proxies,
    session_from_environment,
)

REQUESTS_CHOICE = HTTPAdapter.get_connection_with_tls_context

API = "https://api.example.com/v2"
LOCAL = "http://127.0.0.1:20000/SYSPROWCFService/Rest"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def chosen(session: requests.Session, url: str) -> str | None:
    return select_proxy(url, session.proxies)


def test_nothing_set_means_direct_and_default_verification():
    with session_from_environment(API, LOCAL) as session:
        assert not session.trust_env
        assert not chosen(session, API + "/x") and not chosen(session, LOCAL + "/Logon")
        assert session.verify is True


def test_proxy_per_scheme_and_no_proxy_per_host(clean_env):
    clean_env.setenv("HTTPS_PROXY", "http://proxy:3128")
    clean_env.setenv("HTTP_PROXY", "http://proxy:8080")
    clean_env.setenv("NO_PROXY", "127.0.0.1, .internal.example")
    with session_from_environment(API, LOCAL, "https://odata.internal.example/x") as session:
        assert chosen(session, API + "/x?page=2") == "http://proxy:3128"
        assert chosen(session, LOCAL + "/Logon?Operator=A") == ""  # bypassed: direct
        assert chosen(session, "https://odata.internal.example/x/L/ApSupplier") == ""
        # a host not named when the session was made still gets the environment's proxy for its scheme
        assert chosen(session, "http://elsewhere.example/") == "http://proxy:8080"


def test_lower_case_variables_win_like_requests(clean_env):
    clean_env.setenv("HTTPS_PROXY", "http://upper:1")
    clean_env.setenv("https_proxy", "http://lower:2")
    assert environment_proxies(API)["https://api.example.com"] == "http://lower:2"


def test_all_proxy_applies_when_no_scheme_proxy(clean_env):
    clean_env.setenv("ALL_PROXY", "socks5://proxy:1080")
    assert environment_proxies(API)["https://api.example.com"] == "socks5://proxy:1080"


def test_ca_bundle_variables(clean_env, tmp_path):
    clean_env.setenv("CURL_CA_BUNDLE", str(tmp_path / "curl.pem"))
    with session_from_environment(API) as session:
        assert session.verify == str(tmp_path / "curl.pem")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "requests.pem"))
    with session_from_environment(API) as session:
        assert session.verify == str(tmp_path / "requests.pem")


def test_settings_made_on_the_session_beforehand_are_kept(clean_env, tmp_path):
    clean_env.setenv("HTTPS_PROXY", "http://proxy:3128")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    session = requests.Session()
    session.verify = False
    session.proxies["https://api.example.com"] = "http://mine:1"
    with configure_from_environment(session, API) as configured:
        assert configured is session
        assert session.verify is False
        assert chosen(session, API) == "http://mine:1"


def test_prepared_requests_carry_the_pinned_settings(clean_env, tmp_path):
    clean_env.setenv("HTTPS_PROXY", "http://proxy:3128")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    with session_from_environment(API) as session:
        clean_env.delenv("HTTPS_PROXY")
        clean_env.delenv("REQUESTS_CA_BUNDLE")
        prepared = session.prepare_request(requests.Request("GET", API + "/x", params={"a": "b c"}))
        settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
        assert select_proxy(prepared.url, settings["proxies"]) == "http://proxy:3128"
        assert settings["verify"] == str(tmp_path / "ca.pem")


# --- urllib3's request-target encoding: the fast path sends exactly what urllib3 would -------------

def test_target_fast_path_is_installed_and_agrees_with_urllib3():
    import random
    from urllib.parse import urlencode

    import urllib3.connectionpool as pool

    from desktop_app.core.http import install_target_fast_path

    assert install_target_fast_path()
    fast = pool._encode_target
    original = fast._ml_connector_fast_path
    rng = random.Random(7)
    alphabet = "aZ09-._~!$&'()*+,;=:@/?%#[]{}\"<> \t\n\\^`|éü€\u00a0Ab2fF"
    targets = ["/", "/a?", "/a?b=%2F", "/a?b=%2f", "/a?b=%", "/a?b=%4", "/a?b=%G1", "/a#frag", "/a?b#c", "/é",
               "/SYSPROWCFService/Rest/Transaction/Post?" + urlencode(
                   {"UserId": "ID", "XmlIn": "<PostApInvoice><Item><Notation>Café € 50% a+b</Notation></Item>"})]
    for _ in range(3000):
        targets.append("/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
        targets.append("/p?" + urlencode({"XmlIn": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))}))
    def outcome(encode, target):
        try:
            return encode(target)
        except Exception as exc:  # noqa: BLE001 - urllib3 refuses some targets: so must the fast path
            return type(exc)

    for target in targets:
        assert outcome(fast, target) == outcome(original, target), target


def test_target_fast_path_keeps_urllib3_function_when_probes_disagree(monkeypatch):
    import urllib3.connectionpool as pool

    from desktop_app.core import http

    monkeypatch.setattr(pool, "_encode_target", lambda target: target.upper())  # some other urllib3
    assert not http.install_target_fast_path()
    assert pool._encode_target("/a?b=%2F") == "/A?B=%2F"


def _prepared(session: requests.Session, url: str) -> requests.PreparedRequest:
    return session.prepare_request(requests.Request("GET", url))


def test_the_adapter_keeps_the_pool_requests_would_choose(clean_env, monkeypatch, tmp_path):
    """Same pool as HTTPAdapter's own choice, for every origin, TLS and proxy setting; chosen once."""
    clean_env.setenv("HTTPS_PROXY", "http://proxy:3128")
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    with session_from_environment(API, LOCAL) as session:
        adapter = session.get_adapter(API)
        assert isinstance(adapter, PoolKeepingAdapter) and isinstance(session.get_adapter(LOCAL), PoolKeepingAdapter)
        choices = []
        monkeypatch.setattr(HTTPAdapter, "get_connection_with_tls_context",
                            lambda self, *args: choices.append(args) or REQUESTS_CHOICE(self, *args))
        cases = [(API + "/tenant/1/invoices?page=2", True, None), (API + "/other", True, None),
                 ("https://auth.example.com/connect/token", True, None), (API + "/x", str(bundle), None),
                 (API + "/x", True, ("c.pem", "k.pem")), (LOCAL + "/Logon?x=1", True, None),
                 ("http://127.0.0.1:20001/Rest", True, None), ("http://127.0.0.1:20000", True, None)]
        for url, verify, cert in cases:
            for _ in range(3):
                request = _prepared(session, url)
                kept = adapter.get_connection_with_tls_context(request, verify, session.proxies, cert)
                assert kept is REQUESTS_CHOICE(adapter, request, verify, session.proxies, cert), url
        # the two API paths share their origin and settings, as do LOCAL and its bare origin
        assert len(choices) == len(cases) - 2
        assert adapter.get_connection_with_tls_context(_prepared(session, API), True, session.proxies).proxy.host \
            == "proxy"


def test_a_pool_closed_since_is_chosen_anew_and_close_closes_the_kept_ones(clean_env):
    with session_from_environment(LOCAL) as session:
        adapter = session.get_adapter(LOCAL)
        request = _prepared(session, LOCAL + "/Logon")
        first = adapter.get_connection_with_tls_context(request, True, session.proxies)
        adapter.poolmanager.clear()  # the manager drops it, and (urllib3 before 2.0) closes it
        first.close()
        second = adapter.get_connection_with_tls_context(request, True, session.proxies)
        assert second is not first and second.pool is not None
    assert second.pool is None  # the session's close reached the kept pool
    assert adapter.get_connection_with_tls_context(request, True, session.proxies) is not second
