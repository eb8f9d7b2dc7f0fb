"""The data behind the ServiceTitan simulator: one tenant's records and the changes the API allows.

Records are plain dicts keyed by the API's own field names, holding only the fields that carry
meaning (`st_shapes` adds the rest when a record goes on the wire). Amounts are Decimal, moments
naive UTC datetimes, and `externalData` is kept per application GUID as {guid: {key: value}}.
Every change stamps `modifiedOn` from a clock that never repeats or goes back, which is what
lets the export feeds order records and hand out continuation tokens.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

Record = dict

# An export feed is ordered by modifiedOn; one microsecond is the smallest step the wire keeps.
_TICK = timedelta(microseconds=1)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class StStateError(ValueError):
    """A change the API would refuse; `errors` follows ApiErrorResponse.errors (field → messages)."""

    def __init__(self, title: str, errors: dict[str, list[str]] | None = None, status: int = 400):
        super().__init__(title)
        self.title = title
        self.errors = errors or {}
        self.status = status


@dataclass
class StState:
    tenant: int
    client_id: str
    client_secret: str
    app_key: str
    company_name: str = "Demo company"
    business_units: dict[int, Record] = field(default_factory=dict)
    technicians: dict[int, Record] = field(default_factory=dict)
    gl_accounts: dict[int, Record] = field(default_factory=dict)
    vendors: dict[int, Record] = field(default_factory=dict)
    warehouses: dict[int, Record] = field(default_factory=dict)
    trucks: dict[int, Record] = field(default_factory=dict)
    materials: dict[int, Record] = field(default_factory=dict)
    equipment: dict[int, Record] = field(default_factory=dict)
    services: dict[int, Record] = field(default_factory=dict)
    invoices: dict[int, Record] = field(default_factory=dict)
    purchase_orders: dict[int, Record] = field(default_factory=dict)
    purchase_order_types: dict[int, str] = field(default_factory=dict)
    receipts: dict[int, Record] = field(default_factory=dict)
    adjustments: dict[int, Record] = field(default_factory=dict)
    ap_bills: dict[int, Record] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    # Set by the seed: makes N new invoices (used by `advance` and the simulator's admin endpoint).
    invoice_factory: Callable[[StState, int], list[Record]] | None = None
    # Whether markasexported counts as a modification (re-emitting the invoice in export/invoices).
    # ServiceTitan does not document it; off, so a write-back does not look like a source edit.
    mark_exported_touches: bool = False
    # Changes made to a record as it goes on the wire ({"invoices": {id: change(shaped record)}}): a
    # test puts there what a broken record on the live API carries ("abc" for a cost, a NaN literal
    # with st_wire.RawJson), which the simulator's own model of the record could not hold.
    wire_patches: dict[str, dict[int, Callable[[Record], None]]] = field(default_factory=dict)
    next_id: int = 10_000
    last_stamp: datetime = datetime(2000, 1, 1)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # --- identity and time -------------------------------------------------------------------
    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def stamp(self, at: datetime | None = None) -> datetime:
        """A modifiedOn later than every earlier one (`at` for seeded history, else the clock)."""
        with self.lock:
            moment = at if at is not None else self.clock()
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            if moment <= self.last_stamp:
                moment = self.last_stamp + _TICK
            self.last_stamp = moment
            return moment

    def sku(self, sku_id: int) -> Record | None:
        return self.materials.get(sku_id) or self.equipment.get(sku_id) or self.services.get(sku_id)

    # --- invoices ----------------------------------------------------------------------------
    def add_invoice(self, invoice: Record) -> Record:
        with self.lock:
            invoice.setdefault("id", self.new_id())
            created = invoice.setdefault("createdOn", self.stamp())
            invoice.setdefault("modifiedOn", created)
            for order, item in enumerate(invoice.get("items", []), start=1):
                item.setdefault("id", self.new_id())
                item.setdefault("order", order)
                item.setdefault("createdOn", created)
                item.setdefault("modifiedOn", invoice["modifiedOn"])
            self.invoices[invoice["id"]] = invoice
            return invoice

    def advance(self, count: int) -> list[int]:
        """Let `count` new invoices arrive now (what technicians closing jobs would do)."""
        if self.invoice_factory is None:
            raise StStateError("This tenant has no invoice generator")
        with self.lock:
            return [invoice["id"] for invoice in self.invoice_factory(self, count)]

    def edit_invoice(self, invoice_id: int, change: Callable[[Record], None] | None = None) -> Record:
        """Apply `change` (or a quantity bump on the first cost item) and stamp a new modifiedOn."""
        with self.lock:
            invoice = self._get(self.invoices, invoice_id, "Invoice")
            if change is not None:
                change(invoice)
            else:
                items = [i for i in invoice.get("items", []) if i["type"] in ("Material", "Equipment")]
                target = items[0] if items else (invoice.get("items") or [None])[0]
                if target is not None:
                    target["quantity"] += 1
                    recompute_invoice_item(target)
                    recompute_invoice_totals(invoice)
            moment = self.stamp()
            invoice["modifiedOn"] = moment
            for item in invoice.get("items", []):
                item["modifiedOn"] = moment
            return invoice

    def add_return(self, original_id: int, keep: Callable[[Record], bool] | None = None, *,
                   number: str | None = None, adjustment: bool = True) -> Record:
        """What a technician's return of parts looks like: an adjustment invoice (adjustmentToId) of
        the original with one of each kept cost item at a negative quantity. `adjustment=False`
        makes a plain negative invoice that returns nothing known."""
        with self.lock:
            original = self._get(self.invoices, original_id, "Invoice")
            invoice = copy.deepcopy({k: v for k, v in original.items() if k not in ("id", "items")})
            invoice["items"] = []
            for source in original.get("items", []):
                if source["type"] == "Service" or not source["cost"] or source["quantity"] <= 0:
                    continue
                if keep is None or keep(source):
                    item = copy.deepcopy({k: v for k, v in source.items() if k not in ("id", "order")})
                    item["quantity"] = -min(Decimal(str(source["quantity"])), Decimal(1))
                    recompute_invoice_item(item)
                    invoice["items"].append(item)
            if not invoice["items"]:
                raise StStateError(f"Invoice {original_id} has no cost item to return")
            invoice["referenceNumber"] = number or f"{original.get('referenceNumber')}-R"
            invoice["adjustmentToId"] = original_id if adjustment else None
            invoice["createdOn"] = invoice["modifiedOn"] = self.stamp()
            invoice["active"] = True
            recompute_invoice_totals(invoice)
            return self.add_invoice(invoice)

    def mark_invoices_exported(self, rows: list[dict]) -> list[dict]:
        with self.lock:
            results = []
            for row in rows:
                invoice = self.invoices.get(row["invoiceId"])
                if invoice is None:
                    results.append({"invoiceId": row["invoiceId"], "success": False,
                                    "errorMessage": f"Invoice {row['invoiceId']} not found"})
                    continue
                invoice["syncStatus"] = "Exported"
                if row.get("externalId") is not None:
                    invoice["exportId"] = row["externalId"]
                invoice["exportMessage"] = row.get("externalMessage")
                if self.mark_exported_touches:
                    invoice["modifiedOn"] = self.stamp()
                results.append({"invoiceId": invoice["id"], "success": True, "errorMessage": None})
            return results

    # --- vendors -----------------------------------------------------------------------------
    def create_vendor(self, body: dict) -> int:
        with self.lock:
            moment = self.stamp()
            vendor: Record = {
                "id": self.new_id(), "createdOn": moment, "modifiedOn": moment, "externalData": {},
            }
            self._apply_vendor(vendor, body)
            self.vendors[vendor["id"]] = vendor
            return vendor["id"]

    def update_vendor(self, vendor_id: int, body: dict) -> int:
        with self.lock:
            vendor = self._get(self.vendors, vendor_id, "Vendor")
            self._apply_vendor(vendor, body)
            vendor["modifiedOn"] = self.stamp()
            return vendor_id

    def _apply_vendor(self, vendor: Record, body: dict) -> None:
        simple = {"name": "name", "active": "active", "memo": "memo", "isTruckReplenishment":
                  "isTruckReplenishment", "deliveryOption": "deliveryOption", "taxRate": "defaultTaxRate",
                  "restrictedMobileCreation": "isMobileCreationRestricted"}
        for source, target in simple.items():
            if source in body and body[source] is not None:
                vendor[target] = body[source]
        contact = vendor.setdefault("contactInfo", {})
        for key in ("firstName", "lastName", "phone", "email", "fax"):
            if key in body and body[key] is not None:
                contact[key] = body[key]
        if body.get("address") is not None:
            vendor["address"] = dict(body["address"])
        if body.get("externalData") is not None:
            apply_external_data(vendor, body["externalData"])

    # --- purchase orders ---------------------------------------------------------------------
    def create_purchase_order(self, body: dict) -> int:
        with self.lock:
            self._check_po_references(body)
            moment = self.stamp()
            po_id = self.new_id()
            po: Record = {
                "id": po_id, "number": f"{po_id}-PO", "status": "Pending", "createdOn": moment,
                "modifiedOn": moment, "items": [],
            }
            self._apply_po(po, body, moment, new=True)
            self.purchase_orders[po_id] = po
            return po_id

    def update_purchase_order(self, po_id: int, body: dict) -> int:
        with self.lock:
            po = self._get(self.purchase_orders, po_id, "Purchase order")
            if po["status"] in ("Exported", "Canceled", "Received"):
                raise StStateError(
                    f"Purchase order {po['number']} is {po['status']} and can no longer be edited",
                    {"id": [f"Purchase order status {po['status']} does not allow editing."]},
                )
            self._check_po_references(body)
            moment = self.stamp()
            self._apply_po(po, body, moment, new=False)
            po["modifiedOn"] = moment
            return po_id

    def _check_po_references(self, body: dict) -> None:
        errors: dict[str, list[str]] = {}
        if "vendorId" in body and body["vendorId"] not in self.vendors:
            errors["VendorId"] = [f"Vendor with id {body['vendorId']} was not found."]
        if "businessUnitId" in body and body["businessUnitId"] not in self.business_units:
            errors["BusinessUnitId"] = [f"Business unit with id {body['businessUnitId']} was not found."]
        location = body.get("inventoryLocationId")
        if location is not None and location not in self.warehouses and location not in self.trucks:
            errors["InventoryLocationId"] = [f"Inventory location with id {location} was not found."]
        if "typeId" in body and body["typeId"] not in self.purchase_order_types:
            errors["TypeId"] = [f"Purchase order type with id {body['typeId']} was not found."]
        for index, item in enumerate(body.get("items") or []):
            if self.sku(item.get("skuId")) is None:
                errors[f"Items[{index}].SkuId"] = [f"Sku with id {item.get('skuId')} was not found."]
        if errors:
            raise StStateError("One or more validation errors occurred.", errors)

    def _apply_po(self, po: Record, body: dict, moment: datetime, *, new: bool) -> None:
        for key in ("vendorId", "typeId", "businessUnitId", "inventoryLocationId", "jobId",
                    "technicianId", "projectId", "budgetCodeId", "date", "requiredOn", "tax", "shipping",
                    "impactsTechnicianPayroll"):
            if key in body:
                po[key] = body[key]
        if "vendorInvoiceNumber" in body:
            po["vendorDocumentNumber"] = body["vendorInvoiceNumber"] or ""
        if "memo" in body:
            po["summary"] = body["memo"] or ""
        if body.get("shipTo") is not None:
            po["shipTo"] = dict(body["shipTo"].get("address") or {})
            po["shipToDescription"] = body["shipTo"].get("description", "")
        if "items" in body:
            existing = {item["id"]: item for item in po["items"]}
            kept = []
            for line in body["items"] or []:
                item = existing.pop(line["id"], None) if not new else None
                if item is None:
                    if not new:
                        raise StStateError("One or more validation errors occurred.",
                                           {"Items.Id": [f"Purchase order item {line['id']} was not found."]})
                    item = {"id": self.new_id(), "createdOn": moment, "quantityReceived": Decimal(0),
                            "status": "Pending", "serialNumbers": [], "chargeable": False}
                sku = self.sku(line["skuId"]) or {}
                item.update({
                    "skuId": line["skuId"], "description": line["description"],
                    "vendorPartNumber": line["vendorPartNumber"], "quantity": line["quantity"],
                    "cost": line["cost"], "total": line["quantity"] * line["cost"],
                    "budgetCodeId": line.get("budgetCodeId"), "modifiedOn": moment,
                    "skuName": sku.get("displayName") or "", "skuCode": sku.get("code", ""),
                    "skuType": sku.get("_type", "Material"),
                })
                kept.append(item)
            # "Every active PO item that is not on this list will be marked as inactive."
            for item in existing.values():
                item["status"] = "Inactive"
                item["modifiedOn"] = moment
                kept.append(item)
            po["items"] = kept
        active = [i for i in po["items"] if i.get("status") != "Inactive"]
        po["total"] = sum((i["total"] for i in active), Decimal(0)) + po.get("tax", 0) + po.get("shipping", 0)

    # --- adjustments -------------------------------------------------------------------------
    def update_adjustment_external_data(self, adjustment_id: int, external: dict) -> int:
        with self.lock:
            adjustment = self._get(self.adjustments, adjustment_id, "Adjustment")
            apply_external_data(adjustment, external)
            adjustment["modifiedOn"] = self.stamp()
            return adjustment_id

    # --- helpers -----------------------------------------------------------------------------
    def _get(self, table: dict[int, Record], record_id: int, what: str) -> Record:
        record = table.get(record_id)
        if record is None:
            raise StStateError(f"{what} with id {record_id} was not found", {"id": [f"{what} not found."]}, 404)
        return record

    def summary(self) -> dict[str, int]:
        with self.lock:
            return {
                name: len(getattr(self, name))
                for name in ("business_units", "technicians", "gl_accounts", "vendors", "warehouses", "trucks",
                             "materials", "equipment", "services", "invoices", "purchase_orders", "receipts",
                             "adjustments", "ap_bills")
            }


def apply_external_data(record: Record, external: dict) -> None:
    """ExternalDataUpdateRequest: `Replace` (default) swaps the application's pairs; `Merge` updates them."""
    store = record.setdefault("externalData", {})
    guid = str(external["applicationGuid"]).lower()
    pairs = {pair["key"]: pair.get("value") for pair in external.get("externalData", [])}
    if (external.get("patchMode") or "Replace") == "Merge":
        merged = dict(store.get(guid, {}))
        merged.update(pairs)
        pairs = merged
    store[guid] = {key: value for key, value in pairs.items() if value is not None}


def recompute_invoice_item(item: Record) -> None:
    item["totalCost"] = cents(item["quantity"] * item["cost"])
    item["total"] = cents(item["quantity"] * item["price"])


def recompute_invoice_totals(invoice: Record) -> None:
    sub_total = sum((item["total"] for item in invoice.get("items", [])), Decimal("0.00"))
    taxable = sum((item["total"] for item in invoice.get("items", []) if item.get("taxable")), Decimal("0.00"))
    rate = invoice.get("_taxRate", Decimal("0.0825"))
    invoice["subTotal"] = sub_total
    invoice["salesTax"] = cents(taxable * rate)
    invoice["total"] = invoice["subTotal"] + invoice["salesTax"]
    invoice["balance"] = invoice["total"]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
