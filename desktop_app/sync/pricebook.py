"""The pricebook SKUs the invoice flow maps through, kept in the ledger database and brought up to date
from ServiceTitan's export feeds (`export/materials`, `export/equipment`) in each cycle that needs them.

Why: listing the whole pricebook every cycle costs one request per 500 SKUs and decodes every SKU,
and pricebooks with vendor catalogues hold tens of thousands. The feeds give what changed since the
stored continuation token: after the first full read, a cycle makes one request per feed. They are
read with `includeRecentChanges=true`, so a change made minutes ago counts now rather than after
ServiceTitan's 15-minute export delay; the records that option may repeat are stored again, which
changes nothing. The feeds carry inactive SKUs too: an old invoice may still name one.

A page's rows and the feed's token are stored in one transaction, as the invoice feed's are: a
crash loses nothing, and the next cycle continues from the last stored page. A dry run reads the
feeds from the stored tokens too but stores nothing ("no cursor moves").
"""
from __future__ import annotations

from desktop_app.core.db import PricebookSku, SyncCursor, database, set_cursor
from desktop_app.sync.build import Sku
from desktop_app.sync.context import SyncContext

# SKU kind -> the cursor holding its feed's continuation token
FEEDS = {"material": "pricebook.materials", "equipment": "pricebook.equipment"}
ROWS_PER_STATEMENT = 500  # SQLite's default limit is 32,766 variables; a row has 8


def load_skus(ctx: SyncContext) -> dict[int, Sku]:
    """Every stored material and equipment SKU, with the feeds' changes since the last cycle applied."""
    skus = {sku_id: Sku(id=sku_id, code=code, name=name, vendor_id=vendor_id, vendor_name=vendor_name)
            for sku_id, code, name, vendor_id, vendor_name in PricebookSku.select(
                PricebookSku.id, PricebookSku.code, PricebookSku.name, PricebookSku.vendor_id,
                PricebookSku.vendor_name).tuples()}
    for kind, cursor_name in FEEDS.items():
        cursor = SyncCursor.get_or_none(SyncCursor.name == cursor_name)
        feed = ctx.st.export_materials if kind == "material" else ctx.st.export_equipment
        for page in feed(cursor.value if cursor else None, include_recent_changes=True):
            rows = [_row(sku, kind) for sku in page.records]
            for row in rows:
                skus[row["id"]] = Sku(id=row["id"], code=row["code"], name=row["name"], vendor_id=row["vendor_id"],
                                      vendor_name=row["vendor_name"])
            if not ctx.dry_run:
                with database.atomic():
                    for start in range(0, len(rows), ROWS_PER_STATEMENT):
                        PricebookSku.replace_many(rows[start:start + ROWS_PER_STATEMENT]).execute()
                    if page.continue_from:
                        set_cursor(cursor_name, page.continue_from)
    return skus


def _row(sku, kind: str) -> dict:
    vendor = sku.primary_vendor
    return {"id": sku.id, "kind": kind, "code": sku.code or "", "name": sku.display_name or "",
            "vendor_id": vendor.vendor_id if vendor else None,
            "vendor_name": (vendor.vendor_name or "") if vendor else "",
            "active": bool(sku.active), "modified_on": sku.modified_on.isoformat() if sku.modified_on else ""}
