"""The live sync log: a bounded table of log lines, filterable by level, flow and text.

Records arrive through `bridge.logRecord` (already in the GUI thread). They are batched and
inserted on a short timer, so a burst of thousands of lines costs a few model resets, not thousands.
The model is a ring buffer: past `capacity` rows the oldest go.
"""
from __future__ import annotations

import collections
import datetime as dt
import logging
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import logs

COLUMNS = ("Time", "Level", "Flow", "Message")
LEVEL_COLOURS = {"WARNING": QColor("#B45309"), "ERROR": QColor("#B91C1C"), "CRITICAL": QColor("#B91C1C"),
                 "DEBUG": QColor("#6B7280")}
LEVEL_FILTERS = (("All levels", logging.NOTSET), ("Info and above", logging.INFO),
                 ("Warnings and errors", logging.WARNING), ("Errors only", logging.ERROR))
ALL_FLOWS = "All flows"


@dataclass(frozen=True)
class LogLine:
    created: float
    level: str
    levelno: int
    flow: str
    message: str
    detail: str = ""

    @classmethod
    def from_record(cls, record: logging.LogRecord) -> LogLine:
        return cls(record.created, record.levelname, record.levelno, getattr(record, "flow", "-") or "-",
                   record.getMessage(), getattr(record, "exc_text", None) or "")

    def as_text(self) -> str:
        stamp = dt.datetime.fromtimestamp(self.created).strftime("%Y-%m-%d %H:%M:%S")
        return f"{stamp}  {self.level:<8} {self.flow:<10} {self.message}"


class LogModel(QAbstractTableModel):
    def __init__(self, capacity: int = 10_000, parent=None):
        super().__init__(parent)
        self.capacity = capacity
        self._rows: collections.deque[LogLine] = collections.deque()
        self._pending: list[LogLine] = []
        self.flows: set[str] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(100)
        self._flush_timer.timeout.connect(self.flush)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        line = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return dt.datetime.fromtimestamp(line.created).strftime("%H:%M:%S")
            return (None, line.level.title(), line.flow, line.message)[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            return LEVEL_COLOURS.get(line.level)
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return line.as_text() + (("\n" + line.detail) if line.detail else "")
        if role == Qt.ItemDataRole.UserRole:
            return line
        return None

    def line(self, row: int) -> LogLine:
        return self._rows[row]

    def append(self, line: LogLine) -> None:
        self._pending.append(line)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    @Slot()
    def flush(self) -> None:
        pending, self._pending = self._pending[-self.capacity:], []
        if not pending:
            return
        self.flows.update(line.flow for line in pending)
        overflow = len(self._rows) + len(pending) - self.capacity
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            for _ in range(overflow):
                self._rows.popleft()
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(pending) - 1)
        self._rows.extend(pending)
        self.endInsertRows()


class LogFilter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.min_level = logging.NOTSET
        self.flow: str | None = None
        self.text = ""

    def set_filter(self, *, min_level: int | None = None, flow: str | None = None, text: str | None = None,
                   all_flows: bool = False):
        self.beginFilterChange()  # invalidateFilter() is deprecated in Qt 6.10
        if min_level is not None:
            self.min_level = min_level
        if flow is not None or all_flows:
            self.flow = flow
        if text is not None:
            self.text = text.casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        line = self.sourceModel().line(source_row)
        if line.levelno < self.min_level:
            return False
        if self.flow and line.flow != self.flow:
            return False
        return not self.text or self.text in line.message.casefold()


class LogPage(QWidget):
    def __init__(self, bridge, parent: QWidget | None = None, *, capacity: int = 10_000):
        super().__init__(parent)
        self.bridge = bridge
        self.model = LogModel(capacity, self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)

        title = QLabel("Sync log")
        title.setObjectName("pageTitle")
        self.level_box = QComboBox()
        for label, level in LEVEL_FILTERS:
            self.level_box.addItem(label, level)
        self.level_box.setCurrentIndex(1)
        self.flow_box = QComboBox()
        self.flow_box.addItem(ALL_FLOWS, None)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search the log…")
        self.search.setClearButtonEnabled(True)
        self.pause_button = QPushButton("Pause autoscroll")
        self.pause_button.setCheckable(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected lines (Ctrl+C)")

        self.view = QTableView()
        self.view.setObjectName("liveLogView")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

        bar = QHBoxLayout()
        bar.addWidget(title)
        bar.addStretch(1)
        bar.addWidget(self.level_box)
        bar.addWidget(self.flow_box)
        bar.addWidget(self.search, 2)
        bar.addWidget(self.pause_button)
        bar.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view)

        self.level_box.currentIndexChanged.connect(self._level_changed)
        self.flow_box.currentIndexChanged.connect(self._flow_changed)
        self.search.textChanged.connect(self._text_changed)
        self.copy_button.clicked.connect(self.copy_selection)
        QShortcut(QKeySequence.StandardKey.Copy, self.view, self.copy_selection)
        self.model.rowsInserted.connect(self._rows_inserted)
        self.proxy.set_filter(min_level=logging.INFO)

        # Lines logged before this page existed, then new ones from the bridge. A record can be in
        # both (logged between the bridge's subscription and this snapshot); skip those once.
        snapshot = _snapshot(logs.live_feed.records)
        self._snapshot_ids = {id(record) for record in snapshot}
        self._snapshot_refs = snapshot
        for record in snapshot:
            self.model.append(LogLine.from_record(record))
        self.model.flush()
        bridge.logRecord.connect(self.add_record)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    @Slot(object)
    def add_record(self, record: logging.LogRecord) -> None:
        if self._snapshot_ids:
            if id(record) in self._snapshot_ids:
                return
            self._snapshot_ids, self._snapshot_refs = set(), []
        self.model.append(LogLine.from_record(record))

    @Slot()
    def copy_selection(self) -> int:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        lines = [self.model.line(self.proxy.mapToSource(self.proxy.index(row, 0)).row()).as_text() for row in rows]
        if lines:
            QGuiApplication.clipboard().setText("\n".join(lines))
        return len(lines)

    @Slot(int)
    def _level_changed(self, _index: int) -> None:
        self.proxy.set_filter(min_level=self.level_box.currentData())

    @Slot(int)
    def _flow_changed(self, _index: int) -> None:
        flow = self.flow_box.currentData()
        self.proxy.set_filter(flow=flow, all_flows=flow is None)

    @Slot(str)
    def _text_changed(self, text: str) -> None:
        self.proxy.set_filter(text=text)

    @Slot()
    def _rows_inserted(self) -> None:
        known = {self.flow_box.itemData(i) for i in range(1, self.flow_box.count())}
        for flow in sorted(self.model.flows - known - {"-"}):
            self.flow_box.addItem(flow, flow)
        if not self.pause_button.isChecked():
            self.view.scrollToBottom()


def _snapshot(records) -> list[logging.LogRecord]:
    """Copy a deque that other threads append to (iteration would fail if it changed meanwhile)."""
    for _ in range(5):
        try:
            return list(records)
        except RuntimeError:
            continue
    return []
