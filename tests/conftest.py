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
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
    redact.forget_all()


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
