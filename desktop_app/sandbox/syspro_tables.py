"""The SYSPRO tables the simulator exposes (COMFND and OData), built from `SysproState`.

Column names follow docs/syspro-contract.md. Types drive comparisons, OData literals and CSDL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from desktop_app.sandbox.syspro_state import SysproState

STR, DEC, INT, DATE = "string", "decimal", "int", "date"


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]  # column → type, in display order


def _table(name: str, key: tuple[str, ...], columns: str, types: dict[str, str] | None = None) -> Table:
    types = types or {}
    return Table(name, key, {c: types.get(c, STR) for c in columns.split()})


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _table(
            "ApInvoice",
            ("Supplier", "Invoice", "DocumentType"),
            "Supplier Invoice DocumentType InvoiceDate PostDate DueDate Branch OrigInvValue OrigTaxValue "
            "Journal TrnYear TrnMonth Reference Notation MthInvBal1",
            {"InvoiceDate": DATE, "PostDate": DATE, "DueDate": DATE, "OrigInvValue": DEC,
             "OrigTaxValue": DEC, "Journal": INT, "TrnYear": INT, "TrnMonth": INT, "MthInvBal1": DEC},
        ),
        _table(
            "ApInvoicePay",
            ("Supplier", "Invoice", "Journal", "EntryNumber"),
            "Supplier Invoice TrnType TrnDate PostDate TrnValue Journal EntryNumber TrnYear TrnMonth Reference "
            "Notation",
            {"TrnDate": DATE, "PostDate": DATE, "TrnValue": DEC, "Journal": INT, "EntryNumber": INT, "TrnYear": INT,
             "TrnMonth": INT},
        ),
        _table(
            "ApSupplier",
            ("Supplier",),
            "Supplier SupplierName SupShortName Branch Currency TermsCode OnHold Telephone Email "
            "SupAddr1 SupAddr2 SupAddr3 SupAddr4 SupAddr5 SupPostalCode SupplierClass",
        ),
        _table("InvMaster", ("StockCode",), "StockCode Description StockUom Decimals ProductClass Supplier",
               {"Decimals": INT}),
        _table("InvWarehouse", ("StockCode", "Warehouse"), "StockCode Warehouse QtyOnHand", {"QtyOnHand": DEC}),
        _table("InvWhControl", ("Warehouse",), "Warehouse Description Branch"),
        _table("GenMaster", ("GlCode",), "GlCode Description AccountType"),
        _table(
            "PorMasterHdr",
            ("PurchaseOrder",),
            "PurchaseOrder Supplier OrderEntryDate OrderDueDate Warehouse OrderStatus CustomerPoNumber Branch",
            {"OrderEntryDate": DATE, "OrderDueDate": DATE},
        ),
        _table(
            "PorMasterDetail",
            ("PurchaseOrder", "Line"),
            "PurchaseOrder Line MStockCode MStockDes MWarehouse MOrderQty MReceivedQty MPrice MGlCode",
            {"Line": INT, "MOrderQty": DEC, "MReceivedQty": DEC, "MPrice": DEC},
        ),
        _table(
            "InvMovements",
            ("StockCode", "Warehouse", "Journal", "EntryNumber"),
            "StockCode Warehouse EntryDate MovementType TrnType TrnQty TrnValue Reference Notation "
            "Journal EntryNumber",
            {"EntryDate": DATE, "TrnQty": DEC, "TrnValue": DEC, "Journal": INT, "EntryNumber": INT},
        ),
    )
}


def table_rows(state: SysproState, name: str) -> list[dict]:
    """A snapshot of one table's rows (copies, safe to use after the lock is released)."""
    table = TABLES[name]
    with state.lock:
        if name == "ApInvoice":
            raw = list(state.ap_invoices)
        elif name == "ApInvoicePay":
            raw = list(state.ap_invoice_pays)
        elif name == "ApSupplier":
            raw = [{"Supplier": code, **row} for code, row in state.suppliers.items()]
        elif name == "InvMaster":
            raw = [{"StockCode": code, **row} for code, row in state.stock_codes.items()]
        elif name == "InvWarehouse":
            raw = [{"StockCode": s, "Warehouse": w, "QtyOnHand": q} for (s, w), q in state.stock_levels.items()]
        elif name == "InvWhControl":
            raw = [{"Warehouse": code, **row} for code, row in state.warehouses.items()]
        elif name == "GenMaster":
            raw = [{"GlCode": code, **row} for code, row in state.gl_codes.items()]
        elif name == "PorMasterHdr":
            raw = [po["header"] for po in state.purchase_orders.values()]
        elif name == "PorMasterDetail":
            raw = [line for po in state.purchase_orders.values() for line in po["lines"]]
        else:
            raw = list(state.movements)
        return [{c: _typed(row.get(c), t) for c, t in table.columns.items()} for row in raw]


class Broken(str):
    """A value a test puts in a row as it is, whatever the column's type (text where a number
    belongs): what a damaged row or a site's custom view can carry, for the tests that check the
    engine holds what it belongs to and goes on."""


def _typed(value: object, kind: str) -> object:
    if isinstance(value, Broken):
        return str(value)
    if value is None:
        return None if kind == DATE else ("" if kind == STR else Decimal(0) if kind == DEC else 0)
    if kind == DEC:
        return Decimal(value)  # type: ignore[arg-type]
    if kind == INT:
        return int(value)  # type: ignore[arg-type]
    if kind == DATE:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    return str(value)
