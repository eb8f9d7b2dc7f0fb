"""Bad and awkward input: nulls the schema allows, hostile names, many decimals, odd quantities."""
from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger
from desktop_app.sync.build import BuildSettings, Mappings, Reference, Sku, build_documents
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle

SETTINGS = BuildSettings(timezone="America/Chicago")
REFERENCE = Reference(skus={1: Sku(1, "CU", "Copper", 100, "Vendor")})
MAPPINGS = Mappings(vendors={100: "SUP"}, items_by_id={1: ("CU", "")}, gl={("5000", None): "10-5000"},
                    branches={10: ("DAL", "")})


def invoice(**fields):
    base = {"id": 1, "referenceNumber": "9", "invoiceDate": "2026-03-02T00:00:00Z",
            "businessUnit": {"id": 10, "name": None},
            "job": None, "items": [], "active": True, "modifiedOn": None, "employeeInfo": None}
    base.update(fields)
    return base


def line(**fields):
    base = {"id": 5, "skuId": 1, "type": "Material", "quantity": "1", "cost": "5",
            "costOfSaleAccount": {"number": "5000"}, "generalLedgerAccount": None, "technicianId": None,
            "description": None}
    base.update(fields)
    return base


@pytest.mark.parametrize("fields", [
    {"items": None},
    {"items": [line(quantity=None)]},
    {"items": [line(cost=None)]},
    {"items": [line(skuId=None)]},
    {"items": [line(costOfSaleAccount=None)]},
    {"items": [line(type=None)]},
    {"businessUnit": None, "items": [line()]},
    {"referenceNumber": None, "job": None, "items": [line()]},
])
def test_nulls_the_schema_allows_never_crash_and_always_explain(fields):
    result = build_documents(invoice(**fields), MAPPINGS, REFERENCE, SETTINGS)
    assert result.documents or result.missing or result.skip_reason
    for missing in result.missing:
        assert missing["reason"]


@pytest.mark.parametrize("quantity,cost,expected", [
    ("0.3333333333", "3.0000000001", Decimal("1.00")),
    ("1", "0.004999999", Decimal("0.00")),     # rounds to zero: not a cost line
    ("-1", "5", Decimal("-5.00")),             # a return on the invoice
    ("0", "5", Decimal("0.00")),
    ("1000000", "0.015", Decimal("15000.00")),
])
def test_many_decimals_negative_and_zero_quantities(quantity, cost, expected):
    result = build_documents(invoice(items=[line(quantity=quantity, cost=cost)]), MAPPINGS, REFERENCE, SETTINGS)
    if expected == 0:
        assert result.skip_reason
    else:
        doc = result.documents[0]
        assert doc.amount == expected
        assert doc.transaction_code == ("C" if expected < 0 else "I")


def test_hostile_and_long_names_go_through_syspro_and_back(sandbox):
    """Names with & < > ' " and non-ASCII letters reach SYSPRO intact (within Windows-1252)."""
    company = sandbox.company
    for invoice_record in list(company.st.invoices.values())[:5]:
        invoice_record["businessUnit"] = dict(invoice_record.get("businessUnit") or {},
                                              name="Peña & O'Brien <Plumbing> \"Züri\" " * 3)
    for st_id in list(company.st.invoices)[:5]:
        company.st.edit_invoice(st_id)
    ctx = SyncContext.from_database(actor="test")
    try:
        run_cycle(ctx)
    finally:
        ctx.close()
    assert ledger.counts()[ledger.FAILED] == 0
    posted = {(d.supplier, d.syspro_invoice): d for d in ApDocument.select()
              .where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED]))}
    stored = [r for r in company.syspro.ap_invoices if (r["Supplier"], r["Invoice"]) in posted]
    assert any("Peña & O'Brien <Plumbing>" in (r.get("Notation") or "") for r in stored)
