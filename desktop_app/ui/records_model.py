"""The two-way flows' pages (vendors, purchase orders, adjustments): each flow as the one record
grid shows it, one record for the detail pane, a conflict side by side, and the stock-difference
worklist. The loaders run on the db thread; the models only ever see plain dicts and dataclasses.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from peewee import Cast
from PySide6.QtCore import QModelIndex, Qt, Signal

from desktop_app.core.models import SyncLink
from desktop_app.sync import adjustments, records
from desktop_app.ui.record_detail import TrailEntry
from desktop_app.ui.record_table import ATTENTION, Column, FlowView, RecordQuery
from desktop_app.ui.table_model import LEFT, RIGHT, ListTableModel
from desktop_app.ui.widgets import DIFFERENCE_BACKGROUND, ID_ROLE, MUTED_TEXT

__all__ = ["ATTENTION", "COL_LABEL", "FLOW_TEXT", "RecordDetail", "RecordsExtra", "ConflictModel", "WorklistModel",
           "flow_text", "record_view", "load_record", "load_worklist", "conflict_rows"]

ORIGINS = {"servicetitan": "ServiceTitan", "syspro": "SYSPRO", "mapping": "Mapping"}


@dataclass(frozen=True)
class FlowText:
    """What a flow's page calls things, and the sentence on top saying what syncs and what cannot."""

    flow: str
    title: str
    noun: str           # one record, for counts: "vendor", "purchase order"
    label_header: str   # the label column: vendor name, PO number, adjustment number
    syspro_header: str
    explanation: str


FLOW_TEXT: dict[str, FlowText] = {
    "vendors": FlowText(
        "vendors", "Vendors", "vendor", "Vendor", "SYSPRO supplier",
        "ServiceTitan vendors and SYSPRO suppliers are kept in agreement both ways: new ones are created on the "
        "other side; name, address, phone, e-mail and active/on-hold are copied. Nothing is deleted, and "
        "look-alikes are held until you link them with a vendor mapping. Vendors mapped to the same supplier "
        "share it: the primary one is synced, the others are aliases whose invoices post to the supplier."),
    "purchase-orders": FlowText(
        "purchase-orders", "Purchase orders", "purchase order", "PO number", "SYSPRO PO",
        "Purchase orders are copied both ways, then line quantity and price changes follow them. ServiceTitan's "
        "API cannot change a PO's status or add lines to a PO: a PO cancelled in SYSPRO is flagged for you to "
        "cancel in ServiceTitan."),
    "adjustments": FlowText(
        "adjustments", "Adjustments sent to SYSPRO", "adjustment", "Adjustment", "SYSPRO reference",
        "ServiceTitan inventory adjustments are posted to SYSPRO (reference ST-ADJ-<number>) and the SYSPRO "
        "journal is written back to the adjustment."),
}


def flow_text(flow: str) -> FlowText:
    return FLOW_TEXT[flow]


# ---------------------------------------------------------------- the grid, as the one record model shows it
COL_STATE, COL_LABEL, COL_ST, COL_SYSPRO, COL_ORIGIN, COL_ATTEMPTS, COL_REASON = range(7)


def _select(flow: str):
    def select(query: RecordQuery):
        links = SyncLink.select().where(SyncLink.flow == flow)
        if query.state == ATTENTION:
            links = links.where(SyncLink.state.in_(sorted(records.ATTENTION)))
        elif query.state:
            links = links.where(SyncLink.state == query.state)
        if query.search:
            term = f"%{query.search}%"
            links = links.where(SyncLink.label ** term | SyncLink.syspro_key ** term | SyncLink.reason ** term
                                | Cast(SyncLink.st_id, "TEXT") ** term)
        return links
    return select


def _extra(flow: str):
    def extra(_query: RecordQuery) -> RecordsExtra:
        return RecordsExtra(records.counts(flow), records.waiting_counts(flow))
    return extra


@dataclass
class RecordsExtra:
    """Read with every (re)load of a two-way flow's grid: the whole flow's counts per state, and what
    waits for approval (records.waiting_counts)."""

    counts: dict[str, int]
    waiting: list[dict] = field(default_factory=list)


def _label_text(row: dict) -> str:
    alias = f" (alias of vendor {row['alias_of']})" if row.get("alias_of") else ""
    return (row.get("label") or "") + alias


