"""A record the engine cannot read is held on its own, naming the field; everything else goes on."""
from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app.core.models import ApDocument, AuditEvent, SyncCursor
from desktop_app.sandbox.st_wire import RawJson
from desktop_app.sync import invoices, ledger
from desktop_app.sync.build import BuildSettings, Mappings, Reference, Sku, build_documents
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle

COST_TYPES = ("Material", "Equipment")


def cycle(flow=None):
    ctx = SyncContext.from_database(actor="scheduler")
    try:
        return run_cycle(ctx, flow=flow)
    finally:
        ctx.close()


def postable_invoices(box, count: int) -> list[int]:
    """Ids of invoices of the seeded company that would post as invoices (not credits) today."""
    ctx = SyncContext.from_database(actor="test")
    try:
        evaluator = invoices.Evaluator(ctx)
        wanted = []
        for record in ctx.st.invoices_by_ids(sorted(box.company.st.invoices), raw=True):
            result = evaluator.build(record)
            if result.documents and all(doc.transaction_code == "I" and doc.amount > 0 for doc in result.documents):
                wanted.append(record["id"])
    finally:
        ctx.close()
    assert len(wanted) >= count
    return wanted[:count]


def cost_index(box, st_id: int) -> int:
    items = box.company.st.invoices[st_id]["items"]
    return next(i for i, item in enumerate(items) if item["type"] in COST_TYPES)


def in_syspro(box, st_id: int) -> bool:
    return any(row.get("Invoice") == doc.syspro_invoice and row.get("Supplier") == doc.supplier
               for doc in ApDocument.select().where(ApDocument.st_invoice_id == st_id)
               for row in box.company.syspro.ap_invoices)


def break_field(box, st_id: int, change) -> None:
    box.company.st.wire_patches.setdefault("invoices", {})[st_id] = change


@pytest.mark.parametrize("value,expected", [
    ("abc", "'abc' is not an amount"),
    ("1,5", "'1,5' is not an amount"),
    (RawJson("NaN"), "is not an amount"),
    (RawJson("Infinity"), "is not an amount"),
    (RawJson("1E+400"), "is too large"),
    ("1234567890123.00", "at most 12 digits"),
])
def test_one_unreadable_invoice_is_held_and_the_page_goes_on(sandbox, value, expected):
    broken, other = postable_invoices(sandbox, 2)
    index = cost_index(sandbox, broken)
    break_field(sandbox, broken, lambda out: out["items"][index].__setitem__("cost", value))
    result = cycle()
    assert not result.errors, result.errors
    docs = list(ApDocument.select().where(ApDocument.st_invoice_id == broken))
    assert docs and {doc.state for doc in docs} == {ledger.UNREADABLE}
    number = sandbox.company.st.invoices[broken]["referenceNumber"]
    assert f"ServiceTitan invoice {number}: items[{index}].cost" in docs[0].reason
    assert expected in docs[0].reason
    assert not in_syspro(sandbox, broken)
    # the rest of the page, and every other page, posted; the feed token moved on
    assert {d.state for d in ApDocument.select().where(ApDocument.st_invoice_id == other)} <= {
        ledger.POSTED, ledger.CONFIRMED}
    assert in_syspro(sandbox, other)
    assert ledger.counts()[ledger.CONFIRMED] > 20
    assert SyncCursor.get_or_none(SyncCursor.name == invoices.CURSOR) is not None


def test_the_next_cycle_is_not_blocked_and_retry_reads_the_invoice_again(sandbox):
    broken, = postable_invoices(sandbox, 1)
    index = cost_index(sandbox, broken)
    break_field(sandbox, broken, lambda out: out["items"][index].__setitem__("quantity", "abc"))
    cycle()
    doc = ApDocument.get(ApDocument.st_invoice_id == broken)
    assert doc.state == ledger.UNREADABLE and f"items[{index}].quantity 'abc'" in doc.reason
    new_ids = sandbox.company.st.advance(4)
    second = cycle(flow="invoices")["invoices"]
    assert second.discovered == 4
    assert ApDocument.get(ApDocument.st_invoice_id == broken).state == ledger.UNREADABLE
    # corrected in ServiceTitan without a new version in the feed: only a Retry reads it again
    sandbox.company.st.wire_patches["invoices"].clear()
    ctx = SyncContext.from_database(actor="office")
    try:
        summary = invoices.replay(ctx, [doc.id])
    finally:
        ctx.close()
    assert summary.posted >= 1
    assert {d.state for d in ApDocument.select().where(ApDocument.st_invoice_id == broken)} == {ledger.POSTED}
    assert in_syspro(sandbox, broken)
    assert any(e.kind == "retry" and e.actor == "office" for e in ledger.trail(doc.id))
    assert ApDocument.select().where(ApDocument.st_invoice_id.in_(new_ids)).exists()


def test_invoices_list_shows_unreadable_ones(sandbox, capsys):
    from desktop_app.cli import main

    broken, = postable_invoices(sandbox, 1)
    break_field(sandbox, broken, lambda out: out.__setitem__("invoiceDate", "not a date"))
    cycle()
    capsys.readouterr()
    assert main(["invoices", "list", "--state", "unreadable"]) == 0
    out = capsys.readouterr().out
    assert "UNREADABLE" in out and "invoiceDate 'not a date'" in out


