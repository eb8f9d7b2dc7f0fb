"""Typed records for what the sync flows read from ServiceTitan.

Each record keeps the untouched answer in `raw` for the audit trail. Parsing is lenient where
ServiceTitan is: any field the schema marks nullable may be null, enums documented as strings
sometimes arrive as integers, and money is Decimal whether it came as an accounting
string ("1234.565") or as a JSON number read with parse_float=Decimal (12.345).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar, overload

from desktop_app.core.unreadable import Unreadable

UTC = UTC
ZERO = Decimal("0")

T = TypeVar("T")


# ---------------------------------------------------------------- field parsers

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


@overload
def to_decimal(value: Any, default: Decimal = ..., *, name: str = ...) -> Decimal: ...
@overload
def to_decimal(value: Any, default: None, *, name: str = ...) -> Decimal | None: ...
def to_decimal(value: Any, default: Decimal | None = ZERO, *, name: str = "amount") -> Decimal | None:
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Unreadable(name, value, "is not an amount")
        return value
    if isinstance(value, bool) or isinstance(value, float) and not math.isfinite(value):
        raise Unreadable(name, value, "is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # only if someone parsed without parse_float=Decimal
    text = str(value).strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")  # "1,234.50"; "1,5" is not an amount
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Unreadable(name, value, "is not an amount") from None
    if not number.is_finite() or "_" in text:
        raise Unreadable(name, value, "is not an amount")
    return number


def to_datetime(value: Any, *, name: str = "date") -> datetime | None:
    """ServiceTitan date-times ("2021-07-19T20:35:38.2876004Z") as aware UTC datetimes."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise Unreadable(name, value, "is not a date")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Unreadable(name, value, "is not a date") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_date(value: Any, *, name: str = "date") -> date | None:
    """Date-only values come as midnight UTC; the date part is the business date."""
    moment = to_datetime(value, name=name)
    return moment.date() if moment else None


def to_int(value: Any, *, name: str = "id") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Unreadable(name, value, "is not a whole number")
    if isinstance(value, float | Decimal):
        if not (math.isfinite(value) and value == int(value)):
            raise Unreadable(name, value, "is not a whole number")
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise Unreadable(name, value, "is not a whole number") from None


def to_id(value: Any, *, name: str = "id") -> int:
    """A record's own id, which ServiceTitan always sends: without it the record cannot be told apart."""
    number = to_int(value, name=name)
    if number is None:
        raise Unreadable(name, value, "is missing")
    return number


def to_text(value: Any) -> str | None:
    """Strings, and enums that came back as integers, as text."""
    if value is None:
        return None
    return str(value)


def to_bool(value: Any, default: bool = True) -> bool:
    return default if value is None else bool(value)


def _named(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, dict):
        return to_int(value.get("id"), name="id"), to_text(value.get("name"))
    return None, None


def _external_data(value: Any) -> dict[str, str | None]:
    if not isinstance(value, list):
        return {}
    return {str(item.get("key")): to_text(item.get("value")) for item in value if isinstance(item, dict)}


def _each(value: Any, parse, path: str) -> list:
    """Each object of a list parsed; an error names its place (items[2].cost)."""
    out = []
    for index, item in enumerate(_items(value)):
        try:
            out.append(parse(item))
        except Unreadable as exc:
            raise exc.within(f"{path}[{index}]") from None
    return out


def _items(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# ---------------------------------------------------------------- envelopes

@dataclass
class ExportPage(Generic[T]):
    """One page of an export feed. Persist `continue_from` only after storing `records`."""

    records: list[T]
    continue_from: str | None
    has_more: bool


@dataclass
class MarkExportedResult:
    invoice_id: int
    success: bool
    error_message: str | None
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d: dict) -> MarkExportedResult:
        return cls(to_id(d.get("invoiceId"), name="invoiceId"), bool(d.get("success")),
                   to_text(d.get("errorMessage")), d)


