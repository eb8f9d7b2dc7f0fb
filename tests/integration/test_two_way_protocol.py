"""The two-way flows run the invoices' protocol steps: an interrupted write is settled by
`protocol.settle` with the flow's look-up, holds go through `protocol.wait_for_person`, and a
person's action that lands while a cycle holds a link is never written over."""
from __future__ import annotations

import types

import pytest

from desktop_app.core.models import AuditEvent, SyncLink, VendorMapping
from desktop_app.sync import protocol, records
from desktop_app.sync.records import HELD, IN_DOUBT, READY, SKIPPED, SYNCED, SYNCING
from tests.integration.two_way_helpers import Writes, cycle, link


@pytest.fixture
def settled(monkeypatch):
    """Every `protocol.settle` call: (ledger name, record id, state before, found)."""
    calls: list[tuple[str, int, str, bool]] = []
    real = protocol.settle

    def spy(ledger, row, look_up, **kwargs):
        before = row.state
        found = real(ledger, row, look_up, **kwargs)
        calls.append((ledger.name, row.id, before, found))
        return found

    monkeypatch.setattr(protocol, "settle", spy)
    return calls


def kinds(row: SyncLink) -> list[str]:
    return [event.kind for event in records.trail(row.id)]


def interrupt(row: SyncLink, **lost) -> None:
    """The process died mid-write: the link is left SYNCING, without what the answer would have given."""
    for name, value in {"state": SYNCING, **lost}.items():
        setattr(row, name, value)
    row.save()


def test_an_interrupted_vendor_write_is_looked_up_through_protocol_settle(sandbox, settled):
    cycle("vendors")
    created = link("vendors", syspro_key="LONESTARCOPPERT")  # created in SYSPRO by the first cycle
    VendorMapping.delete().where(VendorMapping.syspro_supplier == "LONESTARCOPPERT").execute()
    interrupt(created, syspro_key=None, syspro_synced=None)
    writes = Writes(sandbox)
    summary = cycle("vendors")["vendors"]
    assert (records.LEDGER.name, created.id, IN_DOUBT, True) in settled
    assert writes.syspro() == [] and summary.settled == 1
    again = SyncLink.get_by_id(created.id)
    assert again.state == SYNCED and again.syspro_key == "LONESTARCOPPERT"
    trail = kinds(again)
    assert "found" in trail[trail.index("interrupted"):] and "not_posted" not in trail


def test_a_vendor_write_that_never_arrived_goes_back_to_ready_by_settle_and_is_sent_once(sandbox, settled):
    sp = sandbox.company.syspro
    sp.add_supplier("ACMEPIPE", SupplierName="Acme Pipe & Valve", SupAddr1="9 Mill St", SupAddr2="Waco",
                    SupAddr3="TX", SupAddr4="USA", SupPostalCode="76701", Telephone="254-555-0100")
    cycle("vendors")
    new = link("vendors", syspro_key="ACMEPIPE")
    # the create never reached ServiceTitan: the process died with the link SYSPRO-side only
    assert sandbox.company.st.vendors.pop(new.st_id)["name"] == "Acme Pipe & Valve"
    VendorMapping.delete().where(VendorMapping.syspro_supplier == "ACMEPIPE").execute()
    interrupt(new, st_id=None, st_synced=None)
    count = len(sandbox.company.st.vendors)
    settled.clear()
    cycle("vendors")
    assert [(name, state, found) for name, row_id, state, found in settled if row_id == new.id][0] == \
        (records.LEDGER.name, IN_DOUBT, False)
    again = SyncLink.get_by_id(new.id)
    assert again.state == SYNCED and len(sandbox.company.st.vendors) == count + 1
    trail = kinds(again)
    assert trail.index("not_posted") > trail.index("interrupted") and trail[trail.index("not_posted") + 1] == \
        "write_attempt"
    not_there = AuditEvent.select().where(AuditEvent.kind == "not_posted", AuditEvent.flow == "vendors").get()
    assert "No ServiceTitan vendor carries supplier code ACMEPIPE" in not_there.message


