"""Building the client from settings + keyring, and keeping secrets out of logs and errors."""
from __future__ import annotations

import logging

import pytest
import requests
import responses

from desktop_app.core import secrets
from desktop_app.core.config import Settings
from desktop_app.core.errors import ConfigError
from desktop_app.servicetitan.client import ServiceTitanClient
from desktop_app.servicetitan.connection import check_connection
from desktop_app.servicetitan.errors import ServiceTitanOutcomeUnknown

from .st_fakes import API_URL, APP_KEY, AUTH_URL, CLIENT_SECRET, api

BU = api("settings", "business-units")
VENDOR_PAYLOAD = {"name": "Acme", "active": True, "isTruckReplenishment": False, "taxRate": 0,
                  "restrictedMobileCreation": False,
                  "address": {"street": "1", "unit": "", "city": "X", "state": "TX", "zip": "1", "country": "US"}}


def test_from_settings_names_everything_missing():
    with pytest.raises(ConfigError) as info:
        ServiceTitanClient.from_settings(Settings({}))
    message = str(info.value)
    for name in ("servicetitan.tenant", "servicetitan.client_id", "servicetitan.client_secret",
                 "servicetitan.app_key"):
        assert name in message


def test_from_settings_uses_keyring_and_environment_urls():
    secrets.set_secret("servicetitan.client_secret", CLIENT_SECRET)
    secrets.set_secret("servicetitan.app_key", APP_KEY)
    settings = Settings({"servicetitan.environment": "integration", "servicetitan.tenant": "1234",
                         "servicetitan.client_id": "cid.x", "servicetitan.page_size": "250",
                         "http.read_timeout": "60"})
    with ServiceTitanClient.from_settings(settings) as client:
        assert client.api_url == "https://api-integration.servicetitan.io"
        assert client.tokens.auth_url == "https://auth-integration.servicetitan.io/connect/token"
        assert client.page_size == 250 and client.timeout == (10.0, 60.0)
        assert CLIENT_SECRET not in repr(client) and APP_KEY not in repr(client)


def test_explicit_urls_win_over_the_environment():
    secrets.set_secret("servicetitan.client_secret", CLIENT_SECRET)
    secrets.set_secret("servicetitan.app_key", APP_KEY)
    settings = Settings({"servicetitan.environment": "production", "servicetitan.tenant": "1",
                         "servicetitan.client_id": "cid.x", "servicetitan.api_url": "http://127.0.0.1:8999",
                         "servicetitan.auth_url": "http://127.0.0.1:8999/connect/token"})
    with ServiceTitanClient.from_settings(settings) as client:
        assert client.api_url == "http://127.0.0.1:8999"


def test_non_numeric_tenant_is_a_config_error():
    with pytest.raises(ConfigError, match="numeric tenant"):
        ServiceTitanClient(api_url=API_URL, auth_url=AUTH_URL, tenant="acme", client_id="c",
                           client_secret=CLIENT_SECRET, app_key=APP_KEY)


def test_no_secret_or_token_in_logs_or_errors(st, tokens, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    # The server echoes credentials back in its error bodies: they must still not leak.
    st.add(responses.GET, BU, status=429, json={"title": f"Slow down tok-1 {APP_KEY}. Try again in 1 seconds."})
    st.add(responses.GET, BU, status=401, json={"title": "bad token tok-1"})
    st.add(responses.GET, BU, status=500, json={"title": f"boom client_secret={CLIENT_SECRET}"})
    st.add(responses.GET, BU, status=400, json={"title": "bad tok-2", "errors": {"x": [f"key {APP_KEY}"]},
                                                "traceId": "t"})
    st.add(responses.POST, api("inventory", "vendors"), body=requests.ReadTimeout("timeout Bearer tok-2"))
    client = make_client()
    texts = []
    with pytest.raises(Exception) as first:
        client.business_units()
    texts += [str(first.value), repr(first.value), str(first.value.errors), str(first.value.title)]
    with pytest.raises(ServiceTitanOutcomeUnknown) as second:
        client.create_vendor(VENDOR_PAYLOAD)
    texts += [str(second.value), repr(second.value)]
    st.replace(responses.GET, BU, status=403, json={"title": f"Forbidden for {APP_KEY}", "traceId": "tr"})
    result = check_connection(client)
    texts += [result.message, *result.details]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    joined = "\n".join(texts)
    assert tokens.count == 2
    for secret in (CLIENT_SECRET, APP_KEY, "tok-1", "tok-2"):
        assert secret not in joined, secret
