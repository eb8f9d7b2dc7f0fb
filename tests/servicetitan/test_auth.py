"""Token caching, proactive refresh and recovery from a 401."""
from __future__ import annotations

import threading

import pytest
import responses

from desktop_app.core.errors import AuthenticationError
from desktop_app.servicetitan.errors import ServiceTitanAuthError

from .st_fakes import APP_KEY, CLIENT_ID, CLIENT_SECRET, api, page

BU = api("settings", "business-units")


def _bu_ok(st):
    st.add(responses.GET, BU, json=page([{"id": 1, "name": "HVAC"}]))


def test_token_request_is_a_client_credentials_form(st, tokens, make_client):
    _bu_ok(st)
    make_client().business_units()
    assert tokens.forms == [{"grant_type": "client_credentials", "client_id": CLIENT_ID,
                             "client_secret": CLIENT_SECRET}]
    token_call = st.calls[0].request
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_every_call_carries_bearer_token_and_app_key(st, tokens, make_client):
    _bu_ok(st)
    make_client().business_units()
    request = st.calls[1].request
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["ST-App-Key"] == APP_KEY


def test_token_is_reused_within_its_lifetime(st, tokens, make_client, fake_time):
    _bu_ok(st)
    client = make_client()
    for _ in range(5):
        client.business_units()
        fake_time.advance(100)  # 500 s in total: well inside 900 - 60
    assert tokens.count == 1
    assert client.stats.token_requests == 1
    assert client.stats.requests == 5


def test_token_is_refreshed_before_it_expires(st, tokens, make_client, fake_time):
    _bu_ok(st)
    client = make_client()
    client.business_units()
    fake_time.advance(839)  # 61 s left: still good
    client.business_units()
    assert tokens.count == 1
    fake_time.advance(2)  # 59 s left: inside the 60 s margin, refresh before sending
    client.business_units()
    assert tokens.count == 2
    headers = [c.request.headers.get("Authorization") for c in st.calls if c.request.url.startswith(BU)]
    assert headers == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_401_mid_batch_refreshes_once_and_resends_with_the_new_header(st, tokens, make_client):
    st.add(responses.GET, BU, json=page([{"id": 1, "name": "A"}], has_more=True))
    st.add(responses.GET, BU, status=401, json={"title": "Unauthorized"})
    st.add(responses.GET, BU, json=page([{"id": 2, "name": "B"}], has_more=False, page_number=2))
    client = make_client()
    units = client.business_units()
    assert [u.id for u in units] == [1, 2]
    assert tokens.count == 2  # the initial token + exactly one refresh
    api_calls = [c.request for c in st.calls if c.request.url.startswith(BU)]
    assert [r.headers["Authorization"] for r in api_calls] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert "page=2" in api_calls[1].url and "page=2" in api_calls[2].url


def test_second_401_is_an_authentication_error(st, tokens, make_client):
    st.add(responses.GET, BU, status=401, json={"title": "Unauthorized", "traceId": "trace-77"})
    st.add(responses.GET, BU, status=401, json={"title": "Unauthorized", "traceId": "trace-78"})
    client = make_client()
    with pytest.raises(ServiceTitanAuthError) as info:
        client.business_units()
    assert isinstance(info.value, AuthenticationError)
    assert "app key" in str(info.value)
    assert info.value.status == 401 and info.value.trace_id == "trace-78"
    assert tokens.count == 2
    assert len([c for c in st.calls if c.request.url.startswith(BU)]) == 2


def test_concurrent_threads_share_one_refresh(st, tokens, make_client):
    _bu_ok(st)
    client = make_client()
    barrier = threading.Barrier(8)
    errors = []

    def work():
        try:
            barrier.wait()
            client.tokens.authorization()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert tokens.count == 1


def test_concurrent_401s_cause_a_single_refresh(st, tokens, make_client):
    client = make_client()
    stale = client.tokens.authorization()
    assert client.tokens.refresh_after_rejection(stale) == "Bearer tok-2"
    # A second thread that was rejected with the same stale token gets the new one, no refresh.
    assert client.tokens.refresh_after_rejection(stale) == "Bearer tok-2"
    assert tokens.count == 2


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_client_is_explained(st, make_client, status):
    st.add(responses.POST, "https://auth.st.example/connect/token", status=status,
           json={"error": "invalid_client"})
    with pytest.raises(ServiceTitanAuthError) as info:
        make_client().business_units()
    message = str(info.value)
    assert "client id or client secret" in message and "invalid_client" in message
    assert CLIENT_SECRET not in message
    assert not [c for c in st.calls if c.request.url.startswith(BU)]  # never got as far as the API


def test_token_response_without_access_token(st, make_client):
    st.add(responses.POST, "https://auth.st.example/connect/token", json={"expires_in": 900})
    with pytest.raises(ServiceTitanAuthError, match="without an access token"):
        make_client().business_units()


def test_half_an_hour_of_requests_needs_three_tokens(st, tokens, make_client, fake_time):
    _bu_ok(st)
    client = make_client()
    while fake_time.clock() < 10_000 + 30 * 60:
        client.business_units()
        fake_time.advance(10)
    assert tokens.count == 3  # at 0, 840 and 1680 s: every token refreshed 60 s before its 900 s end
