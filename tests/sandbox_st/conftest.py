"""Fixtures for the ServiceTitan simulator tests: a seeded company, a fake clock, a running
simulator and a tiny client that speaks plain HTTP with `requests` (deliberately not the app's
own ServiceTitan client, so these tests pin the simulator to the documents, not to our code)."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import requests

from desktop_app.sandbox.seed import build_company
from desktop_app.sandbox.st_sim import ServiceTitanSimulator

TODAY = date(2026, 3, 16)



class FakeClock:
    def __init__(self, start: float = 1_773_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StClient:
    """Token + headers + URL building over one requests.Session."""

    def __init__(self, sim: ServiceTitanSimulator, credentials: dict):
        self.sim = sim
        self.creds = credentials
        self.http = requests.Session()
        self.token: str | None = None

    def close(self) -> None:
        self.http.close()

    def fetch_token(self) -> requests.Response:
        response = self.http.post(self.sim.auth_url, data={
            "grant_type": "client_credentials", "client_id": self.creds["client_id"],
            "client_secret": self.creds["client_secret"]})
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response

    def url(self, module: str, path: str, tenant: str | None = None) -> str:
        return f"{self.sim.api_url}/{module}/v2/tenant/{tenant or self.creds['tenant']}/{path}"

    def headers(self, **overrides) -> dict:
        headers = {"Authorization": f"Bearer {self.token}", "ST-App-Key": self.creds["app_key"]}
        headers.update(overrides)
        return {k: v for k, v in headers.items() if v is not None}

    def call(self, method: str, module: str, path: str, *, params=None, json_body=None, tenant=None,
             headers=None) -> requests.Response:
        if self.token is None:
            self.fetch_token()
        return self.http.request(method, self.url(module, path, tenant), params=params, json=json_body,
                                 headers=headers if headers is not None else self.headers())

    def get(self, module: str, path: str, **kw) -> requests.Response:
        return self.call("GET", module, path, **kw)


def body(response: requests.Response):
    return json.loads(response.content, parse_float=Decimal)


@pytest.fixture
def company():
    return build_company(7, invoices=120, today=TODAY)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sim(company, clock):
    simulator = ServiceTitanSimulator(company.st, clock=clock, max_lifetime_s=120)
    with simulator:
        yield simulator


@pytest.fixture
def client(sim, company):
    st = StClient(sim, company.credentials)
    yield st
    st.close()
