"""What every read-only grid of the app does the same way: columns named by headers, rows that can
be selected but not edited, and no answer for cells outside the table; subclasses say in `cell`
what a cell shows.

Painting a cell must enter Python as few times as possible: each entry of the GUI thread into Python
waits for the GIL, up to the interpreter's switch interval when a worker runs Python. So a view's
delegate gets all the roles of a cell from one `multiData` call (Qt 6's QStyledItemDelegate asks for
seven roles per cell; through `data` that is seven entries), `index` is answered without the two
rowCount/columnCount calls of QAbstractTableModel.index, and `flags` is Qt's own (the same flags).
"""
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

    # flags: QAbstractTableModel's own answer is FLAGS for a valid index and NoItemFlags otherwise,
    # without a Python call per painted cell.

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid() or not (0 <= row < self.rowCount()) or not (0 <= column < len(self.headers)):
            return QModelIndex()
        return self.createIndex(row, column)

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

    def multiData(self, index: QModelIndex, roleDataSpan) -> None:
        """Every role a delegate asks for, in one call (see the module's docstring)."""
        row, column = index.row(), index.column()
        valid = index.isValid() and 0 <= row < self.rowCount() and 0 <= column < len(self.headers)
        for role_data in roleDataSpan:
            value = self.cell(row, column, role_data.role()) if valid else None
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

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