def test_interrupted_po_and_adjustment_writes_are_settled_by_the_same_step(sandbox, settled):
    cycle()
    po = link("purchase-orders", origin="servicetitan", state=SYNCED)
    interrupt(po, syspro_key=None, syspro_synced=None)
    adjustment = next(r for r in SyncLink.select().where(SyncLink.flow == "adjustments", SyncLink.state == SYNCED)
                      if (r.data or {}).get("postings"))
    posting = adjustment.data["postings"][0]
    interrupt(adjustment, data={**adjustment.data, "posted": {}, "postings": [], "written_back": None,
                                "pending": {"reference": posting["reference"], "groups": posting["groups"]}})
    writes = Writes(sandbox)
    cycle("purchase-orders")
    cycle("adjustments")
    assert writes.syspro() == []
    assert {(row_id, state, found) for _name, row_id, state, found in settled} >= {
        (po.id, IN_DOUBT, True), (adjustment.id, IN_DOUBT, True)}
    assert SyncLink.get_by_id(po.id).state == SyncLink.get_by_id(adjustment.id).state == SYNCED


# ---------------------------------------------------------------------------- a person first
class _Flow(records.TwoWaySync):
    FLOW, NOUN = "vendors", "vendors"


def _flow() -> _Flow:
    ctx = types.SimpleNamespace(actor="scheduler", settings={"sync.max_auto_create": 50})
    return _Flow(ctx, None, records.FlowSummary())


@pytest.fixture
def stale_and_skipped(data_home):
    """A link the engine read as READY, then a person's Skip (another writer) landed on it."""
    from desktop_app.core import db

    db.open_database()
    try:
        row = SyncLink.create(flow="vendors", st_id=11, label="Acme", state=READY)
        stale = SyncLink.get_by_id(row.id)
        records.transition(SyncLink.get_by_id(row.id), SKIPPED, "skipped", "Skipped by gui", actor="gui",
                           reason="Skipped by gui: not ours")
        yield stale
    finally:
        db.close_database()


@pytest.mark.parametrize("step", ["hold", "wait_for_approval", "write", "failed"])
def test_a_persons_skip_racing_a_two_way_step_loses_nothing(stale_and_skipped, step):
    stale, flow = stale_and_skipped, _flow()
    sent = []
    actions = {
        "hold": lambda link: flow.hold(link, HELD, "Looks like supplier ACME"),
        "wait_for_approval": lambda link: protocol.wait_for_person(records.LEDGER, link, "too many", actor="scheduler",
                                                                   state=records.WAITING),
        "write": lambda link: flow.write(link, "Creating a supplier", lambda: sent.append(link.id), system="SYSPRO"),
        "failed": lambda link: flow.failed(link, "SYSPRO refused it"),
    }
    records.contain(stale, actor="scheduler", summary=flow.summary, step=lambda: actions[step](stale))
    stored = SyncLink.get_by_id(stale.id)
    assert (stored.state, stored.reason, stored.attempts) == (SKIPPED, "Skipped by gui: not ours", 0)
    assert stale.state == SKIPPED  # the engine's object shows what the person did
    assert sent == [] and kinds(stored)[-1] == "skipped"


def test_what_waits_for_a_person_is_one_query_across_flows(stale_and_skipped):
    flow = _flow()
    fresh = SyncLink.get_by_id(stale_and_skipped.id)
    flow.hold(fresh, HELD, "Looks like supplier ACME")
    SyncLink.create(flow="purchase-orders", st_id=12, origin="servicetitan", state=records.WAITING)
    rows = records.waiting_for_person()
    assert {(r["flow"], r["state"], r["need"], r["count"]) for r in rows} == {
        ("vendors", HELD, protocol.FIX_DATA, 1), ("purchase-orders", records.WAITING, protocol.APPROVE_CREATION, 1)}
    assert records.trail(fresh.id)[-1].data["waits_for"] == protocol.FIX_DATA
    assert [r["sentence"] for r in records.waiting_counts()] == [
        "1 purchase order from ServiceTitan waits for your approval before it is created in SYSPRO"]
