"""PORTOI – add, change and cancel purchase orders; PORQRY – read one purchase order.

PORTOI's XSD makes ValidateOnly default to Y (validate, post nothing), unlike every other posting
business object, so `build_parameters` has no default for it and always sends it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from desktop_app.syspro import fields, xmlout
from desktop_app.syspro.errors import MalformedPostXmlOut, MalformedXmlOut, ValidationError
from desktop_app.syspro.xmlout import FieldError

BUSINESS_OBJECT = "PORTOI"
QUERY_OBJECT = "PORQRY"
ROOT = "PostPurchaseOrders"


@dataclass
class PoStockLine:
    stock_code: str
    quantity: Decimal
    price: Decimal | None = None
    warehouse: str | None = None
    due_date: dt.date | None = None
    description: str | None = None
    ledger_code: str | None = None
    line: int | None = None  # required to change or delete a line
    action: str = "A"  # A add | C change | D delete


@dataclass
class PurchaseOrderDocument:
    supplier: str | None
    action: str = "A"  # A add | C change | D cancel
    purchase_order: str | None = None  # required for C/D and manual numbering
    order_date: dt.date | None = None
    due_date: dt.date | None = None
    warehouse: str | None = None
    customer_po_number: str | None = None  # our external reference, e.g. the ServiceTitan PO number
    lines: list[PoStockLine] = field(default_factory=list)


@dataclass
class PoItemResult:
    ok: bool
    purchase_order: str | None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    item_number: int | None = None

    @property
    def message(self) -> str:
        return "; ".join(str(error) for error in self.errors)


@dataclass
class PoPostResult:
    items: list[PoItemResult]
    items_processed: int | None = None
    items_invalid: int | None = None
    errors: list[FieldError] = field(default_factory=list)


def build_parameters(*, validate_only: bool, ignore_warnings: str = "N", allow_non_stock_items: bool = False,
                     allow_zero_price: bool = False, status: str = "1") -> str:
    root = fields.root(ROOT, "PORTOI.XSD")
    params = fields.add(root, "Parameters")
    fields.add(params, "ValidateOnly", fields.yes_no(validate_only))
    fields.add(params, "IgnoreWarnings", fields.choice("IgnoreWarnings", ignore_warnings, "NYW"))
    fields.add(params, "AllowNonStockItems", fields.yes_no(allow_non_stock_items))
    fields.add(params, "AllowZeroPrice", fields.yes_no(allow_zero_price))
    fields.add(params, "ValidateWorkingDays", "N")
    fields.add(params, "AllowPoWhenBlanketPo", "N")
    fields.add(params, "FixedExchangeRate", "N")
    fields.add(params, "AllowBlankLedgerCode", "Y")
    fields.add(params, "CalcDueDate", "N")
    fields.add(params, "InsertDangerousGoodsText", "N")
    fields.add(params, "InsertAdditionalPOText", "N")
    fields.add(params, "Status", fields.choice("Status", status, "14"))
    return fields.serialize(root)


def build_document(docs: list[PurchaseOrderDocument]) -> str:
    if not docs:
        raise ValueError("a PORTOI document needs at least one order")
    root = fields.root(ROOT, "PORTOIDOC.XSD")
    for doc in docs:
        orders = fields.add(root, "Orders")
        header = fields.add(orders, "OrderHeader")
        action = fields.choice("OrderActionType", doc.action, "ACD")
        fields.add(header, "OrderActionType", action)
        supplier = fields.text("Supplier", doc.supplier, limit="Supplier", required=action == "A")
        if supplier:
            fields.add(header, "Supplier", supplier)
        po = fields.text("PurchaseOrder", doc.purchase_order, limit="PurchaseOrder", required=action != "A")
        optional = [
            ("CustomerPoNumber", fields.text("CustomerPoNumber", doc.customer_po_number, limit="CustomerPoNumber")),
            ("OrderDate", fields.date_text("OrderDate", doc.order_date)),
            ("DueDate", fields.date_text("DueDate", doc.due_date)),
            ("Warehouse", fields.text("Warehouse", doc.warehouse, limit="Warehouse")),
            ("PurchaseOrder", po),
        ]
        for tag, value in optional:
            if value:
                fields.add(header, tag, value)
        if doc.lines:
            details = fields.add(orders, "OrderDetails")
            for number, line in enumerate(doc.lines, start=1):
                _add_line(details, line, f"StockLine[{number}]", action)
        elif action == "A":
            raise ValidationError("OrderDetails", "a new purchase order needs at least one line")
    return fields.serialize(root)


def _add_line(details, line: PoStockLine, where: str, order_action: str) -> None:
    stock = fields.add(details, "StockLine")
    line_action = fields.choice(f"{where}.LineActionType", line.action, "ACD")
    if order_action == "A" and line_action != "A":
        raise ValidationError(f"{where}.LineActionType", "every line of a new order must be added (A)")
    if line_action != "A" and line.line is None:
        raise ValidationError(f"{where}.PurchaseOrderLine", "the line number is required to change or delete a line")
    if line.line is not None:
        fields.add(stock, "PurchaseOrderLine", str(int(line.line)))
    fields.add(stock, "LineActionType", line_action)
    if line_action == "D":
        return
    code = fields.text(f"{where}.StockCode", line.stock_code, limit="StockCode", required=line_action == "A")
    if code:
        fields.add(stock, "StockCode", code)
    if line.description is not None:
        fields.add(stock, "StockDescription", fields.text(f"{where}.StockDescription", line.description,
                                                         limit="Description"))
    warehouse = fields.text(f"{where}.Warehouse", line.warehouse, limit="Warehouse")
    if warehouse:
        fields.add(stock, "Warehouse", warehouse)
    fields.add(stock, "OrderQty", fields.quantity_text(f"{where}.OrderQty", line.quantity))
    if line.price is not None:
        fields.add(stock, "Price", fields.price_text(f"{where}.Price", line.price))
    due = fields.date_text(f"{where}.LatestDueDate", line.due_date)
    if due:
        fields.add(stock, "LatestDueDate", due)
    ledger = fields.text(f"{where}.LedgerCode", line.ledger_code, limit="LedgerCode")
    if ledger:
        fields.add(stock, "LedgerCode", ledger)


def parse_result(xml_out: str | bytes) -> PoPostResult:
    root = xmlout.load(xml_out, after_post=True)
    if xmlout.name(root).lower() != ROOT.lower():
        raise MalformedPostXmlOut(f"SYSPRO answered PORTOI with a <{xmlout.name(root)}> document. It is not known "
                                  "whether the purchase order was saved: look it up before sending it again.")
    items = []
    for item in xmlout.children(root, "Item"):
        found = xmlout.messages(item)
        po = xmlout.value(item, "Key", "PurchaseOrder") or xmlout.value(item, "PurchaseOrder")
        items.append(PoItemResult(ok=not found.errors and not xmlout.status_failed(item), purchase_order=po or None,
                                  errors=found.errors, warnings=found.warnings,
                                  item_number=xmlout.integer(xmlout.value(item, "ItemNumber"))))
    return PoPostResult(
        items=items,
        items_processed=xmlout.integer(xmlout.value(root, "StatusOfItems", "ItemsProcessed")),
        items_invalid=xmlout.integer(xmlout.value(root, "StatusOfItems", "ItemsInvalid")),
        errors=xmlout.top_level_errors(root),
    )


def post_purchase_order(session, doc: PurchaseOrderDocument, *, validate_only: bool = False) -> PoItemResult:
    result = parse_result(session.post(BUSINESS_OBJECT, build_parameters(validate_only=validate_only),
                                       build_document([doc])))
    if len(result.items) == 1:
        return result.items[0]
    if not result.items and result.errors:
        return PoItemResult(ok=False, purchase_order=doc.purchase_order, errors=result.errors)
    raise MalformedPostXmlOut(f"SYSPRO answered PORTOI with {len(result.items)} items instead of 1. Look the "
                              "purchase order up in SYSPRO before sending it again.")


# --- PORQRY ---------------------------------------------------------------------------------------

@dataclass
class PurchaseOrderLineRecord:
    line: int | None
    stock_code: str
    description: str
    warehouse: str
    order_qty: Decimal | None
    received_qty: Decimal | None
    price: Decimal | None
    gl_code: str


@dataclass
class PurchaseOrderRecord:
    purchase_order: str
    supplier: str
    order_status: str
    warehouse: str
    order_entry_date: dt.date | None
    order_due_date: dt.date | None
    customer_po_number: str
    lines: list[PurchaseOrderLineRecord] = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.order_status == "*"


_QUERY_OPTIONS = ("IncludeStockedLines", "IncludeNonStockedLines", "IncludeFreightLines",
                  "IncludeMiscellaneousLines", "IncludeCommentLines", "IncludeCompletedLines")


def build_query(purchase_order: str) -> str:
    root = fields.root("Query", "PORQRY.XSD")
    key = fields.add(root, "Key")
    # Not stripped: SYSPRO PO keys can be space-padded (" 00001" in the recorded sample).
    fields.text("PurchaseOrder", purchase_order, limit="PurchaseOrder", required=True)
    fields.add(key, "PurchaseOrder", purchase_order)
    option = fields.add(root, "Option")
    for tag in _QUERY_OPTIONS:
        fields.add(option, tag, "Y")
    for tag in ("IncludeGrns", "IncludeHistory", "IncludeLctDetails", "IncludeRequisitionDetails",
                "IncludeRequisitionRouting", "IncludeSalesOrders", "IncludeCustomForms"):
        fields.add(option, tag, "N")
    fields.add(option, "XslStylesheet")
    filter_ = fields.add(root, "Filter")
    line_filter = fields.add(filter_, "LineNo")
    line_filter.set("FilterType", "A")
    line_filter.set("FilterValue", "")
    return fields.serialize(root)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _qty(merch, tag: str) -> Decimal | None:
    # Query output carries display values ("38,400.000") and raw ones (Unedited_...): prefer raw.
    raw = xmlout.number(xmlout.value(merch, f"Unedited_{tag}"))
    return raw if raw is not None else xmlout.number(xmlout.value(merch, tag))


def parse_query(xml_out: str | bytes) -> PurchaseOrderRecord:
    root = xmlout.load(xml_out)
    if xmlout.name(root).lower() != "pordetail":
        raise MalformedXmlOut(f"SYSPRO answered PORQRY with a <{xmlout.name(root)}> document instead of <PorDetail>.")
    lines = []
    for po_line in xmlout.children(root, "PurchaseOrderLine"):
        merch = xmlout.child(po_line, "Merchandise")
        if merch is None:
            continue
        lines.append(PurchaseOrderLineRecord(
            line=xmlout.integer(xmlout.value(merch, "Line")),
            stock_code=xmlout.value(merch, "MStockCode"),
            description=xmlout.value(merch, "MStockDes"),
            warehouse=xmlout.value(merch, "MWarehouse"),
            order_qty=_qty(merch, "MOrderQty"),
            received_qty=_qty(merch, "MReceivedQty"),
            price=xmlout.number(xmlout.value(merch, "MPrice")),
            gl_code=xmlout.value(merch, "MGlCode"),
        ))
    return PurchaseOrderRecord(
        purchase_order=xmlout.value(root, "PurchaseOrder"),
        supplier=xmlout.value(root, "Supplier"),
        order_status=xmlout.value(root, "OrderStatus"),
        warehouse=xmlout.value(root, "Warehouse"),
        order_entry_date=_date(xmlout.value(root, "OrderEntryDate")),
        order_due_date=_date(xmlout.value(root, "OrderDueDate")),
        customer_po_number=xmlout.value(root, "CustomerPoNumber"),
        lines=lines,
    )


def query_purchase_order(session, purchase_order: str) -> PurchaseOrderRecord:
    return parse_query(session.query(QUERY_OBJECT, build_query(purchase_order)))
