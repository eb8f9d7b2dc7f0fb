"""core.http: the environment's proxies, no_proxy and CA bundle, resolved once and pinned on a session."""
from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy

from desktop_app.core.http import configure_from_environment, environment_proxies, session_from_environment

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



def test_sessions_use_requests_own_adapters_and_urllib3_own_target_encoding(clean_env):
    """The transport is requests and urllib3 as published: nothing of theirs is replaced."""
    import urllib3.connectionpool as pool

    before = getattr(pool, "_encode_target", None)
    with session_from_environment(API, LOCAL) as session:
        for url in (API, LOCAL):
            assert type(session.get_adapter(url)) is HTTPAdapter
    assert getattr(pool, "_encode_target", None) is before
