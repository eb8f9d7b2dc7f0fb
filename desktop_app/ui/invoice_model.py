"""The invoice grid's model: a window of pages over the ledger, fetched on the db thread.

100,000 documents must open in well under a second and scroll without the GUI waiting, so the
model knows only the row count up front and asks the db thread for a page of rows the first time
a row of that page is painted. Filtering and sorting are SQL (WHERE / ORDER BY) run there too;
every reload bumps a generation number so answers to an older query are dropped.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor

from desktop_app.core.db import ApDocument
from desktop_app.sync import ledger
from desktop_app.ui.table_model import LEFT, RIGHT, ListTableModel, ReadOnlyTableModel
from desktop_app.ui.widgets import ID_ROLE, MUTED_TEXT, STATE_ROLE, format_money, state_badge_icon, state_label

PAGE_SIZE = 200
ATTENTION = "ATTENTION"  # the state filter "Needs attention": every state a person must look at

# (header, ApDocument field used for ORDER BY)
COLUMNS: list[tuple[str, str]] = [
    ("State", "state"), ("ST invoice", "st_invoice_number"), ("Supplier", "supplier"),
    ("SYSPRO invoice", "syspro_invoice"), ("Type", "transaction_code"), ("Amount", "amount"),
    ("Invoice date", "invoice_date"), ("Branch", "branch"), ("Technician", "technician"),
    ("Journal", "journal"), ("Reason", "reason"),
]
COL_STATE, COL_AMOUNT = 0, 5
CREDIT_TEXT = QColor("#5B21B6")
_DISPLAY, _DECORATION, _TOOLTIP, _ALIGN, _FOREGROUND, _ACCESSIBLE = (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.AccessibleTextRole)


@dataclass(frozen=True)
class InvoiceQuery:
    state: str | None = None          # a ledger state, ATTENTION, or None for all
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    supplier: str = ""
    branch: str = ""
    search: str = ""
    sort_column: int = 6              # invoice date, newest first: what people look for
    descending: bool = True


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


# ---------------------------------------------------------------- SQL, run on the db thread
def _where(query: InvoiceQuery):
    select = ApDocument.select(*ROW_FIELDS)
    if query.state == ATTENTION:
        select = select.where(ApDocument.state.in_(sorted(ledger.ATTENTION)))
    elif query.state:
        select = select.where(ApDocument.state == query.state)
    if query.date_from:
        select = select.where(ApDocument.invoice_date >= query.date_from)
    if query.date_to:
        select = select.where(ApDocument.invoice_date <= query.date_to)
    if query.supplier:
        select = select.where(ApDocument.supplier == query.supplier)
    if query.branch:
        select = select.where(ApDocument.branch == query.branch)
    if query.search:
        term = f"%{query.search}%"
        select = select.where(ApDocument.st_invoice_number ** term | ApDocument.syspro_invoice ** term
                              | ApDocument.supplier ** term | ApDocument.reason ** term)
    return select


def count_rows(query: InvoiceQuery) -> int:
    return _where(query).count()


def fetch_page(query: InvoiceQuery, offset: int, limit: int = PAGE_SIZE) -> list[InvoiceRow]:
    field_ = getattr(ApDocument, COLUMNS[query.sort_column][1])
    if COLUMNS[query.sort_column][1] == "amount":
        from peewee import Cast

        field_ = Cast(ApDocument.amount, "REAL")  # stored as text; ordering only, values stay Decimal
    order = [field_.desc(), ApDocument.id.desc()] if query.descending else [field_.asc(), ApDocument.id.asc()]
    select = _where(query).order_by(*order).offset(offset).limit(limit)
    return [InvoiceRow(*values) for values in select.tuples()]


def first_load(query: InvoiceQuery, pages: tuple[int, ...] = (0,)) -> tuple[int, dict[int, list[InvoiceRow]]]:
    total = count_rows(query)
    return total, {page: fetch_page(query, page * PAGE_SIZE) for page in pages if page * PAGE_SIZE < max(total, 1)}


def filter_choices() -> tuple[list[str], list[str]]:
    """The suppliers and branches the ledger knows, for the filter combos."""
    suppliers = [s for (s,) in ApDocument.select(ApDocument.supplier).distinct()
                 .order_by(ApDocument.supplier).tuples() if s]
    branches = [b for (b,) in ApDocument.select(ApDocument.branch).distinct().order_by(ApDocument.branch).tuples() if b]
    return suppliers, branches


# ---------------------------------------------------------------- the grid model
class InvoiceTableModel(ReadOnlyTableModel):
    """Rows are fetched a page at a time through bridge.db_call; unknown rows show as '…'."""

    HEADERS = [header for header, _ in COLUMNS]
    RIGHT_ALIGNED = frozenset({COL_AMOUNT})

    loaded = Signal(int)        # total row count, after the count and first page of a (re)load arrived
    pageLoaded = Signal(int)    # page number
    loadFailed = Signal(str)    # a sentence

    def __init__(self, bridge, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.query = InvoiceQuery()
        self.total = 0
        self.ready = False
        self._pages: dict[int, list[InvoiceRow]] = {}
        self._pending: set[int] = set()
        self._generation = 0
        self._cells: dict[int, list[dict]] = {}  # row → per column {role: value}, built when first painted
        self.view = None  # the view whose font the state badges use (read when a row is first painted,
        # after its style sheet has applied); None: the application's font

    # -- loading
    def set_query(self, query: InvoiceQuery) -> None:
        self.query = query
        self.reload(keep_pages=False)

    def reload(self, keep_pages: bool = True) -> None:
        """Re-run the query; keep_pages re-reads the pages already seen (a refresh keeps scroll position)."""
        self._generation += 1
        generation = self._generation
        pages = tuple(sorted(self._pages)) if keep_pages and self._pages else (0,)
        query = self.query
        refresh = keep_pages and self.ready and bool(self._pages)  # same query again: update in place
        self.bridge.db_call(lambda: first_load(query, pages),
                            on_done=lambda result: self._reloaded(generation, result, refresh),
                            on_error=lambda message: self._failed(generation, message))

    def _reloaded(self, generation: int, result, refresh: bool = False) -> None:
        if generation != self._generation:
            return
        total, pages = result
        if refresh and self._refresh_in_place(total, pages):
            self.loaded.emit(total)
            return
        self.beginResetModel()
        self.total = total
        self._pages = pages
        self._cells.clear()
        self._pending.clear()
        self.ready = True
        self.endResetModel()
        self.loaded.emit(total)

    def _refresh_in_place(self, total: int, pages: dict[int, list[InvoiceRow]]) -> bool:
        """A refresh of the same query: tell the view only what changed, not a reset.

        A reset makes the view forget its state and ask for every visible cell again; each of those
        questions is a Python call that must take the GIL back from a busy sync worker, so a reset
        per refresh stalls the GUI. Rows that are equal are not announced (nothing is repainted when
        nothing changed); pages that were not re-read are dropped and fetched again when painted.
        False when the pages shown are not the ones re-read (a page was asked for meanwhile): reset then.
        """
        if self._pending or set(pages) - set(self._pages):
            return False
        if total > self.total:
            self.beginInsertRows(QModelIndex(), self.total, total - 1)
            self.total = total
            self.endInsertRows()
        elif total < self.total:
            self.beginRemoveRows(QModelIndex(), total, self.total - 1)
            self.total = total
            self.endRemoveRows()
        old, self._pages = self._pages, pages
        self._cells.clear()
        for page, rows in pages.items():
            before = old.get(page, [])
            # new rows: inserted above
            changed = [offset for offset, row in enumerate(rows[:len(before)]) if before[offset] != row]
            if changed:
                first = page * PAGE_SIZE
                self.dataChanged.emit(self.index(first + changed[0], 0),
                                      self.index(first + changed[-1], len(COLUMNS) - 1))
        return True

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.loadFailed.emit(f"The invoice list could not be read: {message}")

    def _request_page(self, page: int) -> None:
        if page in self._pending or page in self._pages:
            return
        self._pending.add(page)
        generation = self._generation
        query = self.query
        self.bridge.db_call(lambda: fetch_page(query, page * PAGE_SIZE),
                            on_done=lambda rows: self._page_arrived(generation, page, rows),
                            on_error=lambda message: self._failed(generation, message))

    def _page_arrived(self, generation: int, page: int, rows: list[InvoiceRow]) -> None:
        if generation != self._generation:
            return
        self._pending.discard(page)
        self._pages[page] = rows
        self._cells.clear()
        first = page * PAGE_SIZE
        last = min(first + PAGE_SIZE, self.total) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        self.pageLoaded.emit(page)

    def row_at(self, row: int) -> InvoiceRow | None:
        page, offset = divmod(row, PAGE_SIZE)
        rows = self._pages.get(page)
        if rows is None or offset >= len(rows):
            return None
        return rows[offset]

    def row_of(self, doc_id: int) -> int:
        """Where a document is among the rows fetched so far; -1 if not (yet) fetched."""
        for page, rows in self._pages.items():
            for offset, item in enumerate(rows):
                if item.id == doc_id:
                    return page * PAGE_SIZE + offset
        return -1

    # -- Qt model
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.total

    def cell(self, row: int, column: int, role: int):
        cells = self._cells.get(row)
        if cells is None:
            item = self.row_at(row)
            if item is None:
                if role == _DISPLAY:
                    self._request_page(row // PAGE_SIZE)
                    return "…" if column == 1 else None
                return None
            cells = self._cells[row] = self._row_cells(item)
        return cells[column].get(role)

    def _row_cells(self, item: InvoiceRow) -> list[dict]:
        """Every role of every column of a row, once: a repaint asks a dict per cell.

        The state column has no text: its badge is an icon that Qt's own delegate paints (a Python
        delegate would be one more entry into Python per painted badge); its words are the
        accessible text."""
        common = {STATE_ROLE: item.state, ID_ROLE: item.id}
        cells = []
        for column in range(len(COLUMNS)):
            roles = dict(common)
            roles[_ALIGN] = RIGHT if column == COL_AMOUNT else LEFT
            if column == COL_STATE:
                roles[_DECORATION] = state_badge_icon(item.state, self.view.font() if self.view is not None else None)
                roles[_ACCESSIBLE] = state_label(item.state)
            else:
                roles[_DISPLAY] = self._text(item, column)
            if column == 4 and item.transaction_code == "C":
                roles[_FOREGROUND] = CREDIT_TEXT
            if column == len(COLUMNS) - 1:
                roles[_FOREGROUND] = MUTED_TEXT
                if item.reason:
                    roles[_TOOLTIP] = item.reason
            cells.append(roles)
        return cells

    @staticmethod
    def _text(item: InvoiceRow, column: int) -> str:
        if column == 0:
            return state_label(item.state)
        if column == 4:
            return "Credit note" if item.transaction_code == "C" else "Invoice"
        if column == COL_AMOUNT:
            return format_money(item.amount)
        if column == 6:
            return item.invoice_date.isoformat() if item.invoice_date else ""
        if column == len(COLUMNS) - 1:
            return item.reason.splitlines()[0] if item.reason else ""
        return str(getattr(item, COLUMNS[column][1]) or "")

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(COLUMNS):
            self.set_query(replace(self.query, sort_column=column,
                                   descending=order == Qt.SortOrder.DescendingOrder))


# ---------------------------------------------------------------- one document, for the detail pane
@dataclass
class TrailEntry:
    created_at: dt.datetime
    kind: str
    actor: str
    message: str
    xml_sent: str | None
    xml_received: str | None


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


class TrailModel(ListTableModel):
    """The audit timeline: time, who, what; rows with XML say so in the last column."""

    HEADERS = ["Time (UTC)", "Actor", "Event", "Message", "XML"]

    set_events = ListTableModel.set_rows
    events = property(lambda self: self.rows)  # what the detail panes call them

    def cell(self, row: int, column: int, role: int):
        event = self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return event.created_at.strftime("%Y-%m-%d %H:%M:%S") if event.created_at else ""
            if column == 1:
                return event.actor
            if column == 2:
                return event.kind.replace("_", " ")
            if column == 3:
                return event.message
            if column == 4:
                return "View" if (event.xml_sent or event.xml_received) else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return event.message
        if role == Qt.ItemDataRole.ForegroundRole and column == 4:
            return QColor("#0F766E")
        return None
