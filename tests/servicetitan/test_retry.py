"""429 / 5xx / timeouts: what is retried, how long it waits, and when a write's fate is unknown."""
from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import requests
import responses
import urllib3.exceptions

from desktop_app.core.errors import OutcomeUnknown
from desktop_app.servicetitan.errors import BadRequest, ServiceTitanOutcomeUnknown, ServiceTitanUnavailable
from desktop_app.servicetitan.retry import RetryPolicy, retry_after_seconds, seconds_hint_in_body

from .st_fakes import api, page

BU = api("settings", "business-units")
VENDORS = api("inventory", "vendors")
VENDOR_PAYLOAD = {"name": "Acme", "active": True, "isTruckReplenishment": False, "taxRate": 0,
                  "restrictedMobileCreation": False,
                  "address": {"street": "1 Main", "unit": "", "city": "X", "state": "TX", "zip": "1", "country": "US"}}


def _bu_calls(st, url=BU):
    return [c for c in st.calls if c.request.url.startswith(url)]


def _connect_refused():
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, VENDORS, reason))


def test_429_with_retry_after_header(st, tokens, make_client, fake_time):
    st.add(responses.GET, BU, status=429, headers={"Retry-After": "7"}, json={"title": "Too many"})
    st.add(responses.GET, BU, json=page([{"id": 1}]))
    client = make_client()
    assert [u.id for u in client.business_units()] == [1]
    assert 7 in fake_time.slept
    assert client.stats.rate_limited == 1 and client.stats.retries == 1
    assert len(_bu_calls(st)) == 2


