"""The go-live date (sync.start_date) and office-zone dates, against the simulators.

The export feeds start from a MODIFICATION date: a document dated before go-live but edited after
it arrives in the feed, and must still never reach SYSPRO.
"""
from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from decimal import Decimal

from desktop_app.core import config
from desktop_app.core.models import ApDocument, SyncLink, WorklistRow
from desktop_app.sync import ledger
from desktop_app.sync.dates import accounting_date
from desktop_app.sync.records import SKIPPED, SYNCED
from tests.integration.test_invoice_sync import assert_exactly_once
from tests.integration.two_way_helpers import cycle

ZONE = "America/Chicago"
SENT = [ledger.POSTED, ledger.CONFIRMED, ledger.POSTING, ledger.IN_DOUBT, ledger.CHANGED_IN_SOURCE]


def set_start(day: dt.date) -> None:
    config.save_setting("sync.start_date", day.isoformat(), actor="test")


def local(value) -> dt.date:
    return accounting_date(value.isoformat() if isinstance(value, dt.datetime) else value, ZONE)


def date_skip(reason: str, go_live: dt.date) -> bool:
    return reason.startswith("Dated ") and reason.endswith(f"before the go-live date {go_live}: not the "
                                                           "connector's to post.")


def st_date(invoice) -> dt.date:
    value = invoice["invoiceDate"]
    return value if not isinstance(value, dt.datetime) else value.date()


def has_cost(invoice) -> bool:
    return invoice.get("active", True) and any(i["type"] in ("Material", "Equipment") and i["cost"]
                                               for i in invoice["items"])


def syspro_invoices_of(box, st_ids: set[int]) -> list[dict]:
    st = box.company.st
    numbers = {f"ST{st.invoices[i]['referenceNumber']}" for i in st_ids} | {f"ST-{i}" for i in st_ids}
    return [row for row in box.company.syspro.ap_invoices if row["Invoice"] in numbers]


def test_invoices_dated_before_go_live_and_edited_after_it_are_never_posted(sandbox):
    st = sandbox.company.st
    go_live = sandbox.company.start + dt.timedelta(days=15)
    set_start(go_live)
    cycle("invoices")
    old = {i for i, inv in st.invoices.items() if st_date(inv) < go_live and has_cost(inv)}
    new = {i for i, inv in st.invoices.items() if st_date(inv) >= go_live and has_cost(inv)}
    assert len(old) > 5 and len(new) > 5
    for st_id in old:  # technicians correct old invoices after go-live
        st.edit_invoice(st_id)
    for _ in range(2):
        cycle("invoices")

    assert syspro_invoices_of(sandbox, old) == []
    docs = list(ApDocument.select().where(ApDocument.st_invoice_id.in_(sorted(old))))
    assert {doc.st_invoice_id for doc in docs} == old  # every edited one was seen...
    for doc in docs:  # ...and recorded as not the connector's, with the reason
        assert doc.state == ledger.SKIPPED and date_skip(doc.reason, go_live), (doc.state, doc.reason)
    posted = {doc.st_invoice_id for doc in ApDocument.select().where(ApDocument.state.in_(SENT))}
    assert posted and posted <= new
    assert_exactly_once(sandbox)


def test_moving_the_go_live_date_earlier_picks_up_and_later_never_unposts(sandbox):
    st, sp = sandbox.company.st, sandbox.company.syspro
    start = sandbox.company.start
    set_start(start + dt.timedelta(days=15))
    cycle("invoices")
    first = {doc.id: doc.state for doc in ApDocument.select().where(ApDocument.state.in_(SENT))}
    assert first and all(doc.invoice_date >= start + dt.timedelta(days=15)
                         for doc in ApDocument.select().where(ApDocument.state.in_(SENT)))

    # earlier: the invoices dated between the two dates are the connector's now, even those last
    # modified before the old date (never in the feed this profile read)
    set_start(start)
    cycle("invoices")
    between = {i for i, inv in st.invoices.items() if start <= st_date(inv) < start + dt.timedelta(days=15)
               and has_cost(inv)}
    docs = {doc.st_invoice_id: doc for doc in ApDocument.select().where(ApDocument.st_invoice_id.in_(sorted(between)))}
    assert set(docs) == between
    assert sum(doc.state in SENT for doc in docs.values()) > 5
    assert not any(date_skip(doc.reason, start + dt.timedelta(days=15)) for doc in ApDocument.select())
    assert_exactly_once(sandbox)

    # later: nothing posted is undone, not even after an edit; what waits and is dated earlier is left alone
    posted = {doc.id: (doc.state, doc.supplier, doc.syspro_invoice) for doc in
              ApDocument.select().where(ApDocument.state.in_(SENT))}
    waiting_before = [doc for doc in ApDocument.select().where(ApDocument.state == ledger.NEEDS_MAPPING)]
    later = start + dt.timedelta(days=20)
    set_start(later)
    for doc in ApDocument.select().where(ApDocument.state.in_(SENT), ApDocument.invoice_date < later):
        st.edit_invoice(doc.st_invoice_id, lambda invoice: invoice.update(summary="Customer called back"))
    rows_before = len(sp.ap_invoices)
    cycle("invoices")
    assert len(sp.ap_invoices) == rows_before
    now = {doc.id: (doc.state, doc.supplier, doc.syspro_invoice) for doc in ApDocument.select()
           .where(ApDocument.id.in_(list(posted)))}
    assert now == posted
    waiting_early = [doc for doc in waiting_before if st_date(st.invoices[doc.st_invoice_id]) < later]
    assert waiting_early
    for doc in waiting_early:
        doc = ApDocument.get_by_id(doc.id)
        assert doc.state == ledger.SKIPPED and date_skip(doc.reason, later)


