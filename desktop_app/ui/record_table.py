"""The one grid model behind every record page (invoices, vendors, purchase orders, adjustments).

A page describes its flow in a FlowView: its columns, the SQL select of the rows its filters
match, how a database row becomes a grid row, and what else a (re)load reads (counts per state,
say). The model does the rest the same way for all of them.

100,000 documents must open in well under a second and scroll without the GUI waiting, so the
model knows only the row count up front and asks the db thread for a page of rows the first time
a row of that page is painted. Filtering and sorting are SQL (WHERE / ORDER BY) run there too;
every reload bumps a generation number so answers to an older query are dropped.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor

from desktop_app.ui.messages import alive
from desktop_app.ui.table_model import LEFT, RIGHT, ReadOnlyTableModel
from desktop_app.ui.widgets import ID_ROLE, MUTED_TEXT, STATE_ROLE, state_badge_icon, state_label

PAGE_SIZE = 200
ATTENTION = "ATTENTION"  # the state filter "Needs attention": every state a person must look at
_DISPLAY, _DECORATION, _TOOLTIP, _ALIGN, _FOREGROUND, _ACCESSIBLE = (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.AccessibleTextRole)


@dataclass(frozen=True)
class Column:
    """One grid column: its header, the text of a row, and how it looks.

    The state column (`state=True`) has no text: its badge is an icon that Qt's own delegate paints
    (a Python delegate would be one more entry into Python per painted badge); its words are the
    accessible text."""

    header: str
    text: Callable[[Any], str] = lambda _row: ""
    order_by: Any = None            # the SQL expression sorting by this column; None: not sortable
    width: int = 100
    right: bool = False             # numbers: right-aligned, header too
    muted: bool = False
    tooltip: Callable[[Any], str | None] | None = None
    colour: Callable[[Any], QColor | None] | None = None
    state: bool = False


@dataclass(frozen=True)
class RecordQuery:
    """What a page's filters ask for: a state (or ATTENTION, or None for all), a search, a sort,
    and the flow's own filters by name (an invoice's dates, supplier, branch)."""

    state: str | None = None
    search: str = ""
    sort_column: int = 0
    descending: bool = True
    filters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowView:
    """What differs between the record pages' grids; everything callable here runs on the db thread
    except the columns' text, tooltip and colour."""

    key: str
    noun: str                                    # one row, for counts and messages
    columns: tuple[Column, ...]
    select: Callable[[RecordQuery], Any]         # a peewee select of the matching rows
    rows: Callable[[Any], list]                  # that select, ordered and sliced, as grid rows
    id_of: Callable[[Any], int]
    state_of: Callable[[Any], str]
    tiebreak: Any = None                         # a unique SQL expression: equal sort keys keep one order
    default_sort: tuple[int, bool] = (0, True)   # column, descending
    extra: Callable[[RecordQuery], Any] | None = None  # read with every (re)load: counts per state, say

    def query(self, **values) -> RecordQuery:
        column, descending = self.default_sort
        return RecordQuery(**{"sort_column": column, "descending": descending, **values})


# ---------------------------------------------------------------- SQL, run on the db thread
def count_rows(view: FlowView, query: RecordQuery) -> int:
    return view.select(query).count()


def fetch_page(view: FlowView, query: RecordQuery, offset: int, limit: int = PAGE_SIZE) -> list:
    select = view.select(query)
    column = view.columns[query.sort_column] if 0 <= query.sort_column < len(view.columns) else None
    order = [column.order_by] if column is not None and column.order_by is not None else []
    if view.tiebreak is not None:
        order.append(view.tiebreak)
    if order:
        select = select.order_by(*(o.desc() if query.descending else o.asc() for o in order))
    return view.rows(select.offset(offset).limit(limit))


def first_load(view: FlowView, query: RecordQuery, pages: tuple[int, ...] = (0,)):
    """The count, the pages asked for, and the flow's extra: all read in one visit to the db thread."""
    total = count_rows(view, query)
    loaded = {page: fetch_page(view, query, page * PAGE_SIZE) for page in pages if page * PAGE_SIZE < max(total, 1)}
    return total, loaded, view.extra(query) if view.extra is not None else None