# ---------------------------------------------------------------- accounting

@dataclass
class InvoiceItem:
    id: int
    sku_id: int | None
    sku_name: str | None
    type: str | None  # Service | Material | Equipment | PriceModifier | Unspecified (or an integer as text)
    quantity: Decimal
    cost: Decimal
    total_cost: Decimal
    price: Decimal
    total: Decimal
    description: str | None
    inventory_location_id: int | None
    inventory_location: str | None
    gl_account_number: str | None
    gl_account_name: str | None
    technician_id: int | None
    active: bool
    invoice_id: int | None  # present in export/invoice-items
    modified_on: datetime | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict, invoice_id: int | None = None) -> InvoiceItem:
        gl = d.get("generalLedgerAccount") or {}
        return cls(
            id=to_id(d.get("id")), sku_id=to_int(d.get("skuId"), name="skuId"),
            sku_name=to_text(d.get("skuName")),
            type=to_text(d.get("type")), quantity=to_decimal(d.get("quantity"), name="quantity"),
            cost=to_decimal(d.get("cost"), name="cost"),
            total_cost=to_decimal(d.get("totalCost"), name="totalCost"), price=to_decimal(d.get("price"), name="price"),
            total=to_decimal(d.get("total"), name="total"), description=to_text(d.get("description")),
            inventory_location_id=to_int(d.get("inventoryLocationId"), name="inventoryLocationId"),
            inventory_location=to_text(d.get("inventoryLocation")),
            gl_account_number=to_text(gl.get("number")), gl_account_name=to_text(gl.get("name")),
            technician_id=to_int(d.get("technicianId"), name="technicianId"), active=to_bool(d.get("active")),
            invoice_id=to_int(d.get("invoiceId"), name="invoiceId") if d.get("invoiceId") is not None else invoice_id,
            modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"), raw=d,
        )


@dataclass
class Invoice:
    id: int
    number: str | None  # referenceNumber
    invoice_date: date | None
    modified_on: datetime | None
    active: bool
    total: Decimal
    sub_total: Decimal
    sales_tax: Decimal
    business_unit_id: int | None
    business_unit_name: str | None
    job_id: int | None
    job_number: str | None
    adjustment_to_id: int | None
    customer_id: int | None
    customer_name: str | None
    employee_id: int | None  # employeeInfo: who last worked on it
    employee_name: str | None
    sync_status: str | None
    export_id: str | None
    items: list[InvoiceItem]
    raw: dict = field(repr=False)

    @property
    def technician_ids(self) -> list[int]:
        return sorted({item.technician_id for item in self.items if item.technician_id})

    @classmethod
    def from_api(cls, d: dict) -> Invoice:
        invoice_id = to_id(d.get("id"))
        bu_id, bu_name = _named(d.get("businessUnit"))
        customer_id, customer_name = _named(d.get("customer"))
        employee_id, employee_name = _named(d.get("employeeInfo"))
        job = d.get("job") or {}
        return cls(
            id=invoice_id, number=to_text(d.get("referenceNumber")),
            invoice_date=to_date(d.get("invoiceDate"), name="invoiceDate"),
            modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"), active=to_bool(d.get("active")),
            total=to_decimal(d.get("total"), name="total"), sub_total=to_decimal(d.get("subTotal"), name="subTotal"),
            sales_tax=to_decimal(d.get("salesTax"), name="salesTax"), business_unit_id=bu_id,
            business_unit_name=bu_name,
            job_id=to_int(job.get("id"), name="job.id"), job_number=to_text(job.get("number")),
            adjustment_to_id=to_int(d.get("adjustmentToId"), name="adjustmentToId"), customer_id=customer_id,
            customer_name=customer_name, employee_id=employee_id, employee_name=employee_name,
            sync_status=to_text(d.get("syncStatus")), export_id=to_text(d.get("exportId")),
            items=[InvoiceItem.from_api(item, invoice_id) for item in _items(d.get("items"))], raw=d,
        )


