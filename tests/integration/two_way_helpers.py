"""Shared by the two-way flow tests: run a cycle, count write requests in the simulators' logs."""
from __future__ import annotations

from decimal import Decimal

from desktop_app.core import config
from desktop_app.core.models import SyncLink
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle


def cycle(flow: str | None = None, actor: str = "scheduler"):
    ctx = SyncContext.from_database(actor=actor)
    try:
        result = run_cycle(ctx, flow)
    finally:
        ctx.close()
    assert not result.errors, result.errors
    return result


class Writes:
    """Write requests (ServiceTitan POST/PATCH, SYSPRO Setup/Transaction) made after `mark()`."""

    def __init__(self, box):
        self.box = box
        self.mark()

    def mark(self) -> None:
        self.st_from = len(self.box.st.request_log)
        self.sp_from = len(self.box.syspro.request_log)

    def servicetitan(self) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in list(self.box.st.request_log)[self.st_from:]
                if r["method"] != "GET" and r["path"] != "/connect/token"]

    def syspro(self) -> list[tuple[str, str]]:
        return [(path, params.get("BusinessObject", ""))
                for _m, path, params, _s in self.box.syspro.request_log[self.sp_from:]
                if "/Setup/" in path or "/Transaction/" in path]

    def all(self) -> list:
        return self.servicetitan() + self.syspro()


def link(flow: str, **where) -> SyncLink:
    query = SyncLink.select().where(SyncLink.flow == flow)
    for name, value in where.items():
        query = query.where(getattr(SyncLink, name) == value)
    return query.get()


def set_policy(value: str) -> None:
    config.save_setting("sync.conflict_policy", value, actor="test")


def edit_st_quantity(box, po_id: int, quantity) -> None:
    """ServiceTitan's PO `po_id` edited: its first line's quantity is now `quantity`."""
    po = box.company.st.purchase_orders[po_id]
    items = [{"id": i["id"], "skuId": i["skuId"], "description": i["description"],
              "vendorPartNumber": i.get("vendorPartNumber") or "", "quantity": i["quantity"], "cost": i["cost"]}
             for i in sorted(po["items"], key=lambda i: i["id"])]
    items[0]["quantity"] = Decimal(quantity)
    box.company.st.update_purchase_order(po_id, {"items": items})
