"""Cached lists of SYSPRO codes (suppliers, stock codes, GL codes, branches, warehouses) and
ServiceTitan names, for the mapping grids' completion and for suggestions.

Refreshed by a job (it needs the network); read from a JSON file in the data directory, so the
grids never wait for SYSPRO.
"""
from __future__ import annotations

import json
import os

from desktop_app.core import paths
from desktop_app.sync import pricebook
from desktop_app.sync.context import SyncContext

FILE = "code-lists.json"


def refresh(ctx: SyncContext) -> dict[str, list[list[str]]]:
    odata = ctx.odata
    lists: dict[str, list[list[str]]] = {}
    if odata is not None:
        lists["supplier"] = sorted([r["Supplier"], r.get("SupplierName") or ""] for r in odata.rows("ApSupplier"))
        lists["stock_code"] = sorted([r["StockCode"], r.get("Description") or ""] for r in odata.rows("InvMaster"))
        lists["gl_code"] = sorted([r["GlCode"], r.get("Description") or ""] for r in odata.rows("GenMaster"))
        warehouses = list(odata.rows("InvWhControl"))
        lists["warehouse"] = sorted([r["Warehouse"], r.get("Description") or ""] for r in warehouses)
        branches = sorted({(r.get("Branch") or "").strip() for r in warehouses} - {""})
        lists["branch"] = [[b, ""] for b in branches]
    st = ctx.st
    lists["st_vendors"] = sorted([str(v.id), v.name or ""] for v in st.vendors())
    # the stored pricebook brought up to date from its feeds: a few requests however large it is
    lists["st_skus"] = sorted([str(s.id), s.code, s.name] for s in pricebook.load_skus(ctx).values())
    lists["st_business_units"] = sorted([str(b.id), b.name or ""] for b in st.business_units())
    save(lists)
    return lists


def save(lists: dict) -> None:
    target = paths.data_dir() / FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(lists, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)


def load() -> dict[str, list[list[str]]]:
    target = paths.data_dir() / FILE
    if not target.exists():
        return {}
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