@dataclass
class GlAccount:
    id: int
    number: str | None
    name: str | None
    description: str | None
    type: str | None
    subtype: str | None
    active: bool
    modified_on: datetime | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> GlAccount:
        return cls(to_id(d.get("id")), to_text(d.get("number")), to_text(d.get("name")),
                   to_text(d.get("description")), to_text(d.get("type")), to_text(d.get("subtype")),
                   to_bool(d.get("active")), to_datetime(d.get("modifiedOn"), name="modifiedOn"), d)


@dataclass
class ApBillItem:
    id: int | None
    sku_id: int | None
    sku_code: str | None
    name: str | None
    quantity: Decimal
    cost: Decimal
    inventory_location_id: int | None
    gl_account_number: str | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> ApBillItem:
        location_id, _ = _named(d.get("inventoryLocation"))
        gl = d.get("generalLedgerAccount") or {}
        return cls(to_int(d.get("id"), name="id"), to_int(d.get("skuId"), name="skuId"), to_text(d.get("skuCode")),
                   to_text(d.get("name")),
                   to_decimal(d.get("quantity"), name="quantity"), to_decimal(d.get("cost"), name="cost"), location_id,
                   to_text(gl.get("number")) if isinstance(gl, dict) else None, d)


@dataclass
class ApBill:
    """Read-only: see guard.py."""

    id: int
    reference_number: str | None
    vendor_number: str | None
    vendor_id: int | None
    vendor_name: str | None
    purchase_order_id: int | None
    bill_date: date | None
    bill_amount: Decimal
    tax_amount: Decimal
    shipping_amount: Decimal
    status: str | None
    sync_status: str | None
    business_unit_id: int | None
    job_id: int | None
    modified_on: datetime | None
    items: list[ApBillItem]
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> ApBill:
        vendor_id, vendor_name = _named(d.get("vendor"))
        bu_id, _ = _named(d.get("businessUnit"))
        return cls(
            id=to_id(d.get("id")), reference_number=to_text(d.get("referenceNumber")),
            vendor_number=to_text(d.get("vendorNumber")), vendor_id=vendor_id, vendor_name=vendor_name,
            purchase_order_id=to_int(d.get("purchaseOrderId"), name="purchaseOrderId"),
            bill_date=to_date(d.get("billDate"), name="billDate"),
            bill_amount=to_decimal(d.get("billAmount"), name="billAmount"),
            tax_amount=to_decimal(d.get("taxAmount"), name="taxAmount"),
            shipping_amount=to_decimal(d.get("shippingAmount"), name="shippingAmount"), status=to_text(d.get("status")),
            sync_status=to_text(d.get("syncStatus")), business_unit_id=bu_id,
            job_id=to_int(d.get("jobId"), name="jobId"),
            modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"),
            items=_each(d.get("items"), ApBillItem.from_api, "items"), raw=d,
        )


# ---------------------------------------------------------------- pricebook

@dataclass
class SkuVendor:
    id: int | None
    vendor_id: int | None
    vendor_name: str | None
    cost: Decimal
    vendor_part: str | None
    active: bool
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: Any) -> SkuVendor | None:
        if not isinstance(d, dict):
            return None
        return cls(to_int(d.get("id"), name="id"), to_int(d.get("vendorId"), name="vendorId"),
                   to_text(d.get("vendorName")),
                   to_decimal(d.get("cost"), name="cost"), to_text(d.get("vendorPart")), to_bool(d.get("active")), d)