def test_429_with_retry_after_http_date(st, tokens, make_client, fake_time):
    when = datetime.fromtimestamp(fake_time.wall() + 12, UTC)
    st.add(responses.GET, BU, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    st.add(responses.GET, BU, json=page([]))
    make_client().business_units()
    assert pytest.approx(12, abs=1) == sum(s for s in fake_time.slept if s > 1)


def test_429_with_hint_only_in_the_body(st, tokens, make_client, fake_time):
    st.add(responses.GET, BU, status=429, json={
        "type": "https://tools.ietf.org/html/rfc6585#section-4",
        "title": "Rate limit is exceeded. Try again in 3 seconds.",
        "status": 429, "traceId": "abc", "errors": {}, "data": {}})
    st.add(responses.GET, BU, json=page([]))
    make_client().business_units()
    assert 3 in fake_time.slept


def test_429_without_any_hint_backs_off_exponentially(st, tokens, make_client, fake_time):
    for _ in range(3):
        st.add(responses.GET, BU, status=429)
    st.add(responses.GET, BU, json=page([]))
    client = make_client(rng=lambda: 0.0)  # lower edge of the jitter: ceiling / 2
    client.business_units()
    backoffs = [s for s in fake_time.slept if s >= 0.5]
    assert backoffs == [0.5, 1.0, 2.0]
    assert client.stats.rate_limited == 3


def test_backoff_jitter_stays_within_bounds():
    policy = RetryPolicy(backoff_base=1, backoff_cap=8)
    assert policy.backoff(0, lambda: 0.0) == 0.5 and policy.backoff(0, lambda: 0.999) < 1
    assert policy.backoff(10, lambda: 0.999) <= 8


def test_5xx_then_success(st, tokens, make_client, fake_time):
    st.add(responses.GET, BU, status=500, json={"title": "boom"})
    st.add(responses.GET, BU, status=503)
    st.add(responses.GET, BU, json=page([{"id": 9}]))
    client = make_client()
    assert [u.id for u in client.business_units()] == [9]
    assert client.stats.retries == 2


def test_409_maintenance_is_retried_for_reads(st, tokens, make_client):
    st.add(responses.GET, BU, status=409,
           json={"title": "The service is suspended for maintenance. Please try again later."})
    st.add(responses.GET, BU, json=page([{"id": 3}]))
    assert [u.id for u in make_client().business_units()] == [3]


def test_other_4xx_is_not_retried_and_carries_problem_details(st, tokens, make_client):
    st.add(responses.GET, BU, status=400, json={
        "type": "x", "title": "One or more validation errors occurred.", "status": 400, "traceId": "t-1",
        "errors": {"Ids": ["Simple IDs lookup should not exceed 50"]}, "data": {}})
    with pytest.raises(BadRequest) as info:
        make_client().business_units()
    err = info.value
    assert err.status == 400 and err.trace_id == "t-1"
    assert err.errors == {"Ids": ["Simple IDs lookup should not exceed 50"]}
    assert "validation errors" in str(err) and "t-1" in str(err)
    assert len(_bu_calls(st)) == 1


def test_retries_are_bounded_by_count(st, tokens, make_client):
    st.add(responses.GET, BU, status=502)
    client = make_client(retry_policy=RetryPolicy(max_attempts=3, max_total_wait=1000))
    with pytest.raises(ServiceTitanUnavailable) as info:
        client.business_units()
    assert info.value.status == 502
    assert len(_bu_calls(st)) == 3


def test_retries_are_bounded_by_total_wait(st, tokens, make_client, fake_time):
    st.add(responses.GET, BU, status=429, headers={"Retry-After": "40"})
    client = make_client(retry_policy=RetryPolicy(max_attempts=50, max_total_wait=100))
    with pytest.raises(ServiceTitanUnavailable, match="429"):
        client.business_units()
    assert sum(fake_time.slept) <= 100
    assert len(_bu_calls(st)) == 3  # waits 40 + 40, a third 40 would exceed 100


def test_read_timeout_is_retried_for_reads(st, tokens, make_client):
    st.add(responses.GET, BU, body=requests.ReadTimeout("read timed out"))
    st.add(responses.GET, BU, json=page([{"id": 4}]))
    assert [u.id for u in make_client().business_units()] == [4]


def test_timeouts_are_sent_on_every_request(st, tokens, make_client):
    st.add(responses.GET, BU, json=page([]))
    make_client(connect_timeout=3, read_timeout=45).business_units()
    assert all(c.request.req_kwargs["timeout"] == (3.0, 45.0) for c in st.calls)


def test_write_read_timeout_is_outcome_unknown_and_not_resent(st, tokens, make_client):
    st.add(responses.POST, VENDORS, body=requests.ReadTimeout("read timed out"))
    st.add(responses.POST, VENDORS, json={"id": 55})
    with pytest.raises(ServiceTitanOutcomeUnknown) as info:
        make_client().create_vendor(VENDOR_PAYLOAD)
    assert isinstance(info.value, OutcomeUnknown)
    assert "Look the record up" in str(info.value)
    assert len(_bu_calls(st, VENDORS)) == 1


def test_write_broken_connection_is_outcome_unknown(st, tokens, make_client):
    st.add(responses.PATCH, VENDORS + "/8",
           body=requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.")))
    with pytest.raises(ServiceTitanOutcomeUnknown):
        make_client().patch_vendor(8, {"name": "New"})
    assert len(_bu_calls(st, VENDORS)) == 1


def test_write_5xx_is_outcome_unknown(st, tokens, make_client):
    st.add(responses.POST, VENDORS, status=500, json={"title": "Internal error", "traceId": "t-9"})
    with pytest.raises(ServiceTitanOutcomeUnknown) as info:
        make_client().create_vendor(VENDOR_PAYLOAD)
    assert info.value.status == 500 and info.value.trace_id == "t-9"
    assert len(_bu_calls(st, VENDORS)) == 1


def test_write_that_could_not_connect_is_retried(st, tokens, make_client):
    st.add(responses.POST, VENDORS, body=_connect_refused())
    st.add(responses.POST, VENDORS, body=requests.ConnectTimeout("connect timed out"))
    st.add(responses.POST, VENDORS, json={"id": 55})
    client = make_client()
    assert client.create_vendor(VENDOR_PAYLOAD) == 55
    assert len(_bu_calls(st, VENDORS)) == 3
    assert client.stats.retries == 2


def test_write_429_is_retried(st, tokens, make_client, fake_time):
    st.add(responses.POST, VENDORS, status=429, headers={"Retry-After": "2"})
    st.add(responses.POST, VENDORS, json={"id": 56})
    assert make_client().create_vendor(VENDOR_PAYLOAD) == 56
    assert 2 in fake_time.slept


def test_429_pauses_the_shared_limiter(st, tokens, make_client, fake_time):
    st.add(responses.GET, BU, status=429, headers={"Retry-After": "5"})
    st.add(responses.GET, BU, json=page([]))
    client = make_client()
    client.business_units()
    # The limiter was told to hold everyone back for 5 s from the moment of the 429.
    assert client._limiter._paused_until == pytest.approx(fake_time.now, abs=0.01)


def test_retry_after_parsing():
    assert retry_after_seconds("5", 0) == 5
    assert retry_after_seconds("0", 0) == 0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:10 GMT", 1_767_225_600) == 10
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:10 GMT", 1_767_225_700) == 0  # in the past
    assert retry_after_seconds("soon", 0) is None
    assert retry_after_seconds(None, 0) is None


def test_seconds_hint_parsing():
    assert seconds_hint_in_body({"title": "Rate limit is exceeded. Try again in 12 seconds."}) == 12
    assert seconds_hint_in_body({"title": "Try again in 1 second."}) == 1
    assert seconds_hint_in_body({"title": "Too many requests"}) is None
    assert seconds_hint_in_body(None) is None


def test_tls_failure_is_not_retried_for_reads(st, tokens, make_client):
    st.add(responses.GET, BU, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(ServiceTitanUnavailable, match="TLS"):
        make_client().business_units()
    assert len(_bu_calls(st)) == 1
