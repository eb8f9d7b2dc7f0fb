"""Editable mapping grids: rows validated with the engine's own rules, saved only when whole.

The model never touches the database itself: it asks for a save (`saveRequested`) when an edited
row is valid and for a delete (`deleteRequested`) when rows go; the page runs those through
bridge.db_call and reports back with `mark_saved`. Undo restores the grid and the database.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor

from desktop_app.core.db import database
from desktop_app.sync import mappings
from desktop_app.sync.mappings import SYSPRO_MAX, Kind, MappingImportError
from desktop_app.ui.table_model import RIGHT, ListTableModel
from desktop_app.ui.widgets import ID_ROLE, MUTED_TEXT, PROBLEM_BACKGROUND

ROW_PROBLEM = "__row__"
WORDS = {"st": "ST", "syspro": "SYSPRO", "gl": "GL", "id": "id", "sku": "SKU"}
KIND_TITLES = {"vendors": "Vendors", "items": "Items", "gl": "GL accounts", "branches": "Branches",
               "warehouses": "Warehouses"}


def column_title(name: str) -> str:
    words = [WORDS.get(word, word) for word in name.split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def is_code_column(kind: Kind, column: int) -> bool:
    return kind.columns[column].kind in SYSPRO_MAX


# ---------------------------------------------------------------- database side (db thread)
def _db_key(kind: Kind, values: dict) -> tuple:
    return tuple(values.get(name) for name in kind.key)


def load_rows(kind_name: str) -> tuple[list[tuple[int, dict[str, str]]], dict[str, dict]]:
    """Every row of a mapping table as text, and what is missing for that kind."""
    kind = mappings.kind_for(kind_name)
    rows = []
    for record in kind.model.select().order_by(kind.model.id):
        rows.append((record.id, {name: "" if getattr(record, name) is None else str(getattr(record, name))
                                 for name in kind.header}))
    return rows, mappings.blocked_counts(kind_name)


def store_row(kind_name: str, values: dict, db_id: int | None, actor: str = "user") -> int:
    """Save one row with mappings.save_row; a row whose key was edited replaces its old record."""
    kind = mappings.kind_for(kind_name)
    with database.atomic():
        if db_id is not None:
            old = kind.model.get_or_none(kind.model.id == db_id)
            if old is not None and _db_key(kind, {n: getattr(old, n) for n in kind.key}) != _db_key(kind, values):
                old.delete_instance()
        return mappings.save_row(kind, values, actor=actor).id


def delete_rows(kind_name: str, db_ids: list[int]) -> int:
    kind = mappings.kind_for(kind_name)
    return kind.model.delete().where(kind.model.id.in_(db_ids)).execute()


def store_many(kind_name: str, rows: list[dict], actor: str = "user") -> int:
    kind = mappings.kind_for(kind_name)
    with database.atomic():
        for values in rows:
            mappings.save_row(kind, values, actor=actor)
    return len(rows)


def import_file(kind_name: str, path: str, actor: str = "user") -> tuple[int, list[tuple[int, str]]]:
    """(rows imported, []) or (0, [(line, problem)…]) — all or nothing, as the engine guarantees."""
    try:
        return mappings.import_csv(kind_name, path, actor=actor), []
    except MappingImportError as exc:
        return 0, list(exc.problems)


# ---------------------------------------------------------------- the grid model
@dataclass
class MappingRow:
    uid: int
    values: dict[str, str]                  # what the grid shows, as text
    db_id: int | None = None
    saved: dict | None = None               # the cleaned values the database holds for this row
    problems: dict[str, str] = field(default_factory=dict)
    touched: bool = True                    # a fresh blank row keeps quiet until it is edited


@dataclass
class UndoStep:
    action: str                             # edit | add | delete
    uid: int = 0
    before: dict[str, str] | None = None
    before_saved: dict | None = None
    removed: list[tuple[int, MappingRow]] = field(default_factory=list)
    description: str = ""


class MappingTableModel(QAbstractTableModel):
    saveRequested = Signal(int, object, object)   # row uid, cleaned values, database id (or None)
    deleteRequested = Signal(object)              # list of database ids
    undoChanged = Signal(bool)                    # whether there is something to undo
    rowProblems = Signal(str)                     # an edit left its row incomplete or wrong: why

    def __init__(self, kind: Kind, parent: QObject | None = None):
        super().__init__(parent)
        self.kind = kind
        self.rows: list[MappingRow] = []
        self.undo_stack: list[UndoStep] = []
        self._uids = itertools.count(1)

    # -- loading
    def load(self, records: list[tuple[int, dict[str, str]]]) -> None:
        self.beginResetModel()
        self.rows = []
        for db_id, values in records:
            row = MappingRow(next(self._uids), dict(values), db_id=db_id)
            cleaned, problems = mappings.validate_row(self.kind, row.values)
            row.saved = cleaned
            row.problems = problems  # a row made outside the grid may break today's rules: show it
            self.rows.append(row)
        self.undo_stack.clear()
        self.endResetModel()
        self.undoChanged.emit(False)

    def _push(self, step: UndoStep) -> None:
        self.undo_stack.append(step)
        self.undoChanged.emit(True)

    # -- lookups
    def row_index(self, uid: int) -> int:
        for index, row in enumerate(self.rows):
            if row.uid == uid:
                return index
        return -1

    def find_key(self, key) -> int:
        """The row whose first key column holds `key` (as text), or -1."""
        name = self.kind.key[0]
        text = "" if key is None else str(key)
        for index, row in enumerate(self.rows):
            if row.values.get(name, "") == text:
                return index
        return -1

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    def problem_count(self) -> int:
        return sum(1 for row in self.rows if row.touched and row.problems)

    # -- validation
    def _key_of(self, values: dict) -> tuple | None:
        if self.kind.name == "items":
            if values.get("st_sku_id") is not None:
                return ("id", values["st_sku_id"])
            return ("code", values["st_sku_code"]) if values.get("st_sku_code") else None
        return tuple(values.get(name) for name in self.kind.key)

    def _validate(self, row: MappingRow) -> dict | None:
        cleaned, problems = mappings.validate_row(self.kind, row.values)
        if not problems:
            key = self._key_of(cleaned)
            for other in self.rows:
                if other is row or other.problems:
                    continue
                other_values, other_problems = mappings.validate_row(self.kind, other.values)
                if not other_problems and self._key_of(other_values) == key:
                    name = self.kind.key[0] if self.kind.name != "items" or key[0] == "id" else "st_sku_code"
                    problems[name] = (f"another row already maps {column_title(name)} "
                                      f"{row.values.get(name, '')}; edit that row instead")
                    break
        row.problems = problems
        return None if problems else cleaned

    def _changed(self, index: int) -> None:
        self.dataChanged.emit(self.index(index, 0), self.index(index, len(self.kind.columns) - 1))
        self.headerDataChanged.emit(Qt.Orientation.Vertical, index, index)

    def _save_if_valid(self, row: MappingRow) -> bool:
        cleaned = self._validate(row)
        if cleaned is None:
            return False
        if cleaned != row.saved or row.db_id is None:
            self.saveRequested.emit(row.uid, cleaned, row.db_id)
        return True

    # -- edits
    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or not (0 <= index.row() < len(self.rows)):
            return False
        row = self.rows[index.row()]
        name = self.kind.columns[index.column()].name
        text = "" if value is None else str(value).strip()
        if row.values.get(name, "") == text:
            return False
        self._push(UndoStep("edit", row.uid, before=dict(row.values), before_saved=row.saved,
                                        description=f"the edit of {column_title(name)}"))
        row.values[name] = text
        row.touched = True
        if not self._save_if_valid(row):
            self.rowProblems.emit(row.problems.get(name) or next(iter(row.problems.values())))
        self._changed(index.row())
        return True

    def add_row(self, prefill: dict[str, str] | None = None) -> int:
        values = {name: "" for name in self.kind.header}
        values.update({k: "" if v is None else str(v) for k, v in (prefill or {}).items() if k in values})
        row = MappingRow(next(self._uids), values, touched=bool(prefill))
        position = len(self.rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self.rows.append(row)
        self.endInsertRows()
        self._validate(row)
        self._push(UndoStep("add", row.uid, description="the new row"))
        self._changed(position)
        return position

    def remove_rows(self, positions: list[int]) -> int:
        positions = sorted({p for p in positions if 0 <= p < len(self.rows)}, reverse=True)
        removed: list[tuple[int, MappingRow]] = []
        for position in positions:
            self.beginRemoveRows(QModelIndex(), position, position)
            removed.append((position, self.rows.pop(position)))
            self.endRemoveRows()
        if not removed:
            return 0
        removed.reverse()
        self._push(UndoStep("delete", removed=copy.deepcopy(removed),
                                        description=f"the deletion of {len(removed)} row(s)"))
        ids = [row.db_id for _, row in removed if row.db_id is not None]
        if ids:
            self.deleteRequested.emit(ids)
        return len(removed)

    def undo(self) -> str:
        """Undo the last edit, addition or deletion; returns a sentence saying what was undone."""
        try:
            return self._undo()
        finally:
            self.undoChanged.emit(self.can_undo)

    def _undo(self) -> str:
        while self.undo_stack:
            step = self.undo_stack.pop()
            if step.action == "delete":
                for position, row in step.removed:
                    position = min(position, len(self.rows))
                    row.db_id, row.saved = None, None  # its record was deleted: it is saved afresh
                    self.beginInsertRows(QModelIndex(), position, position)
                    self.rows.insert(position, row)
                    self.endInsertRows()
                    self._save_if_valid(row)
                    self._changed(position)
                return f"Undid {step.description}."
            index = self.row_index(step.uid)
            if index < 0:
                continue  # that row went since; undo the step before it
            row = self.rows[index]
            if step.action == "add":
                self.beginRemoveRows(QModelIndex(), index, index)
                self.rows.pop(index)
                self.endRemoveRows()
                if row.db_id is not None:
                    self.deleteRequested.emit([row.db_id])
                return f"Undid {step.description}."
            row.values = dict(step.before)
            row.touched = True
            if not self._save_if_valid(row):
                # the restored text is not a whole row: put the database back as it was before the edit
                if step.before_saved is None and row.db_id is not None:
                    self.deleteRequested.emit([row.db_id])
                    row.db_id, row.saved = None, None
                elif step.before_saved is not None and step.before_saved != row.saved:
                    self.saveRequested.emit(row.uid, step.before_saved, row.db_id)
            self._changed(index)
            return f"Undid {step.description}."
        return "There is nothing to undo."

    def mark_saved(self, uid: int, db_id: int, values: dict) -> None:
        index = self.row_index(uid)
        if index < 0:
            return
        row = self.rows[index]
        row.db_id, row.saved = db_id, values
        row.problems.pop(ROW_PROBLEM, None)
        self._changed(index)

    def mark_failed(self, uid: int, message: str) -> None:
        index = self.row_index(uid)
        if index < 0:
            return
        self.rows[index].problems[ROW_PROBLEM] = f"Not saved: {message}"
        self._changed(index)

    # -- Qt model
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.kind.columns)

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
                | Qt.ItemFlag.ItemNeverHasChildren)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self.kind.columns):
                return None
            column = self.kind.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column_title(column.name) + (" *" if column.required else "")
            if role == Qt.ItemDataRole.ToolTipRole:
                return column.help + (" (required)" if column.required else "")
            return None
        if not 0 <= section < len(self.rows):
            return None
        row = self.rows[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1) if row.db_id is not None and not row.problems else "•"
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.problems and row.touched:
                return "Not saved yet: " + "; ".join(row.problems.values())
            return "Saved" if row.db_id is not None else "Not saved yet"
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self.rows)) \
                or not (0 <= index.column() < len(self.kind.columns)):
            return None
        row = self.rows[index.row()]
        column = self.kind.columns[index.column()]
        problem = row.problems.get(column.name) or row.problems.get(ROW_PROBLEM)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.values.get(column.name, "")
        if role == Qt.ItemDataRole.BackgroundRole and problem and row.touched:
            return PROBLEM_BACKGROUND
        if role == Qt.ItemDataRole.ToolTipRole:
            if problem and row.touched:
                return problem
            return column.help
        if role == Qt.ItemDataRole.ForegroundRole and column.kind == "text" and not column.required:
            return MUTED_TEXT
        if role == ID_ROLE:
            return row.db_id
        return None


class MissingModel(ListTableModel):
    """Keys with no mapping, and how many held invoices each one blocks (mappings.blocked_counts)."""

    HEADERS = ["ST key", "Name", "Invoices blocked", "Why"]

    def set_entries(self, blocked: dict[str, dict]) -> None:
        self.set_rows(sorted(blocked.values(), key=lambda e: (-e["blocked"], str(e["key"]))))

    def total_blocked(self) -> int:
        return sum(entry["blocked"] for entry in self.rows)

    def cell(self, row: int, column: int, role: int):
        entry = self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return ["" if entry["key"] is None else str(entry["key"]), entry.get("label") or "",
                    str(entry["blocked"]), entry.get("reason") or ""][column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return RIGHT
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return QColor("#92400E")
        return None


class ProposalModel(ListTableModel):
    """Suggested matches with a checkbox each: only the checked ones are saved."""

    HEADERS = ["Save", "ST id", "ST code", "ST name", "SYSPRO code", "Why"]

    proposals = property(lambda self: self.rows)  # the name callers read them by

    def __init__(self, proposals: list[dict], parent: QObject | None = None):
        super().__init__(parent)
        self.rows = list(proposals)
        self.checked = [False] * len(self.rows)

    def set_all(self, checked: bool) -> None:
        self.checked = [checked] * len(self.rows)
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, 0))

    def accepted(self) -> list[dict]:
        return [p for p, ok in zip(self.rows, self.checked, strict=True) if ok]

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else flags

    def cell(self, row: int, column: int, role: int):
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return Qt.CheckState.Checked if self.checked[row] else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole and column > 0:
            key = ["", "st_id", "st_code", "st_name", "syspro_code", "reason"][column]
            return str(self.rows[row].get(key) or "")
        return None

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        state = value if isinstance(value, Qt.CheckState) else Qt.CheckState(value)
        self.checked[index.row()] = state == Qt.CheckState.Checked
        self.dataChanged.emit(index, index)
        return True


def proposal_row(kind_name: str, proposal: dict) -> dict[str, str]:
    """The grid row (as text) a suggestion becomes when it is accepted."""
    if kind_name == "vendors":
        return {"st_vendor_id": str(proposal["st_id"]), "st_vendor_name": proposal.get("st_name") or "",
                "syspro_supplier": proposal["syspro_code"]}
    return {"st_sku_id": str(proposal["st_id"]), "st_sku_code": proposal.get("st_code") or "",
            "syspro_stock_code": proposal["syspro_code"], "syspro_supplier": ""}


def prefill_for_missing(kind_name: str, entry: dict) -> dict[str, str]:
    """A new grid row pre-filled from one missing-mapping entry (key and name; the SYSPRO code is for the user)."""
    key = "" if entry.get("key") is None else str(entry["key"])
    label = entry.get("label") or ""
    if kind_name == "vendors":
        return {"st_vendor_id": key, "st_vendor_name": label}
    if kind_name == "items":
        return {"st_sku_id": key, "st_sku_code": entry.get("sku_code") or ""}
    if kind_name == "gl":
        return {"st_gl_account": key}
    if kind_name == "branches":
        return {"st_business_unit_id": key, "st_business_unit_name": label}
    return {"st_location_id": key, "st_location_name": label}
