"""Batched APSTIN posting against the SYSPRO simulator and its HTTP.sys request limit, over real HTTP."""
from __future__ import annotations

from collections import Counter

import pytest

from desktop_app.core import config
from desktop_app.core.models import ApDocument, AuditEvent
from desktop_app.sync import ledger

from .test_invoice_sync import assert_exactly_once, cycle


def post_calls(box) -> list[int]:
    """HTTP status of every APSTIN Transaction/Post the simulator saw."""
    return [status for _method, path, params, status in box.syspro.request_log
            if path.lower().endswith("/transaction/post") and params.get("BusinessObject") == "APSTIN"]


@pytest.mark.parametrize("sandbox", [{"invoices": 60}], indirect=True)
def test_several_documents_go_in_each_call_and_each_is_posted_once(sandbox):
    cycle(flow="invoices")
    posted = ledger.counts()[ledger.CONFIRMED] + ledger.counts()[ledger.POSTED]
    calls = post_calls(sandbox)
    assert posted > 30 and set(calls) == {200}
    assert posted / len(calls) >= 6, (posted, len(calls))
    assert sandbox.syspro.refused_too_long == 0  # the default budget stays under HTTP.sys's limit
    assert_exactly_once(sandbox)
    # every document's trail names its post, and its own item came back to it
    doc = ApDocument.select().where(ApDocument.state == ledger.CONFIRMED).order_by(ApDocument.id).first()
    posted_event = AuditEvent.get(AuditEvent.document_id == doc.id, AuditEvent.kind == "posted")
    assert posted_event.data["of"] > 1 and doc.syspro_invoice in posted_event.xml_received
    assert posted_event.xml_received.count("<Invoice>") == 1


@pytest.mark.parametrize("sandbox", [{"invoices": 60}], indirect=True)
def test_a_budget_over_the_servers_limit_is_halved_on_the_first_refusal_and_nothing_is_posted_twice(sandbox):
    config.save_setting("syspro.max_request_bytes", "60000", actor="test")
    cycle(flow="invoices")
    calls = post_calls(sandbox)
    # HTTP.sys refused the first (too long) call, processing nothing; the session then posted smaller
    assert calls[0] == 414 and calls.count(414) == sandbox.syspro.refused_too_long <= 2
    assert calls[-1] == 200 and calls.index(200) == calls.count(414)  # remembered: no refusal after the first post
    assert_exactly_once(sandbox)
    assert ledger.counts()[ledger.IN_DOUBT] == ledger.counts()[ledger.POSTING] == 0
    assert AuditEvent.select().where(AuditEvent.kind == "request_too_long").exists()
    assert ledger.counts()[ledger.CONFIRMED] > 30
    # each document reached SYSPRO in one call only
    sent = Counter((row["Supplier"], row["Invoice"]) for row in sandbox.company.syspro.ap_invoices)
    assert max(sent.values()) == 1


@pytest.mark.parametrize("sandbox", [{"invoices": 30}], indirect=True)
def test_batch_size_1_posts_one_document_per_call_as_before(sandbox):
    config.save_setting("syspro.post_batch_size", "1", actor="test")
    cycle(flow="invoices")
    posted = ledger.counts()[ledger.CONFIRMED] + ledger.counts()[ledger.POSTED]
    assert len(post_calls(sandbox)) == posted
    assert_exactly_once(sandbox)


def portoi_posts(box) -> int:
    return sum(1 for _method, path, params, status in box.syspro.request_log
               if path.lower().endswith("/transaction/post") and params.get("BusinessObject") == "PORTOI")


@pytest.mark.parametrize("batch_size", ["1", "25"])
def test_new_purchase_orders_go_several_to_a_portoi_call_each_once(sandbox, batch_size):
    from desktop_app.core.models import SyncLink
    from tests.integration.two_way_helpers import cycle as two_way_cycle

    config.save_setting("syspro.post_batch_size", batch_size, actor="test")
    two_way_cycle("vendors")
    summary = two_way_cycle("purchase-orders")["purchase-orders"]
    assert summary.to_syspro > 5
    calls = portoi_posts(sandbox)
    assert calls == summary.to_syspro if batch_size == "1" else calls < summary.to_syspro
    cpns = Counter(po["header"]["CustomerPoNumber"] for po in sandbox.company.syspro.purchase_orders.values())
    assert all(count == 1 for cpn, count in cpns.items() if cpn)
    # each link's trail holds its own order as sent and its own item as answered
    sent = [e for e in AuditEvent.select().where(AuditEvent.flow == "purchase-orders")
            if e.xml_sent and "PostPurchaseOrders" in e.xml_sent]
    assert len(sent) >= summary.to_syspro and all(e.xml_sent.count("<Orders>") == 1 for e in sent)
    assert SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.state == "IN_DOUBT").count() == 0


