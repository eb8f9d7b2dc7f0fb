"""INVTMA – inventory adjustments; INVQRY – one stock code with its warehouses.

INVTMA has no natural duplicate guard: callers put their own reference in
`Reference`/`Notation` so that a movement whose outcome is unknown can be looked up.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from desktop_app.syspro import fields, xmlout
from desktop_app.syspro.errors import MalformedPostXmlOut, MalformedXmlOut, ValidationError
from desktop_app.syspro.xmlout import FieldError

BUSINESS_OBJECT = "INVTMA"
QUERY_OBJECT = "INVQRY"
ROOT = "PostInvAdjustments"


@dataclass
class InventoryAdjustment:
    warehouse: str
    stock_code: str
    quantity: Decimal  # signed: negative writes stock down
    reference: str = ""
    notation: str = ""
    ledger_code: str | None = None
    bin_location: str | None = None
    lot: str | None = None
    unit_of_measure: str | None = None


@dataclass
class AdjustmentResult:
    ok: bool
    stock_code: str
    warehouse: str
    journal: str | None = None
    gl_journal: str | None = None
    item_number: int | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(str(error) for error in self.errors)


@dataclass
class AdjustmentPostResult:
    items: list[AdjustmentResult]
    items_processed: int | None = None
    items_invalid: int | None = None
    errors: list[FieldError] = field(default_factory=list)


def build_parameters(*, validate_only: bool, transaction_date: dt.date | None = None, ignore_warnings: str = "N",
                     posting_period: str = "C", apply_if_entire_document_valid: bool = True,
                     physical_count: bool = False) -> str:
    root = fields.root(ROOT, "INVTMA.XSD")
    params = fields.add(root, "Parameters")
    fields.add(params, "TransactionDate", fields.date_text("TransactionDate", transaction_date))
    fields.add(params, "PhysicalCount", fields.yes_no(physical_count))
    fields.add(params, "PostingPeriod", fields.choice("PostingPeriod", posting_period, "CPB"))
    fields.add(params, "IgnoreWarnings", fields.choice("IgnoreWarnings", ignore_warnings, "NYW"))
    fields.add(params, "ApplyIfEntireDocumentValid", fields.yes_no(apply_if_entire_document_valid))
    fields.add(params, "ValidateOnly", fields.yes_no(validate_only))
    fields.add(params, "IgnoreAnalysis", "Y")
    return fields.serialize(root)


def build_document(items: list[InventoryAdjustment]) -> str:
    if not items:
        raise ValueError("an INVTMA document needs at least one adjustment")
    root = fields.root(ROOT, "INVTMADOC.XSD")
    for number, adj in enumerate(items, start=1):
        where = f"Item[{number}]" if len(items) > 1 else "Item"
        item = fields.add(root, "Item")
        fields.add(item, "Journal")
        fields.add(item, "Warehouse", fields.text(f"{where}.Warehouse", adj.warehouse, limit="Warehouse",
                                                  required=True))
        fields.add(item, "StockCode", fields.text(f"{where}.StockCode", adj.stock_code, limit="StockCode",
                                                  required=True))
        quantity = fields.quantity_text(f"{where}.Quantity", adj.quantity)
        if adj.quantity == 0:
            raise ValidationError(f"{where}.Quantity", "an adjustment of zero changes nothing")
        fields.add(item, "Quantity", quantity)
        if adj.unit_of_measure:
            fields.add(item, "UnitOfMeasure", fields.text(f"{where}.UnitOfMeasure", adj.unit_of_measure, limit=10))
        if adj.bin_location:
            fields.add(item, "BinLocation", fields.text(f"{where}.BinLocation", adj.bin_location, limit=20))
        if adj.lot:
            fields.add(item, "Lot", fields.text(f"{where}.Lot", adj.lot, limit=50))
        fields.add(item, "Reference", fields.text(f"{where}.Reference", adj.reference, limit="Reference"))
        fields.add(item, "Notation", fields.text(f"{where}.Notation", adj.notation, limit="Notation"))
        if adj.ledger_code:
            fields.add(item, "LedgerCode", fields.text(f"{where}.LedgerCode", adj.ledger_code, limit="LedgerCode"))
    return fields.serialize(root)


def parse_result(xml_out: str | bytes) -> AdjustmentPostResult:
    root = xmlout.load(xml_out, after_post=True)
    if xmlout.name(root).lower() != ROOT.lower():
        raise MalformedPostXmlOut(f"SYSPRO answered INVTMA with a <{xmlout.name(root)}> document. It is not known "
                                  "whether the adjustment was posted: look it up before sending it again.")
    items = []
    for item in xmlout.children(root, "Item"):
        found = xmlout.messages(item)
        items.append(AdjustmentResult(
            ok=not found.errors and not xmlout.status_failed(item),
            stock_code=xmlout.value(item, "StockCode") or xmlout.value(item, "Key", "StockCode"),
            warehouse=xmlout.value(item, "Warehouse") or xmlout.value(item, "Key", "Warehouse"),
            journal=xmlout.optional(item, "Journal"),
            gl_journal=xmlout.optional(item, "GlJournal"),
            item_number=xmlout.integer(xmlout.value(item, "ItemNumber")),
            errors=found.errors,
            warnings=found.warnings,
        ))
    # Some releases report the journal once for the document rather than per item.
    journal, gl_journal = xmlout.optional(root, "Journal"), xmlout.optional(root, "GlJournal")
    for result in items:
        if result.ok:
            result.journal = result.journal or journal
            result.gl_journal = result.gl_journal or gl_journal
    return AdjustmentPostResult(
        items=items,
        items_processed=xmlout.integer(xmlout.value(root, "StatusOfItems", "ItemsProcessed")),
        items_invalid=xmlout.integer(xmlout.value(root, "StatusOfItems", "ItemsInvalid")),
        errors=xmlout.top_level_errors(root),
    )


def post_adjustments(session, items: list[InventoryAdjustment], *, transaction_date: dt.date | None = None,
                     validate_only: bool = False) -> AdjustmentPostResult:
    """Post adjustments all-or-nothing (ApplyIfEntireDocumentValid=Y)."""
    parameters = build_parameters(validate_only=validate_only, transaction_date=transaction_date)
    return parse_result(session.post(BUSINESS_OBJECT, parameters, build_document(items)))


# --- INVQRY ---------------------------------------------------------------------------------------

@dataclass
class WarehouseStock:
    warehouse: str
    description: str
    qty_on_hand: Decimal | None
    available_qty: Decimal | None
    qty_on_order: Decimal | None


@dataclass
class StockItemRecord:
    stock_code: str
    description: str
    stock_uom: str
    decimals: int | None
    product_class: str
    supplier: str
    warehouses: list[WarehouseStock] = field(default_factory=list)


def build_query(stock_code: str, *, warehouse: str | None = None) -> str:
    root = fields.root("Query", "INVQRY.XSD")
    key = fields.add(root, "Key")
    fields.add(key, "StockCode", fields.text("StockCode", stock_code, limit="StockCode", required=True))
    option = fields.add(root, "Option")
    for tag in ("IncludeHistory", "IncludeBins", "IncludeLots", "IncludeSerials", "IncludeMovements",
                "IncludeCustomForms", "IncludeEcc"):
        fields.add(option, tag, "N")
    fields.add(option, "XslStylesheet")
    if warehouse:
        filter_ = fields.add(root, "Filter")
        wh = fields.add(filter_, "Warehouse")
        wh.set("FilterType", "L")
        wh.set("FilterValue", fields.text("Warehouse", warehouse, limit="Warehouse"))
    return fields.serialize(root)


def parse_query(xml_out: str | bytes) -> StockItemRecord:
    root = xmlout.load(xml_out)
    item = xmlout.child(root, "StockItem")
    if xmlout.name(root).lower() != "invquery" or item is None:
        raise MalformedXmlOut(f"SYSPRO answered INVQRY with a <{xmlout.name(root)}> document without <StockItem>.")
    warehouses = [
        WarehouseStock(
            warehouse=xmlout.value(wh, "Warehouse"),
            description=xmlout.value(wh, "Description"),
            qty_on_hand=xmlout.number(xmlout.value(wh, "QtyOnHand")),
            available_qty=xmlout.number(xmlout.value(wh, "AvailableQty")),
            qty_on_order=xmlout.number(xmlout.value(wh, "QtyOnOrder")),
        )
        for wh in xmlout.children(root, "WarehouseItem")
    ]
    return StockItemRecord(
        stock_code=xmlout.value(item, "StockCode"),
        description=xmlout.value(item, "Description"),
        stock_uom=xmlout.value(item, "StockUom"),
        decimals=xmlout.integer(xmlout.value(item, "Decimals")),
        product_class=xmlout.value(item, "ProductClass"),
        supplier=xmlout.value(item, "Supplier"),
        warehouses=warehouses,
    )


def query_stock_code(session, stock_code: str, *, warehouse: str | None = None) -> StockItemRecord:
    return parse_query(session.query(QUERY_OBJECT, build_query(stock_code, warehouse=warehouse)))