def _edit_st_po(st, po_id: int) -> None:
    with st.lock:
        po = st.purchase_orders[po_id]
        po["summary"] = "Vendor asked for a new ship date"
        po["modifiedOn"] = st.stamp()


def test_purchase_orders_dated_before_go_live_never_cross_either_way(sandbox):
    st, sp = sandbox.company.st, sandbox.company.syspro
    go_live = sandbox.company.start + dt.timedelta(days=15)
    set_start(go_live)
    # a SYSPRO PO entered before go-live for a mapped supplier, warehouse and stock codes
    johnst = next(po for po in sp.purchase_orders.values() if po["header"]["Supplier"] == "JOHNST")
    old_sp = sp.add_purchase_order("JOHNST", [{"StockCode": line["MStockCode"], "OrderQty": Decimal(5),
                                               "Price": line["MPrice"], "LedgerCode": "10-5000"}
                                              for line in johnst["lines"]],
                                   warehouse="DAL", order_date=go_live - dt.timedelta(days=3), customer_po_number="")
    old_number = old_sp if isinstance(old_sp, str) else old_sp["header"]["PurchaseOrder"]
    cycle("vendors")
    cycle("purchase-orders")
    old = {i for i, po in st.purchase_orders.items() if local(po["date"]) < go_live and po["status"] != "Canceled"}
    assert old
    for po_id in old:
        _edit_st_po(st, po_id)
    for _ in range(2):
        cycle("purchase-orders")

    cpns = {po["header"]["CustomerPoNumber"] for po in sp.purchase_orders.values()}
    for po_id in old:
        assert f"ST{st.purchase_orders[po_id]['number']}" not in cpns
        row = SyncLink.get(SyncLink.flow == "purchase-orders", SyncLink.st_id == po_id)
        assert row.state == SKIPPED and date_skip(row.reason, go_live), (row.state, row.reason)
    assert not any(po.get("summary") == f"SYSPRO PO {old_number}" for po in st.purchase_orders.values())
    assert SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.syspro_key == old_number).count() == 0
    # the ones from go-live on did cross
    assert SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.state == SYNCED).count() > 3

    # the go-live date moved earlier: what was skipped for its date crosses now, once
    set_start(sandbox.company.start)
    for _ in range(2):
        cycle("purchase-orders")
    cpns = [po["header"]["CustomerPoNumber"] for po in sp.purchase_orders.values()]
    crossed = [po_id for po_id in old if f"ST{st.purchase_orders[po_id]['number']}" in cpns]
    assert crossed and all(cpns.count(f"ST{st.purchase_orders[po_id]['number']}") == 1 for po_id in crossed)
    for po_id in old:
        row = SyncLink.get(SyncLink.flow == "purchase-orders", SyncLink.st_id == po_id)
        assert not date_skip(row.reason, go_live)
    assert any(po.get("summary") == f"SYSPRO PO {old_number}" for po in st.purchase_orders.values())


