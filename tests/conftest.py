"""Fixtures every test gets: its own data directory and an in-memory keyring.

No test may touch the developer's real data directory or OS keyring, so both are autouse.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring  # noqa: E402
import pytest  # noqa: E402

from desktop_app.core import redact  # noqa: E402
from desktop_app.sandbox.memory_keyring import MemoryKeyring  # noqa: E402


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def insecure_keyring_allowed(monkeypatch):
    """Tests keep throwaway secrets in plaintext or in-memory keyrings, in-process and in the
    processes they start; a test of the refusal removes this."""
    from desktop_app.core.secrets import INSECURE_KEYRING_ENV, INSECURE_KEYRING_OK

    monkeypatch.setenv(INSECURE_KEYRING_ENV, INSECURE_KEYRING_OK)


@pytest.fixture(autouse=True)
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
    redact.forget_all()
    from desktop_app.servicetitan.auth import forget_shared_tokens

    forget_shared_tokens()  # a token kept between jobs belongs to this test's server


@pytest.fixture
def sandbox(request, data_home):
    """Both simulators with a seeded company; the test's data dir is configured to use them.

    Parametrize indirectly with {"seed": N, "invoices": N, "mappings": bool} to change the company.
    """
    from desktop_app.core import db
    from desktop_app.sandbox.runner import Sandbox

    options = dict(getattr(request, "param", None) or {})
    with_mappings = options.pop("mappings", True)
    db.open_database()
    box = Sandbox(seed=options.pop("seed", 7), invoices=options.pop("invoices", 40), max_lifetime_s=900,
                  **options).start()
    try:
        box.configure_profile(mappings=with_mappings)
        yield box
    finally:
        box.stop()
        db.close_database()


GO_LIVE = "2026-01-01"


@pytest.fixture
def go_live():
    """A go-live date in the open database, for a test whose cycle is about something else: a sync
    refuses to run without one (`sync.start_date`). Returns the date stored."""
    import datetime as dt

    from desktop_app.core import config

    config.save_setting("sync.start_date", GO_LIVE, actor="test")
    return dt.date.fromisoformat(GO_LIVE)


@pytest.fixture
def environment_lookups(monkeypatch):
    """The URLs `core.http` resolved the environment's proxies for; a look-up by requests itself for a
    single request fails the test (our sessions read the environment once, when they are made)."""
    import requests.sessions

    from desktop_app.core import http as core_http

    resolved: list[str] = []
    real = core_http.get_environ_proxies
    monkeypatch.setattr(core_http, "get_environ_proxies",
                        lambda url, *a, **k: resolved.append(url) or real(url, *a, **k))
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda *a, **k: pytest.fail("requests looked the environment up for a single request"))
    return resolved
