"""Query business objects: COMFND, INVQRY, PORQRY, APSQRY, and Query/Browse (COMBRW), Query/Fetch (COMFCH).

Shapes imitate the recorded answers in reference/syspro/samples (COMFND-, INVQRY-, PORQRY-XmlOut):
mixed-case element names, raw numbers space-padded, `Edited_`/`Unedited_` twins.
The APSQRY answer shape is the simulator's own (no recorded sample exists).
Every function runs with `state.lock` held by the caller.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from lxml import etree

from desktop_app.sandbox.syspro_postings import BoException
from desktop_app.sandbox.syspro_state import SysproState
from desktop_app.sandbox.syspro_tables import DATE, DEC, INT, TABLES, table_rows
from desktop_app.sandbox.syspro_xml import (
    E,
    child,
    children,
    edited,
    el,
    padded,
    parse_date,
    parse_decimal,
    text,
    xml_out,
)

PO_STATUS = {"0": "In process", "1": "Open order", "4": "Printed", "9": "Complete", "*": "Cancelled"}
CONDITIONS: dict[str, Callable[[object, object], bool]] = {
    "EQ": lambda a, b: a == b,
    "NE": lambda a, b: a != b,
    "GT": lambda a, b: a > b,  # type: ignore[operator]
    "LT": lambda a, b: a < b,  # type: ignore[operator]
    "GE": lambda a, b: a >= b,  # type: ignore[operator]
    "LE": lambda a, b: a <= b,  # type: ignore[operator]
}


def _key(query: etree._Element | None, name: str) -> str:
    value = text(child(query, "Key"), name)
    if not value:
        raise BoException(f"The key element '{name}' must be supplied")
    return value


# -- COMFND ----------------------------------------------------------------------------------


def comfnd(state: SysproState, query: etree._Element | None) -> bytes:
    name = text(query, "TableName")
    table = next((t for t in TABLES.values() if t.name.lower() == name.lower()), None)
    if table is None:
        raise BoException(f"Table '{name}' is not available to COMFND")

    def column(raw: str) -> str:
        found = next((c for c in table.columns if c.lower() == raw.strip().lower()), None)
        if found is None:
            raise BoException(f"Column '{raw.strip()}' not found in table '{table.name}'")
        return found

    columns = [column(c.text or "") for c in children(child(query, "Columns"), "Column")] or list(table.columns)
    order_by = [column(c.text or "") for c in children(child(query, "OrderBy"), "Column")]
    predicate = _where(table, column, child(query, "Where"))
    rows = [r for r in table_rows(state, table.name) if predicate(r)]
    for col in reversed(order_by):
        rows.sort(key=lambda r, c=col: (r[c] is None, r[c]))
    limit = parse_decimal(text(query, "ReturnRows"))
    if limit:
        rows = rows[: int(limit)]

    header = el("HeaderDetails", el("TableName", table.name), el("Columns", *[el("Column", c) for c in columns]))
    if order_by:
        header.add(el("OrderBy", *[el("Column", c) for c in order_by]))
    root = E(table.name).add(header)
    for row in rows:
        root.add(el("Row", *[el(c, row[c]) for c in columns]))
    root.add(el("RowsReturned", f"{len(rows):>8d}"))
    return xml_out(root)


def _where(table, column, where: etree._Element | None) -> Callable[[dict], bool]:
    """Turn the <Expression> list into a predicate; AND binds tighter than OR, brackets nest."""
    tokens: list[object] = []
    for index, expr in enumerate(children(where, "Expression")):
        if index:
            tokens.append(text(expr, "AndOr", "And").upper())
        tokens.extend("(" for _ in text(expr, "OpenBracket") if _ == "(")
        tokens.append(_comparison(table, column(text(expr, "Column")), text(expr, "Condition", "EQ").upper(),
                                  (child(expr, "Value").text or "") if child(expr, "Value") is not None else ""))
        tokens.extend(")" for _ in text(expr, "CloseBracket") if _ == ")")
    if not tokens:
        return lambda row: True
    if tokens.count("(") != tokens.count(")"):
        raise BoException("Unbalanced brackets in the Where expressions")

    def evaluate(row: dict) -> bool:
        pos = 0

        def disjunction() -> bool:
            nonlocal pos
            result = conjunction()
            while pos < len(tokens) and tokens[pos] == "OR":
                pos += 1
                result = conjunction() or result
            return result

        def conjunction() -> bool:
            nonlocal pos
            result = primary()
            while pos < len(tokens) and tokens[pos] == "AND":
                pos += 1
                result = primary() and result
            return result

        def primary() -> bool:
            nonlocal pos
            token = tokens[pos]
            pos += 1
            if token == "(":
                result = disjunction()
                pos += 1  # the ")"
                return result
            if callable(token):
                return token(row)
            raise BoException(f"Unexpected '{token}' in the Where expressions")

        return disjunction()

    return evaluate


def _comparison(table, col: str, condition: str, raw: str) -> Callable[[dict], bool]:
    if condition not in CONDITIONS:
        raise BoException(f"Condition '{condition}' is not supported")
    kind = table.columns[col]
    value: object
    if kind == DEC or kind == INT:
        value = parse_decimal(raw)
    elif kind == DATE:
        value = parse_date(raw)
    else:
        value = raw.rstrip()
    if value is None:
        raise BoException(f"'{raw}' is not a valid value for column '{col}'")
    compare = CONDITIONS[condition]

    def test(row: dict) -> bool:
        cell = row[col]
        if cell is None:
            return condition == "NE"
        return compare(cell.rstrip() if isinstance(cell, str) else cell, value)

    return test


# -- COMFCH and COMBRW (Query/Fetch, Query/Browse) --------------------------------------------

DATA_TYPES = {DEC: "Numeric", INT: "Numeric", DATE: "Date"}


def _table_named(name: str):
    table = next((t for t in TABLES.values() if t.name.lower() == name.strip().lower()), None)
    if table is None:
        raise BoException(f"Table '{name.strip()}' is not available")
    return table


def _cell(value: object, kind: str) -> object:
    if kind == DEC:
        return padded(value)  # type: ignore[arg-type]
    if kind == INT:
        return f"{value:>10d}"
    return value if value is not None else "0000-00-00"  # type: ignore[return-value]


def comfch(state: SysproState, fetch: etree._Element | None) -> bytes:
    """One row by its key, every column as a child of a root named after the table (the recorded
    InvMaster fetch); a table keyed on several columns takes them joined, as SYSPRO's index key is."""
    table = _table_named(text(fetch, "TableName"))
    raw = child(fetch, "Key").text if child(fetch, "Key") is not None else ""
    key = (raw or "").strip()
    if not key:
        raise BoException("The key must be supplied")
    row = next((r for r in table_rows(state, table.name)
                if "".join(str(r[k]).strip() for k in table.key) == key), None)
    if row is None:
        raise BoException(f"Key '{key}' not found in table '{table.name}'")
    root = E(table.name)
    for column, kind in table.columns.items():
        root.add(el(column, _cell(row[column], kind)))
    return xml_out(root)