def record_view(flow: str) -> FlowView:
    """A two-way flow's grid: newest records first (a flow holds hundreds, not 100,000)."""
    text = flow_text(flow)
    return FlowView(
        key=flow, noun=text.noun,
        columns=(
            Column("State", width=115, state=True),
            Column(text.label_header, _label_text, width=240),
            Column("ServiceTitan id", lambda row: str(row["st_id"]) if row.get("st_id") is not None else "—",
                   width=125),
            Column(text.syspro_header, lambda row: row.get("syspro_key") or "—", width=160),
            Column("Started in", lambda row: ORIGINS.get(row.get("origin") or "", row.get("origin") or ""),
                   width=110, muted=True),
            Column("Attempts", lambda row: str(row.get("attempts") or 0), width=85, right=True),
            Column("Reason", lambda row: row["reason"].splitlines()[0] if row.get("reason") else "", muted=True,
                   tooltip=lambda row: row.get("reason") or None),
        ),
        select=_select(flow),
        rows=lambda select: [records.link_dict(link) for link in select],
        id_of=lambda row: row["id"], state_of=lambda row: row["state"],
        tiebreak=SyncLink.id, default_sort=(COL_STATE, True),
        extra=_extra(flow),
    )


@dataclass
class RecordDetail:
    id: int
    flow: str
    state: str
    label: str
    st_id: int | None
    syspro_key: str | None
    origin: str
    attempts: int
    reason: str
    updated_at: dt.datetime | None
    conflict: dict | None
    trail: list[TrailEntry] = field(default_factory=list)
    alias_of: int | None = None  # vendors: the primary vendor of the supplier this alias shares

    @property
    def title(self) -> str:
        words = {"vendors": "Vendor", "purchase-orders": "PO", "adjustments": "Adjustment"}
        return f"{words.get(self.flow, 'Record')} {self.label or self.syspro_key or self.st_id or self.id}"


def load_record(record_id: int) -> RecordDetail | None:
    try:
        shown = records.show_record(record_id)
    except LookupError:
        return None
    rec = shown["record"]
    trail = [TrailEntry(dt.datetime.fromisoformat(e["at"]), e["kind"], e["actor"], e["message"], e["xml_sent"],
                        e["xml_received"]) for e in shown["audit"]]
    updated = dt.datetime.fromisoformat(rec["updated_at"]) if rec.get("updated_at") else None
    return RecordDetail(id=rec["id"], flow=rec["flow"], state=rec["state"], label=rec["label"] or "",
                        st_id=rec["st_id"], syspro_key=rec["syspro_key"], origin=rec["origin"] or "",
                        attempts=rec["attempts"], reason=rec["reason"] or "", updated_at=updated,
                        conflict=rec["conflict"], trail=trail,
                        alias_of=(rec.get("data") or {}).get("alias_of") if rec["flow"] == "vendors" else None)


def load_worklist(include_done: bool) -> tuple[list[dict], int, int]:
    """The rows to show, and how many rows are open and done in all."""
    everything = adjustments.worklist_rows(include_done=True)
    open_rows = sum(1 for row in everything if not row["done"])
    rows = everything if include_done else [row for row in everything if not row["done"]]
    return rows, open_rows, len(everything) - open_rows


# ---------------------------------------------------------------- a conflict, side by side
@dataclass(frozen=True)
class ConflictRow:
    field: str
    servicetitan: str
    syspro: str
    last_synced: str
    st_changed: bool
    syspro_changed: bool


FIELD_LABELS = {"name": "Name", "active": "Active", "street": "Street", "city": "City", "state": "State",
                "country": "Country", "zip": "Postal code", "phone": "Phone", "email": "E-mail",
                "vendor": "Vendor / supplier", "location": "Location / warehouse", "cancelled": "Cancelled",
                "qty": "quantity", "cost": "price", "sku": "item"}
# the PO views name the same thing differently on each side; identifiers of lines are not content
ALIASES = {"supplier": "vendor", "warehouse": "location", "price": "cost", "stock": "sku"}
IDENTIFIERS = {"item", "line"}