def test_a_portoi_call_refused_as_too_long_goes_again_smaller_and_each_order_once(sandbox):
    from desktop_app.core.models import SyncLink
    from tests.integration.two_way_helpers import cycle as two_way_cycle

    config.save_setting("syspro.max_request_bytes", "60000", actor="test")
    two_way_cycle("vendors")
    summary = two_way_cycle("purchase-orders")["purchase-orders"]
    statuses = [status for _method, path, params, status in sandbox.syspro.request_log
                if path.lower().endswith("/transaction/post") and params.get("BusinessObject") == "PORTOI"]
    # the same step as the invoices' (protocol.refused_as_too_long): back to ready, half the size, sent again
    assert statuses[0] == 414 and statuses[-1] == 200 and summary.to_syspro > 5
    refused = AuditEvent.select().where(AuditEvent.flow == "purchase-orders", AuditEvent.kind == "request_too_long")
    assert refused.count() >= 2 and all("smaller post" in event.message for event in refused)
    assert SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.state == "IN_DOUBT").count() == 0
    cpns = Counter(po["header"]["CustomerPoNumber"] for po in sandbox.company.syspro.purchase_orders.values())
    assert all(count == 1 for cpn, count in cpns.items() if cpn)


def test_an_unanswered_portoi_call_leaves_each_of_its_orders_in_doubt_then_each_is_looked_up(sandbox):
    from desktop_app.core.models import SyncLink
    from tests.integration.two_way_helpers import cycle as two_way_cycle

    two_way_cycle("vendors")
    sandbox.syspro.set_faults({"drop_after_post": 1})
    two_way_cycle("purchase-orders")
    doubtful = list(SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.state == "IN_DOUBT"))
    assert len(doubtful) > 1 and all("No answer from SYSPRO" in row.reason for row in doubtful)
    orders = len(sandbox.company.syspro.purchase_orders)
    two_way_cycle("purchase-orders")
    assert all(SyncLink.get_by_id(row.id).state == "SYNCED" for row in doubtful)
    assert len(sandbox.company.syspro.purchase_orders) == orders  # found by their CustomerPoNumber, not re-sent
    cpns = Counter(po["header"]["CustomerPoNumber"] for po in sandbox.company.syspro.purchase_orders.values())
    assert all(count == 1 for cpn, count in cpns.items() if cpn)


def invtma_posts(box) -> int:
    return sum(1 for _method, path, params, status in box.syspro.request_log
               if path.lower().endswith("/transaction/post") and params.get("BusinessObject") == "INVTMA")


def test_adjustments_go_several_to_an_invtma_call_all_or_none_and_a_refused_one_never_holds_the_others(sandbox):
    from desktop_app.core.models import SyncLink
    from desktop_app.sync.records import FAILED, SYNCED
    from tests.integration.two_way_helpers import cycle as two_way_cycle

    syspro = sandbox.company.syspro
    # one stock code becomes lot-traceable: SYSPRO refuses an adjustment of it (no lot can be named)
    for code in sorted(set(syspro.stock_codes) - {m["StockCode"] for m in syspro.movements})[::2]:
        syspro.stock_codes[code]["TraceableType"] = "T"
    summary = two_way_cycle("adjustments")["adjustments"]
    failed = list(SyncLink.select().where(SyncLink.flow == "adjustments", SyncLink.state == FAILED))
    synced = list(SyncLink.select().where(SyncLink.flow == "adjustments", SyncLink.state == SYNCED))
    assert failed and all("lot" in row.reason.lower() for row in failed)
    assert summary.to_syspro >= 2, [(r.label, r.state, r.reason) for r in SyncLink.select().where(
        SyncLink.flow == "adjustments")] and invtma_posts(sandbox) < summary.to_syspro + len(failed)
    # nothing of a failed adjustment reached SYSPRO; each posted one is there once
    refs = Counter(m["Reference"] for m in syspro.movements if m["Reference"].startswith("ST-ADJ-"))
    assert not any(row.label in ref for row in failed for ref in refs)
    assert AuditEvent.select().where(AuditEvent.kind == "post_refused_for_others").exists()
    assert all(any(row.label in ref for ref in refs) for row in synced if (row.data or {}).get("postings"))
