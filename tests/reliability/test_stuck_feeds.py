"""A feed that says it has more but never moves on stops with a sentence naming it, after a bounded
number of requests; what it gave is kept, READY documents still post, and the other flows run."""
from __future__ import annotations

import pytest

from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger
from tests.integration.test_invoice_sync import assert_exactly_once, cycle


def _requests_to(box, fragment: str) -> int:
    return sum(1 for entry in box.st.request_log if fragment in str(entry))


@pytest.mark.parametrize("sandbox", [{"st_options": {"export_batch_size": 15}}], indirect=True)
def test_a_stuck_invoice_feed_fails_its_flow_by_name_and_ready_documents_still_post(sandbox):
    sandbox.st.set_faults({"stuck_feed": "invoices"})
    result = cycle()
    message = result.errors["invoices"]
    assert "accounting/export/invoices" in message and "continueFrom token it gave before" in message
    assert _requests_to(sandbox, "export/invoices") <= 3  # not a loop
    assert len(result) >= 3 and not set(result.errors) - {"invoices"}  # the other flows ran as usual
    first = ledger.counts()
    assert first[ledger.POSTED] + first[ledger.CONFIRMED] > 0  # the page it gave was stored and posted
    assert first[ledger.POSTING] == first[ledger.IN_DOUBT] == 0
    assert_exactly_once(sandbox)

    sandbox.st.set_faults({})
    assert not cycle().errors
    cycle()
    counts = ledger.counts()
    assert counts[ledger.CONFIRMED] > first[ledger.POSTED] + first[ledger.CONFIRMED]
    assert counts[ledger.READY] == counts[ledger.POSTING] == counts[ledger.IN_DOUBT] == 0
    assert_exactly_once(sandbox)
    assert ApDocument.select().count() > 0


@pytest.mark.parametrize("sandbox", [{"syspro_options": {"page_size": 3}}], indirect=True)
def test_a_repeating_odata_next_link_stops_the_read_that_follows_it(sandbox):
    assert not cycle().errors  # paging through many short pages works
    sandbox.syspro.set_faults({"odata_repeat_link": 1})
    requests_before = len(sandbox.syspro.request_log)
    result = cycle()
    assert result.errors and all("repeated the same next page link" in m for m in result.errors.values())
    assert len(sandbox.syspro.request_log) - requests_before < 200  # bounded, not a loop
    sandbox.syspro.set_faults({})
    assert not cycle().errors
    assert_exactly_once(sandbox)


def test_the_fault_spec_names_the_feed_that_does_not_advance():
    from desktop_app.sandbox.faults import FaultSpecError, parse_fault_spec

    assert parse_fault_spec("st.stuck_feed=purchase-orders,syspro.odata_repeat_link") == {
        "st": {"stuck_feed": "purchase-orders"}, "syspro": {"odata_repeat_link": 1.0}}
    with pytest.raises(FaultSpecError, match="neither a number nor a feed name"):
        parse_fault_spec("st.http_500=1e")


@pytest.mark.slow
def test_the_reliability_scenarios_of_a_stuck_feed_and_a_hung_engine_lose_and_duplicate_nothing(sandbox):
    from tests.reliability import scenarios

    assert ("st", {"stuck_feed": "invoices"}) in scenarios.FAULTS
    stuck = scenarios.fault_in(sandbox, "st", {"stuck_feed": "invoices"}, cycles=2)
    assert stuck.scenario == "st.stuck_feed=invoices"
    assert stuck.ok and stuck.invoices > 0, stuck
    hung = scenarios.hung_engine_in(sandbox, watchdog_s=3.0, cycles=1)
    assert hung.kills == 1 and hung.ok and not hung.notes, hung
