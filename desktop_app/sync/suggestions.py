"""Mapping suggestions from live data: proposals only, never applied."""
from __future__ import annotations

from desktop_app.core.db import ItemMapping, VendorMapping
from desktop_app.sync import code_lists
from desktop_app.sync.context import SyncContext
from desktop_app.sync.mappings import suggest


def suggestions_for(ctx: SyncContext, kind: str) -> list[dict]:
    lists = code_lists.refresh(ctx)
    if kind == "vendors":
        st = [(int(i), "", name) for i, name in lists.get("st_vendors", [])]
        already = {row.st_vendor_id for row in VendorMapping.select()}
        return suggest(st, [(x[0], x[1]) for x in lists.get("supplier", [])], already)
    if kind == "items":
        st = [(int(i), code, name) for i, code, name in lists.get("st_skus", [])]
        already = {row.st_sku_id for row in ItemMapping.select() if row.st_sku_id is not None}
        return suggest(st, [(x[0], x[1]) for x in lists.get("stock_code", [])], already)
    raise ValueError(f"no suggestions for {kind}")
