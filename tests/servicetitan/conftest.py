"""Fixtures for the ServiceTitan client tests: a fake clock, a `responses` mock whose every
recorded API request is checked against the official OpenAPI documents, and a client factory."""
from __future__ import annotations

import pytest
import responses

from desktop_app.servicetitan.client import ServiceTitanClient
from desktop_app.servicetitan.retry import RetryPolicy
from tests.reference_docs import ST_OPENAPI

from .st_fakes import (
    API_URL,
    APP_KEY,
    AUTH_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    FakeTime,
    SpecChecker,
    TokenServer,
)


@pytest.fixture(scope="session")
def spec_checker():
    return SpecChecker(ST_OPENAPI)


@pytest.fixture
def st(spec_checker):
    """`responses` mock; on teardown every recorded API request is checked against the specs."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
        if spec_checker is not None:
            for call in rsps.calls:
                if call.request.url.startswith(API_URL):
                    spec_checker.check(call.request.method, call.request.url, call.request.body)


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def tokens(st):
    return TokenServer(st)


@pytest.fixture
def make_client(fake_time):
    made = []

    def make(**overrides) -> ServiceTitanClient:
        kwargs = dict(api_url=API_URL, auth_url=AUTH_URL, tenant=TENANT, client_id=CLIENT_ID,
                      client_secret=CLIENT_SECRET, app_key=APP_KEY, clock=fake_time.clock, sleep=fake_time.sleep,
                      wall_clock=fake_time.wall, rng=lambda: 0.5,
                      retry_policy=RetryPolicy(max_attempts=5, max_total_wait=120))
        kwargs.update(overrides)
        client = ServiceTitanClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
