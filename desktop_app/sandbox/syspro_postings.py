"""Setup and Transaction business objects: APSTIN, APSSSP, INVTMA, PORTOI.

Validation rules and messages follow docs/syspro-contract.md; where SYSPRO's real error numbers
are unknown the numbers below are the simulator's own (they only need to be stable).
Every function runs with `state.lock` held by the caller.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from lxml import etree

from desktop_app.sandbox.syspro_state import SUPPLIER_DEFAULTS, SysproState, db_text
from desktop_app.sandbox.syspro_xml import (
    E,
    child,
    children,
    counter,
    el,
    field_error,
    has,
    parse_date,
    parse_decimal,
    text,
    xml_out,
)

SUPPLIER_NOT_FOUND = 110400
SUPPLIER_ON_HOLD = 110401
DUPLICATE_INVOICE = 110402
INVOICE_REQUIRED = 110403
INVOICE_NOT_FOUND = 110405
LEDGER_NOT_FOUND = 110406
LEDGER_ON_HOLD = 110413
TAX_CODE_INVALID = 110407
PERIOD_CLOSED = 110408
DISTRIBUTION_MISMATCH = 110409
VALUE_INVALID = 110410
BRANCH_NOT_FOUND = 110411
TRANSACTION_CODE_INVALID = 110412
SUPPLIER_EXISTS = 120401
SUPPLIER_HAS_DOCUMENTS = 120404
FIELD_REQUIRED = 120402
FIELD_TOO_LONG = 120403
STOCK_CODE_NOT_FOUND = 240004  # the number in the recorded INVSWS answer
WAREHOUSE_NOT_FOUND = 240005
NOT_STOCKED_IN_WAREHOUSE = 240006
QUANTITY_INVALID = 240007
LOT_REQUIRED = 240008
BIN_REQUIRED = 240009
PO_NOT_FOUND = 260001
PO_EXISTS = 260002
PO_CANCELLED = 260003
PO_LINE_NOT_FOUND = 260004

KEY_LENGTHS = {"Supplier": 15, "Invoice": 20, "StockCode": 30, "LedgerCode": 35, "Warehouse": 10,
               "PurchaseOrder": 20, "Branch": 10}
# Column sizes reported for SYSPRO 8 (not published as limits): longer text is refused, not cut.
TEXT_LENGTHS = {"SupplierName": 50, "SupShortName": 20, "SupAddr1": 40, "SupAddr2": 40, "SupAddr3": 40,
                "SupAddr4": 40, "SupAddr5": 40, "SupPostalCode": 15, "CustomerPoNumber": 30}
TAX_CODES = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class BoException(Exception):
    """A business-object exception: answered as `ERROR: e.net exception 100000: <text>`."""


@dataclass
class Outcome:
    """What one item of a document ended up as."""

    errors: list[E] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    row: dict = field(default_factory=dict)

    def error(self, name: str, value: object, number: int, description: str) -> None:
        self.errors.append(field_error(name, str(value), number, description))


class Options:
    """The <Parameters> of a Setup/Transaction call, with the XSD defaults."""

    def __init__(self, params: etree._Element | None):
        self._node = child(params, "Parameters") if params is not None else None
        if self._node is None and params is not None and params.tag.lower() == "parameters":
            self._node = params

    def get(self, name: str, default: str) -> str:
        return text(self._node, name, default).upper()

    def yes(self, name: str, default: bool) -> bool:
        return self.get(name, "Y" if default else "N") == "Y"


def _items(doc: etree._Element | None, name: str = "Item") -> list[etree._Element]:
    found = children(doc, name)
    if not found:
        raise BoException(f"The XmlIn document contains no '{name}' element")
    return found


def _status(processed: int, invalid: int) -> E:
    return el("StatusOfItems", el("ItemsProcessed", counter(processed)), el("ItemsInvalid", counter(invalid)))


def _warn_or_reject(outcome: Outcome, ignore_warnings: str, name: str, value: str, number: int,
                    message: str) -> None:
    """IgnoreWarnings N rejects, W reports and continues, Y ignores."""
    if ignore_warnings == "N":
        outcome.error(name, value, number, message)
    elif ignore_warnings == "W":
        outcome.warnings.append(message)


def _period_problem(state: SysproState, posting_period: str, document_date: date | None) -> str | None:
    if posting_period not in ("C", "P", "B"):
        return f"Invalid posting period '{posting_period}'"
    if not state.is_open(state.period_for(posting_period)):
        return "Posting period is closed"
    oldest_open = min(state.open_periods())
    if document_date is not None and (document_date.year, document_date.month) < oldest_open:
        return "Posting period is closed"
    return None


# -- APSTIN ----------------------------------------------------------------------------------


def post_ap_invoice(state: SysproState, params: etree._Element | None, doc: etree._Element | None,
                    *, reject_item: Callable[[], bool] = lambda: False) -> bytes:
    opts = Options(params)
    posting_period = opts.get("PostingPeriod", "C")
    ignore_warnings = opts.get("IgnoreWarnings", "N")
    apply_all = opts.yes("ApplyIfEntireDocumentValid", True)
    validate_only = opts.yes("ValidateOnly", False)
    variance = abs(parse_decimal(opts.get("PermissibleTaxVariance", "0")) or Decimal(0))

    items = _items(doc)
    seen: set[tuple[str, str, str]] = set()
    outcomes = []
    for item in items:
        outcome = _check_ap_item(state, item, posting_period, ignore_warnings, variance, seen)
        if reject_item():
            outcome.error("Supplier", outcome.row["Supplier"], SUPPLIER_ON_HOLD, "Supplier is on hold")
        outcomes.append(outcome)

    invalid = sum(1 for o in outcomes if o.errors)
    commit = not validate_only and not (apply_all and invalid)
    journals: dict[tuple[int, int], int] = {}
    if commit:
        for outcome in outcomes:
            if outcome.errors:
                continue
            period = (outcome.row["TrnYear"], outcome.row["TrnMonth"])
            if period not in journals:
                journals[period] = state.next_journal("AP", period)
            outcome.row.update(Journal=journals[period], PostDate=state.today())
            if outcome.row["DocumentType"] == "I":
                outcome.row["MthInvBal1"] = outcome.row["OrigInvValue"]
                state.ap_invoices.append(outcome.row)
            else:
                _apply_to_invoice(state, outcome.row)
        if journals:
            state.post_count += 1

    root = E("postapinvoice")
    for number, outcome in enumerate(outcomes, start=1):
        item = el("Item", el("Supplier", outcome.row["Supplier"]), el("Invoice", outcome.row["Invoice"]))
        if "Journal" in outcome.row:
            item.add(el("Journal", outcome.row["Journal"]), el("TrnYear", outcome.row["TrnYear"]),
                     el("TrnMonth", outcome.row["TrnMonth"]))
        item.children.extend(outcome.errors)
        item.children.extend(el("Warning", el("Description", w)) for w in outcome.warnings)
        item.add(el("ItemNumber", counter(number)))
        root.add(item)
    root.add(_status(len(outcomes), invalid))
    return xml_out(root)


def _check_ap_item(state: SysproState, item: etree._Element, posting_period: str, ignore_warnings: str,
                   variance: Decimal, seen: set[tuple[str, str, str]]) -> Outcome:
    out = Outcome()
    supplier = text(item, "Supplier")
    # Compared and stored as the Windows-1252 column keeps it, so a re-post is still a duplicate.
    invoice = db_text(text(item, "Invoice"))
    code = text(item, "TransactionCode", "I").upper()
    out.row = {"Supplier": supplier, "Invoice": invoice}

    supplier_row = state.suppliers.get(supplier)
    if supplier_row is None:
        out.error("Supplier", supplier, SUPPLIER_NOT_FOUND, f"Supplier '{supplier}' not found")
    elif supplier_row.get("OnHold") == "Y":
        _warn_or_reject(out, ignore_warnings, "Supplier", supplier, SUPPLIER_ON_HOLD,
                        f"Supplier '{supplier}' is on hold")

    if code not in ("I", "C", "A", "D"):
        out.error("TransactionCode", code, TRANSACTION_CODE_INVALID, f"Transaction code '{code}' is not supported")
    if not invoice:
        out.error("Invoice", invoice, INVOICE_REQUIRED, "Invoice number must be supplied")
    elif len(invoice) > KEY_LENGTHS["Invoice"]:
        out.error("Invoice", invoice, INVOICE_REQUIRED, f"Invoice '{invoice}' is longer than 20 characters")
    else:
        existing = {r["DocumentType"] for r in state.find_invoices(supplier, invoice)}
        existing |= {t for (s, i, t) in seen if (s, i) == (supplier, invoice)}
        # Rule 15 (APSTINDOC, Invoice): an invoice (I) must not exist yet; an adjustment, credit note
        # or debit note (A/C/D) is applied to an invoice that must exist, as often as it is posted.
        if code == "I" and existing:
            out.error("Invoice", invoice, DUPLICATE_INVOICE,
                      f"Invoice '{invoice}' already exists for supplier '{supplier}'")
        elif code in ("A", "C", "D") and "I" not in existing:
            out.error("Invoice", invoice, INVOICE_NOT_FOUND,
                      f"Invoice '{invoice}' not found for supplier '{supplier}'")

    branch = text(item, "Branch")
    if branch and state.ap_branches and branch not in state.ap_branches:
        out.error("Branch", branch, BRANCH_NOT_FOUND, f"Branch '{branch}' not found")
    if not branch and supplier_row is not None:
        branch = supplier_row.get("Branch", "")

    values = {}
    for name in ("TransactionValue", "TaxValue"):
        raw = text(item, name)
        values[name] = parse_decimal(raw)
        if values[name] is None:
            out.error(name, raw, VALUE_INVALID, f"'{raw}' is not a valid value for {name}")
    tax_code = text(item, "TaxCode").upper()
    if tax_code and tax_code not in TAX_CODES:
        out.error("TaxCode", tax_code, TAX_CODE_INVALID, f"Tax code '{tax_code}' is invalid")

    dates = {}
    for name in ("InvoiceDate", "DueDate"):
        raw = text(item, name)
        dates[name] = parse_date(raw) if raw and raw.strip("0-") else None
        if raw and raw.strip("0-") and dates[name] is None:
            out.error(name, raw, VALUE_INVALID, f"'{raw}' is not a valid date (CCYY-MM-DD)")
    invoice_date = dates["InvoiceDate"] or state.today()
    problem = _period_problem(state, posting_period, dates["InvoiceDate"])
    if problem:
        out.error("PostingPeriod", posting_period, PERIOD_CLOSED, problem)

    distribution_total = Decimal(0)
    lines = children(item, "LedgerDistribution")
    for line in lines:
        ledger = text(line, "LedgerCode")
        if ledger not in state.gl_codes:
            out.error("LedgerCode", ledger, LEDGER_NOT_FOUND, f"Ledger code '{ledger}' not found")
        elif state.gl_codes[ledger].get("OnHold") == "Y":
            out.error("LedgerCode", ledger, LEDGER_ON_HOLD, f"Ledger code '{ledger}' is on hold")
        line_tax = text(line, "LedgerTaxCode").upper()
        if line_tax and line_tax not in TAX_CODES:
            out.error("LedgerTaxCode", line_tax, TAX_CODE_INVALID, f"Tax code '{line_tax}' is invalid")
        raw = text(line, "LedgerValue")
        value = parse_decimal(raw)
        if value is None:
            out.error("LedgerValue", raw, VALUE_INVALID, f"'{raw}' is not a valid value for LedgerValue")
        else:
            distribution_total += value
    total, tax = values["TransactionValue"], values["TaxValue"]
    if total is not None and tax is not None and (lines or not has(item, "GrnDetails")):
        expected = total - tax
        if abs(distribution_total - expected) > variance:
            out.error("LedgerValue", distribution_total, DISTRIBUTION_MISMATCH,
                      f"Distribution total {distribution_total} does not equal the invoice value less tax {expected}")

    if not out.errors:
        seen.add((supplier, invoice, code))
        sign = Decimal(-1) if code == "C" else Decimal(1)
        year, month = state.period_for(posting_period)
        out.row.update(
            DocumentType=code,
            InvoiceDate=invoice_date,
            DueDate=dates["DueDate"] or invoice_date + timedelta(days=30),
            Branch=branch,
            OrigInvValue=sign * abs(total) if code == "C" else total,
            OrigTaxValue=sign * abs(tax) if code == "C" else tax,
            TrnYear=year,
            TrnMonth=month,
            Reference=db_text(text(item, "TransactionReference")),
            Notation=db_text(text(item, "Notation")),
        )
    return out


def _apply_to_invoice(state: SysproState, row: dict) -> None:
    """An A/C/D posted against an invoice: a transaction of that invoice (ApInvoicePay) that moves its
    balance; the invoice keeps its one ApInvoice row (docs/syspro-contract.md, "Credit notes")."""
    code = row["DocumentType"]
    value = row["OrigInvValue"]
    value = -abs(value) if code == "C" else abs(value) if code == "D" else value
    invoice_row = next(r for r in state.find_invoices(row["Supplier"], row["Invoice"]) if r["DocumentType"] == "I")
    invoice_row["MthInvBal1"] = invoice_row.get("MthInvBal1", invoice_row["OrigInvValue"]) + value
    entry = 1 + sum(1 for t in state.ap_invoice_pays if t["Journal"] == row["Journal"]
                    and (t["TrnYear"], t["TrnMonth"]) == (row["TrnYear"], row["TrnMonth"]))
    state.ap_invoice_pays.append({
        "Supplier": row["Supplier"], "Invoice": row["Invoice"], "TrnType": code, "TrnDate": row["InvoiceDate"],
        "PostDate": row["PostDate"], "TrnValue": value, "Journal": row["Journal"], "EntryNumber": entry,
        "TrnYear": row["TrnYear"], "TrnMonth": row["TrnMonth"], "Reference": row["Reference"],
        "Notation": row["Notation"],
    })


# -- APSSSP ----------------------------------------------------------------------------------


def setup_supplier(state: SysproState, action: str, params: etree._Element | None,
                   doc: etree._Element | None) -> bytes:
    """Setup/Add, Setup/Update or Setup/Delete of ApSupplier rows.

    Add of an existing key and Update or Delete of a missing one are item errors (the reference
    infers it from the Add-then-Update pattern of real clients; the texts are ours). A supplier
    with AP documents cannot be deleted: its invoices would lose their supplier."""
    opts = Options(params)
    apply_all = opts.yes("ApplyIfEntireDocumentValid", False)
    validate_only = opts.yes("ValidateOnly", False)
    items = _items(doc)
    results: list[tuple[str, Outcome]] = []
    for item in items:
        out = Outcome()
        supplier = text(child(item, "Key"), "Supplier")
        if not supplier:
            out.error("supplier", supplier, FIELD_REQUIRED, "Supplier must be supplied")
        elif len(supplier) > KEY_LENGTHS["Supplier"]:
            out.error("supplier", supplier, FIELD_TOO_LONG, f"Supplier '{supplier}' is longer than 15 characters")
        elif action == "add" and supplier in state.suppliers:
            out.error("supplier", supplier, SUPPLIER_EXISTS, f"Supplier '{supplier}' already exists")
        elif action in ("update", "delete") and supplier not in state.suppliers:
            out.error("supplier", supplier, SUPPLIER_NOT_FOUND, f"Supplier '{supplier}' not found")
        elif action == "delete" and any(row["Supplier"] == supplier for row in state.ap_invoices):
            out.error("supplier", supplier, SUPPLIER_HAS_DOCUMENTS,
                      f"Supplier '{supplier}' has AP documents and cannot be deleted")
        if action == "delete":
            results.append((supplier, out))
            continue
        changes = {}
        for column in SUPPLIER_DEFAULTS:
            node = child(item, column)
            if node is not None:
                changes[column] = db_text((node.text or "").strip())
        if action == "add" and not changes.get("SupplierName"):
            out.error("suppliername", "", FIELD_REQUIRED, "Supplier name must be supplied")
        if action == "update" and "SupplierName" in changes and not changes["SupplierName"]:
            out.error("suppliername", "", FIELD_REQUIRED, "Supplier name may not be blank")
        for column, value in changes.items():
            if len(value) > TEXT_LENGTHS.get(column, len(value)):
                out.error(column.lower(), value, FIELD_TOO_LONG,
                          f"{column} '{value}' is longer than {TEXT_LENGTHS[column]} characters")
        if "OnHold" in changes:
            changes["OnHold"] = changes["OnHold"].upper() or "N"
            if changes["OnHold"] not in ("Y", "N"):
                out.error("onhold", changes["OnHold"], FIELD_REQUIRED, "On hold must be Y or N")
        branch = changes.get("Branch", "")
        if branch and state.ap_branches and branch not in state.ap_branches:
            out.error("branch", branch, BRANCH_NOT_FOUND, f"Branch '{branch}' not found")
        out.row = changes
        results.append((supplier, out))

    invalid = sum(1 for _, o in results if o.errors)
    if not validate_only and not (apply_all and invalid):
        for supplier, out in results:
            if out.errors:
                continue
            if action == "add":
                state.add_supplier(supplier, **out.row)
            elif action == "delete":
                del state.suppliers[supplier]
            else:
                state.suppliers[supplier].update(out.row)

    root = E("setupapsupplier")
    for supplier, out in results:
        item = el("item", el("key", el("supplier", supplier)))
        item.children.extend(out.errors)
        root.add(item)
    root.add(el("StatusOfItems", el("RecordsRead", len(results)), el("RecordsInvalid", invalid)))
    return xml_out(root)


# -- INVTMA ----------------------------------------------------------------------------------


def post_inventory_adjustments(state: SysproState, params: etree._Element | None,
                               doc: etree._Element | None) -> bytes:
    opts = Options(params)
    posting_period = opts.get("PostingPeriod", "C")
    physical_count = opts.yes("PhysicalCount", False)
    apply_all = opts.yes("ApplyIfEntireDocumentValid", True)
    validate_only = opts.yes("ValidateOnly", False)
    raw_date = opts.get("TransactionDate", "")
    transaction_date = parse_date(raw_date) if raw_date else state.today()

    outcomes = []
    for item in _items(doc):
        out = Outcome()
        warehouse, stock_code = text(item, "Warehouse"), text(item, "StockCode")
        out.row = {"Warehouse": warehouse, "StockCode": stock_code}
        if transaction_date is None:
            out.error("transactiondate", raw_date, VALUE_INVALID, f"'{raw_date}' is not a valid date (CCYY-MM-DD)")
        else:
            problem = _period_problem(state, posting_period, transaction_date)
            if problem:
                out.error("postingperiod", posting_period, PERIOD_CLOSED, problem)
        if warehouse not in state.warehouses:
            out.error("warehouse", warehouse, WAREHOUSE_NOT_FOUND, f"Warehouse '{warehouse}' not found")
        if stock_code not in state.stock_codes:
            out.error("stockcode", stock_code, STOCK_CODE_NOT_FOUND, f"Stock code '{stock_code}' not found")
        elif warehouse in state.warehouses and (stock_code, warehouse) not in state.stock_levels:
            out.error("stockcode", stock_code, NOT_STOCKED_IN_WAREHOUSE,
                      f"Stock code '{stock_code}' is not stocked in warehouse '{warehouse}'")
        raw_qty = text(item, "Quantity")
        quantity = parse_decimal(raw_qty) if raw_qty else None
        if quantity is None:
            out.error("quantity", raw_qty, QUANTITY_INVALID, f"'{raw_qty}' is not a valid quantity")
        elif physical_count and quantity < 0:
            out.error("quantity", raw_qty, QUANTITY_INVALID, "A physical count may not be negative")
        elif not physical_count and quantity == 0:
            out.error("quantity", raw_qty, QUANTITY_INVALID, "The adjustment quantity may not be zero")
        if stock_code in state.stock_codes and state.stock_codes[stock_code].get("TraceableType") == "T" \
                and not text(item, "Lot"):
            out.error("lot", "", LOT_REQUIRED, f"Stock code '{stock_code}' is lot traceable: a lot must be supplied")
        if warehouse in state.warehouses and state.warehouses[warehouse].get("MultipleBins") == "Y" \
                and not text(item, "BinLocation"):
            out.error("binlocation", "", BIN_REQUIRED,
                      f"Warehouse '{warehouse}' uses multiple bins: a bin location must be supplied")
        ledger = text(item, "LedgerCode")
        if ledger and ledger not in state.gl_codes:
            out.error("ledgercode", ledger, LEDGER_NOT_FOUND, f"Ledger code '{ledger}' not found")
        elif ledger and state.gl_codes[ledger].get("OnHold") == "Y":
            out.error("ledgercode", ledger, LEDGER_ON_HOLD, f"Ledger code '{ledger}' is on hold")
        out.row.update(Quantity=quantity, Reference=text(item, "Reference"), Notation=text(item, "Notation"))
        outcomes.append(out)

    invalid = sum(1 for o in outcomes if o.errors)
    if not validate_only and not (apply_all and invalid) and invalid < len(outcomes):
        period = state.period_for(posting_period)
        journal = state.next_journal("IN", period)
        gl_journal = state.next_journal("GL", period)
        for out in outcomes:
            if out.errors:
                continue
            key = (out.row["StockCode"], out.row["Warehouse"])
            change = out.row["Quantity"]
            if physical_count:
                change = out.row["Quantity"] - state.stock_levels[key]
            state.adjust_stock(*key, change, reference=out.row["Reference"], notation=out.row["Notation"],
                               entry_date=transaction_date, trn_type="P" if physical_count else "A",
                               journal=journal, period=period)
            out.row.update(Journal=journal, GlJournal=gl_journal)
        state.post_count += 1

    root = E("postinvadjustments")
    for number, out in enumerate(outcomes, start=1):
        item = el("item", el("key", el("warehouse", out.row["Warehouse"]), el("stockcode", out.row["StockCode"])))
        if "Journal" in out.row:
            item.add(el("Journal", out.row["Journal"]), el("GlJournal", out.row["GlJournal"]))
        item.children.extend(out.errors)
        item.add(el("ItemNumber", counter(number)))
        root.add(item)
    root.add(_status(len(outcomes), invalid))
    return xml_out(root)


# -- PORTOI ----------------------------------------------------------------------------------


def post_purchase_orders(state: SysproState, params: etree._Element | None, doc: etree._Element | None) -> bytes:
    opts = Options(params)
    validate_only = opts.yes("ValidateOnly", True)  # PORTOI's XSD default is Y
    status = opts.get("Status", "1") or "1"
    root = E("postpurchaseorders")
    invalid = 0
    orders = _items(doc, "Orders")
    committed = False
    for number, order in enumerate(orders, start=1):
        header = child(order, "OrderHeader")
        action = text(header, "OrderActionType", "A")
        out = Outcome()
        po_number = text(header, "PurchaseOrder")
        if action == "A":
            changes = _check_po_add(state, order, po_number, out)
        elif action in ("C", "D"):
            changes = _check_po_change(state, order, po_number, action, out)
        else:
            out.error("orderactiontype", action, VALUE_INVALID, f"Order action type '{action}' is invalid")
            changes = None
        if out.errors:
            invalid += 1
        elif not validate_only and changes is not None:
            po_number = changes(status)
            committed = True
        item = el("item", el("key", el("purchaseorder", po_number)))
        item.children.extend(out.errors)
        item.add(el("ItemNumber", counter(number)))
        root.add(item)
    if committed:
        state.post_count += 1
    root.add(_status(len(orders), invalid))
    return xml_out(root)


def _po_line(state: SysproState, line: etree._Element, default_warehouse: str, out: Outcome,
             require_all: bool) -> dict:
    """Validate a StockLine; returns the PorMasterDetail columns it supplies."""
    values: dict = {}
    stock_code = text(line, "StockCode")
    if stock_code or require_all:
        if stock_code not in state.stock_codes:
            out.error("stockcode", stock_code, STOCK_CODE_NOT_FOUND, f"Stock code '{stock_code}' not found")
        else:
            values.update(MStockCode=stock_code, MStockDes=state.stock_codes[stock_code].get("Description", ""))
    warehouse = text(line, "Warehouse") or (default_warehouse if require_all else "")
    if warehouse or require_all:
        if warehouse not in state.warehouses:
            out.error("warehouse", warehouse, WAREHOUSE_NOT_FOUND, f"Warehouse '{warehouse}' not found")
        else:
            values["MWarehouse"] = warehouse
    for name, column in (("OrderQty", "MOrderQty"), ("Price", "MPrice")):
        raw = text(line, name)
        if raw or (require_all and name == "OrderQty"):
            value = parse_decimal(raw) if raw else None
            if value is None or value < 0 or (name == "OrderQty" and value == 0):
                out.error(name.lower(), raw, QUANTITY_INVALID, f"'{raw}' is not a valid {name}")
            else:
                values[column] = value
    ledger = text(line, "LedgerCode")
    if ledger:
        if ledger not in state.gl_codes:
            out.error("ledgercode", ledger, LEDGER_NOT_FOUND, f"Ledger code '{ledger}' not found")
        values["MGlCode"] = ledger
    due = text(line, "LatestDueDate")
    if due:
        parsed = parse_date(due)
        if parsed is None:
            out.error("latestduedate", due, VALUE_INVALID, f"'{due}' is not a valid date (CCYY-MM-DD)")
        values["MLatestDueDate"] = parsed
    return values


def _header_dates(header: etree._Element | None, out: Outcome) -> dict:
    values = {}
    for name, column in (("OrderDate", "OrderEntryDate"), ("DueDate", "OrderDueDate")):
        raw = text(header, name)
        if raw:
            parsed = parse_date(raw)
            if parsed is None:
                out.error(name.lower(), raw, VALUE_INVALID, f"'{raw}' is not a valid date (CCYY-MM-DD)")
            values[column] = parsed
    return values


def _check_po_add(state: SysproState, order: etree._Element, po_number: str, out: Outcome):
    header = child(order, "OrderHeader")
    supplier = text(header, "Supplier")
    if supplier not in state.suppliers:
        out.error("supplier", supplier, SUPPLIER_NOT_FOUND, f"Supplier '{supplier}' not found")
    if po_number and state.find_purchase_order(po_number):
        out.error("purchaseorder", po_number, PO_EXISTS, f"Purchase order '{po_number}' already exists")
    elif len(po_number) > KEY_LENGTHS["PurchaseOrder"]:
        out.error("purchaseorder", po_number, FIELD_TOO_LONG, f"Purchase order '{po_number}' is too long")
    warehouse = text(header, "Warehouse")
    if warehouse and warehouse not in state.warehouses:
        out.error("warehouse", warehouse, WAREHOUSE_NOT_FOUND, f"Warehouse '{warehouse}' not found")
    dates = _header_dates(header, out)
    lines = [_po_line(state, line, warehouse, out, require_all=True)
             for line in children(child(order, "OrderDetails"), "StockLine")]
    customer_po = text(header, "CustomerPoNumber")
    _check_customer_po(customer_po, out)

    def commit(status: str) -> str:
        number = state.add_purchase_order(
            supplier,
            [],
            warehouse=warehouse,
            order_date=dates.get("OrderEntryDate"),
            due_date=dates.get("OrderDueDate"),
            customer_po_number=customer_po,
            status=status,
            purchase_order=po_number or None,
        )
        po = state.purchase_orders[number]
        for index, values in enumerate(lines, start=1):
            po["lines"].append(_new_line(number, index, values, po["header"]))
        po["last_line"] = len(lines)
        return number

    return commit


def _check_customer_po(value: str, out: Outcome) -> None:
    if len(value) > TEXT_LENGTHS["CustomerPoNumber"]:
        out.error("customerponumber", value, FIELD_TOO_LONG,
                  f"Customer PO number '{value}' is longer than {TEXT_LENGTHS['CustomerPoNumber']} characters")


def _new_line(number: str, index: int, values: dict, header: dict) -> dict:
    return {
        "PurchaseOrder": number, "Line": index, "MStockCode": "", "MStockDes": "", "MWarehouse": "",
        "MOrderQty": Decimal(0), "MReceivedQty": Decimal(0), "MPrice": Decimal(0), "MGlCode": "",
        "MLatestDueDate": header["OrderDueDate"], **{k: v for k, v in values.items() if v is not None},
    }


def _check_po_change(state: SysproState, order: etree._Element, po_number: str, action: str, out: Outcome):
    po_number = state.find_purchase_order(po_number) or po_number
    po = state.purchase_orders.get(po_number)
    if po is None:
        out.error("purchaseorder", po_number, PO_NOT_FOUND, f"Purchase order '{po_number}' not found")
        return None
    if po["header"]["OrderStatus"] == "*":
        out.error("purchaseorder", po_number, PO_CANCELLED, f"Purchase order '{po_number}' is cancelled")
        return None
    if action == "D":
        def cancel(status: str) -> str:
            po["header"]["OrderStatus"] = "*"
            return po_number
        return cancel

    header = child(order, "OrderHeader")
    header_changes = _header_dates(header, out)
    header_changes.pop("OrderEntryDate", None)
    warehouse = text(header, "Warehouse")
    if warehouse:
        if warehouse not in state.warehouses:
            out.error("warehouse", warehouse, WAREHOUSE_NOT_FOUND, f"Warehouse '{warehouse}' not found")
        header_changes["Warehouse"] = warehouse
    if has(header, "CustomerPoNumber"):
        header_changes["CustomerPoNumber"] = db_text(text(header, "CustomerPoNumber"))
        _check_customer_po(header_changes["CustomerPoNumber"], out)
    existing = {line["Line"]: line for line in po["lines"]}
    line_actions = []
    for line in children(child(order, "OrderDetails"), "StockLine"):
        raw_line = text(line, "PurchaseOrderLine")
        line_number = int(raw_line) if raw_line.isdigit() else None
        line_action = text(line, "LineActionType", "C" if line_number in existing else "A").upper()
        if line_action in ("C", "D") and line_number not in existing:
            out.error("purchaseorderline", raw_line, PO_LINE_NOT_FOUND,
                      f"Line '{raw_line}' not found on purchase order '{po_number}'")
            continue
        values = _po_line(state, line, po["header"]["Warehouse"], out, require_all=line_action == "A")
        line_actions.append((line_action, line_number, values))

    def change(status: str) -> str:
        po["header"].update({k: v for k, v in header_changes.items() if v is not None})
        for line_action, line_number, values in line_actions:
            if line_action == "A":
                po["last_line"] = index = po.get("last_line", max(existing, default=0)) + 1
                existing[index] = _new_line(po_number, index, values, po["header"])
                po["lines"].append(existing[index])
            elif line_action == "D":
                po["lines"].remove(existing.pop(line_number))
            else:
                existing[line_number].update({k: v for k, v in values.items() if v is not None})
        return po_number

    return change