@pytest.mark.parametrize("change,field", [
    (lambda out: out.__setitem__("invoiceDate", None), "invoiceDate None is missing"),
    (lambda out: out.__setitem__("invoiceDate", "31/02/2026"), "invoiceDate '31/02/2026' is not a date"),
    (lambda out: out.__setitem__("businessUnit", "Plumbing"), "businessUnit 'Plumbing' is not an object"),
    (lambda out: out.__setitem__("businessUnit", [1, 2]), "businessUnit [1, 2] is not an object"),
    # JSON may escape half of a surrogate pair on its own: a string no text column can store
    (lambda out: out["items"][0].__setitem__("description", RawJson('"pipe \\ud800 elbow"')),
     "items[0].description 'pipe \\ud800 elbow' has a broken character"),
    (lambda out: out.__setitem__("summary", RawJson('"\\udfff"')), "summary '\\udfff' has a broken character"),
])
def test_dates_shapes_and_broken_text_are_held_by_name(sandbox, change, field):
    broken, = postable_invoices(sandbox, 1)
    break_field(sandbox, broken, change)
    result = cycle()
    assert not result.errors, result.errors
    docs = list(ApDocument.select().where(ApDocument.st_invoice_id == broken))
    assert {doc.state for doc in docs} == {ledger.UNREADABLE}
    assert field in docs[0].reason
    assert not in_syspro(sandbox, broken)
    assert ledger.counts()[ledger.CONFIRMED] > 20


def test_an_invoice_id_that_is_not_a_number_is_named_in_the_trail(sandbox):
    broken, = postable_invoices(sandbox, 1)
    break_field(sandbox, broken, lambda out: out.__setitem__("id", "12ab"))
    result = cycle()
    assert not result.errors, result.errors
    summary = result["invoices"]
    assert any("id '12ab' is not a record id" in problem for problem in summary.problems)
    assert AuditEvent.select().where(AuditEvent.kind == "unreadable").exists()
    assert ledger.counts()[ledger.CONFIRMED] > 20


def test_a_readable_new_version_is_evaluated_normally(sandbox):
    broken, = postable_invoices(sandbox, 1)
    break_field(sandbox, broken, lambda out: out.__setitem__("businessUnit", "x"))
    cycle()
    assert ApDocument.get(ApDocument.st_invoice_id == broken).state == ledger.UNREADABLE
    sandbox.company.st.wire_patches["invoices"].clear()
    sandbox.company.st.edit_invoice(broken)
    cycle()
    assert {d.state for d in ApDocument.select().where(ApDocument.st_invoice_id == broken)} <= {
        ledger.POSTED, ledger.CONFIRMED}
    assert in_syspro(sandbox, broken)


SETTINGS = BuildSettings(timezone="America/Chicago")
REFERENCE = Reference(skus={1: Sku(1, "CU", "Copper", 100, "Vendor")})
MAPPINGS = Mappings(vendors={100: "SUP"}, items_by_id={1: ("CU", "")}, gl={("5000", None): "10-5000"},
                    branches={10: ("DAL", "")})


def _invoice(**items):
    line = {"id": 5, "skuId": 1, "type": "Material", "quantity": "1", "cost": "5",
            "costOfSaleAccount": {"number": "5000"}, **items}
    return {"id": 1, "referenceNumber": "9", "invoiceDate": "2026-03-02T00:00:00Z",
            "businessUnit": {"id": 10}, "items": [line], "modifiedOn": "x"}


@pytest.mark.parametrize("fields,expected", [
    ({"cost": "12.345", "quantity": "2"}, Decimal("24.69")),     # rounded half-up per line
    ({"cost": "0.004", "quantity": "1"}, None),                  # rounds to zero: no cost line
    ({"cost": "999999999999.99", "quantity": "1"}, Decimal("999999999999.99")),
    ({"cost": " 7 ", "quantity": 2}, Decimal("14.00")),
    ({"cost": Decimal("1E+2"), "quantity": "1"}, Decimal("100.00")),
])
def test_amount_rules(fields, expected):
    result = build_documents(_invoice(**fields), MAPPINGS, REFERENCE, SETTINGS)
    assert not result.unreadable
    if expected is None:
        assert result.skip_reason
    else:
        assert result.documents[0].amount == expected


@pytest.mark.parametrize("fields,expected", [
    ({"cost": "1_000"}, "items[0].cost '1_000' is not an amount"),
    ({"cost": True}, "items[0].cost True is not an amount"),
    ({"cost": 1.5}, "items[0].cost 1.5 is not an amount"),
    ({"cost": Decimal("NaN")}, "is not an amount"),
    ({"cost": "999999999999.99", "quantity": "2"}, "too large for SYSPRO"),
    ({"quantity": {"value": 1}}, "items[0].quantity {'value': 1} is not an amount"),
    ({"skuId": "x1"}, "items[0].skuId 'x1' is not a record id"),
    ({"costOfSaleAccount": "5000"}, "items[0].costOfSaleAccount '5000' is not an object"),
])
def test_unreadable_fields_are_named(fields, expected):
    result = build_documents(_invoice(**fields), MAPPINGS, REFERENCE, SETTINGS)
    assert expected in result.unreadable
    assert not result.documents


def test_the_reliability_scenario_of_broken_records_posts_none_of_them_until_they_read_again(sandbox):
    from tests.reliability import scenarios

    assert ("broken records", scenarios.broken_records_in) in scenarios.SCENARIOS
    outcome = scenarios.broken_records_in(sandbox, every=3, cycles=2, arrivals=12)
    assert outcome.kills >= 4, outcome  # broken invoices did arrive
    assert outcome.ok and outcome.invoices > 0, outcome
    # repaired and retried, every one of them is in SYSPRO now
    assert not ApDocument.select().where(ApDocument.state == ledger.UNREADABLE).exists()
