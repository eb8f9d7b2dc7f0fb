"""What every read-only grid of the app does the same way: columns named by headers, rows that can
be selected but not edited, and no answer for cells outside the table; subclasses say in `cell`
what a cell shows."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt

FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ReadOnlyTableModel(QAbstractTableModel):
    """Subclasses give rowCount and cell; `headers` starts as HEADERS and may be set per instance."""

    HEADERS: list[str] = []
    RIGHT_ALIGNED: frozenset[int] = frozenset()  # numeric columns: their header lines up with the numbers

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.headers = list(self.HEADERS)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.headers):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.headers[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in self.RIGHT_ALIGNED:
                return RIGHT
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row, column = index.row(), index.column()
        if not index.isValid() or not (0 <= row < self.rowCount()) or not (0 <= column < len(self.headers)):
            return None
        return self.cell(row, column, role)

    def cell(self, row: int, column: int, role: int):
        raise NotImplementedError


class ListTableModel(ReadOnlyTableModel):
    """Rows held in memory and replaced all at once."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.rows: list = []

    def set_rows(self, rows) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)