def combrw(state: SysproState, browse: etree._Element | None) -> bytes:
    """Rows of a browse from `StartAtKey`, `ReturnRows` at a time, each column as Value/DataType.
    A site names its browses; here the name is the table's, or ends with it ("LabbeeInvWhControl")."""
    name = text(browse, "BrowseName")
    table = next((t for t in TABLES.values() if name.lower().endswith(t.name.lower())), None) if name else None
    if table is None:
        raise BoException(f"Browse '{name}' is not defined")
    key_of = lambda r: "".join(str(r[k]).strip() for k in table.key)  # noqa: E731
    rows = sorted(table_rows(state, table.name), key=key_of)
    start = text(browse, "StartAtKey")
    if start:
        rows = [r for r in rows if key_of(r) >= start]
    limit = int(parse_decimal(text(browse, "ReturnRows", "30")) or 30)
    page = rows[:limit]
    root = E(table.name).add(el("Title", table.name))
    for row in page:
        root.add(el("Row", *[el(c, el("Value", _cell(row[c], kind)),
                                el("DataType", DATA_TYPES.get(kind, "AlphaNumeric")))
                             for c, kind in table.columns.items()]))
    root.add(el("NextPrevKey", el("PrevKey", key_of(page[0]) if page else ""),
                el("NextKey", key_of(page[-1]) if page else ""),
                el("Fwd", "True" if len(rows) > limit else "False"), el("Back", "True" if start else "False")))
    root.add(el("HeaderDetails", *[el("Header", c) for c in table.columns], el("Key", "".join(table.key)),
                el("Table", table.name)))
    return xml_out(root)


# -- INVQRY ----------------------------------------------------------------------------------


def invqry(state: SysproState, query: etree._Element | None) -> bytes:
    stock_code = _key(query, "StockCode")
    item = state.stock_codes.get(stock_code)
    if item is None:
        raise BoException(f"Stock code '{stock_code}' not found")
    decimals = int(item.get("Decimals") or 0)
    wanted = _warehouse_filter(child(child(query, "Filter"), "Warehouse"))
    root = E("InvQuery").add(el(
        "StockItem",
        el("StockCode", stock_code),
        el("Description", item.get("Description", "")),
        el("Decimals", f"{decimals:>15d}"),
        el("StockUom", item.get("StockUom", "")),
        el("Supplier", item.get("Supplier", "")),
        el("ProductClass", item.get("ProductClass", "")),
    ))
    total = Decimal(0)
    for (code, warehouse), qty in sorted(state.stock_levels.items()):
        if code != stock_code or not wanted(warehouse):
            continue
        total += qty
        root.add(el("WarehouseItem", el("Warehouse", warehouse),
                    el("Description", state.warehouses.get(warehouse, {}).get("Description", "")),
                    *_quantity("QtyOnHand", qty, decimals), *_quantity("AvailableQty", qty, decimals)))
    root.add(el("WarehouseTotals", *_quantity("QtyOnHand", total, decimals),
                *_quantity("AvailableQty", total, decimals)))
    return xml_out(root)


