"""Ledger documents for the page tests, created through the engine's own models and audit calls."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger

LINES = [
    {"st_item_id": 1, "sku_id": 11, "sku_code": "CU-12", "stock_code": "CU12-COPPER",
     "description": "Copper pipe 1/2in", "quantity": "3", "unit_cost": "12.50", "amount": "37.50",
     "ledger_code": "5100-100"},
    {"st_item_id": 2, "sku_id": 12, "sku_code": "CAP-45", "stock_code": "CAP45", "description": "Run capacitor 45uF",
     "quantity": "1", "unit_cost": "1000.00", "amount": "1000.00", "ledger_code": "5100-100"},
]


def make_document(number: str, state: str, *, supplier: str = "ACME01", amount: str = "1037.50",
                  day: dt.date = dt.date(2024, 5, 2), branch: str = "DAL", reason: str = "", missing=None,
                  lines=None, code: str = "I", xml: bool = False) -> ApDocument:
    doc = ApDocument.create(
        doc_key=f"{number}:{supplier or '*'}", st_invoice_id=int("".join(c for c in number if c.isdigit()) or 0),
        st_invoice_number=number, state=state, supplier=supplier, syspro_invoice=f"ST{number}" if supplier else "",
        transaction_code=code, amount=Decimal(amount), invoice_date=day, branch=branch, business_unit="Dallas HVAC",
        technician="Dana Reyes", job_number=f"J{number}", lines=LINES if lines is None else lines,
        missing=missing or [], reason=reason)
    ledger.record(doc, "discovered", f"ServiceTitan invoice {number} found", actor="scheduler")
    if xml:
        ledger.record(doc, "post_attempt", "Posting to SYSPRO (attempt 1)", actor="scheduler",
                      xml_sent="<PostApInvoice><Item><Supplier>ACME01</Supplier></Item></PostApInvoice>",
                      xml_received="<postapinvoice><item><error>Invalid supplier</error></item></postapinvoice>")
    return doc


MISSING_VENDOR = [{"kind": "vendors", "key": 4242, "label": "Johnstone Supply",
                   "reason": "Vendor 'Johnstone Supply' has no SYSPRO supplier."}]


def demo_ledger() -> dict[str, ApDocument]:
    """A small, varied ledger: one document in each interesting state."""
    return {
        "posted": make_document("1001", ledger.POSTED),
        "confirmed": make_document("1002", ledger.CONFIRMED, supplier="FERG02", amount="250.00",
                                   day=dt.date(2024, 5, 3), branch="FTW"),
        "failed": make_document("1003", ledger.FAILED, supplier="WINS03", amount="88.20",
                                reason="SYSPRO rejected it: Supplier WINS03 is on hold", xml=True),
        "needs": make_document("1004", ledger.NEEDS_MAPPING, supplier="", amount="0.00",
                               reason="Needs mapping: Vendor 'Johnstone Supply' has no SYSPRO supplier.",
                               missing=MISSING_VENDOR),
        "credit": make_document("1005", ledger.READY, amount="-42.00", code="C", day=dt.date(2024, 5, 3)),
        "changed": make_document("1006", ledger.CHANGED_IN_SOURCE, supplier="FERG02", amount="310.00",
                                 reason="Edited in ServiceTitan after posting: it now owes 320.00 (posted: 310.00)"),
    }
