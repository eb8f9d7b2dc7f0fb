"""From a ServiceTitan invoice to the AP documents it owes SYSPRO (docs/architecture.md §2, step 2).

Pure: the ST invoice (as ServiceTitan's JSON), the mappings and the reference data go in,
planned documents — or the exact mappings that are missing, or why nothing is owed — come out.
Works on the raw JSON that the ledger stores, so a replay re-maps without asking ServiceTitan.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from desktop_app.sync import readable
from desktop_app.sync.dates import accounting_date, before_start, before_start_reason
from desktop_app.sync.readable import Unreadable

CENT = Decimal("0.01")
INVOICE_NUMBER_MAX = 20
TEXT_MAX = 50


def money(value, path: str = "amount") -> Decimal:
    """ServiceTitan money: accounting strings ("12.50") or JSON numbers parsed as Decimal. Anything
    else is `Unreadable`, naming `path` and the value (rules: `readable`)."""
    return readable.amount(value, path)


def line_amount(quantity, unit_cost, path: str = "") -> Decimal:
    """quantity × cost rounded half-up to the cent; `path` names the line in an error (items[2])."""
    where = f"{path}." if path else ""
    try:
        amount = (money(quantity, f"{where}quantity") * money(unit_cost, f"{where}cost")).quantize(
            CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # a product beyond the context's precision
        raise Unreadable(f"{where}quantity", quantity, f"times cost {unit_cost!r} is too large") from None
    if abs(amount) >= readable.TWELVE_DIGITS:
        raise Unreadable(f"{where}quantity", quantity, f"times cost {unit_cost!r} is {amount}: too large for "
                         "SYSPRO (at most 12 digits before the decimal point)")
    return amount


@dataclass(frozen=True)
class Sku:
    id: int
    code: str
    name: str
    vendor_id: int | None
    vendor_name: str = ""


@dataclass
class Reference:
    """ServiceTitan reference data, cached per cycle."""

    skus: dict[int, Sku] = field(default_factory=dict)
    technicians: dict[int, str] = field(default_factory=dict)
    business_units: dict[int, str] = field(default_factory=dict)


@dataclass
class Mappings:
    vendors: dict[int, str] = field(default_factory=dict)
    items_by_id: dict[int, tuple[str, str]] = field(default_factory=dict)  # sku id -> (stock code, supplier override)
    items_by_code: dict[str, tuple[str, str]] = field(default_factory=dict)
    gl: dict[tuple[str, int | None], str] = field(default_factory=dict)
    branches: dict[int, tuple[str, str]] = field(default_factory=dict)  # bu id -> (branch, gl segment)


@dataclass(frozen=True)
class BuildSettings:
    cost_types: tuple[str, ...] = ("Material", "Equipment")
    default_supplier: str = ""
    timezone: str = "America/Chicago"
    invoice_prefix: str = "ST"
    start_date: dt.date | None = None  # go-live: invoices dated earlier are not the connector's
    ap_lines: str = "all"  # all | non_stock (lines used from the company's own stock are left out)


@dataclass
class PlannedLine:
    st_item_id: int | None
    sku_id: int | None
    sku_code: str
    stock_code: str
    description: str
    quantity: str
    unit_cost: str
    amount: Decimal
    ledger_code: str


@dataclass
class PlannedDocument:
    supplier: str
    transaction_code: str  # I invoice, C credit note
    syspro_invoice: str
    amount: Decimal  # signed: negative for a credit note
    invoice_date: dt.date | None
    branch: str
    business_unit: str
    technician: str
    job_number: str
    reference: str
    notation: str
    journal_notation: str
    lines: list[PlannedLine]
    mapping_rows: list[dict]
    content_hash: str = ""
    left_out: list[dict] = field(default_factory=list)  # the invoice's stock lines kept out of AP
    # a credit note: the ST invoice it returns (adjustmentToId), None when it returns nothing known.
    # The evaluation (invoices.py) finds the SYSPRO invoice it applies to; until then `syspro_invoice`
    # is the adjustment's own number.
    credit_of: int | None = None

    def lines_json(self) -> list[dict]:
        # the fields are all scalars: a copy of each line's __dict__ is what asdict() gives
        return [{**vars(line), "amount": format(line.amount, "f")} for line in self.lines]


@dataclass
class BuildResult:
    documents: list[PlannedDocument] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    skip_reason: str = ""
    before_start: bool = False  # skipped because the invoice is dated before the go-live date
    left_out: list[dict] = field(default_factory=list)  # stock lines kept out of AP (sync.ap_lines)
    # the invoice cannot be read: the field, its value and what is wrong (`readable.Unreadable`)
    unreadable: str = ""


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _clip(text: str, limit: int = TEXT_MAX) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_documents(invoice: dict, mappings: Mappings, reference: Reference,
                    settings: BuildSettings) -> BuildResult:
    """The documents `invoice` owes; an invoice that cannot be read gives `unreadable` instead."""
    try:
        return _build(invoice, mappings, reference, settings)
    except Unreadable as exc:
        return BuildResult(unreadable=str(exc))


def _build(invoice: dict, mappings: Mappings, reference: Reference, settings: BuildSettings) -> BuildResult:
    readable.record_id(invoice.get("id"))
    readable.check_texts(invoice)
    number = str(invoice.get("referenceNumber") or invoice.get("number") or invoice.get("id"))
    if invoice.get("active") is False:
        return BuildResult(skip_reason="The invoice is inactive (voided) in ServiceTitan.")
    invoice_date = readable.date(invoice.get("invoiceDate"), "invoiceDate",
                                 lambda value: accounting_date(value, settings.timezone))
    if settings.start_date is not None and before_start(invoice_date, settings.start_date):
        return BuildResult(skip_reason=before_start_reason(invoice_date, settings.start_date), before_start=True)
    bu = readable.obj(invoice.get("businessUnit"), "businessUnit")
    bu_id = readable.optional_id(bu.get("id"), "businessUnit.id")
    bu_name = str(bu.get("name") or reference.business_units.get(bu_id or -1, ""))
    job = readable.obj(invoice.get("job"), "job")
    job_number = str(job.get("number") or "")
    missing: dict[tuple, dict] = {}
    used: dict[tuple, dict] = {}

    def need(kind: str, key, label: str, reason: str, **extra) -> None:
        missing.setdefault((kind, str(key), str(extra.get("business_unit_id", ""))),
                           {"kind": kind, "key": key, "label": label, "reason": reason, **extra})

    branch_row = mappings.branches.get(bu_id) if bu_id is not None else None
    if branch_row is None:
        need("branches", bu_id, bu_name or f"business unit {bu_id}",
             f"Business unit '{bu_name or bu_id}' has no SYSPRO branch.")
        branch, segment = "", ""
    else:
        branch, segment = branch_row
        used[("branches", bu_id)] = {"kind": "branches", "st_business_unit_id": bu_id, "syspro_branch": branch}

    technician = ""
    groups: dict[str, list[PlannedLine]] = defaultdict(list)
    cost_lines = 0
    left_out: list[dict] = []
    for index, item in enumerate(readable.objects(invoice.get("items"), "items")):
        if item.get("type") not in settings.cost_types or item.get("active") is False:
            continue
        where = f"items[{index}]"
        amount = line_amount(item.get("quantity"), item.get("cost"), where)
        if amount == 0:
            continue
        if settings.ap_lines == "non_stock" and is_stock_line(item):
            left_out.append(_left_out_line(item, amount, reference))
            continue
        cost_lines += 1
        if not technician and item.get("technicianId"):
            technician = reference.technicians.get(readable.record_id(item["technicianId"],
                                                                      f"{where}.technicianId"), "")
        sku_id = readable.optional_id(item.get("skuId"), f"{where}.skuId")
        sku = reference.skus.get(sku_id) if sku_id is not None else None
        sku_code = sku.code if sku else ""
        description = item.get('description') or (sku.name if sku else '')
        label = f"{sku_code or item.get('skuName') or sku_id} {description}".strip()
        item_map = mappings.items_by_id.get(sku_id) if sku_id is not None else None
        if item_map is None and sku_code:
            item_map = mappings.items_by_code.get(sku_code)
        if item_map is None or not item_map[0]:
            need("items", sku_id, _clip(label, 80), f"Item {sku_code or sku_id} has no SYSPRO stock code.",
                 sku_code=sku_code)
            stock_code, override = "", ""
        else:
            stock_code, override = item_map
            used[("items", sku_id)] = {"kind": "items", "st_sku_id": sku_id, "syspro_stock_code": stock_code,
                                       "syspro_supplier": override}
        supplier = override
        if not supplier:
            vendor_id = sku.vendor_id if sku else None
            if vendor_id is not None and vendor_id in mappings.vendors:
                supplier = mappings.vendors[vendor_id]
                used[("vendors", vendor_id)] = {"kind": "vendors", "st_vendor_id": vendor_id,
                                                "syspro_supplier": supplier}
            elif settings.default_supplier:
                supplier = settings.default_supplier
                used[("default_supplier", "")] = {"kind": "setting", "sync.default_supplier": supplier}
            elif vendor_id is not None and sku is not None:  # a vendor id comes from a SKU
                need("vendors", vendor_id, sku.vendor_name or f"vendor {vendor_id}",
                     f"Vendor '{sku.vendor_name or vendor_id}' has no SYSPRO supplier.")
            else:
                need("items", sku_id, _clip(label, 80),
                     f"Item {sku_code or sku_id} has no primary vendor in ServiceTitan: map a supplier for it "
                     "or set a default supplier.", sku_code=sku_code)
        # AP carries the cost: the item's cost-of-sale account; its generalLedgerAccount is the income account
        gl_path = f"{where}.costOfSaleAccount" if item.get("costOfSaleAccount") else f"{where}.generalLedgerAccount"
        gl = readable.obj(item.get("costOfSaleAccount") or item.get("generalLedgerAccount"), gl_path)
        account = str(gl.get("number") or "").strip()
        ledger = mappings.gl.get((account, bu_id)) or mappings.gl.get((account, None)) if account else None
        if not account:
            need("gl", "", "(none)", f"Item {sku_code or sku_id} has no GL account in ServiceTitan.")
        elif ledger is None:
            need("gl", account, f"{account} {gl.get('name') or ''}".strip(),
                 f"GL account {account} has no SYSPRO ledger code.", business_unit_id=bu_id)
        else:
            if "{segment}" in ledger:
                ledger = ledger.replace("{segment}", segment)
            used[("gl", account, bu_id)] = {"kind": "gl", "st_gl_account": account, "syspro_gl_code": ledger}
        groups[supplier].append(PlannedLine(
            st_item_id=_int(item.get("id")), sku_id=sku_id, sku_code=sku_code, stock_code=stock_code,
            description=_clip(item.get("description") or (sku.name if sku else ""), 50),
            quantity=str(item.get("quantity")), unit_cost=str(item.get("cost")), amount=amount,
            ledger_code=ledger or "",
        ))

    if cost_lines == 0 and left_out:
        return BuildResult(skip_reason=all_stock_reason(left_out), left_out=left_out)
    if cost_lines == 0:
        return BuildResult(skip_reason="No material or equipment cost on this invoice (nothing owed to a supplier).")
    if missing:
        return BuildResult(missing=sorted(missing.values(), key=lambda m: (m["kind"], str(m["key"]))),
                           left_out=left_out)

    if not technician:
        technician = str(readable.obj(invoice.get("employeeInfo"), "employeeInfo").get("name") or "")
    original = readable.optional_id(invoice.get("adjustmentToId"), "adjustmentToId")
    syspro_invoice = f"{settings.invoice_prefix}{number}"[:INVOICE_NUMBER_MAX]
    documents = []
    for supplier, lines in sorted(groups.items()):
        total = sum((line.amount for line in lines), Decimal("0.00"))
        if total == 0:
            continue
        if abs(total) >= readable.TWELVE_DIGITS:
            raise Unreadable("items", f"{len(lines)} line(s) for supplier {supplier}",
                             f"add up to {total}: too large for SYSPRO (at most 12 digits before the decimal point)")
        # what a supplier is owed less on an adjustment is a credit against the original's invoice;
        # what it is owed more is a new invoice of the adjustment's own
        code = "C" if total < 0 else "I"
        texts = document_texts(code, _int(invoice.get("id")) or 0, number, job_number, bu_name, technician)
        doc = PlannedDocument(
            supplier=supplier, transaction_code=code, syspro_invoice=syspro_invoice, amount=total,
            invoice_date=invoice_date, branch=branch, business_unit=bu_name, technician=technician,
            job_number=job_number, reference=texts[0], notation=texts[1], journal_notation=texts[2],
            lines=lines,
            mapping_rows=[row for key, row in used.items()
                          if key[0] != "vendors" or row["syspro_supplier"] == supplier],
            left_out=left_out,
            credit_of=original if code == "C" else None,
        )
        doc.content_hash = content_hash(doc)
        documents.append(doc)
    if not documents:
        return BuildResult(skip_reason="The material and equipment costs on this invoice add up to zero per supplier.",
                           left_out=left_out)
    return BuildResult(documents=documents, left_out=left_out)


STOCK_LINE_WHY = ("used from your own stock ({location}): bought on a purchase order, whose bill reaches AP "
                  "that way (sync.ap_lines = non_stock)")


def is_stock_line(item: dict) -> bool:
    """A part used from the company's own truck or warehouse stock: an inventory item that ServiceTitan
    took out of an inventory location. An inventory item with no location was bought for the job."""
    return item.get("inventory") is True and bool(item.get("inventoryLocationId") or item.get("inventoryLocation"))


def _left_out_line(item: dict, amount: Decimal, reference: Reference) -> dict:
    sku_id = _int(item.get("skuId"))
    sku = reference.skus.get(sku_id) if sku_id is not None else None
    location = str(item.get("inventoryLocation") or f"inventory location {item.get('inventoryLocationId')}")
    return {"st_item_id": _int(item.get("id")), "sku_id": sku_id,
            "sku_code": sku.code if sku else str(item.get("skuName") or ""),
            "description": _clip(item.get("description") or (sku.name if sku else ""), 50),
            "quantity": str(item.get("quantity")), "unit_cost": str(item.get("cost")), "amount": format(amount, "f"),
            "location": location, "why": STOCK_LINE_WHY.format(location=location)}


def left_out_text(left_out: list[dict]) -> str:
    """The stock lines a document leaves out of AP, one line of text each (detail page, CLI)."""
    return "\n".join(" ".join(f"• {line.get('sku_code') or line.get('sku_id')} {line.get('description') or ''}".split())
                     + f" — {line.get('quantity')} × {line.get('unit_cost')} = {line.get('amount')}: {line.get('why')}"
                     for line in left_out)


def all_stock_reason(left_out: list[dict]) -> str:
    places = ", ".join(sorted({line["location"] for line in left_out}))
    return (f"Every material and equipment line on this invoice ({len(left_out)}) was used from your own stock "
            f"({places}): those parts were bought on purchase orders, whose bills reach AP that way, so nothing "
            "is posted for them (sync.ap_lines = non_stock).")


def credit_reference_key(st_id: int) -> str:
    """What a credit note's TransactionReference starts with: the adjustment's ServiceTitan id, which
    no other document carries. SYSPRO keeps no row of its own for a credit applied to an invoice, so
    the look-up before a re-post and the read-back find it by this among the invoice's transactions."""
    return f"ST credit id {st_id}"


