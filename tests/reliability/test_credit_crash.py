"""SIGKILL the sync process while a credit note is POSTING: after a restart it is in SYSPRO exactly once."""
from __future__ import annotations

import os
import signal
import threading

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from desktop_app.core import db, models
from desktop_app.sandbox import syspro_postings
from desktop_app.sandbox.runner import Sandbox
from desktop_app.sync import ledger
from desktop_app.sync.build import is_credit_reference
from tests.reliability import scenarios

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


def test_engine_killed_while_a_credit_is_posting_leaves_it_posted_once(tmp_path, data_home, monkeypatch):
    xdg = str(tmp_path / "xdg")
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    keyring.set_keyring(PlaintextKeyring())
    env = scenarios.subprocess_env(xdg)
    db.open_database()
    box = Sandbox(seed=7, invoices=40, max_lifetime_s=600).start()
    try:
        box.configure_profile()
        db.close_database()
        assert scenarios._run_sync(env) in (0, 1)
        db.open_database()
        original = next(d for d in models.ApDocument.select().where(models.ApDocument.state == ledger.CONFIRMED,
                                                                 models.ApDocument.transaction_code == "I")
                        if d.amount > 0)
        db.close_database()
        returned = box.company.st.add_return(original.st_invoice_id)

        # SYSPRO applies the credit, then answers slowly: the engine is killed before it hears back
        applied = threading.Event()
        plain = syspro_postings._apply_to_invoice

        def apply_then_stall(state, row):
            plain(state, row)
            applied.set()
            state.lock.release()  # let the look-up of the next run read while this answer stalls
            try:
                threading.Event().wait(1.5)
            finally:
                state.lock.acquire()

        monkeypatch.setattr(syspro_postings, "_apply_to_invoice", apply_then_stall)
        assert scenarios._run_sync(env, applied.is_set) == -signal.SIGKILL
        monkeypatch.setattr(syspro_postings, "_apply_to_invoice", plain)
        db.open_database()
        # committed before the request left; no answer recorded
        credit = models.ApDocument.get(models.ApDocument.st_invoice_id == returned["id"],
                                   models.ApDocument.state == ledger.POSTING)
        db.close_database()

        assert scenarios._run_sync(env) in (0, 1)
        db.open_database()
        credit = models.ApDocument.get_by_id(credit.id)
        assert credit.state in (ledger.POSTED, ledger.CONFIRMED)
        kinds = [e.kind for e in ledger.trail(credit.id)]
        assert "interrupted" in kinds and "found_in_syspro" in kinds
        sent = [t for t in box.company.syspro.ap_invoice_pays
                if (t["Supplier"], t["Invoice"]) == (credit.supplier, credit.syspro_invoice)
                and is_credit_reference(t["Reference"], returned["id"])]
        assert len(sent) == 1
        assert scenarios.judge(box, scenarios.Outcome("credit kill")).ok
        others = models.ApDocument.select().where(models.ApDocument.st_invoice_id == returned["id"])
        assert all(doc.state in (ledger.POSTED, ledger.CONFIRMED) for doc in others)
    finally:
        box.stop()
        db.close_database()