def _quantity(name: str, value: Decimal, decimals: int) -> list[E]:
    return [el(name, padded(value)), el(f"Edited_{name}", edited(value, decimals))]


def _warehouse_filter(node: etree._Element | None) -> Callable[[str], bool]:
    if node is None:
        return lambda w: True
    kind = (node.get("FilterType") or "A").upper()
    values = [v.strip() for v in (node.get("FilterValue") or "").split(",") if v.strip()]
    if kind in ("S", "L") and values:
        return lambda w: w in values
    if kind == "R" and values:
        low, high = values[0], values[-1]
        return lambda w: low <= w <= high
    return lambda w: True


# -- PORQRY ----------------------------------------------------------------------------------


def porqry(state: SysproState, query: etree._Element | None) -> bytes:
    raw = _key(query, "PurchaseOrder")
    number = state.find_purchase_order(raw)
    if number is None:
        raise BoException(f"Purchase order '{raw}' not found")
    po = state.purchase_orders[number]
    header = po["header"]
    supplier = state.suppliers.get(header["Supplier"], {})
    root = E("PorDetail").add(
        el("PurchaseOrder", number),
        el("Supplier", header["Supplier"]),
        el("SupplierName", supplier.get("SupplierName", "")),
        el("CustomerPoNumber", header["CustomerPoNumber"]),
        el("OrderStatus", header["OrderStatus"]),
        el("OrderStatusDescription", PO_STATUS.get(header["OrderStatus"], "")),
        el("Warehouse", header["Warehouse"]),
        el("WarehouseDesc", state.warehouses.get(header["Warehouse"], {}).get("Description", "")),
        el("OrderEntryDate", header["OrderEntryDate"]),
        el("OrderDueDate", header["OrderDueDate"]),
    )
    for line in po["lines"]:
        outstanding = line["MOrderQty"] - line["MReceivedQty"]
        root.add(el("PurchaseOrderLine", el(
            "Merchandise",
            el("Line", line["Line"]),
            el("LineType", 1),
            el("LineTypeDescription", "Stocked line"),
            el("MStockCode", line["MStockCode"]),
            el("MStockDes", line["MStockDes"]),
            el("MWarehouse", line["MWarehouse"]),
            el("MOutstandingQty", edited(outstanding, 3)),
            el("Unedited_MOutstandingQty", padded(outstanding)),
            el("MOrderQty", edited(line["MOrderQty"], 3)),
            el("Unedited_MOrderQty", padded(line["MOrderQty"])),
            el("MReceivedQty", edited(line["MReceivedQty"], 3)),
            el("Unedited_MReceivedQty", padded(line["MReceivedQty"])),
            el("MPrice", f"{line['MPrice']:.5f}"),
            el("MLatestDueDate", line.get("MLatestDueDate")),
            el("MGlCode", line["MGlCode"]),
        )))
    return xml_out(root)


# -- APSQRY ----------------------------------------------------------------------------------


def apsqry(state: SysproState, query: etree._Element | None) -> bytes:
    supplier = _key(query, "Supplier")
    row = state.suppliers.get(supplier)
    if row is None:
        raise BoException(f"Supplier '{supplier}' not found")
    option = child(query, "Option")
    include = (text(option, "IncludeInvoices") or text(child(query, "Key"), "IncludeInvoices") or "Y").upper()
    payments = (text(option, "IncludeInvoicePayments") or "N").upper() == "Y"
    root = E("SupplierQuery").add(el("Supplier", supplier), *[el(k, v) for k, v in row.items()])
    if include == "Y":
        for invoice in state.ap_invoices:
            if invoice["Supplier"] != supplier:
                continue
            item = el(
                "InvoiceItem",
                el("Invoice", invoice["Invoice"]),
                el("DocumentType", invoice["DocumentType"]),
                el("InvoiceDate", invoice["InvoiceDate"]),
                el("DueDate", invoice["DueDate"]),
                el("Journal", invoice.get("Journal", 0)),
                el("OrigInvValue", edited(invoice["OrigInvValue"], 2)),
                el("Unedited_OrigInvValue", padded(invoice["OrigInvValue"], 2, 16)),
                el("Reference", invoice.get("Reference", "")),
            )
            if payments:  # the invoice's ApInvoicePay transactions: payments, credit notes applied to it
                for trn in state.ap_invoice_pays:
                    if (trn["Supplier"], trn["Invoice"]) == (supplier, invoice["Invoice"]):
                        item.add(el("Payment", el("TrnType", trn["TrnType"]), el("TrnDate", trn["TrnDate"]),
                                    el("TrnValue", edited(trn["TrnValue"], 2)), el("Journal", trn["Journal"]),
                                    el("PaymentReference", trn["Reference"])))
            root.add(item)
    return xml_out(root)