def is_credit_reference(reference: str, st_id: int) -> bool:
    key = credit_reference_key(st_id)
    return reference == key or reference.startswith(key + " ")


def document_texts(code: str, st_id: int, number: str, job_number: str, business_unit: str,
                   technician: str) -> tuple[str, str, str]:
    """TransactionReference, Notation and JournalNotation of a document. A credit note names the
    adjustment (number and id) it comes from, since its <Invoice> is the original's number."""
    if code == "C":
        return (_clip(f"{credit_reference_key(st_id)} inv {number}"),
                _clip(f"ST return {number} job {job_number} {technician}".strip()),
                _clip(f"ServiceTitan adjustment {number} id {st_id}"))
    return (_clip(f"ST inv {number} job {job_number}".strip()),
            _clip(f"{business_unit} / {technician}".strip(" /")),
            _clip(f"ServiceTitan invoice id {st_id}"))


def content_hash(doc: PlannedDocument) -> str:
    """What AP cares about; a change in anything else (payments, notes) is not a change to the bill."""
    material = {
        "supplier": doc.supplier, "code": doc.transaction_code, "invoice": doc.syspro_invoice,
        "amount": format(doc.amount, "f"), "date": doc.invoice_date.isoformat() if doc.invoice_date else "",
        "branch": doc.branch,
        "lines": [(line.ledger_code, line.stock_code, line.quantity, line.unit_cost, format(line.amount, "f"))
                  for line in doc.lines],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()[:20]