def _flatten(view: dict | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in (view or {}).items():
        if isinstance(value, list):
            for n, line in enumerate(value, 1):
                for name, item in (line or {}).items():
                    name = ALIASES.get(name, name)
                    if name not in IDENTIFIERS:
                        out[f"line {n} {name}"] = item
        else:
            out[ALIASES.get(key, key)] = value
    return out


def _label(key: str) -> str:
    if key.startswith("line "):
        _, number, name = key.split(" ", 2)
        return f"Line {number} {FIELD_LABELS.get(name, name)}"
    return FIELD_LABELS.get(key, key.replace("_", " ").capitalize())


def show_value(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and value[:1] in "-0123456789"):
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except InvalidOperation:
            pass
    return str(value)


def conflict_rows(conflict: dict | None) -> list[ConflictRow]:
    """The fields changed on either side since the last sync; a side's cell is marked when it changed."""
    if not conflict:
        return []
    st_now, sp_now = _flatten(conflict.get("servicetitan")), _flatten(conflict.get("syspro"))
    last = conflict.get("last_synced") or {}
    st_last, sp_last = _flatten(last.get("servicetitan")), _flatten(last.get("syspro"))
    keys = list(dict.fromkeys([*st_now, *sp_now, *st_last, *sp_last]))
    rows = []
    for key in keys:
        st_changed = st_now.get(key) != st_last.get(key) if last else st_now.get(key) != sp_now.get(key)
        sp_changed = sp_now.get(key) != sp_last.get(key) if last else st_changed
        if not (st_changed or sp_changed):
            continue
        st_was, sp_was = show_value(st_last.get(key)), show_value(sp_last.get(key))
        if key not in sp_last or st_was == sp_was:
            was = st_was
        elif key not in st_last:
            was = sp_was
        else:
            was = f"{st_was} / {sp_was}"
        rows.append(ConflictRow(_label(key), show_value(st_now.get(key)), show_value(sp_now.get(key)), was,
                                st_changed, sp_changed))
    return rows


class ConflictModel(ListTableModel):
    HEADERS = ["Field", "ServiceTitan now", "SYSPRO now", "Last synced"]

    def set_conflict(self, conflict: dict | None) -> None:
        self.set_rows(conflict_rows(conflict))

    def cell(self, row_number: int, column: int, role: int):
        row = self.rows[row_number]
        changed = (column == 1 and row.st_changed) or (column == 2 and row.syspro_changed)
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.field, row.servicetitan, row.syspro, row.last_synced)[column]
        if role == Qt.ItemDataRole.BackgroundRole and changed:
            return DIFFERENCE_BACKGROUND
        if role == Qt.ItemDataRole.ForegroundRole and column in (0, 3):
            return MUTED_TEXT
        if role == Qt.ItemDataRole.ToolTipRole and changed:
            return f"Changed in {'ServiceTitan' if column == 1 else 'SYSPRO'} since the last sync"
        return None


# ---------------------------------------------------------------- the stock-difference worklist
def signed_quantity(value) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = format(amount.normalize(), "f") if amount == amount.to_integral() else format(amount, "f")
    return f"+{text}" if amount > 0 else text


NOT_MAPPED = "not mapped"


class WorklistModel(ListTableModel):
    """Column 0 is a check box: ticking it asks the page to mark the row done (doneToggled)."""

    HEADERS = ["Done", "Date", "Warehouse", "ST location", "Stock code", "ST SKU", "Quantity", "SYSPRO reference",
               "Journal", "Done by", "Done at (UTC)"]
    COL_DONE, COL_QUANTITY = 0, 6
    RIGHT_ALIGNED = frozenset({COL_QUANTITY})
    doneToggled = Signal(list, bool)  # row ids, done

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsUserCheckable if index.column() == self.COL_DONE else flags

    def cell(self, row_number: int, column: int, role: int):
        row = self.rows[row_number]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == Qt.ItemDataRole.CheckStateRole and column == self.COL_DONE:
            return Qt.CheckState.Checked if row["done"] else Qt.CheckState.Unchecked
        if role == ID_ROLE:
            return row["id"]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column == self.COL_QUANTITY else LEFT
        if role == Qt.ItemDataRole.ForegroundRole:
            if row["done"] or (column in (3, 5) and self._text(row, column) == NOT_MAPPED):
                return MUTED_TEXT
        if role == Qt.ItemDataRole.ToolTipRole and row.get("note"):
            return row["note"]
        return None

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != self.COL_DONE or role != Qt.ItemDataRole.CheckStateRole \
                or not (0 <= index.row() < len(self.rows)):
            return False
        done = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        row = self.rows[index.row()]
        if row["done"] == done:
            return False
        row["done"] = done  # shown at once; the page writes it and re-reads the list
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(self.HEADERS) - 1))
        self.doneToggled.emit([row["id"]], done)
        return True

    @staticmethod
    def _text(row: dict, column: int) -> str:
        if column == 0:
            return ""
        if column == 1:
            return row.get("entry_date") or ""
        if column == 2:
            return row.get("warehouse") or ""
        if column == 3:
            return row.get("st_location_name") or (str(row["st_location_id"]) if row.get("st_location_id")
                                                   else NOT_MAPPED)
        if column == 4:
            return row.get("stock_code") or ""
        if column == 5:
            return row.get("st_sku_code") or (str(row["st_sku_id"]) if row.get("st_sku_id") else NOT_MAPPED)
        if column == 6:
            return signed_quantity(row.get("quantity"))
        if column == 7:
            return row.get("syspro_reference") or ""
        if column == 8:
            return row.get("journal") or ""
        if column == 9:
            return row.get("done_by") or ""
        done_at = row.get("done_at") or ""
        return done_at[:16].replace("T", " ") if done_at else ""
