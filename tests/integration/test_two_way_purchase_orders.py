"""Purchase orders both ways against the simulators."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

from desktop_app.core.models import SyncLink
from desktop_app.sync.records import CONFLICT, HELD, SKIPPED, SYNCED
from tests.integration.two_way_helpers import Writes, cycle, edit_st_quantity, link, set_policy

FLOW = "purchase-orders"


def first_cycles():
    cycle("vendors")
    return cycle(FLOW)[FLOW]


def syspro_po_by_cpn(box, cpn):
    found = [n for n, po in box.company.syspro.purchase_orders.items() if po["header"]["CustomerPoNumber"] == cpn]
    assert len(found) == 1, found
    return box.company.syspro.purchase_orders[found[0]]


def test_pos_go_both_ways_once_unmappable_ones_are_held_and_nothing_echoes(sandbox):
    summary = first_cycles()
    st, sp = sandbox.company.st, sandbox.company.syspro
    synced = list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.origin == "servicetitan",
                                          SyncLink.state == SYNCED))
    assert len(synced) == summary.to_syspro > 10
    cpns = Counter(po["header"]["CustomerPoNumber"] for po in sp.purchase_orders.values())
    for row in synced:
        po = st.purchase_orders[row.st_id]
        header = sp.purchase_orders[row.syspro_key]["header"]
        assert header["CustomerPoNumber"] == "ST" + po["number"] and cpns[header["CustomerPoNumber"]] == 1
        lines = sp.purchase_orders[row.syspro_key]["lines"]
        ordered = sorted(po["items"], key=lambda i: i["id"])
        assert [line["MOrderQty"] for line in lines] == [i["quantity"] for i in ordered]
    held = [row for row in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.origin == "servicetitan",
                                                    SyncLink.state == HELD)]
    assert held and all(row.reason.startswith("Needs mapping") for row in held)
    assert all(st.purchase_orders[row.st_id]["status"] == "Canceled" for row in
               SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == SKIPPED))
    # the SYSPRO-only PO of a mapped supplier became a ServiceTitan PO with the marker
    johnst = next(n for n, po in sp.purchase_orders.items() if po["header"]["Supplier"] == "JOHNST"
                  and not po["header"]["CustomerPoNumber"])
    made = link(FLOW, syspro_key=johnst)
    assert made.state == SYNCED and st.purchase_orders[made.st_id]["summary"] == f"SYSPRO PO {johnst}"
    assert [i["quantity"] for i in st.purchase_orders[made.st_id]["items"]] == \
           [line["MOrderQty"] for line in sp.purchase_orders[johnst]["lines"]]
    grainger = next(n for n, po in sp.purchase_orders.items() if po["header"]["Supplier"] == "GRAING")
    assert link(FLOW, syspro_key=grainger).state == HELD and "GRAING" in link(FLOW, syspro_key=grainger).reason

    writes = Writes(sandbox)
    again = cycle(FLOW)[FLOW]
    assert writes.all() == [] and again.to_syspro == again.to_servicetitan == 0


def _st_origin(box, status="Pending"):
    for row in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.origin == "servicetitan",
                                       SyncLink.state == SYNCED):
        if box.company.st.purchase_orders[row.st_id]["status"] == status:
            return row
    raise AssertionError("no synced PO with status " + status)


def test_servicetitan_edit_and_cancellation_reach_syspro(sandbox):
    first_cycles()
    row = _st_origin(sandbox)
    edit_st_quantity(sandbox, row.st_id, 77)
    summary = cycle(FLOW)[FLOW]
    lines = sandbox.company.syspro.purchase_orders[row.syspro_key]["lines"]
    assert summary.to_syspro == 1 and lines[0]["MOrderQty"] == Decimal(77)
    writes = Writes(sandbox)
    cycle(FLOW)
    assert writes.all() == []
    po = sandbox.company.st.purchase_orders[row.st_id]
    po["status"], po["modifiedOn"] = "Canceled", sandbox.company.st.stamp()
    cycle(FLOW)
    assert sandbox.company.syspro.purchase_orders[row.syspro_key]["header"]["OrderStatus"] == "*"
    assert link(FLOW, st_id=row.st_id).state == SYNCED


def test_syspro_edit_reaches_servicetitan_and_a_cancellation_is_reported_not_faked(sandbox):
    first_cycles()
    row = link(FLOW, origin="syspro", state=SYNCED)
    sp_po = sandbox.company.syspro.purchase_orders[row.syspro_key]
    sp_po["lines"][1]["MOrderQty"] = Decimal(99)
    summary = cycle(FLOW)[FLOW]
    st_po = sandbox.company.st.purchase_orders[row.st_id]
    assert summary.to_servicetitan == 1
    assert sorted(st_po["items"], key=lambda i: i["id"])[1]["quantity"] == Decimal(99)
    writes = Writes(sandbox)
    cycle(FLOW)
    assert writes.all() == []
    sp_po["header"]["OrderStatus"] = "*"
    cycle(FLOW)
    held = link(FLOW, syspro_key=row.syspro_key)
    assert held.state == HELD and "cancel it in ServiceTitan" in held.reason
    assert st_po["status"] != "Canceled" and writes.servicetitan() == []


def test_both_sides_changed_is_a_conflict_and_the_policy_resolves_it(sandbox):
    first_cycles()
    row = _st_origin(sandbox)
    edit_st_quantity(sandbox, row.st_id, 31)
    sandbox.company.syspro.purchase_orders[row.syspro_key]["lines"][0]["MOrderQty"] = Decimal(41)
    writes = Writes(sandbox)
    cycle(FLOW)
    pair = link(FLOW, st_id=row.st_id)
    assert pair.state == CONFLICT and writes.all() == []
    assert pair.conflict["servicetitan"]["lines"][0]["qty"] == "31"
    assert pair.conflict["syspro"]["lines"][0]["qty"] == "41"
    set_policy("servicetitan")
    cycle(FLOW)
    assert sandbox.company.syspro.purchase_orders[row.syspro_key]["lines"][0]["MOrderQty"] == Decimal(31)
    assert link(FLOW, st_id=row.st_id).state == SYNCED


def test_killed_mid_create_does_not_duplicate_a_po_either_way(sandbox):
    first_cycles()
    row = _st_origin(sandbox)
    cpn = "ST" + sandbox.company.st.purchase_orders[row.st_id]["number"]
    row.state, row.syspro_key, row.syspro_synced = "SYNCING", None, None
    row.save()
    made = link(FLOW, origin="syspro", state=SYNCED)
    st_count = len(sandbox.company.st.purchase_orders)
    made.state, made.st_id, made.st_synced = "SYNCING", None, None
    made.save()
    writes = Writes(sandbox)
    summary = cycle(FLOW)[FLOW]
    assert writes.all() == []
    syspro_po_by_cpn(sandbox, cpn)
    assert len(sandbox.company.st.purchase_orders) == st_count
    assert SyncLink.get_by_id(row.id).state == SYNCED and SyncLink.get_by_id(made.id).state == SYNCED
    assert summary.settled >= 1


def test_an_unanswered_po_post_is_in_doubt_then_looked_up_not_sent_again(sandbox):
    cycle("vendors")
    sandbox.syspro.set_faults({"drop_after_post": 1})
    cycle(FLOW)
    doubtful = link(FLOW, state="IN_DOUBT")
    assert "No answer from SYSPRO" in doubtful.reason
    orders = len(sandbox.company.syspro.purchase_orders)
    writes = Writes(sandbox)
    cycle(FLOW)
    settled = SyncLink.get_by_id(doubtful.id)
    assert settled.state == SYNCED and settled.syspro_key in sandbox.company.syspro.purchase_orders
    assert writes.syspro() == [] and len(sandbox.company.syspro.purchase_orders) == orders
    cpns = Counter(po["header"]["CustomerPoNumber"] for po in sandbox.company.syspro.purchase_orders.values())
    assert all(count == 1 for cpn, count in cpns.items() if cpn)

