"""The in-memory SYSPRO company that the seed fills and the SYSPRO simulator serves.

Everything is guarded by one re-entrant lock (`state.lock`): the simulator holds it for a whole
business-object call, so a post is atomic with respect to OData reads and other posts.
Text stored here is what a SYSPRO varchar column on a Windows-1252 collation would hold: characters
outside Windows-1252 become '?'.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

SUPPLIER_DEFAULTS: dict[str, str] = {
    "SupplierName": "",
    "SupShortName": "",
    "Branch": "",
    "Currency": "$",
    "TermsCode": "",
    "OnHold": "N",
    "Telephone": "",
    "Email": "",
    "SupAddr1": "",
    "SupAddr2": "",
    "SupAddr3": "",
    "SupAddr4": "",
    "SupAddr5": "",
    "SupPostalCode": "",
    "SupplierClass": "",
}

STOCK_DEFAULTS: dict[str, object] = {
    "Description": "",
    "StockUom": "EA",
    "Decimals": 0,
    "ProductClass": "",
    "Supplier": "",
    # T: lot traceable, so INVTMA needs a Lot. Not an OData/COMFND column of the simulator.
    "TraceableType": "N",
}

# MultipleBins Y: INVTMA needs a BinLocation. Not an OData/COMFND column of the simulator.
WAREHOUSE_DEFAULTS: dict[str, str] = {"Description": "", "Branch": "", "MultipleBins": "N"}


def db_text(value: object) -> str:
    """What a Windows-1252 varchar column keeps of `value`."""
    return str(value).encode("cp1252", "replace").decode("cp1252")


def month_before(period: tuple[int, int], months: int = 1) -> tuple[int, int]:
    year, month = period
    index = year * 12 + (month - 1) - months
    return index // 12, index % 12 + 1


@dataclass
class Session:
    operator: str
    last_used: float


@dataclass
class SysproState:
    company_id: str = "EDU1"
    company_password: str = ""
    company_name: str = "ml-connector sandbox company"
    operators: dict[str, str] = field(default_factory=dict)
    suppliers: dict[str, dict] = field(default_factory=dict)
    stock_codes: dict[str, dict] = field(default_factory=dict)
    warehouses: dict[str, dict] = field(default_factory=dict)
    stock_levels: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    gl_codes: dict[str, dict] = field(default_factory=dict)
    ap_branches: set[str] = field(default_factory=set)
    # None → the month of today(); open periods are this one and the one before.
    current_period: tuple[int, int] | None = None
    ap_invoices: list[dict] = field(default_factory=list)
    # ApInvoicePay: transactions against an AP invoice; a credit note (C), adjustment (A) or debit note
    # (D) applied to an invoice is kept here, not as an ApInvoice row of its own
    ap_invoice_pays: list[dict] = field(default_factory=list)
    purchase_orders: dict[str, dict] = field(default_factory=dict)
    movements: list[dict] = field(default_factory=list)
    today: Callable[[], date] = date.today
    sessions: dict[str, Session] = field(default_factory=dict)
    post_count: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _journals: dict[tuple[str, int, int], int] = field(default_factory=dict, repr=False)
    _last_po: int = field(default=0, repr=False)
    # (supplier, invoice) → its rows: SYSPRO's ApInvoice key. Kept up with ap_invoices, which only grows.
    _invoice_keys: dict[tuple[str, str], list[dict]] = field(default_factory=dict, repr=False, compare=False)
    _keyed_rows: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.current_period is None:
            now = self.today()
            self.current_period = (now.year, now.month)

    # -- periods and numbering ------------------------------------------------------------

    def open_periods(self) -> list[tuple[int, int]]:
        assert self.current_period is not None
        return [self.current_period, month_before(self.current_period)]

    def period_for(self, posting_period: str) -> tuple[int, int]:
        """C → current, P → previous, B → the one before (closed in this company)."""
        assert self.current_period is not None
        back = {"C": 0, "P": 1, "B": 2}[posting_period]
        return month_before(self.current_period, back)

    def is_open(self, period: tuple[int, int]) -> bool:
        return period in self.open_periods()

    def next_journal(self, ledger: str, period: tuple[int, int]) -> int:
        with self.lock:
            key = (ledger, *period)
            self._journals[key] = self._journals.get(key, 0) + 1
            return self._journals[key]

    def next_po_number(self) -> str:
        with self.lock:
            while True:
                self._last_po += 1
                number = f"{self._last_po:06d}"
                if number not in self.purchase_orders:
                    return number

    # -- master data (seed) ---------------------------------------------------------------

    def add_operator(self, operator: str, password: str) -> None:
        with self.lock:
            self.operators[operator] = password

    def add_supplier(self, code: str, **cols: object) -> dict:
        unknown = set(cols) - set(SUPPLIER_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown ApSupplier column(s): {', '.join(sorted(unknown))}")
        row = {**SUPPLIER_DEFAULTS, "SupplierName": code}
        row.update({k: db_text(v) for k, v in cols.items()})
        with self.lock:
            self.suppliers[code] = row
        return row

    def add_stock_code(self, code: str, *, warehouses: tuple[str, ...] | list[str] = (), **cols: object) -> dict:
        """Add an InvMaster row; `warehouses` links it (with zero on hand) to those warehouses."""
        unknown = set(cols) - set(STOCK_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown InvMaster column(s): {', '.join(sorted(unknown))}")
        row = {**STOCK_DEFAULTS, **{k: (v if k == "Decimals" else db_text(v)) for k, v in cols.items()}}
        with self.lock:
            self.stock_codes[code] = row
            for warehouse in warehouses:
                self.stock_levels.setdefault((code, warehouse), Decimal(0))
        return row

    def add_warehouse(self, code: str, **cols: object) -> dict:
        row = {**WAREHOUSE_DEFAULTS, **{k: db_text(v) for k, v in cols.items()}}
        with self.lock:
            self.warehouses[code] = row
        return row

    def add_gl_code(self, code: str, description: str = "", account_type: str = "E", *, on_hold: bool = False) -> dict:
        """A GenMaster row; a code on hold refuses postings (APSTIN rejects it, as SYSPRO's help says)."""
        row = {"Description": db_text(description), "AccountType": account_type, "OnHold": "Y" if on_hold else "N"}
        with self.lock:
            self.gl_codes[code] = row
        return row

    def set_stock_level(self, stock_code: str, warehouse: str, qty_on_hand: Decimal | int | str) -> None:
        """Opening balance without a movement (as if loaded before the movement history starts)."""
        with self.lock:
            self.stock_levels[(stock_code, warehouse)] = Decimal(qty_on_hand)

    def adjust_stock(
        self,
        stock_code: str,
        warehouse: str,
        quantity: Decimal | int | str,
        *,
        reference: str = "",
        notation: str = "",
        entry_date: date | None = None,
        trn_type: str = "A",
        trn_value: Decimal = Decimal(0),
        journal: int | None = None,
        period: tuple[int, int] | None = None,
    ) -> dict:
        """Change on-hand and record the InvMovements row, as a SYSPRO user's adjustment would."""
        quantity = Decimal(quantity)
        with self.lock:
            if stock_code not in self.stock_codes:
                raise KeyError(f"stock code {stock_code!r} not in InvMaster")
            if warehouse not in self.warehouses:
                raise KeyError(f"warehouse {warehouse!r} not in InvWhControl")
            if journal is None:
                journal = self.next_journal("IN", period or self.period_for("C"))
            key = (stock_code, warehouse)
            self.stock_levels[key] = self.stock_levels.get(key, Decimal(0)) + quantity
            entry_number = 1 + sum(1 for m in self.movements if m["Journal"] == journal)
            row = {
                "StockCode": stock_code,
                "Warehouse": warehouse,
                "EntryDate": entry_date or self.today(),
                "MovementType": "I",
                "TrnType": trn_type,
                "TrnQty": quantity,
                "TrnValue": trn_value,
                "Reference": db_text(reference),
                "Notation": db_text(notation),
                "Journal": journal,
                "EntryNumber": entry_number,
            }
            self.movements.append(row)
            return row

    def add_purchase_order(
        self,
        supplier: str,
        lines: list[dict],
        *,
        warehouse: str = "",
        order_date: date | None = None,
        due_date: date | None = None,
        customer_po_number: str = "",
        status: str = "1",
        purchase_order: str | None = None,
    ) -> str:
        """Add a PO as a buyer would. Each line: StockCode, OrderQty, Price, optional Warehouse,
        LedgerCode, LatestDueDate, ReceivedQty."""
        with self.lock:
            if supplier not in self.suppliers:
                raise KeyError(f"supplier {supplier!r} not in ApSupplier")
            number = purchase_order or self.next_po_number()
            entry = order_date or self.today()
            header = {
                "PurchaseOrder": number,
                "Supplier": supplier,
                "OrderEntryDate": entry,
                "OrderDueDate": due_date or entry,
                "Warehouse": warehouse,
                "OrderStatus": status,
                "CustomerPoNumber": db_text(customer_po_number),
                "Branch": self.suppliers[supplier].get("Branch", ""),
            }
            details = []
            for index, line in enumerate(lines, start=1):
                code = line["StockCode"]
                details.append(
                    {
                        "PurchaseOrder": number,
                        "Line": index,
                        "MStockCode": code,
                        "MStockDes": self.stock_codes.get(code, {}).get("Description", ""),
                        "MWarehouse": line.get("Warehouse") or warehouse,
                        "MOrderQty": Decimal(line["OrderQty"]),
                        "MReceivedQty": Decimal(line.get("ReceivedQty", 0)),
                        "MPrice": Decimal(line.get("Price", 0)),
                        "MGlCode": line.get("LedgerCode", ""),
                        "MLatestDueDate": line.get("LatestDueDate") or header["OrderDueDate"],
                    }
                )
            # Line numbers are never reused, even after a line is deleted.
            self.purchase_orders[number] = {"header": header, "lines": details, "last_line": len(details)}
            return number

    # -- look-ups and counters ------------------------------------------------------------

    def find_purchase_order(self, raw: str) -> str | None:
        """PO keys are fixed width: ' 00001', '1' and '000001' name the same order."""
        key = raw.strip()
        with self.lock:
            if key in self.purchase_orders:
                return key
            if key.isdigit():
                for number in self.purchase_orders:
                    if number.isdigit() and int(number) == int(key):
                        return number
        return None

    def find_invoices(self, supplier: str, invoice: str) -> list[dict]:
        """A keyed read, as SYSPRO's: a scan of every AP invoice made each post cost O(invoices)."""
        with self.lock:
            rows = self.ap_invoices
            if len(rows) < self._keyed_rows:  # the list was cut (a test, a reset): key it again
                self._invoice_keys.clear()
                self._keyed_rows = 0
            for row in rows[self._keyed_rows:]:
                self._invoice_keys.setdefault((row["Supplier"], row["Invoice"]), []).append(row)
            self._keyed_rows = len(rows)
            return list(self._invoice_keys.get((supplier, invoice), ()))

    def open_sessions(self) -> int:
        with self.lock:
            return len(self.sessions)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "operators": len(self.operators),
                "suppliers": len(self.suppliers),
                "stock_codes": len(self.stock_codes),
                "warehouses": len(self.warehouses),
                "stock_levels": len(self.stock_levels),
                "gl_codes": len(self.gl_codes),
                "ap_invoices": len(self.ap_invoices),
                "ap_invoice_pays": len(self.ap_invoice_pays),
                "purchase_orders": len(self.purchase_orders),
                "movements": len(self.movements),
                "open_sessions": len(self.sessions),
                "post_count": self.post_count,
            }
