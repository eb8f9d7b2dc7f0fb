"""The Invoices page's flow: the ledger of AP documents as the one record grid shows it, the filter
choices, and one document for the detail pane. Everything here that reads the database runs on
the db thread (through bridge.db_call)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import Cast
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger
from desktop_app.ui.record_detail import TrailEntry
from desktop_app.ui.record_table import ATTENTION, PAGE_SIZE, Column, FlowView, RecordQuery
from desktop_app.ui.table_model import LEFT, RIGHT, ListTableModel
from desktop_app.ui.widgets import format_money

__all__ = ["ATTENTION", "PAGE_SIZE", "INVOICES", "InvoiceRow", "DocumentDetail", "LinesModel", "filter_choices",
           "load_detail"]

CREDIT_TEXT = QColor("#5B21B6")
COL_STATE, COL_AMOUNT, COL_DATE = 0, 5, 6


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    state: str
    st_invoice_number: str
    supplier: str
    syspro_invoice: str
    transaction_code: str
    amount: Decimal
    invoice_date: dt.date | None
    branch: str
    technician: str
    journal: str
    reason: str


ROW_FIELDS = [ApDocument.id, ApDocument.state, ApDocument.st_invoice_number, ApDocument.supplier,
              ApDocument.syspro_invoice, ApDocument.transaction_code, ApDocument.amount, ApDocument.invoice_date,
              ApDocument.branch, ApDocument.technician, ApDocument.journal, ApDocument.reason]


def _select(query: RecordQuery):
    """The documents the filters match; filters: date_from, date_to, supplier, branch."""
    select = ApDocument.select(*ROW_FIELDS)
    if query.state == ATTENTION:
        select = select.where(ApDocument.state.in_(sorted(ledger.ATTENTION)))
    elif query.state:
        select = select.where(ApDocument.state == query.state)
    filters = query.filters
    if filters.get("date_from"):
        select = select.where(ApDocument.invoice_date >= filters["date_from"])
    if filters.get("date_to"):
        select = select.where(ApDocument.invoice_date <= filters["date_to"])
    if filters.get("supplier"):
        select = select.where(ApDocument.supplier == filters["supplier"])
    if filters.get("branch"):
        select = select.where(ApDocument.branch == filters["branch"])
    if query.search:
        term = f"%{query.search}%"
        select = select.where(ApDocument.st_invoice_number ** term | ApDocument.syspro_invoice ** term
                              | ApDocument.supplier ** term | ApDocument.reason ** term)
    return select


def _text(name: str):
    return lambda row: str(getattr(row, name) or "")


INVOICES = FlowView(
    key="invoices", noun="document",
    columns=(
        Column("State", order_by=ApDocument.state, width=150, state=True),
        Column("ST invoice", _text("st_invoice_number"), ApDocument.st_invoice_number, 95),
        Column("Supplier", _text("supplier"), ApDocument.supplier, 95),
        Column("SYSPRO invoice", _text("syspro_invoice"), ApDocument.syspro_invoice, 135),
        Column("Type", lambda row: "Credit note" if row.transaction_code == "C" else "Invoice",
               ApDocument.transaction_code, 95,
               colour=lambda row: CREDIT_TEXT if row.transaction_code == "C" else None),
        # stored as text: ordering only, values stay Decimal
        Column("Amount", lambda row: format_money(row.amount), Cast(ApDocument.amount, "REAL"), 115, right=True),
        Column("Invoice date", lambda row: row.invoice_date.isoformat() if row.invoice_date else "",
               ApDocument.invoice_date, 125),
        Column("Branch", _text("branch"), ApDocument.branch, 75),
        Column("Technician", _text("technician"), ApDocument.technician, 140),
        Column("Journal", _text("journal"), ApDocument.journal, 85),
        Column("Reason", lambda row: row.reason.splitlines()[0] if row.reason else "", ApDocument.reason, muted=True,
               tooltip=lambda row: row.reason or None),
    ),
    select=_select,
    rows=lambda select: [InvoiceRow(*values) for values in select.tuples()],
    id_of=lambda row: row.id, state_of=lambda row: row.state,
    tiebreak=ApDocument.id,
    default_sort=(COL_DATE, True),  # invoice date, newest first: what people look for
)


def filter_choices() -> tuple[list[str], list[str]]:
    """The suppliers and branches the ledger knows, for the filter combos."""
    suppliers = [s for (s,) in ApDocument.select(ApDocument.supplier).distinct()
                 .order_by(ApDocument.supplier).tuples() if s]
    branches = [b for (b,) in ApDocument.select(ApDocument.branch).distinct().order_by(ApDocument.branch).tuples() if b]
    return suppliers, branches


# ---------------------------------------------------------------- one document, for the detail pane
@dataclass
class DocumentDetail:
    id: int
    state: str
    st_invoice_number: str
    supplier: str
    syspro_invoice: str
    transaction_code: str
    amount: Decimal
    invoice_date: dt.date | None
    branch: str
    business_unit: str
    technician: str
    job_number: str
    journal: str
    reason: str
    attempts: int
    posted_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    syspro_amount: Decimal | None
    returns: str = ""  # a credit note: the ServiceTitan invoice it returns, as people know it
    lines: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    trail: list[TrailEntry] = field(default_factory=list)
    left_out: list[dict] = field(default_factory=list)  # the invoice's stock lines kept out of AP, with why

    @property
    def title(self) -> str:
        return f"ST invoice {self.st_invoice_number}" if self.st_invoice_number else f"Document {self.id}"


def load_detail(doc_id: int) -> DocumentDetail | None:
    doc = ApDocument.get_or_none(ApDocument.id == doc_id)
    if doc is None:
        return None
    events = [TrailEntry(e.created_at, e.kind, e.actor, e.message, e.xml_sent, e.xml_received)
              for e in ledger.trail(doc_id)]
    returns = ""
    if doc.credit_of is not None:
        original = (ApDocument.select(ApDocument.st_invoice_number).where(ApDocument.st_invoice_id == doc.credit_of)
                    .order_by(ApDocument.id).first())
        returns = original.st_invoice_number if original and original.st_invoice_number else f"id {doc.credit_of}"
    return DocumentDetail(
        id=doc.id, state=doc.state, st_invoice_number=doc.st_invoice_number, supplier=doc.supplier,
        syspro_invoice=doc.syspro_invoice, transaction_code=doc.transaction_code, amount=doc.amount,
        invoice_date=doc.invoice_date, branch=doc.branch, business_unit=doc.business_unit,
        technician=doc.technician, job_number=doc.job_number, journal=doc.journal, reason=doc.reason,
        attempts=doc.attempts, posted_at=doc.posted_at, confirmed_at=doc.confirmed_at,
        syspro_amount=doc.syspro_amount, returns=returns, lines=list(doc.lines or []),
        missing=list(doc.missing or []), trail=events, left_out=list(doc.left_out or []))



class LinesModel(ListTableModel):
    """The AP document's lines: stock code, GL code, quantity × unit cost = amount."""

    HEADERS = ["Stock code", "Description", "GL code", "Quantity", "Unit cost", "Amount"]
    KEYS = ["stock_code", "description", "ledger_code", "quantity", "unit_cost", "amount"]
    NUMERIC = {3, 4, 5}

    set_lines = ListTableModel.set_rows

    def total(self) -> Decimal:
        return sum((Decimal(str(line.get("amount") or "0")) for line in self.rows), Decimal("0.00"))

    def cell(self, row: int, column: int, role: int):
        line = self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            value = line.get(self.KEYS[column])
            if value is None:
                return ""
            if column in (4, 5):
                return format_money(value)
            if column == 0 and not value:
                return line.get("sku_code") or ""
            return str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column in self.NUMERIC else LEFT
        return None
