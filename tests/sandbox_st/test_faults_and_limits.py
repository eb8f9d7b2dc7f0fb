"""The 60 req/s limit, every `st.*` fault, the admin endpoints and the simulator's lifetime."""
from __future__ import annotations

import json
import threading

import pytest
import requests

from desktop_app.sandbox.faults import FaultSpecError
from desktop_app.sandbox.st_sim import FAULTS, ServiceTitanSimulator

from .conftest import StClient, body

PATH = ("settings", "business-units")


def test_more_than_60_requests_in_a_second_get_429(client, clock):
    client.fetch_token()
    for _ in range(60):
        assert client.get(*PATH).status_code == 200
    limited = client.get(*PATH)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    problem = body(limited)
    assert problem["status"] == 429 and problem["title"] == "Rate limit is exceeded. Try again in 1 seconds."
    clock.advance(1.01)
    assert client.get(*PATH).status_code == 200


def test_the_window_rolls(client, clock):
    client.fetch_token()
    for _ in range(30):
        client.get(*PATH)
    clock.advance(0.6)
    for _ in range(30):
        assert client.get(*PATH).status_code == 200
    assert client.get(*PATH).status_code == 429
    clock.advance(0.45)  # the first 30 are now older than a second
    assert client.get(*PATH).status_code == 200


def test_rate_limit_storm(client, sim):
    client.fetch_token()
    sim.set_faults({"rate_limit_storm": 2})
    first, second, third = (client.get(*PATH) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "1"


def test_rate_limit_storm_without_header_keeps_the_hint_in_the_title(client, sim):
    client.fetch_token()
    sim.set_faults({"rate_limit_storm_nohdr": 1})
    response = client.get(*PATH)
    assert response.status_code == 429 and "Retry-After" not in response.headers
    assert body(response)["title"].endswith("Try again in 1 seconds.")


@pytest.mark.parametrize("fault, status", [("http_500", 500), ("maintenance_409", 409)])
def test_counted_error_faults(client, sim, fault, status):
    client.fetch_token()
    sim.set_faults({fault: 2})
    assert [client.get(*PATH).status_code for _ in range(3)] == [status, status, 200]


def test_maintenance_409_says_so(client, sim):
    client.fetch_token()
    sim.set_faults({"maintenance_409": 1})
    assert "maintenance" in body(client.get(*PATH))["title"]


def test_drop_closes_the_connection_without_an_answer(client, sim):
    client.fetch_token()
    sim.set_faults({"drop": 1})
    with pytest.raises(requests.ConnectionError):
        client.get(*PATH)
    assert sim.request_log[-1]["status"] == "dropped"
    assert client.get(*PATH).status_code == 200


def test_malformed_bodies_are_cut_short(client, sim):
    client.fetch_token()
    sim.set_faults({"malformed": 1})
    broken = client.get(*PATH)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        json.loads(broken.content)
    assert body(client.get(*PATH))["data"]


def test_token_expire_invalidates_issued_tokens_once(client, sim):
    client.fetch_token()
    sim.set_faults({"token_expire": 1})
    assert client.get(*PATH).status_code == 401
    assert client.get(*PATH).status_code == 401  # still the stale token
    client.fetch_token()
    assert client.get(*PATH).status_code == 200
    assert client.get(*PATH).status_code == 200  # only once


def test_slow_delays_each_request(company, clock):
    slept = []
    with ServiceTitanSimulator(company.st, clock=clock, sleep=slept.append, max_lifetime_s=60) as sim:
        client = StClient(sim, company.credentials)
        try:
            client.fetch_token()
            sim.set_faults({"slow": 2.5})
            client.get(*PATH)
            client.get(*PATH)
            assert slept == [2.5, 2.5]
            sim.faults.clear()
            client.get(*PATH)
            assert slept == [2.5, 2.5]
        finally:
            client.close()


def test_slow_really_waits_with_the_real_sleep(client, sim):
    import time

    client.fetch_token()
    sim.set_faults({"slow": 0.05})
    started = time.monotonic()
    client.get(*PATH)
    assert time.monotonic() - started >= 0.05


def test_unknown_fault_is_refused():
    from desktop_app.sandbox.seed import build_company

    sim = ServiceTitanSimulator(build_company(1, invoices=5).st, max_lifetime_s=None)
    with pytest.raises(FaultSpecError):
        sim.set_faults({"meteor_strike": 1})
    assert "drop" in FAULTS


def test_admin_faults_advance_and_state(client, sim, company):
    client.fetch_token()
    base = sim.api_url
    with requests.Session() as admin:
        set_ = admin.post(f"{base}/_admin/faults", json={"faults": "st.http_500=1,syspro.drop_after_post=2"})
        assert set_.status_code == 200 and set_.json()["faults"] == {"http_500": 1.0}
        assert client.get(*PATH).status_code == 500
        assert admin.post(f"{base}/_admin/faults", json={"faults": "st.nonsense=1"}).status_code == 400

        before = len(company.st.invoices)
        advanced = admin.post(f"{base}/_admin/advance", json={"invoices": 3}).json()
        assert len(advanced["created"]) == 3 and len(company.st.invoices) == before + 3
        state = admin.get(f"{base}/_admin/state").json()
        assert state["counts"]["invoices"] == before + 3 and state["tenant"] == company.st.tenant
        assert company.credentials["client_secret"] not in json.dumps(state)
    newest = body(client.get("accounting", "invoices", params={"ids": advanced["created"][0]}))["data"][0]
    assert newest["active"] is True


def test_stops_by_itself_after_its_lifetime(company):
    sim = ServiceTitanSimulator(company.st, max_lifetime_s=0.05).start()
    stopped = threading.Event()
    deadline = threading.Timer(3, stopped.set)
    deadline.start()
    try:
        while sim.running and not stopped.is_set():
            stopped.wait(0.01)
        assert not sim.running
    finally:
        deadline.cancel()
        sim.stop()


def test_stop_is_idempotent_and_frees_the_port(company):
    sim = ServiceTitanSimulator(company.st, max_lifetime_s=None).start()
    url = sim.api_url
    sim.stop()
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_admin/state", timeout=2)