@dataclass
class Sku:
    """A pricebook material, equipment or service (`kind`)."""

    kind: str  # material | equipment | service
    id: int
    code: str | None
    display_name: str | None
    description: str | None
    cost: Decimal
    price: Decimal
    active: bool
    primary_vendor: SkuVendor | None  # services have none
    other_vendors: list[SkuVendor]
    is_inventory: bool | None
    unit_of_measure: str | None
    modified_on: datetime | None
    external_data: dict[str, str | None]
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict, kind: str) -> Sku:
        return cls(
            kind=kind, id=to_id(d.get("id")), code=to_text(d.get("code")),
            display_name=to_text(d.get("displayName")), description=to_text(d.get("description")),
            cost=to_decimal(d.get("cost"), name="cost"), price=to_decimal(d.get("price"), name="price"),
            active=to_bool(d.get("active")),
            primary_vendor=SkuVendor.from_api(d.get("primaryVendor")),
            other_vendors=[v for v in map(SkuVendor.from_api, _items(d.get("otherVendors"))) if v],
            is_inventory=d.get("isInventory"), unit_of_measure=to_text(d.get("unitOfMeasure")),
            modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"),
            external_data=_external_data(d.get("externalData")),
            raw=d,
        )


# ---------------------------------------------------------------- inventory

@dataclass
class Vendor:
    id: int
    name: str | None
    active: bool
    memo: str | None
    default_tax_rate: Decimal | None
    address: dict | None  # {street, unit, city, state, zip, country}
    contact: dict | None  # {firstName, lastName, phone, email, fax}
    external_data: dict[str, str | None]
    created_on: datetime | None
    modified_on: datetime | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> Vendor:
        return cls(to_id(d.get("id")), to_text(d.get("name")), to_bool(d.get("active")),
                   to_text(d.get("memo")),
                   to_decimal(d.get("defaultTaxRate"), None, name="defaultTaxRate"), d.get("address"),
                   d.get("contactInfo"),
                   _external_data(d.get("externalData")), to_datetime(d.get("createdOn"), name="createdOn"),
                   to_datetime(d.get("modifiedOn"), name="modifiedOn"), d)


@dataclass
class PurchaseOrderItem:
    id: int
    sku_id: int | None
    sku_code: str | None
    sku_name: str | None
    sku_type: str | None
    description: str | None
    vendor_part_number: str | None
    quantity: Decimal
    quantity_received: Decimal
    cost: Decimal
    total: Decimal
    status: str | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> PurchaseOrderItem:
        return cls(to_id(d.get("id")), to_int(d.get("skuId"), name="skuId"), to_text(d.get("skuCode")),
                   to_text(d.get("skuName")),
                   to_text(d.get("skuType")), to_text(d.get("description")), to_text(d.get("vendorPartNumber")),
                   to_decimal(d.get("quantity"), name="quantity"),
                   to_decimal(d.get("quantityReceived"), name="quantityReceived"),
                   to_decimal(d.get("cost"), name="cost"),
                   to_decimal(d.get("total"), name="total"), to_text(d.get("status")), d)


@dataclass
class PurchaseOrder:
    id: int
    number: str | None
    status: str | None
    type_id: int | None
    vendor_id: int | None
    business_unit_id: int | None
    inventory_location_id: int | None
    job_id: int | None
    technician_id: int | None
    vendor_document_number: str | None
    date: dt.date | None
    required_on: dt.date | None
    sent_on: datetime | None
    received_on: datetime | None
    modified_on: datetime | None
    total: Decimal
    tax: Decimal
    shipping: Decimal
    summary: str | None
    items: list[PurchaseOrderItem]
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> PurchaseOrder:
        return cls(
            id=to_id(d.get("id")), number=to_text(d.get("number")), status=to_text(d.get("status")),
            type_id=to_int(d.get("typeId"), name="typeId"), vendor_id=to_int(d.get("vendorId"), name="vendorId"),
            business_unit_id=to_int(d.get("businessUnitId"), name="businessUnitId"),
            inventory_location_id=to_int(d.get("inventoryLocationId"), name="inventoryLocationId"),
            job_id=to_int(d.get("jobId"), name="jobId"),
            technician_id=to_int(d.get("technicianId"), name="technicianId"),
            vendor_document_number=to_text(d.get("vendorDocumentNumber")), date=to_date(d.get("date"), name="date"),
            required_on=to_date(d.get("requiredOn"), name="requiredOn"),
            sent_on=to_datetime(d.get("sentOn"), name="sentOn"),
            received_on=to_datetime(d.get("receivedOn"), name="receivedOn"),
            modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"),
            total=to_decimal(d.get("total"), name="total"), tax=to_decimal(d.get("tax"), name="tax"),
            shipping=to_decimal(d.get("shipping"), name="shipping"),
            summary=to_text(d.get("summary")),
            items=_each(d.get("items"), PurchaseOrderItem.from_api, "items"), raw=d,
        )


