"""check_connection: a readable verdict for each way the connection can be wrong."""
from __future__ import annotations

import requests
import responses
import urllib3.exceptions

from desktop_app.core.errors import ConnectionResult
from desktop_app.servicetitan.connection import check_connection

from .st_fakes import AUTH_URL, CLIENT_SECRET, api, page

BU = api("settings", "business-units")


def test_ok_reports_tenant_and_what_it_found(st, tokens, make_client):
    body = page([{"id": 3, "name": "Plumbing - Service"}], has_more=True, page_size=1)
    body["totalCount"] = 12
    st.add(responses.GET, BU, json=body)
    client = make_client()
    policy = client.retry_policy
    result = check_connection(client)
    assert isinstance(result, ConnectionResult) and result.ok and result.system == "ServiceTitan"
    assert "1234" in result.message
    text = "\n".join(result.details)
    assert "Business units: 12" in text and "Plumbing - Service" in text and "15 minutes" in text
    assert "pageSize=1" in st.calls[-1].request.url
    assert client.retry_policy is policy  # the quick policy was only borrowed


def test_bad_client_credentials(st, make_client):
    st.add(responses.POST, AUTH_URL, status=400, json={"error": "invalid_client"})
    result = check_connection(make_client())
    assert not result.ok
    assert "client id or client secret" in result.message
    assert CLIENT_SECRET not in result.message + "".join(result.details)


def test_wrong_app_key(st, tokens, make_client):
    st.add(responses.GET, BU, status=401)
    result = check_connection(make_client())
    assert not result.ok and "app key" in result.message


def test_forbidden_tenant_or_app_key(st, tokens, make_client):
    st.add(responses.GET, BU, status=403, json={"title": "Forbidden", "traceId": "tr-1", "status": 403})
    result = check_connection(make_client())
    assert not result.ok and "403" in result.message and "servicetitan.tenant" in result.message
    assert any("tr-1" in d for d in result.details)


def test_unknown_tenant(st, tokens, make_client):
    st.add(responses.GET, BU, status=404, json={"title": "Tenant not found"})
    result = check_connection(make_client())
    assert not result.ok and "does not know tenant 1234" in result.message


def test_unreachable_host_fails_fast(st, make_client, fake_time):
    reason = urllib3.exceptions.NewConnectionError(None, "Name or service not known")
    st.add(responses.POST, AUTH_URL,
           body=requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, AUTH_URL, reason)))
    result = check_connection(make_client())
    assert not result.ok and "Could not reach the ServiceTitan sign-in server auth.st.example" in result.message
    assert sum(fake_time.slept) < 10


def test_unreachable_api(st, tokens, make_client):
    st.add(responses.GET, BU, body=requests.ConnectTimeout("connect timed out"))
    result = check_connection(make_client())
    assert not result.ok and "Could not reach the ServiceTitan API at api.st.example" in result.message