# ---------------------------------------------------------------- the grid model
class RecordTableModel(ReadOnlyTableModel):
    """Rows are fetched a page at a time through bridge.db_call; unknown rows show as '…'."""

    loaded = Signal(int)        # total row count, after the count and first page of a (re)load arrived
    pageLoaded = Signal(int)    # page number
    loadFailed = Signal(str)    # a sentence

    def __init__(self, bridge, view: FlowView, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.flow_view = view
        self.headers = [column.header for column in view.columns]
        self.query = view.query()
        self.total = 0
        self.ready = False
        self.extra: Any = None  # what view.extra read with the last (re)load
        self._pages: dict[int, list] = {}
        self._pending: set[int] = set()
        self._generation = 0
        self._cells: dict[int, list[dict]] = {}  # row → per column {role: value}, built when first painted
        self.view = None  # the table view whose font the state badges use (read when a row is first painted,
        # after its style sheet has applied); None: the application's font

    # -- loading
    def set_query(self, query: RecordQuery) -> None:
        self.query = query
        self.reload(keep_pages=False)

    def reload(self, keep_pages: bool = True) -> None:
        """Re-run the query; keep_pages re-reads the pages already seen (a refresh keeps scroll position)."""
        self._generation += 1
        generation = self._generation
        pages = tuple(sorted(self._pages)) if keep_pages and self._pages else (0,)
        query, view = self.query, self.flow_view
        refresh = keep_pages and self.ready and bool(self._pages)  # same query again: update in place
        self.bridge.db_call(lambda: first_load(view, query, pages),
                            on_done=lambda result: self._reloaded(generation, result, refresh),
                            on_error=lambda message: self._failed(generation, message))

    def _reloaded(self, generation: int, result, refresh: bool = False) -> None:
        if generation != self._generation or not alive(self):  # a newer query, or the page is gone
            return
        total, pages, self.extra = result
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

    def _refresh_in_place(self, total: int, pages: dict[int, list]) -> bool:
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
        last_column = len(self.headers) - 1
        for page, rows in pages.items():
            before = old.get(page, [])
            # new rows: inserted above
            changed = [offset for offset, row in enumerate(rows[:len(before)]) if before[offset] != row]
            if changed:
                first = page * PAGE_SIZE
                self.dataChanged.emit(self.index(first + changed[0], 0),
                                      self.index(first + changed[-1], last_column))
        return True

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation and alive(self):
            self.loadFailed.emit(f"The {self.flow_view.noun} list could not be read: {message}")

    def _request_page(self, page: int) -> None:
        if page in self._pending or page in self._pages:
            return
        self._pending.add(page)
        generation = self._generation
        query, view = self.query, self.flow_view
        self.bridge.db_call(lambda: fetch_page(view, query, page * PAGE_SIZE),
                            on_done=lambda rows: self._page_arrived(generation, page, rows),
                            on_error=lambda message: self._failed(generation, message))

    def _page_arrived(self, generation: int, page: int, rows: list) -> None:
        if generation != self._generation or not alive(self):
            return
        self._pending.discard(page)
        self._pages[page] = rows
        self._cells.clear()
        first = page * PAGE_SIZE
        last = min(first + PAGE_SIZE, self.total) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.headers) - 1))
        self.pageLoaded.emit(page)

    # -- rows
    def row_at(self, row: int):
        page, offset = divmod(row, PAGE_SIZE)
        rows = self._pages.get(page)
        if rows is None or offset >= len(rows):
            return None
        return rows[offset]

    def row_of(self, record_id: int) -> int:
        """Where a record is among the rows fetched so far; -1 if not (yet) fetched."""
        id_of = self.flow_view.id_of
        for page, rows in self._pages.items():
            for offset, item in enumerate(rows):
                if id_of(item) == record_id:
                    return page * PAGE_SIZE + offset
        return -1

    @property
    def rows(self) -> list:
        """The rows fetched so far, in order, up to the first page not fetched yet."""
        out: list = []
        page = 0
        while page in self._pages:
            out.extend(self._pages[page])
            page += 1
        return out

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

    def _row_cells(self, item) -> list[dict]:
        """Every role of every column of a row, once: a repaint asks a dict per cell."""
        state = self.flow_view.state_of(item)
        common = {STATE_ROLE: state, ID_ROLE: self.flow_view.id_of(item)}
        cells = []
        for column in self.flow_view.columns:
            roles = dict(common)
            roles[_ALIGN] = RIGHT if column.right else LEFT
            if column.state:
                roles[_DECORATION] = state_badge_icon(state, self.view.font() if self.view is not None else None)
                roles[_ACCESSIBLE] = state_label(state)
            else:
                roles[_DISPLAY] = column.text(item)
            colour = column.colour(item) if column.colour is not None else None
            if colour is not None or column.muted:
                roles[_FOREGROUND] = colour if colour is not None else MUTED_TEXT
            tooltip = column.tooltip(item) if column.tooltip is not None else None
            if tooltip:
                roles[_TOOLTIP] = tooltip
            cells.append(roles)
        return cells

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole
                and 0 <= section < len(self.flow_view.columns) and self.flow_view.columns[section].right):
            return RIGHT
        return super().headerData(section, orientation, role)

    def sortable(self, column: int) -> bool:
        return 0 <= column < len(self.flow_view.columns) and self.flow_view.columns[column].order_by is not None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self.sortable(column):
            self.set_query(replace(self.query, sort_column=column, descending=order == Qt.SortOrder.DescendingOrder))