@dataclass
class ReceiptItem:
    id: int
    sku_id: int | None
    code: str | None
    name: str | None
    quantity: Decimal
    cost: Decimal
    purchase_order_item_id: int | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> ReceiptItem:
        return cls(to_id(d.get("id")), to_int(d.get("skuId"), name="skuId"), to_text(d.get("code")),
                   to_text(d.get("name")),
                   to_decimal(d.get("quantity"), name="quantity"), to_decimal(d.get("cost"), name="cost"),
                   to_int(d.get("purchaseOrderItemId"), name="purchaseOrderItemId"), d)


@dataclass
class Receipt:
    id: int
    number: str | None
    active: bool
    purchase_order_id: int | None
    vendor_id: int | None
    inventory_location_id: int | None
    vendor_invoice_number: str | None
    received_on: datetime | None
    modified_on: datetime | None
    receipt_amount: Decimal
    tax_amount: Decimal
    shipping_amount: Decimal
    sync_status: str | None
    items: list[ReceiptItem]
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> Receipt:
        return cls(
            id=to_id(d.get("id")), number=to_text(d.get("number")), active=to_bool(d.get("active")),
            purchase_order_id=to_int(d.get("purchaseOrderId"), name="purchaseOrderId"),
            vendor_id=to_int(d.get("vendorId"), name="vendorId"),
            inventory_location_id=to_int(d.get("inventoryLocationId"), name="inventoryLocationId"),
            vendor_invoice_number=to_text(d.get("vendorInvoiceNumber")),
            received_on=to_datetime(d.get("receivedOn"), name="receivedOn"),
            modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"),
            receipt_amount=to_decimal(d.get("receiptAmount"), name="receiptAmount"),
            tax_amount=to_decimal(d.get("taxAmount"), name="taxAmount"),
            shipping_amount=to_decimal(d.get("shippingAmount"), name="shippingAmount"),
            sync_status=to_text(d.get("syncStatus")), items=_each(d.get("items"), ReceiptItem.from_api, "items"),
            raw=d,
        )


@dataclass
class AdjustmentItem:
    id: int
    sku_id: int | None
    code: str | None
    name: str | None
    quantity: Decimal
    cost: Decimal
    total_cost: Decimal
    active: bool
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> AdjustmentItem:
        return cls(to_id(d.get("id")), to_int(d.get("skuId"), name="skuId"), to_text(d.get("code")),
                   to_text(d.get("name")),
                   to_decimal(d.get("quantity"), name="quantity"), to_decimal(d.get("cost"), name="cost"),
                   to_decimal(d.get("totalCost"), name="totalCost"),
                   to_bool(d.get("active")), d)