def test_adjustments_dated_before_go_live_are_never_posted_nor_listed(sandbox):
    st, sp = sandbox.company.st, sandbox.company.syspro
    go_live = sandbox.company.start + dt.timedelta(days=15)
    set_start(go_live)
    some = sp.movements[-1]
    sp.adjust_stock(some["StockCode"], some["Warehouse"], Decimal(2), reference="OLD COUNT",
                    entry_date=go_live - dt.timedelta(days=2))
    cycle("adjustments")
    old = {i for i, adj in st.adjustments.items() if local(adj["date"]) < go_live and adj.get("active", True)}
    assert old
    for adjustment_id in old:
        with st.lock:
            adjustment = st.adjustments[adjustment_id]
            adjustment["items"][0]["quantity"] += 1
            adjustment["modifiedOn"] = st.stamp()
    for _ in range(2):
        cycle("adjustments")
    references = {m["Reference"] for m in sp.movements}
    for adjustment_id in old:
        number = st.adjustments[adjustment_id]["number"]
        assert not any(ref.startswith(f"ST-ADJ-{number}") for ref in references)
        row = SyncLink.get(SyncLink.flow == "adjustments", SyncLink.st_id == adjustment_id)
        assert row.state == SKIPPED and date_skip(row.reason, go_live), (row.state, row.reason)
    assert not WorklistRow.select().where(WorklistRow.syspro_reference == "OLD COUNT").exists()
    assert WorklistRow.select().count() > 0  # SYSPRO adjustments from go-live on are listed

    # the go-live date moved earlier: the skipped ones are the connector's now, and posted once
    set_start(sandbox.company.start)
    cycle("adjustments")
    cycle("adjustments")
    references = [m["Reference"] for m in sp.movements]
    for adjustment_id in old:
        number = st.adjustments[adjustment_id]["number"]
        assert SyncLink.get(SyncLink.flow == "adjustments", SyncLink.st_id == adjustment_id).state != SKIPPED
        assert len({(m["Reference"], m["StockCode"], m["Warehouse"]) for m in sp.movements
                    if m["Reference"] == f"ST-ADJ-{number}"}) == sum(
            1 for m in sp.movements if m["Reference"] == f"ST-ADJ-{number}")
    assert any(ref.startswith("ST-ADJ-") for ref in references)
    assert WorklistRow.select().where(WorklistRow.syspro_reference == "OLD COUNT").exists()


def last_31st(before: dt.date) -> dt.date:
    day = before - dt.timedelta(days=1)
    while day.day != 31:
        day -= dt.timedelta(days=1)
    return day


def evening_of(day: dt.date) -> dt.datetime:
    """8 pm in Chicago on `day`, as the naive UTC instant the simulator keeps (01:00 or 02:00 the next day)."""
    moment = dt.datetime.combine(day, dt.time(20, 0), tzinfo=zoneinfo.ZoneInfo(ZONE))
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _open_the_month_of(sp, day: dt.date) -> None:
    following = (day + dt.timedelta(days=1))
    sp.current_period = (following.year, following.month)  # the 31st's month is the open previous period


def test_an_8pm_chicago_po_and_adjustment_on_the_31st_reach_syspro_dated_the_31st(sandbox):
    st, sp = sandbox.company.st, sandbox.company.syspro
    the_31st = last_31st(dt.date.today())
    evening = evening_of(the_31st)
    assert evening.date() == the_31st + dt.timedelta(days=1)  # in UTC it is the 1st already
    set_start(min(sandbox.company.start, the_31st.replace(day=1)))
    _open_the_month_of(sp, the_31st)
    cycle("vendors")
    cycle("purchase-orders")
    cycle("adjustments")

    base_po = next(st.purchase_orders[row.st_id] for row in SyncLink.select().where(
        SyncLink.flow == "purchase-orders", SyncLink.origin == "servicetitan", SyncLink.state == SYNCED)
        if st.purchase_orders[row.st_id]["status"] == "Pending")
    base_adj = next(st.adjustments[row.st_id] for row in SyncLink.select().where(
        SyncLink.flow == "adjustments", SyncLink.state == SYNCED, SyncLink.st_id.is_null(False))
        if st.adjustments[row.st_id].get("active", True))
    with st.lock:
        po = copy.deepcopy(base_po)
        po["id"] = st.new_id()
        po["number"] = f"{po['id']}-PO"
        po["date"], po["requiredOn"] = evening, evening + dt.timedelta(days=2)
        for item in po["items"]:
            item["id"] = st.new_id()
        po["createdOn"] = po["modifiedOn"] = st.stamp()
        st.purchase_orders[po["id"]] = po
        adjustment = copy.deepcopy(base_adj)
        adjustment["id"] = st.new_id()
        adjustment["number"] = "ADJ-EVENING"
        adjustment["date"] = evening
        adjustment["externalData"] = {}
        for item in adjustment["items"]:
            item["id"] = st.new_id()
        adjustment["createdOn"] = adjustment["modifiedOn"] = st.stamp()
        st.adjustments[adjustment["id"]] = adjustment
    cycle("purchase-orders")
    cycle("adjustments")

    header = next(p["header"] for p in sp.purchase_orders.values()
                  if p["header"]["CustomerPoNumber"] == f"ST{po['number']}")
    assert header["OrderEntryDate"] == the_31st
    movements = [m for m in sp.movements if m["Reference"] == "ST-ADJ-ADJ-EVENING"]
    assert movements and {m["EntryDate"] for m in movements} == {the_31st}
