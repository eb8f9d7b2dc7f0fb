"""Generic reads over e.net: COMFND (rows of any SYSPRO table) and APSQRY (one supplier).

COMFND shape from the recorded SYSPRO 7 traffic (samples/COMFND-XmlIn.xml / -XmlOut.xml).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop_app.syspro import contract, fields, xmlout
from desktop_app.syspro.errors import MalformedXmlOut, ValidationError
from desktop_app.syspro.records import ApInvoiceRecord, ApInvoiceTransactionRecord

_CONDITIONS = {"EQ", "NE", "LT", "LE", "GT", "GE", "LIKE"}


@dataclass(frozen=True)
class Where:
    column: str
    value: str
    condition: str = "EQ"


def build_comfnd(table: str, columns: list[str] | tuple[str, ...], *, where: Sequence[Where] = (),
                 return_rows: int = 100, order_by: str | None = None) -> str:
    """A COMFND query; all conditions are joined with And."""
    if not table or not columns:
        raise ValueError("COMFND needs a table and at least one column")
    root = fields.root("Query", "COMFND.XSD")
    fields.add(root, "TableName", table)
    fields.add(root, "ReturnRows", str(int(return_rows)))
    cols = fields.add(root, "Columns")
    for column in columns:
        fields.add(cols, "Column", column)
    if where:
        where_el = fields.add(root, "Where")
        for condition in where:
            if condition.condition not in _CONDITIONS:
                raise ValidationError("Condition", f"{condition.condition!r} is not a COMFND condition")
            expression = fields.add(where_el, "Expression")
            fields.add(expression, "OpenBracket", "(")
            fields.add(expression, "AndOr", "And")
            fields.add(expression, "Column", condition.column)
            fields.add(expression, "Condition", condition.condition)
            fields.add(expression, "Value", condition.value)
            fields.add(expression, "CloseBracket", ")")
    if order_by:
        order = fields.add(root, "OrderBy")
        fields.add(order, "Column", order_by)
    return fields.serialize(root)


def parse_comfnd(xml_out: str | bytes) -> list[dict[str, str]]:
    """Rows as {column: stripped text}; the root is named after the table."""
    root = xmlout.load(xml_out)
    if xmlout.child(root, "HeaderDetails") is None and not xmlout.children(root, "Row"):
        raise MalformedXmlOut(f"SYSPRO answered COMFND with a <{xmlout.name(root)}> document without rows or header.")
    return [
        {xmlout.name(cell): (cell.text or "").strip() for cell in row if xmlout.name(cell)}
        for row in xmlout.children(root, "Row")
    ]


def comfnd(session, table: str, columns, *, where: Sequence[Where] = (), return_rows: int = 100,
           order_by: str | None = None) -> list[dict[str, str]]:
    xml_in = build_comfnd(table, columns, where=where, return_rows=return_rows, order_by=order_by)
    return parse_comfnd(session.query("COMFND", xml_in))


def find_ap_invoice_enet(session, *, supplier: str, invoice: str) -> ApInvoiceRecord | None:
    """The AP invoice (supplier, invoice) via COMFND on the ApInvoice table, or None."""
    rows = comfnd(session, contract.AP_INVOICE_TABLE, contract.ODATA_ENTITIES["ApInvoice"],
                  where=[Where("Supplier", supplier), Where("Invoice", invoice)], return_rows=5)
    for row in rows:
        record = ApInvoiceRecord.from_row(row)
        if record.supplier == supplier.strip() and record.invoice == invoice.strip():
            return record
    return None


def find_ap_credit_enet(session, *, supplier: str, invoice: str) -> list[ApInvoiceTransactionRecord]:
    """The transactions (payments, credit notes) against AP invoice (supplier, invoice), via COMFND."""
    rows = comfnd(session, contract.AP_INVOICE_PAY_TABLE, contract.ODATA_ENTITIES["ApInvoicePay"],
                  where=[Where("Supplier", supplier), Where("Invoice", invoice)], return_rows=500)
    records = [ApInvoiceTransactionRecord.from_row(row) for row in rows]
    return [r for r in records if r.supplier == supplier.strip() and r.invoice == invoice.strip()]


# --- APSQRY -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SupplierQueryResult:
    supplier: str
    name: str
    on_hold: bool
    branch: str
    currency: str
    invoices: tuple[str, ...]  # invoice numbers listed when include_invoices was asked for


def build_apsqry(supplier: str, *, include_invoices: bool = False) -> str:
    root = fields.root("Query", "APSQRY.XSD")
    key = fields.add(root, "Key")
    fields.add(key, "Supplier", fields.text("Supplier", supplier, limit="Supplier", required=True))
    option = fields.add(root, "Option")
    fields.add(option, "IncludeInvoices", fields.yes_no(include_invoices))
    fields.add(option, "IncludeRegisteredInvoices", fields.yes_no(include_invoices))
    for tag in ("IncludeReceipts", "IncludeScrapReject", "IncludeInvoicePayments", "IncludeGoodsReceivedNotes",
                "IncludeCustomForms"):
        fields.add(option, tag, "N")
    fields.add(option, "XslStylesheet")
    return fields.serialize(root)


def parse_apsqry(xml_out: str | bytes) -> SupplierQueryResult:
    """Lenient: no real APSQRY answer is public, so fields are searched anywhere in the document."""
    root = xmlout.load(xml_out)

    def first(tag: str) -> str:
        found = xmlout.descendants(root, tag)
        return (found[0].text or "").strip() if found else ""

    supplier = first("Supplier")
    if not supplier:
        raise MalformedXmlOut(f"SYSPRO answered APSQRY with a <{xmlout.name(root)}> document without a supplier.")
    invoices = tuple((el.text or "").strip() for el in xmlout.descendants(root, "Invoice") if (el.text or "").strip())
    return SupplierQueryResult(supplier=supplier, name=first("SupplierName"), on_hold=first("OnHold").upper()
                               in ("Y", "YES"), branch=first("Branch"), currency=first("Currency"), invoices=invoices)


def query_supplier(session, supplier: str, *, include_invoices: bool = False) -> SupplierQueryResult:
    return parse_apsqry(session.query("APSQRY", build_apsqry(supplier, include_invoices=include_invoices)))