@dataclass
class Adjustment:
    id: int
    number: str | None
    reference_number: str | None
    type: str | None
    active: bool
    inventory_location_id: int | None
    business_unit_id: int | None
    invoice_id: int | None
    date: date | None
    memo: str | None
    sync_status: str | None
    modified_on: datetime | None
    external_data: dict[str, str | None]
    items: list[AdjustmentItem]
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> Adjustment:
        return cls(
            id=to_id(d.get("id")), number=to_text(d.get("number")),
            reference_number=to_text(d.get("referenceNumber")),
            type=to_text(d.get("type")), active=to_bool(d.get("active")),
            inventory_location_id=to_int(d.get("inventoryLocationId"), name="inventoryLocationId"),
            business_unit_id=to_int(d.get("businessUnitId"), name="businessUnitId"),
            invoice_id=to_int(d.get("invoiceId"), name="invoiceId"), date=to_date(d.get("date"), name="date"),
            memo=to_text(d.get("memo")),
            sync_status=to_text(d.get("syncStatus")), modified_on=to_datetime(d.get("modifiedOn"), name="modifiedOn"),
            external_data=_external_data(d.get("externalData")),
            items=_each(d.get("items"), AdjustmentItem.from_api, "items"), raw=d,
        )


@dataclass
class Warehouse:
    id: int
    name: str | None
    active: bool
    address: dict | None
    modified_on: datetime | None
    external_data: dict[str, str | None]
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> Warehouse:
        return cls(to_id(d.get("id")), to_text(d.get("name")), to_bool(d.get("active")), d.get("address"),
                   to_datetime(d.get("modifiedOn"), name="modifiedOn"), _external_data(d.get("externalData")), d)


# ---------------------------------------------------------------- settings

@dataclass
class BusinessUnit:
    id: int
    name: str | None
    official_name: str | None
    active: bool
    modified_on: datetime | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> BusinessUnit:
        return cls(to_id(d.get("id")), to_text(d.get("name")), to_text(d.get("officialName")),
                   to_bool(d.get("active")), to_datetime(d.get("modifiedOn"), name="modifiedOn"), d)


@dataclass
class Technician:
    id: int
    name: str | None
    active: bool
    business_unit_id: int | None
    modified_on: datetime | None
    raw: dict = field(repr=False)

    @classmethod
    def from_api(cls, d: dict) -> Technician:
        return cls(to_id(d.get("id")), to_text(d.get("name")), to_bool(d.get("active")),
                   to_int(d.get("businessUnitId"), name="businessUnitId"),
                   to_datetime(d.get("modifiedOn"), name="modifiedOn"), d)


# ---------------------------------------------------------------- helpers used by paging

@dataclass
class UnreadableRecord:
    """A record of a list or feed that its model cannot read: handed on as sent, with the error
    (which names the field), for the flow to hold on its own while the rest of the page goes on."""

    raw: dict
    error: Unreadable

    @property
    def id(self) -> int | None:
        try:
            return to_int(self.raw.get("id"))
        except Unreadable:
            return None

    @property
    def modified_on(self) -> datetime | None:
        try:
            return to_datetime(self.raw.get("modifiedOn"))
        except Unreadable:
            return None


def readable_or_held(parse: Callable[[dict], T]) -> Callable[[dict], T | UnreadableRecord]:
    """`parse`, with a record it cannot read given back as an UnreadableRecord instead of an error."""
    def parse_one(record: dict):
        try:
            return parse(record)
        except Unreadable as exc:
            return UnreadableRecord(record, exc)
    return parse_one


def dedupe_key(record: Any) -> tuple:
    """id + modifiedOn: the same version of a record seen twice is one record.
    For a record as the feed sent it (a dict), the same two values as its model would hold."""
    if isinstance(record, dict):
        try:
            return (to_int(record.get("id"), name="id"), to_datetime(record.get("modifiedOn"), name="modifiedOn"))
        except (TypeError, ValueError, OverflowError):
            # a record the engine cannot read is still handed on (its flow holds it with the reason)
            return (repr(record.get("id")), repr(record.get("modifiedOn")))
    return (getattr(record, "id", None), getattr(record, "modified_on", None))


def drop_seen(records: Iterable[T], seen: set) -> list[T]:
    out = []
    for record in records:
        key = dedupe_key(record)
        if key in seen:
            continue
        seen.add(key)
        out.append(record)
    return out
