"""Reconciliation: ServiceTitan cost against SYSPRO AP per day, supplier and branch, with totals."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import QDate, QModelIndex, QObject, Qt, Slot
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import csv_safe
from desktop_app.sync.reconcile import ReconRow, reconcile
from desktop_app.ui.table_model import LEFT, RIGHT, ListTableModel
from desktop_app.ui.widgets import (
    DIFFERENCE_BACKGROUND,
    PROBLEM_BACKGROUND,
    StatusLine,
    format_money,
    plural,
    show_error,
)

ZERO = Decimal("0.00")
ALL_DATES = QDate(2000, 1, 1)
HEADERS = ["Date", "Supplier", "Branch", "ST cost", "SYSPRO AP", "Difference", "Documents", "Unconfirmed"]
NUMERIC = {3, 4, 5, 6, 7}


def totals_of(rows: list[ReconRow]) -> ReconRow:
    total = ReconRow(None, "", "")
    for row in rows:
        total.st_cost += row.st_cost
        total.syspro_ap += row.syspro_ap
        total.documents += row.documents
        total.unconfirmed += row.unconfirmed
    return total


def write_csv(path: str, rows: list[ReconRow]) -> int:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv_safe.writer(fh)
        writer.writerow(["date", "supplier", "branch", "st_cost", "syspro_ap", "difference", "documents",
                         "unconfirmed"])
        for row in rows + [totals_of(rows)]:
            data = row.as_dict()
            if row.day is None and not row.supplier:
                data["date"] = "TOTAL"
            writer.writerow([data["date"] or "", data["supplier"], data["branch"], data["st_cost"],
                             data["syspro_ap"], data["difference"], data["documents"], data["unconfirmed"]])
    return len(rows)


class ReconModel(ListTableModel):
    """One row per (day, supplier, branch) and a totals row at the bottom."""

    HEADERS = HEADERS
    RIGHT_ALIGNED = NUMERIC

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.total = totals_of([])
        self._bold = QFont()
        self._bold.setBold(True)

    def set_rows(self, rows: list[ReconRow]) -> None:
        self.total = totals_of(rows)  # before the reset: the view reads the totals row as soon as it ends
        super().set_rows(rows)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows) + (1 if self.rows else 0)

    def is_total(self, row: int) -> bool:
        return row == len(self.rows)

    def cell(self, row_number: int, column: int, role: int):
        total = self.is_total(row_number)
        row = self.total if total else self.rows[row_number]
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return "Total" if total else (row.day.isoformat() if row.day else "(no date)")
            return [None, row.supplier, row.branch, format_money(row.st_cost), format_money(row.syspro_ap),
                    format_money(row.difference), f"{row.documents:,}", f"{row.unconfirmed:,}"][column]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column in NUMERIC else LEFT
        if role == Qt.ItemDataRole.FontRole and total:
            return self._bold
        if role == Qt.ItemDataRole.BackgroundRole:
            if total:
                return QColor("#EEF0F3")
            if row.difference != ZERO:
                # a difference SYSPRO has confirmed is a real mismatch; one still waiting for read-back is not yet
                return DIFFERENCE_BACKGROUND if row.unconfirmed else PROBLEM_BACKGROUND
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and row.difference != ZERO:
            return QColor("#991B1B")
        if role == Qt.ItemDataRole.ForegroundRole and column == 7 and row.unconfirmed:
            return QColor("#92400E")
        if role == Qt.ItemDataRole.ToolTipRole and not total and row.difference != ZERO:
            return (f"ServiceTitan says {format_money(row.st_cost)}, SYSPRO AP shows {format_money(row.syspro_ap)}"
                    + (f"; {plural(row.unconfirmed, 'document')} not yet seen in SYSPRO" if row.unconfirmed else ""))
        return None


class ReconciliationPage(QWidget):
    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.last_message = None
        self.ready = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        head = QHBoxLayout()
        title = QLabel("Reconciliation", self)
        title.setObjectName("pageTitle")
        hint = QLabel("What ServiceTitan says is owed, against what SYSPRO AP holds, per day, supplier and branch.",
                      self)
        hint.setObjectName("hint")
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(hint, 1)
        layout.addLayout(head)

        bar = QHBoxLayout()
        label = QLabel("Date", self)
        label.setStyleSheet("color: #6B7280;")
        self.date_edit = QDateEdit(self)
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setMinimumDate(ALL_DATES)
        self.date_edit.setSpecialValueText("All dates")
        self.date_edit.setDate(ALL_DATES)
        self.all_button = QPushButton("All dates", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.export_button = QPushButton("Export CSV…", self)
        self.summary = QLabel("", self)
        bar.addWidget(label)
        bar.addWidget(self.date_edit)
        bar.addWidget(self.all_button)
        bar.addSpacing(12)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)
        layout.addLayout(bar)

        self.model = ReconModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.status = StatusLine(self)
        layout.addWidget(self.status)

        self.date_edit.dateChanged.connect(self.refresh)
        self.all_button.clicked.connect(lambda: self.date_edit.setDate(ALL_DATES))
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self.export_csv)
        bridge.dataChanged.connect(self._data_changed)
        self.refresh()

    def day(self) -> dt.date | None:
        value = self.date_edit.date()
        return None if value == ALL_DATES else dt.date(value.year(), value.month(), value.day())

    def set_day(self, day: dt.date | None) -> None:
        self.date_edit.setDate(ALL_DATES if day is None else QDate(day.year, day.month, day.day))

    @Slot()
    def refresh(self, *_args) -> None:
        day = self.day()
        self.status.busy("Comparing ServiceTitan cost with SYSPRO AP…")
        self.bridge.db_call(lambda: reconcile(day), on_done=self._loaded,
                            on_error=lambda m: self._failed("The reconciliation could not be read", m))

    def _loaded(self, rows: list[ReconRow]) -> None:
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.ready = True
        total = self.model.total
        mismatched = sum(1 for row in rows if row.difference != ZERO and not row.unconfirmed)
        waiting = sum(1 for row in rows if row.difference != ZERO and row.unconfirmed)
        if not rows:
            self.summary.setText("No posted documents for this selection.")
        elif mismatched or waiting:
            parts = []
            if mismatched:
                parts.append(f"{plural(mismatched, 'line')} differ{'s' if mismatched == 1 else ''} from SYSPRO AP")
            if waiting:
                parts.append(f"{plural(waiting, 'line')} still wait{'s' if waiting == 1 else ''} for SYSPRO to "
                             "confirm")
            self.summary.setText("; ".join(parts) + f". Total difference {format_money(total.difference)}.")
            self.summary.setStyleSheet("color: #991B1B; font-weight: 600;" if mismatched
                                       else "color: #92400E; font-weight: 600;")
        else:
            self.summary.setText("ServiceTitan and SYSPRO agree.")
            self.summary.setStyleSheet("color: #166534; font-weight: 600;")
        if not rows:
            self.summary.setStyleSheet("")
        self.status.done(f"{plural(total.documents, 'document')} compared.")

    @Slot(str)
    def _data_changed(self, what: str) -> None:
        if what in ("invoices", "all") and self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.ready:
            self.refresh()

    @Slot()
    def export_csv(self) -> None:
        day = self.day()
        name = f"reconciliation-{day.isoformat() if day else 'all'}.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export reconciliation", name, "CSV files (*.csv)")
        if not path:
            return
        rows = list(self.model.rows)
        self.bridge.db_call(lambda: write_csv(path, rows),
                            on_done=lambda n: self.status.done(
                                f"Exported {plural(n, 'line')} and the totals to {path}."),
                            on_error=lambda m: self._failed("The CSV file could not be written", m))

    def _failed(self, sentence: str, message: str) -> None:
        self.status.failed(f"{sentence}: {message}")
        show_error(self, "Reconciliation", f"{sentence}.", message)
