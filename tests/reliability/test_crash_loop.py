"""SIGKILL the sync process at random moments; after restarts nothing is lost or posted twice."""
from __future__ import annotations

import os

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from desktop_app.core import db
from desktop_app.sandbox.runner import Sandbox
from desktop_app.sync import ledger
from tests.reliability import scenarios

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


@pytest.mark.slow
@pytest.mark.parametrize("seed, batch_size", [(11, "25"), (23, "1"), (42, "25")])
def test_random_kills_lose_nothing_and_post_nothing_twice(seed, batch_size, tmp_path, data_home, monkeypatch):
    xdg = str(tmp_path / "xdg")
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    keyring.set_keyring(PlaintextKeyring())
    db.open_database()
    box = Sandbox(seed=seed, invoices=150, max_lifetime_s=600).start()
    try:
        box.configure_profile()
        from desktop_app.core import config

        config.save_setting("syspro.post_batch_size", batch_size, actor="test")
        outcome = scenarios.crash_loop_in(box, seed=seed, kills=6, env=scenarios.subprocess_env(xdg))
        assert outcome.kills >= 2, "too few runs were killed: the test proved nothing"
        assert (outcome.lost, outcome.duplicated, outcome.stuck, outcome.disagree) == (0, 0, 0, 0), outcome
        assert not outcome.notes, outcome.notes
        counts = ledger.counts()
        assert counts[ledger.CONFIRMED] + counts[ledger.POSTED] > 50
    finally:
        box.stop()
        db.close_database()
