"""Typed records for what the sync flows read from ServiceTitan.

Each record keeps the untouched answer in `raw` for the audit trail. Parsing is lenient where
ServiceTitan is: any field the schema marks nullable may be null, enums documented as strings
sometimes arrive as integers (NOTES §6.8), and money is Decimal whether it came as an accounting
string ("1234.565") or as a JSON number read with parse_float=Decimal (12.345).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

UTC = timezone.utc
ZERO = Decimal("0")

T = TypeVar("T")


# ---------------------------------------------------------------- field parsers

def to_decimal(value: Any, default: Decimal | None = ZERO) -> Decimal | None:
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # only if someone parsed without parse_float=Decimal
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def to_datetime(value: Any) -> datetime | None:
    """ServiceTitan date-times ("2021-07-19T20:35:38.2876004Z") as aware UTC datetimes."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_date(value: Any) -> date | None:
    """Date-only values come as midnight UTC; the date part is the business date."""
    moment = to_datetime(value)
    return moment.date() if moment else None


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def to_text(value: Any) -> str | None:
    """Strings, and enums that came back as integers, as text."""
    if value is None:
        return None
    return str(value)


def to_bool(value: Any, default: bool = True) -> bool:
    return default if value is None else bool(value)


def _named(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, dict):
        return to_int(value.get("id")), to_text(value.get("name"))
    return None, None


