"""Answers slower than the read timeout: the cycle stops with a sentence, loses nothing, posts nothing twice."""
from __future__ import annotations

import pytest

from desktop_app.core import config
from desktop_app.core.models import ApDocument
from desktop_app.servicetitan import client, retry
from desktop_app.sync import ledger
from tests.integration.test_invoice_sync import assert_exactly_once, cycle


@pytest.mark.parametrize("sandbox", [{"invoices": 12}], indirect=True)
@pytest.mark.parametrize("side,system", [("syspro", "SYSPRO"), ("st", "ServiceTitan")])
def test_an_answer_slower_than_the_read_timeout_stops_the_cycle_cleanly(sandbox, side, system, monkeypatch):
    # ServiceTitan reads are retried for up to minutes (RetryPolicy); two tries show the same outcome
    monkeypatch.setattr(retry, "RetryPolicy", lambda: retry.QUICK)
    monkeypatch.setattr(client, "RetryPolicy", lambda: retry.QUICK)
    config.save_setting("http.read_timeout", 1, actor="test")
    getattr(sandbox, side).set_faults({"slow": 1.3})
    with pytest.raises(Exception) as stopped:
        cycle(flow="invoices")
    assert system in str(stopped.value) and "read timeout" in str(stopped.value)
    states = ledger.counts()
    assert states[ledger.POSTING] == states[ledger.IN_DOUBT] == states[ledger.POSTED] == 0
    assert not sandbox.company.syspro.ap_invoices

    getattr(sandbox, side).set_faults({"slow": 0.05})  # slow but inside the timeout: a normal cycle
    summary = cycle(flow="invoices")["invoices"]
    assert summary.posted > 5
    assert ApDocument.select().where(ApDocument.state.in_([ledger.READY, ledger.POSTING])).count() == 0
    assert_exactly_once(sandbox)
