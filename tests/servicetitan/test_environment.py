"""The ServiceTitan client reads proxies and the CA bundle from the environment once, for both of its
hosts (token and API), not per request; no_proxy still decides per host."""
from __future__ import annotations

import pytest
import responses
from requests.utils import select_proxy

from .st_fakes import API_URL, AUTH_URL, api, page

BU = api("settings", "business-units")
PROXY = "http://proxy.corp.example:3128"


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def proxies_and_verify(st) -> list[tuple[str, str | None, object]]:
    return [(call.request.url.split("?")[0], select_proxy(call.request.url, call.request.req_kwargs["proxies"]),
             call.request.req_kwargs["verify"]) for call in st.calls]


def test_proxy_no_proxy_and_ca_bundle_per_host_read_once(st, tokens, make_client, clean_env, environment_lookups,
                                                          tmp_path):
    clean_env.setenv("HTTPS_PROXY", PROXY)
    clean_env.setenv("NO_PROXY", "localhost,auth.st.example")  # the token host goes direct
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "corporate-ca.pem"))
    st.add(responses.GET, BU, json=page([{"id": 3, "name": "Plumbing"}]))
    client = make_client()
    clean_env.delenv("HTTPS_PROXY")  # later changes do not reach a client made before
    client.business_units()
    client.business_units()
    assert sorted(environment_lookups) == sorted([API_URL, AUTH_URL])
    bundle = str(tmp_path / "corporate-ca.pem")
    assert proxies_and_verify(st) == [(AUTH_URL, "", bundle), (BU, PROXY, bundle), (BU, PROXY, bundle)]


def test_without_proxy_variables_everything_goes_direct(st, tokens, make_client, clean_env):
    st.add(responses.GET, BU, json=page([]))
    make_client().business_units()
    assert [proxy for _, proxy, _ in proxies_and_verify(st)] and not any(p for _, p, _ in proxies_and_verify(st))
    assert {verify for _, _, verify in proxies_and_verify(st)} == {True}
