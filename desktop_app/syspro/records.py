"""Typed rows read back from SYSPRO (OData entity sets or COMFND table queries).

Both sources give the same column names (SYSPRO table columns, docs/syspro-contract.md); OData
gives JSON numbers (parsed as Decimal) and COMFND padded text, so converters accept both.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from desktop_app.core.unreadable import Unreadable


def _text(row: Mapping, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_NO_DATE = re.compile(r"[0\-/ :T.]*")


def _decimal(row: Mapping, key: str) -> Decimal | None:
    """A number column: a JSON number (Decimal) or COMFND's padded text ("  1,234.50"). Anything
    else is `Unreadable`, naming the column: a row is never read with a value it does not hold."""
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Unreadable(key, value, "is not a number")
    if isinstance(value, float):  # never expected (parse_float=Decimal); keep the printed digits
        value = repr(value)
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        if not _NUMBER.fullmatch(text):
            raise Unreadable(key, value, "is not a number")
        number = Decimal(text)
    if not number.is_finite():
        raise Unreadable(key, value, "is not a number")
    return number


def _int(row: Mapping, key: str) -> int | None:
    value = _decimal(row, key)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise Unreadable(key, row.get(key), "is not a whole number")
    return int(value)


def _date(row: Mapping, key: str) -> dt.date | None:
    text = _text(row, key)
    if not text or _NO_DATE.fullmatch(text):
        return None  # blank, or SYSPRO's zero date: no date
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise Unreadable(key, row.get(key), "is not a date") from None


# the columns that name a row in a message about it, in this order
ROW_KEYS = ("Supplier", "PurchaseOrder", "Invoice", "Line", "StockCode", "Warehouse", "Journal", "EntryNumber")


@dataclass(frozen=True)
class UnreadableRow:
    """A SYSPRO row a record type cannot read: which table, which row (its key columns), what is wrong."""

    table: str
    key: dict
    error: Unreadable

    def sentence(self) -> str:
        named = ", ".join(f"{column} {value}" for column, value in self.key.items())
        return f"SYSPRO {self.table} row ({named or 'no key'}): {self.error}"


def unreadable_row(table: str, row: Mapping, error: Unreadable) -> UnreadableRow:
    return UnreadableRow(table, {column: _text(row, column) for column in ROW_KEYS if _text(row, column)}, error)


def readable_rows(table: str, rows, record, bad: list[UnreadableRow]) -> list:
    """`record.from_row` of each row; the rows it cannot read go to `bad` instead."""
    out = []
    for row in rows:
        try:
            out.append(record.from_row(row))
        except Unreadable as exc:
            bad.append(unreadable_row(table, row, exc))
    return out


@dataclass(frozen=True)
class ApInvoiceRecord:
    supplier: str
    invoice: str
    document_type: str
    invoice_date: dt.date | None
    post_date: dt.date | None
    due_date: dt.date | None
    branch: str
    amount: Decimal | None  # OrigInvValue, including tax
    tax: Decimal | None
    journal: str | None
    trn_year: int | None
    trn_month: int | None
    reference: str
    notation: str

    @classmethod
    def from_row(cls, row: Mapping) -> ApInvoiceRecord:
        journal = _text(row, "Journal")
        return cls(
            supplier=_text(row, "Supplier"), invoice=_text(row, "Invoice"),
            document_type=_text(row, "DocumentType"), invoice_date=_date(row, "InvoiceDate"),
            post_date=_date(row, "PostDate"), due_date=_date(row, "DueDate"), branch=_text(row, "Branch"),
            amount=_decimal(row, "OrigInvValue"), tax=_decimal(row, "OrigTaxValue"),
            journal=journal.lstrip("0") or journal or None,
            trn_year=_int(row, "TrnYear"), trn_month=_int(row, "TrnMonth"),
            reference=_text(row, "Reference"), notation=_text(row, "Notation"),
        )


@dataclass(frozen=True)
class ApInvoiceTransactionRecord:
    """One transaction against an AP invoice (SYSPRO's ApInvoicePay): a payment, or a credit note,
    adjustment or debit note applied to the invoice, which has no AP invoice row of its own."""

    supplier: str
    invoice: str
    trn_type: str
    trn_date: dt.date | None
    post_date: dt.date | None
    amount: Decimal | None  # TrnValue, signed: a credit note is negative
    journal: str | None
    reference: str
    notation: str

    @classmethod
    def from_row(cls, row: Mapping) -> ApInvoiceTransactionRecord:
        journal = _text(row, "Journal")
        return cls(
            supplier=_text(row, "Supplier"), invoice=_text(row, "Invoice"), trn_type=_text(row, "TrnType"),
            trn_date=_date(row, "TrnDate"), post_date=_date(row, "PostDate"), amount=_decimal(row, "TrnValue"),
            journal=journal.lstrip("0") or journal or None,
            reference=_text(row, "Reference"), notation=_text(row, "Notation"),
        )


@dataclass(frozen=True)
class SupplierRecord:
    supplier: str
    name: str
    short_name: str
    branch: str
    currency: str
    terms_code: str
    on_hold: bool
    telephone: str
    email: str
    address: tuple[str, ...]
    postal_code: str
    supplier_class: str

    @classmethod
    def from_row(cls, row: Mapping) -> SupplierRecord:
        return cls(
            supplier=_text(row, "Supplier"), name=_text(row, "SupplierName"),
            short_name=_text(row, "SupShortName"), branch=_text(row, "Branch"), currency=_text(row, "Currency"),
            terms_code=_text(row, "TermsCode"), on_hold=_text(row, "OnHold").upper() == "Y",
            telephone=_text(row, "Telephone"), email=_text(row, "Email"),
            address=tuple(_text(row, f"SupAddr{n}") for n in range(1, 6)),
            postal_code=_text(row, "SupPostalCode"), supplier_class=_text(row, "SupplierClass"),
        )


@dataclass(frozen=True)
class StockCodeRecord:
    stock_code: str
    description: str
    stock_uom: str
    decimals: int | None
    product_class: str
    supplier: str

    @classmethod
    def from_row(cls, row: Mapping) -> StockCodeRecord:
        return cls(stock_code=_text(row, "StockCode"), description=_text(row, "Description"),
                   stock_uom=_text(row, "StockUom"), decimals=_int(row, "Decimals"),
                   product_class=_text(row, "ProductClass"), supplier=_text(row, "Supplier"))


@dataclass(frozen=True)
class WarehouseRecord:
    warehouse: str
    description: str
    branch: str

    @classmethod
    def from_row(cls, row: Mapping) -> WarehouseRecord:
        return cls(warehouse=_text(row, "Warehouse"), description=_text(row, "Description"),
                   branch=_text(row, "Branch"))


@dataclass(frozen=True)
class StockLevelRecord:
    stock_code: str
    warehouse: str
    qty_on_hand: Decimal | None

    @classmethod
    def from_row(cls, row: Mapping) -> StockLevelRecord:
        return cls(stock_code=_text(row, "StockCode"), warehouse=_text(row, "Warehouse"),
                   qty_on_hand=_decimal(row, "QtyOnHand"))


@dataclass(frozen=True)
class GlCodeRecord:
    gl_code: str
    description: str
    account_type: str

    @classmethod
    def from_row(cls, row: Mapping) -> GlCodeRecord:
        return cls(gl_code=_text(row, "GlCode"), description=_text(row, "Description"),
                   account_type=_text(row, "AccountType"))


@dataclass(frozen=True)
class PoHeaderRecord:
    purchase_order: str
    supplier: str
    order_entry_date: dt.date | None
    order_due_date: dt.date | None
    warehouse: str
    order_status: str
    customer_po_number: str
    branch: str

    @classmethod
    def from_row(cls, row: Mapping) -> PoHeaderRecord:
        return cls(purchase_order=_text(row, "PurchaseOrder"), supplier=_text(row, "Supplier"),
                   order_entry_date=_date(row, "OrderEntryDate"), order_due_date=_date(row, "OrderDueDate"),
                   warehouse=_text(row, "Warehouse"), order_status=_text(row, "OrderStatus"),
                   customer_po_number=_text(row, "CustomerPoNumber"), branch=_text(row, "Branch"))


@dataclass(frozen=True)
class PoDetailRecord:
    purchase_order: str
    line: int | None
    stock_code: str
    description: str
    warehouse: str
    order_qty: Decimal | None
    received_qty: Decimal | None
    price: Decimal | None
    gl_code: str

    @classmethod
    def from_row(cls, row: Mapping) -> PoDetailRecord:
        return cls(purchase_order=_text(row, "PurchaseOrder"), line=_int(row, "Line"),
                   stock_code=_text(row, "MStockCode"), description=_text(row, "MStockDes"),
                   warehouse=_text(row, "MWarehouse"), order_qty=_decimal(row, "MOrderQty"),
                   received_qty=_decimal(row, "MReceivedQty"), price=_decimal(row, "MPrice"),
                   gl_code=_text(row, "MGlCode"))


@dataclass(frozen=True)
class InventoryMovementRecord:
    stock_code: str
    warehouse: str
    entry_date: dt.date | None
    movement_type: str
    trn_type: str  # A adjustment, R receipt, I issue, ...
    quantity: Decimal | None
    value: Decimal | None
    reference: str
    journal: str
    entry_number: str

    @classmethod
    def from_row(cls, row: Mapping) -> InventoryMovementRecord:
        return cls(stock_code=_text(row, "StockCode"), warehouse=_text(row, "Warehouse"),
                   entry_date=_date(row, "EntryDate"), movement_type=_text(row, "MovementType"),
                   trn_type=_text(row, "TrnType"), quantity=_decimal(row, "TrnQty"),
                   value=_decimal(row, "TrnValue"), reference=_text(row, "Reference"),
                   journal=_text(row, "Journal"), entry_number=_text(row, "EntryNumber"))
