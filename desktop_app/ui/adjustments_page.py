"""Inventory adjustments: those sent to SYSPRO, and the stock-difference worklist.

ServiceTitan's API cannot create adjustments, so what was adjusted in SYSPRO becomes a worklist
row for a person to enter in ServiceTitan and tick off. Ticking writes through bridge.db_call
(adjustments.mark_done) and the list is read again; the CSV export is written there too.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import adjustments
from desktop_app.ui.messages import alive
from desktop_app.ui.record_detail import hint_label, plain_table
from desktop_app.ui.records_model import WorklistModel, load_worklist
from desktop_app.ui.records_page import RecordsPage
from desktop_app.ui.widgets import ID_ROLE, StatusLine, plural, show_error

ACTOR = "user"
EXPLANATION = ("ServiceTitan's API cannot create inventory adjustments, so adjustments made in SYSPRO are listed "
               "here for you to enter in ServiceTitan and tick off.")


class WorklistPanel(QWidget):
    """The SYSPRO stock differences to enter in ServiceTitan by hand, with a tick per row."""

    loaded = Signal(int)  # rows shown

    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.ready = False
        self.open_rows = 0
        self.last_message = None
        self._generation = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)

        bar = QHBoxLayout()
        self.summary = QLabel("Loading…", self)
        self.show_done = QCheckBox("Show done rows", self)
        self.done_button = QPushButton("Mark done", self)
        self.done_button.setProperty("primary", True)
        self.done_button.setToolTip("You entered the selected rows in ServiceTitan")
        self.undo_button = QPushButton("Not done", self)
        self.undo_button.setToolTip("Put the selected rows back on the list")
        self.export_button = QPushButton("Export CSV…", self)
        self.refresh_button = QPushButton("Refresh", self)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.show_done)
        bar.addSpacing(8)
        for button in (self.done_button, self.undo_button, self.export_button, self.refresh_button):
            bar.addWidget(button)
        layout.addLayout(bar)
        layout.addWidget(hint_label("Tick a row (or select rows and click Mark done) once the difference is "
                                    "entered in ServiceTitan at that location.", self))

        self.model = WorklistModel(self)
        self.table = plain_table(self.model, self)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setHighlightSections(False)
        layout.addWidget(self.table, 1)
        self.status = StatusLine(self)
        layout.addWidget(self.status)

        self.model.doneToggled.connect(self.mark)
        self.show_done.toggled.connect(self.refresh)
        self.done_button.clicked.connect(lambda: self.mark(self.selected_ids(), True))
        self.undo_button.clicked.connect(lambda: self.mark(self.selected_ids(), False))
        self.export_button.clicked.connect(self.export_csv)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()
        self.refresh()

    def selected_ids(self) -> list[int]:
        return [index.data(ID_ROLE) for index in self.table.selectionModel().selectedRows()]

    def _selection_changed(self, *_args) -> None:
        rows = [self.model.rows[i.row()] for i in self.table.selectionModel().selectedRows()
                if i.row() < len(self.model.rows)]
        self.done_button.setEnabled(any(not row["done"] for row in rows))
        self.undo_button.setEnabled(any(row["done"] for row in rows))

    @Slot()
    def refresh(self, *_args) -> None:
        self._generation += 1
        generation, include_done = self._generation, self.show_done.isChecked()
        self.bridge.db_call(lambda: load_worklist(include_done),
                            on_done=lambda result: self._loaded(generation, result),
                            on_error=lambda message: self._failed(generation, "The worklist could not be read",
                                                                  message))

    def _loaded(self, generation: int, result) -> None:
        if generation != self._generation or not alive(self):
            return
        rows, open_rows, done_rows = result
        selected = set(self.selected_ids())
        self.model.set_rows(rows)
        for row, item in enumerate(rows):
            if item["id"] in selected:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(7, QHeaderView.ResizeMode.Interactive)
        self.open_rows = open_rows
        if open_rows:
            self.summary.setText(f"{plural(open_rows, 'stock difference')} to enter in ServiceTitan"
                                 + (f" · {done_rows:,} done" if done_rows else ""))
            self.summary.setStyleSheet("font-weight: 600; color: #92400E;")
        else:
            self.summary.setText("Nothing to enter in ServiceTitan." + (f" {done_rows:,} done." if done_rows else ""))
            self.summary.setStyleSheet("font-weight: 600; color: #166534;")
        self.ready = True
        self._selection_changed()
        self.loaded.emit(len(rows))

    @Slot(list, bool)
    def mark(self, ids: list[int], done: bool) -> None:
        if not ids:
            return
        what = plural(len(ids), "row")
        self.status.busy(f"Marking {what} {'done' if done else 'not done'}…")
        self.bridge.db_call(lambda: adjustments.mark_done(ids, actor=ACTOR, done=done),
                            on_done=lambda n: self._marked(n, done),
                            on_error=lambda message: self._failed(self._generation, f"{what} could not be marked",
                                                                  message, refresh=True))

    def _marked(self, count: int, done: bool) -> None:
        if not alive(self):
            return
        self.status.done(f"{plural(count, 'row')} marked {'done' if done else 'not done'}.")
        self.refresh()

    @Slot()
    def export_csv(self) -> None:
        include_done = self.show_done.isChecked()
        path, _ = QFileDialog.getSaveFileName(self, "Export stock-difference worklist", "stock-differences.csv",
                                              "CSV files (*.csv)")
        if not path:
            return
        self.status.busy("Writing the CSV file…")
        self.bridge.db_call(lambda: adjustments.export_worklist(path, include_done=include_done),
                            on_done=lambda n: self._exported(n, path),
                            on_error=lambda message: self._failed(self._generation, "The CSV file could not be written",
                                                                  message))

    def _exported(self, count: int, path: str) -> None:
        if alive(self):
            self.status.done(f"Exported {plural(count, 'row')} to {path}.")

    def _failed(self, generation: int, sentence: str, message: str, *, refresh: bool = False) -> None:
        if generation != self._generation or not alive(self):
            return
        self.status.failed(f"{sentence}: {message}")
        show_error(self, "Stock-difference worklist", f"{sentence}.", message)
        if refresh:
            self.refresh()


class AdjustmentsPage(QWidget):
    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        title = QLabel("Adjustments", self)
        title.setObjectName("pageTitle")
        layout.addWidget(title)
        explanation = hint_label(EXPLANATION, self)
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        self.tabs = QTabWidget(self)
        self.records = RecordsPage(bridge, "adjustments", self, embedded=True)
        self.worklist = WorklistPanel(bridge, self)
        self.tabs.addTab(self.records, "Adjustments sent to SYSPRO")
        self.tabs.addTab(self.worklist, "Stock-difference worklist")
        layout.addWidget(self.tabs, 1)
        self.worklist.loaded.connect(self._worklist_loaded)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)
        self._refresh_timer.timeout.connect(self.worklist.refresh)
        bridge.dataChanged.connect(self._data_changed)  # the records tab listens for itself

    @Slot(str)
    def _data_changed(self, _what: str) -> None:
        self._refresh_timer.start()

    @Slot(int)
    def _worklist_loaded(self, _rows: int) -> None:
        open_rows = self.worklist.open_rows
        self.tabs.setTabText(1, f"Stock-difference worklist ({open_rows:,})" if open_rows
                             else "Stock-difference worklist")

    def show_worklist(self) -> None:
        self.tabs.setCurrentWidget(self.worklist)

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.records)
        self.records.focus_search()
