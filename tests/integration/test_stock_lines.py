"""sync.ap_lines = non_stock: parts used from the company's own stock are not billed to AP twice."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from desktop_app.core import config
from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger
from desktop_app.sync.build import is_stock_line
from tests.core.test_cli_foundation import run_cli
from tests.integration.test_invoice_sync import assert_exactly_once
from tests.integration.two_way_helpers import cycle

COST_TYPES = ("Material", "Equipment")


def amount(item) -> Decimal:
    return (Decimal(str(item["quantity"])) * Decimal(str(item["cost"]))).quantize(Decimal("0.01"), ROUND_HALF_UP)


def cost_items(invoice):
    return [i for i in invoice["items"] if i["type"] in COST_TYPES and amount(i) != 0]


def test_the_simulator_marks_stock_parts_as_the_invoice_feed_does(sandbox):
    items = [i for inv in sandbox.company.st.invoices.values() for i in cost_items(inv)]
    stock = [i for i in items if i["inventory"] and i["inventoryLocationId"]]
    bought = [i for i in items if not (i["inventory"] and i["inventoryLocationId"])]
    assert stock and bought  # both kinds occur, as at a real contractor
    locations = {**sandbox.company.st.trucks, **sandbox.company.st.warehouses}
    for item in stock:  # the id and the name of the truck or warehouse the part came from
        assert locations[item["inventoryLocationId"]]["name"] == item["inventoryLocation"]
    assert all(i["inventoryLocationId"] is None and i["inventoryLocation"] is None for i in items if not i["inventory"])


def test_non_stock_leaves_stock_lines_out_and_says_which(sandbox):
    st, sp = sandbox.company.st, sandbox.company.syspro
    config.save_setting("sync.ap_lines", "non_stock", actor="test")
    cycle("invoices")
    docs = list(ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])))
    assert len(docs) > 10
    rows = {(r["Supplier"], r["Invoice"]): r for r in sp.ap_invoices}
    with_left_out = 0
    for doc in docs:
        items = {i["id"]: i for i in st.invoices[doc.st_invoice_id]["items"]}
        assert not any(is_stock_line(items[line["st_item_id"]]) for line in doc.lines)
        assert doc.amount == sum((Decimal(line["amount"]) for line in doc.lines), Decimal(0))
        assert abs(Decimal(str(rows[(doc.supplier, doc.syspro_invoice)]["OrigInvValue"]))) == doc.amount
        stock = [i for i in cost_items(st.invoices[doc.st_invoice_id]) if is_stock_line(i)]
        assert sorted(line["st_item_id"] for line in doc.left_out) == sorted(i["id"] for i in stock)
        for line in doc.left_out:
            assert line["location"] == items[line["st_item_id"]]["inventoryLocation"]
            assert "own stock" in line["why"] and "purchase order" in line["why"]
        with_left_out += bool(doc.left_out)
    assert with_left_out > 0
    # an invoice whose every cost line came from stock owes AP nothing: skipped, with the reason
    all_stock = [i for i, inv in st.invoices.items() if inv.get("active", True) and cost_items(inv)
                 and all(is_stock_line(item) for item in cost_items(inv))]
    assert all_stock
    for st_id in all_stock:
        (doc,) = ApDocument.select().where(ApDocument.st_invoice_id == st_id)
        assert doc.state == ledger.SKIPPED and doc.reason.startswith("Every material and equipment line")
        assert "own stock" in doc.reason and len(doc.left_out) == len(cost_items(st.invoices[st_id]))
    assert_exactly_once(sandbox)

    # the CLI's detail names the lines left out, and why
    doc = next(d for d in docs if d.left_out)
    shown = run_cli("invoices", "show", str(doc.id))
    assert shown.returncode == 0, shown.stderr
    assert f"Left out of AP ({len(doc.left_out)} line(s))" in shown.stdout
    line = doc.left_out[0]
    assert f"{line['quantity']} × {line['unit_cost']} = {line['amount']}" in shown.stdout
    assert f"used from your own stock ({line['location']})" in shown.stdout


def test_all_lines_is_the_default_and_posts_stock_lines_as_before(sandbox):
    assert config.load_settings()["sync.ap_lines"] == "all"
    cycle("invoices")
    docs = list(ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])))
    stock_lines = 0
    for doc in docs:
        items = {i["id"]: i for i in sandbox.company.st.invoices[doc.st_invoice_id]["items"]}
        stock_lines += sum(is_stock_line(items[line["st_item_id"]]) for line in doc.lines)
        assert doc.left_out == []
    assert stock_lines > 0


def test_switching_to_non_stock_withdraws_stock_lines_not_yet_posted_and_leaves_posted_ones(sandbox):
    cycle("invoices")
    posted = {d.id: (d.state, d.amount) for d in ApDocument.select().where(
        ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED]))}
    waiting = [d.st_invoice_id for d in ApDocument.select().where(ApDocument.state == ledger.NEEDS_MAPPING)]
    config.save_setting("sync.ap_lines", "non_stock", actor="test")
    cycle("invoices")
    assert {d.id: (d.state, d.amount) for d in ApDocument.select().where(ApDocument.id.in_(list(posted)))} == posted
    assert waiting  # what waits for a mapping was evaluated again with the new setting
    reevaluated = [d for d in ApDocument.select().where(ApDocument.st_invoice_id.in_(waiting)) if d.left_out]
    stock_waiting = [st_id for st_id in waiting if any(is_stock_line(i) for i in
                                                       cost_items(sandbox.company.st.invoices[st_id]))]
    assert stock_waiting and {d.st_invoice_id for d in reevaluated} == set(stock_waiting)