def _external_data(value: Any) -> dict[str, str | None]:
    if not isinstance(value, list):
        return {}
    return {str(item.get("key")): to_text(item.get("value")) for item in value if isinstance(item, dict)}


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
        return cls(to_int(d.get("invoiceId")), bool(d.get("success")), to_text(d.get("errorMessage")), d)


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
            id=to_int(d.get("id")), sku_id=to_int(d.get("skuId")), sku_name=to_text(d.get("skuName")),
            type=to_text(d.get("type")), quantity=to_decimal(d.get("quantity")), cost=to_decimal(d.get("cost")),
            total_cost=to_decimal(d.get("totalCost")), price=to_decimal(d.get("price")),
            total=to_decimal(d.get("total")), description=to_text(d.get("description")),
            inventory_location_id=to_int(d.get("inventoryLocationId")),
            inventory_location=to_text(d.get("inventoryLocation")),
            gl_account_number=to_text(gl.get("number")), gl_account_name=to_text(gl.get("name")),
            technician_id=to_int(d.get("technicianId")), active=to_bool(d.get("active")),
            invoice_id=to_int(d.get("invoiceId")) if d.get("invoiceId") is not None else invoice_id,
            modified_on=to_datetime(d.get("modifiedOn")), raw=d,
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
        invoice_id = to_int(d.get("id"))
        bu_id, bu_name = _named(d.get("businessUnit"))
        customer_id, customer_name = _named(d.get("customer"))
        employee_id, employee_name = _named(d.get("employeeInfo"))
        job = d.get("job") or {}
        return cls(
            id=invoice_id, number=to_text(d.get("referenceNumber")), invoice_date=to_date(d.get("invoiceDate")),
            modified_on=to_datetime(d.get("modifiedOn")), active=to_bool(d.get("active")),
            total=to_decimal(d.get("total")), sub_total=to_decimal(d.get("subTotal")),
            sales_tax=to_decimal(d.get("salesTax")), business_unit_id=bu_id, business_unit_name=bu_name,
            job_id=to_int(job.get("id")), job_number=to_text(job.get("number")),
            adjustment_to_id=to_int(d.get("adjustmentToId")), customer_id=customer_id,
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
        return cls(to_int(d.get("id")), to_text(d.get("number")), to_text(d.get("name")),
                   to_text(d.get("description")), to_text(d.get("type")), to_text(d.get("subtype")),
                   to_bool(d.get("active")), to_datetime(d.get("modifiedOn")), d)


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
        return cls(to_int(d.get("id")), to_int(d.get("skuId")), to_text(d.get("skuCode")), to_text(d.get("name")),
                   to_decimal(d.get("quantity")), to_decimal(d.get("cost")), location_id,
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
            id=to_int(d.get("id")), reference_number=to_text(d.get("referenceNumber")),
            vendor_number=to_text(d.get("vendorNumber")), vendor_id=vendor_id, vendor_name=vendor_name,
            purchase_order_id=to_int(d.get("purchaseOrderId")), bill_date=to_date(d.get("billDate")),
            bill_amount=to_decimal(d.get("billAmount")), tax_amount=to_decimal(d.get("taxAmount")),
            shipping_amount=to_decimal(d.get("shippingAmount")), status=to_text(d.get("status")),
            sync_status=to_text(d.get("syncStatus")), business_unit_id=bu_id, job_id=to_int(d.get("jobId")),
            modified_on=to_datetime(d.get("modifiedOn")),
            items=[ApBillItem.from_api(i) for i in _items(d.get("items"))], raw=d,
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
        return cls(to_int(d.get("id")), to_int(d.get("vendorId")), to_text(d.get("vendorName")),
                   to_decimal(d.get("cost")), to_text(d.get("vendorPart")), to_bool(d.get("active")), d)


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
            kind=kind, id=to_int(d.get("id")), code=to_text(d.get("code")),
            display_name=to_text(d.get("displayName")), description=to_text(d.get("description")),
            cost=to_decimal(d.get("cost")), price=to_decimal(d.get("price")), active=to_bool(d.get("active")),
            primary_vendor=SkuVendor.from_api(d.get("primaryVendor")),
            other_vendors=[v for v in map(SkuVendor.from_api, _items(d.get("otherVendors"))) if v],
            is_inventory=d.get("isInventory"), unit_of_measure=to_text(d.get("unitOfMeasure")),
            modified_on=to_datetime(d.get("modifiedOn")), external_data=_external_data(d.get("externalData")),
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
        return cls(to_int(d.get("id")), to_text(d.get("name")), to_bool(d.get("active")), to_text(d.get("memo")),
                   to_decimal(d.get("defaultTaxRate"), None), d.get("address"), d.get("contactInfo"),
                   _external_data(d.get("externalData")), to_datetime(d.get("createdOn")),
                   to_datetime(d.get("modifiedOn")), d)


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
        return cls(to_int(d.get("id")), to_int(d.get("skuId")), to_text(d.get("skuCode")), to_text(d.get("skuName")),
                   to_text(d.get("skuType")), to_text(d.get("description")), to_text(d.get("vendorPartNumber")),
                   to_decimal(d.get("quantity")), to_decimal(d.get("quantityReceived")), to_decimal(d.get("cost")),
                   to_decimal(d.get("total")), to_text(d.get("status")), d)


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
    date: date | None
    required_on: date | None
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
            id=to_int(d.get("id")), number=to_text(d.get("number")), status=to_text(d.get("status")),
            type_id=to_int(d.get("typeId")), vendor_id=to_int(d.get("vendorId")),
            business_unit_id=to_int(d.get("businessUnitId")), inventory_location_id=to_int(d.get("inventoryLocationId")),
            job_id=to_int(d.get("jobId")), technician_id=to_int(d.get("technicianId")),
            vendor_document_number=to_text(d.get("vendorDocumentNumber")), date=to_date(d.get("date")),
            required_on=to_date(d.get("requiredOn")), sent_on=to_datetime(d.get("sentOn")),
            received_on=to_datetime(d.get("receivedOn")), modified_on=to_datetime(d.get("modifiedOn")),
            total=to_decimal(d.get("total")), tax=to_decimal(d.get("tax")), shipping=to_decimal(d.get("shipping")),
            summary=to_text(d.get("summary")),
            items=[PurchaseOrderItem.from_api(i) for i in _items(d.get("items"))], raw=d,
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
        return cls(to_int(d.get("id")), to_int(d.get("skuId")), to_text(d.get("code")), to_text(d.get("name")),
                   to_decimal(d.get("quantity")), to_decimal(d.get("cost")), to_int(d.get("purchaseOrderItemId")), d)


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
            id=to_int(d.get("id")), number=to_text(d.get("number")), active=to_bool(d.get("active")),
            purchase_order_id=to_int(d.get("purchaseOrderId")), vendor_id=to_int(d.get("vendorId")),
            inventory_location_id=to_int(d.get("inventoryLocationId")),
            vendor_invoice_number=to_text(d.get("vendorInvoiceNumber")), received_on=to_datetime(d.get("receivedOn")),
            modified_on=to_datetime(d.get("modifiedOn")), receipt_amount=to_decimal(d.get("receiptAmount")),
            tax_amount=to_decimal(d.get("taxAmount")), shipping_amount=to_decimal(d.get("shippingAmount")),
            sync_status=to_text(d.get("syncStatus")), items=[ReceiptItem.from_api(i) for i in _items(d.get("items"))],
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
        return cls(to_int(d.get("id")), to_int(d.get("skuId")), to_text(d.get("code")), to_text(d.get("name")),
                   to_decimal(d.get("quantity")), to_decimal(d.get("cost")), to_decimal(d.get("totalCost")),
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
            id=to_int(d.get("id")), number=to_text(d.get("number")), reference_number=to_text(d.get("referenceNumber")),
            type=to_text(d.get("type")), active=to_bool(d.get("active")),
            inventory_location_id=to_int(d.get("inventoryLocationId")), business_unit_id=to_int(d.get("businessUnitId")),
            invoice_id=to_int(d.get("invoiceId")), date=to_date(d.get("date")), memo=to_text(d.get("memo")),
            sync_status=to_text(d.get("syncStatus")), modified_on=to_datetime(d.get("modifiedOn")),
            external_data=_external_data(d.get("externalData")),
            items=[AdjustmentItem.from_api(i) for i in _items(d.get("items"))], raw=d,
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
        return cls(to_int(d.get("id")), to_text(d.get("name")), to_bool(d.get("active")), d.get("address"),
                   to_datetime(d.get("modifiedOn")), _external_data(d.get("externalData")), d)


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
        return cls(to_int(d.get("id")), to_text(d.get("name")), to_text(d.get("officialName")),
                   to_bool(d.get("active")), to_datetime(d.get("modifiedOn")), d)


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
        return cls(to_int(d.get("id")), to_text(d.get("name")), to_bool(d.get("active")),
                   to_int(d.get("businessUnitId")), to_datetime(d.get("modifiedOn")), d)


# ---------------------------------------------------------------- helpers used by paging

def dedupe_key(record: Any) -> tuple:
    """id + modifiedOn: the same version of a record seen twice is one record (NOTES §2.1).
    For a record as the feed sent it (a dict), the same two values as its model would hold."""
    if isinstance(record, dict):
        try:
            return (to_int(record.get("id")), to_datetime(record.get("modifiedOn")))
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
