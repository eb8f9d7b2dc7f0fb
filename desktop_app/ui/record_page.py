"""The record page every flow shares: a grid of its records over the detail pane of the chosen one.

Invoices, vendors, purchase orders and adjustments are the same page: a title with counts and
Refresh, a state filter (with "Needs attention") and a search box, the one grid model
(record_table.RecordTableModel) over a FlowView, and under it the flow's RecordDetailPane. A flow's
page adds only its own filters, notices and actions (the methods its pane's actions name).

Reads go through bridge.db_call; an action that talks to ServiceTitan or SYSPRO is a job. The
chosen row's detail is read on the db thread and shown when it arrives, unless another row was
chosen meanwhile (a slow answer must not replace a newer one) or the page is gone. The page keeps
the chosen record across refreshes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.messages import alive
from desktop_app.ui.record_detail import RecordDetailPane, hint_label, plain_table
from desktop_app.ui.record_table import ATTENTION, FlowView, RecordQuery, RecordTableModel
from desktop_app.ui.widgets import (
    ID_ROLE,
    SearchBox,
    StatusLine,
    add_shortcut,
    badge_column_width,
    plural,
    show_error,
    state_label,
)

ACTOR = "user"
BADGE_WIDTH = 150  # bounds a state badge icon (a badge is as big as its pixmap)


class RecordListPage(QWidget):
    """Subclasses set TITLE, STATES, ATTENTION_STATES, SEARCH_HINT and give `make_flow_view()`,
    `make_detail_pane()` and `read_detail` (run on the db thread; None when the record is gone);
    hooks: `add_notices`, `add_filters`, `filter_values`, `counts_text`, `show_extra`, `refresh_more`."""

    loaded = Signal(int)  # rows in the grid, after every (re)load
    read_detail: Callable[[int], object]

    TITLE = ""
    STATES: Sequence[str] = ()
    ATTENTION_STATES: frozenset[str] = frozenset()
    SEARCH_HINT = "Search"
    REFRESH_ON: frozenset[str] | None = None  # bridge.dataChanged subjects that refresh the page; None: all
    MULTI_SELECT = False
    detail_error = "The record could not be read"

    def __init__(self, bridge, parent: QWidget | None = None, *, embedded: bool = False):
        super().__init__(parent)
        self.bridge = bridge
        self.selected_id: int | None = None
        self.last_message = None
        self._detail_generation = 0
        self._running: set[int] = set()  # records with a job in flight: the pane keeps their actions off
        self.flow_view = self.make_flow_view()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*((6, 6, 6, 4) if embedded else (10, 10, 10, 6)))
        self.head = QHBoxLayout()
        if not embedded:  # embedded: in a tab under the page's own title
            title = QLabel(self.TITLE, self)
            title.setObjectName("pageTitle")
            self.head.addWidget(title)
            self.head.addSpacing(12)
        self.count_label = hint_label("Loading…", self)
        self.head.addWidget(self.count_label, 1)
        self.refresh_button = QPushButton("Refresh", self)
        self.head.addWidget(self.refresh_button)
        layout.addLayout(self.head)
        self.add_notices(layout)

        filters = QHBoxLayout()
        self.state_combo = QComboBox(self)
        self.state_combo.addItem("All states", None)
        self.state_combo.addItem("Needs attention", ATTENTION)
        for state in self.STATES:
            self.state_combo.addItem(state_label(state), state)
        filters.addWidget(hint_label("State", self))
        filters.addWidget(self.state_combo)
        self.add_filters(filters)
        filters.addStretch(1)
        self.search_box = SearchBox(self.SEARCH_HINT, self)
        filters.addWidget(self.search_box)
        layout.addLayout(filters)

        self.model = RecordTableModel(bridge, self.flow_view, self)
        self.table = plain_table(self.model, self)
        if self.MULTI_SELECT:
            self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # the state badges are icons from the model (state_badge_icon), painted by Qt's own delegate
        self.model.view = self.table
        self.table.setIconSize(QSize(BADGE_WIDTH, 24))
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setMinimumHeight(150)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        if any(column.order_by is not None for column in self.flow_view.columns):
            header.setSectionsClickable(True)
            header.setSortIndicatorShown(True)
            header.setSortIndicator(self.model.query.sort_column, Qt.SortOrder.DescendingOrder
                                    if self.model.query.descending else Qt.SortOrder.AscendingOrder)
            header.sortIndicatorChanged.connect(self.model.sort)
        for number, column in enumerate(self.flow_view.columns[:-1]):
            width = column.width
            if column.state:  # every badge of the page whole, "Waiting for approval" included
                width = max(width, badge_column_width(self.STATES))
            self.table.setColumnWidth(number, width)

        self.detail_pane = self.make_detail_pane()
        # a right-click on a row offers its pane's actions, once the row's detail is read
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.context_menu: QMenu | None = None
        self._menu_for: tuple[int, QPoint] | None = None
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        self.status = StatusLine(self)
        layout.addWidget(self.status)

        self.model.loaded.connect(self._loaded)
        self.model.loadFailed.connect(self._load_failed)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.customContextMenuRequested.connect(self._context_menu_requested)
        self.state_combo.currentIndexChanged.connect(self._filters_changed)
        self.search_box.searchChanged.connect(self._filters_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.detail_pane.actionRequested.connect(self._action_requested)
        bridge.dataChanged.connect(self._data_changed)
        add_shortcut(self, "Ctrl+F", self.focus_search)
        add_shortcut(self, "F5", self.refresh)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)  # a cycle reports many changes: refresh once after them
        self._refresh_timer.timeout.connect(self.refresh)
        self.model.set_query(self.current_query())

    # -- what a flow gives
    def make_flow_view(self) -> FlowView:
        raise NotImplementedError

    def make_detail_pane(self) -> RecordDetailPane:
        raise NotImplementedError

    def add_notices(self, layout: QVBoxLayout) -> None:
        """Widgets between the title row and the filters (an explanation, a banner)."""

    def add_filters(self, row: QHBoxLayout) -> None:
        """Filter widgets after the state combo; they call _filters_changed when changed."""

    def filter_values(self) -> dict:
        return {}

    def counts_text(self, total: int, extra) -> str:
        return plural(total, self.flow_view.noun)

    def show_extra(self, extra) -> None:
        """What view.extra read with this (re)load."""

    def refresh_more(self) -> None:
        """Whatever else a refresh reads again (filter choices)."""

    # -- filters
    @property
    def ready(self) -> bool:
        return self.model.ready

    def current_query(self) -> RecordQuery:
        current = self.model.query
        return RecordQuery(state=self.state_combo.currentData(), search=self.search_box.text().strip(),
                           sort_column=current.sort_column, descending=current.descending,
                           filters=self.filter_values())

    @Slot()
    def _filters_changed(self, *_args) -> None:
        self.count_label.setText("Loading…")
        self.model.set_query(self.current_query())

    def set_state_filter(self, state: str | None) -> None:
        """Show one state (or "ATTENTION"), or all with None; the dashboard's counts use this."""
        self.state_combo.setCurrentIndex(max(self.state_combo.findData(state), 0))

    def focus_search(self) -> None:
        self.search_box.focus()

    # -- loading
    @Slot(int)
    def _loaded(self, total: int) -> None:
        if not alive(self):
            return
        self.count_label.setText(self.counts_text(total, self.model.extra))
        self.show_extra(self.model.extra)
        self._reselect()
        self.loaded.emit(total)

    @Slot(str)
    def _load_failed(self, message: str) -> None:
        if alive(self):
            self.count_label.setText("")
            self.status.failed(message)

    @Slot()
    def refresh(self, *_args) -> None:
        self._refresh_timer.stop()
        self.model.reload(keep_pages=True)
        self.refresh_more()

    @Slot(str)
    def _data_changed(self, what: str) -> None:
        if self.REFRESH_ON is None or what in self.REFRESH_ON:
            self._refresh_timer.start()

    # -- the chosen record
    @Slot(QModelIndex, QModelIndex)
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item_id = current.data(ID_ROLE) if current.isValid() else None
        if item_id is None:
            return
        self.selected_id = item_id
        self._load_detail(item_id)

    def select_item(self, item_id: int) -> bool:
        row = self.model.row_of(item_id)
        if row < 0:
            return False
        self.table.selectRow(row)
        self.table.setCurrentIndex(self.model.index(row, 0))
        return True

    select_record = select_document = select_item

    def selected_rows(self) -> list:
        """The grid rows selected (several where MULTI_SELECT), in grid order."""
        numbers = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [row for row in (self.model.row_at(n) for n in numbers) if row is not None]

    def _reselect(self) -> None:
        """After a reload the rows are new: select the chosen one again and re-read its detail."""
        if self.selected_id is None:
            return
        row = self.model.row_of(self.selected_id)
        if row >= 0:
            # quietly: _row_changed would read the detail a second time
            self.table.selectionModel().blockSignals(True)
            self.table.selectRow(row)
            self.table.setCurrentIndex(self.model.index(row, 0))
            self.table.selectionModel().blockSignals(False)
        self._load_detail(self.selected_id)

    def _load_detail(self, item_id: int) -> None:
        self._detail_generation += 1
        generation, read = self._detail_generation, self.read_detail
        self.bridge.db_call(lambda: read(item_id),
                            on_done=lambda detail: self._detail_loaded(generation, detail),
                            on_error=lambda message: self.status.failed(f"{self.detail_error}: {message}"))

    def _detail_loaded(self, generation: int, detail) -> None:
        if generation != self._detail_generation or not alive(self):
            return
        self.detail_pane.show_detail(detail)
        if detail is not None and detail.id in self._running:
            self.detail_pane.set_actions_enabled(False)
        if self._menu_for is not None and (detail is None or detail.id == self._menu_for[0]):
            self._show_context_menu()

    # -- the context menu: the chosen record's actions, as its pane offers them
    @Slot(QPoint)
    def _context_menu_requested(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        record_id = index.data(ID_ROLE) if index.isValid() else None
        if record_id is None:
            return
        self._menu_for = (record_id, self.table.viewport().mapToGlobal(pos))
        detail = self.detail_pane.detail
        if record_id != self.selected_id:
            self.select_item(record_id)  # reads its detail: the menu opens when it is shown
        elif detail is not None and detail.id == record_id:
            self._show_context_menu()

    def _show_context_menu(self) -> None:
        if self._menu_for is None:
            return
        record_id, where = self._menu_for
        self._menu_for = None
        detail = self.detail_pane.detail
        if detail is None or detail.id != record_id:
            return  # the record is gone
        if self.context_menu is not None:
            self.context_menu.close()
        menu = self.context_menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.aboutToHide.connect(self._context_menu_hidden)
        for button in self.detail_pane.menu_buttons():
            item = menu.addAction(button.text())
            item.setToolTip(button.toolTip())
            item.setEnabled(button.isEnabled())
            item.triggered.connect(button.click)
        if menu.isEmpty():
            menu.addAction("Nothing to do for this record").setEnabled(False)
        menu.popup(where)

    @Slot()
    def _context_menu_hidden(self) -> None:
        self.context_menu = None  # closed: deleted soon (WA_DeleteOnClose)

    # -- actions
    @Slot(str, int)
    def _action_requested(self, name: str, record_id: int) -> None:
        getattr(self, name)(record_id)

    def describe(self, record_id: int) -> str:
        detail = self.detail_pane.detail
        return detail.title if detail is not None and detail.id == record_id else f"{self.flow_view.noun} {record_id}"

    def run_record_job(self, record_id: int, kind: str, job, *, busy: str, done: str, what: str,
                       actor: str = ACTOR) -> None:
        """A job for one record (it talks to ServiceTitan or SYSPRO): its actions wait meanwhile; when it
        ends the status line says what state the record is in now."""
        self._running.add(record_id)
        self.detail_pane.set_actions_enabled(False)
        self.status.busy(busy)
        started = self.bridge.run_job(kind, job, actor=actor,
                                      on_done=lambda _result: self._job_done(record_id, done),
                                      on_error=lambda message: self._job_failed(record_id, what, message))
        if started is None:
            self._running.discard(record_id)
            self.status.done(f"A {kind.replace('-', ' ')} is already waiting to run.")

    def _job_done(self, record_id: int, sentence: str) -> None:
        self._running.discard(record_id)
        if not alive(self):
            return

        def tell(detail) -> None:
            if not alive(self):
                return
            if detail is None:
                self.status.done(f"{sentence}.")
                return
            now = f"{sentence}: it is now {state_label(detail.state).lower()}."
            if detail.state in self.ATTENTION_STATES and detail.reason:
                self.status.failed(f"{now} {detail.reason}")
            else:
                self.status.done(now)
            if self.selected_id == record_id:
                self._detail_generation += 1
                self._detail_loaded(self._detail_generation, detail)

        read = self.read_detail
        self.bridge.db_call(lambda: read(record_id), on_done=tell)
        self.refresh()

    def _job_failed(self, record_id: int, what: str, message: str) -> None:
        self._running.discard(record_id)
        if not alive(self):
            return
        self.status.failed(f"{what} did not finish: {message}")
        show_error(self, self.TITLE, f"{what} did not finish.", message)
        self.refresh()

    def db_action(self, call: Callable[[], object], *, busy: str, done: Callable[[object], str],
                  failed: str) -> None:
        """A change that only writes the database (a Skip, a chosen credit target): on the db thread."""
        self.status.busy(busy)

        def finished(result) -> None:
            if alive(self):
                self.status.done(done(result))
                self.bridge.dataChanged.emit(self.flow_view.key)
                self.refresh()

        def went_wrong(message: str) -> None:
            if alive(self):
                self.status.failed(f"{failed}: {message}")
                show_error(self, self.TITLE, f"{failed}.", message)

        self.bridge.db_call(call, on_done=finished, on_error=went_wrong)
