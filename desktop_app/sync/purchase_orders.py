"""Purchase orders, both ways (docs/architecture.md §1).

ServiceTitan → SYSPRO: POs from the export feed (token stored with the page) become PORTOI adds;
supplier from the vendor mapping, warehouse from the warehouse mapping of inventoryLocationId,
stock codes from the item mapping. Idempotency key: CustomerPoNumber = "ST" + PO number, looked up
in PorMasterHdr before any re-send of a PO whose earlier outcome is unknown.

SYSPRO → ServiceTitan: POs in PorMasterHdr/PorMasterDetail that did not come from us become
POST purchase-orders, with vendor, business unit, inventory location and SKUs from the mappings
read backwards. Marker: the ServiceTitan PO's memo (returned as `summary`) is "SYSPRO PO <number>";
before re-creating after an unknown outcome, POs modified since the attempt are listed and the
marker searched, and the export feed recognises the marker too, so a lost link is found again.

Linked POs: line quantity/price edits, added/removed lines and cancellation go to SYSPRO (PORTOI
change/cancel); quantity/price edits and removed lines go to ServiceTitan (PATCH with every kept
item). What the ServiceTitan API cannot do is not faked: PO status is not writable (a SYSPRO
cancellation is HELD for a person), received/exported POs cannot be edited, lines cannot be added
by PATCH. Changed on both sides → CONFLICT (sync.conflict_policy, or a person decides).

A PO from SYSPRO goes to the supplier's primary ServiceTitan vendor (vendors.primary_vendor), to the
business unit of its branch, else of its warehouse's branch, else sync.po_business_unit. More new
POs than sync.max_auto_create in one cycle wait for a person's approval (records.CreationGate).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from desktop_app.core.db import (
    BranchMapping,
    ItemMapping,
    SyncCursor,
    SyncLink,
    VendorMapping,
    WarehouseMapping,
    database,
    set_cursor,
)
from desktop_app.servicetitan.errors import ServiceTitanApiError
from desktop_app.servicetitan.models import UnreadableRecord
from desktop_app.sync import dates, links, protocol, records
from desktop_app.sync import vendors as vendor_flow
from desktop_app.sync.batch_posts import PostQueue
from desktop_app.sync.context import SyncContext
from desktop_app.sync.records import (
    CONFLICT,
    FAILED,
    HELD,
    IN_DOUBT,
    READY,
    SKIPPED,
    SYNCED,
    SYNCING,
    WAITING,
    FlowSummary,
    LazySession,
)
from desktop_app.syspro import contract
from desktop_app.syspro import purchase_orders as portoi
from desktop_app.syspro.errors import ValidationError
from desktop_app.syspro.records import PoDetailRecord, PoHeaderRecord, UnreadableRow, readable_rows

log = logging.getLogger("desktop_app.sync.purchase_orders")

FLOW = "purchase-orders"
SYSPRO_UNREADABLE = "syspro_unreadable"  # in link.data: held for a SYSPRO row that cannot be read
CURSOR = "purchase-orders.export"
PREFIX = "ST"
MARKER = "SYSPRO PO {number}"
MARKER_RE = re.compile(r"^SYSPRO PO (\S+)$")
NOT_EDITABLE = ("Exported", "Received", "Canceled")


def customer_po(st_number: str) -> str:
    return (PREFIX + str(st_number))[:contract.MAX_LENGTH["CustomerPoNumber"]]


def st_view(raw: dict) -> dict:
    items = sorted((i for i in raw.get("items") or [] if i.get("status") != "Inactive"), key=lambda i: int(i["id"]))
    return {"vendor": raw.get("vendorId"), "location": raw.get("inventoryLocationId"),
            "cancelled": raw.get("status") == "Canceled",
            "lines": [{"item": int(i["id"]), "sku": i.get("skuId"), "qty": links.number(i.get("quantity")),
                       "cost": links.number(i.get("cost"))} for i in items]}


def syspro_view(header: PoHeaderRecord, details: list[PoDetailRecord]) -> dict:
    return {"supplier": header.supplier, "warehouse": header.warehouse, "cancelled": header.order_status == "*",
            "lines": [{"line": d.line, "stock": d.stock_code, "qty": links.number(d.order_qty),
                       "price": links.number(d.price)} for d in sorted(details, key=lambda d: d.line or 0)]}


class PoSync(records.FeedSync):
    FLOW, NOUN = FLOW, "purchase orders"

    def __init__(self, ctx: SyncContext, session: LazySession, summary: FlowSummary):
        super().__init__(ctx, session, summary)
        self.headers: dict[str, PoHeaderRecord] = {}
        self.details: dict[str, list[PoDetailRecord]] = {}
        self._warehouses: dict[int, dict] | None = None
        self._warehouse_branches: dict[str, str] = {}
        self.syspro_unreadable: dict[str, str] = {}  # SYSPRO PO number → what cannot be read in its rows
        # new POs for SYSPRO, posted several to a PORTOI call (`batch_posts`) after each pass
        self.adds = PostQueue(ctx, session, summary, business_object=portoi.BUSINESS_OBJECT,
                              parameters=lambda count: portoi.build_parameters(validate_only=False),
                              parse=portoi.parse_result, noun="order")

    def local_date(self, value) -> dt.date | None:
        """A ServiceTitan timestamp as the office's date (sync.timezone)."""
        return dates.accounting_date(value, self.ctx.settings["sync.timezone"])

    # ------------------------------------------------------------------ reading
    def discover(self) -> int:
        """ServiceTitan's changes since the feed's token, stored; how many records the feed sent."""
        received = 0
        dates.reopen_skipped_for_date(self.ctx, FLOW, CURSOR)
        cursor = SyncCursor.get_or_none(SyncCursor.name == CURSOR)
        start = self.ctx.settings["sync.start_date"]
        since = cursor.value if cursor else (start.isoformat() if start else None)
        for page in self.ctx.st.export_purchase_orders(since):
            received += len(page.records)
            with database.atomic():
                for po in page.records:
                    if isinstance(po, UnreadableRecord):
                        records.hold_unreadable(FLOW, po, actor=self.actor, summary=self.summary)
                        continue
                    self.store_st(po.raw)
                if page.continue_from:
                    set_cursor(CURSOR, page.continue_from)
            self.ctx.check_cancelled()
            if not page.has_more:
                break
        return received

    def store_st(self, raw: dict) -> None:
        po_id = int(raw["id"])
        link = links.by_st(FLOW, po_id)
        found = MARKER_RE.match(str(raw.get("summary") or "").strip())
        if link is None and found:
            mine = links.by_syspro(FLOW, found.group(1))
            if mine is not None and mine.st_id is None:
                # created by us from SYSPRO; the link lost the id (stopped mid-write): found again here
                records.record(mine, "found", f"ServiceTitan PO {raw.get('number')} carries '{raw.get('summary')}': "
                               "the earlier create went through. Not sent again.", actor=self.actor)
                mine.st_id, mine.st_current = po_id, raw
                mine.save()
                return
        if link is None:
            records.new_link(FLOW, state=READY, kind="discovered", message=f"ServiceTitan PO {raw.get('number')} "
                             "found", actor=self.actor, st_id=po_id, label=str(raw.get("number") or po_id),
                             origin="servicetitan", st_current=raw,
                             data={"customer_po": customer_po(str(raw.get("number") or po_id))})
            return
        link.st_current = raw
        if records.readable_again(link):
            records.record(link, "readable", f"ServiceTitan PO {raw.get('number')} can be read again",
                           actor=self.actor)
        if link.syspro_key is None and link.state in (HELD, SKIPPED, FAILED) and \
                links.view_hash(st_view(raw)) != link.st_hash:
            link.state = READY  # edited in ServiceTitan: evaluated again
        link.save()

    def read_syspro(self) -> None:
        start = self.ctx.settings["sync.start_date"]
        bad: list[UnreadableRow] = []
        rows: Iterable[PoDetailRecord]
        if self.ctx.odata is not None:
            # SYSPRO's history before go-live is not the connector's: only POs entered since, and the
            # older ones a record already links (found while the go-live date was earlier)
            self.headers = {h.purchase_order: h for h in self.ctx.odata.po_headers(since=start)}
            linked = {link.syspro_key for link in SyncLink.select().where(SyncLink.flow == FLOW,
                                                                       SyncLink.syspro_key.is_null(False))}
            self.headers.update((h.purchase_order, h) for h in
                                self.ctx.odata.po_headers_numbered(sorted(linked - set(self.headers))))
            wanted = {h.purchase_order for h in self.headers.values() if not start or not h.order_entry_date
                      or h.order_entry_date >= start} | linked
            rows = self.ctx.odata.po_details(sorted(n for n in wanted if n in self.headers))
        else:
            self.headers = {h.purchase_order: h for h in readable_rows("PorMasterHdr", links.syspro_rows(
                self.ctx, self.session, "PorMasterHdr", contract.ODATA_ENTITIES["PorMasterHdr"], [], limit=100000),
                PoHeaderRecord, bad)}
            rows = readable_rows("PorMasterDetail", links.syspro_rows(
                self.ctx, self.session, "PorMasterDetail", contract.ODATA_ENTITIES["PorMasterDetail"], [],
                limit=100000), PoDetailRecord, bad)
        self.details = {}
        for row in rows:
            self.details.setdefault(row.purchase_order, []).append(row)
        if self.ctx.odata is not None:
            bad += self.ctx.odata.take_unreadable("PorMasterHdr") + self.ctx.odata.take_unreadable("PorMasterDetail")
        self.hold_unreadable_rows(bad)

    def hold_unreadable_rows(self, bad: list[UnreadableRow]) -> None:
        """A SYSPRO PO with a row that cannot be read is left out of this cycle whole (a line read
        without it would look deleted): its link is HELD naming the column and value. One whose rows
        read again is evaluated as usual."""
        self.syspro_unreadable = {}
        for row in bad:
            number = row.key.get("PurchaseOrder")
            if number:
                self.syspro_unreadable.setdefault(number, row.sentence())
            else:
                self.summary.problems.append(row.sentence())
        for number, sentence in self.syspro_unreadable.items():
            self.headers.pop(number, None)
            self.details.pop(number, None)
            reason = (f"{sentence}. Nothing of SYSPRO PO {number} is synced until it can be read: correct it in "
                      "SYSPRO.")
            link = links.by_syspro(FLOW, number)
            self.summary.held += 1
            if link is None:
                self.summary.problems.append(reason)
            elif link.state not in (SYNCING, IN_DOUBT) and (link.state != HELD or link.reason != reason):
                protocol.wait_for_person(records.LEDGER, link, reason, actor=self.actor, kind="unreadable",
                                         data={**(link.data or {}), SYSPRO_UNREADABLE: True})
        for link in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.syspro_key.is_null(False)):
            if (link.data or {}).get(SYSPRO_UNREADABLE) and link.syspro_key not in self.syspro_unreadable:
                records.transition(link, READY, "readable", f"SYSPRO PO {link.syspro_key} can be read again",
                                   actor=self.actor, reason="",
                                   data={k: v for k, v in link.data.items() if k != SYSPRO_UNREADABLE})

    def read_one(self, number: str) -> dict | None:
        rows = links.syspro_rows(self.ctx, self.session, "PorMasterHdr", contract.ODATA_ENTITIES["PorMasterHdr"],
                                 [("PurchaseOrder", number)], limit=5)
        if not rows:
            return None
        header = PoHeaderRecord.from_row(rows[0])
        details = [PoDetailRecord.from_row(r) for r in links.syspro_rows(
            self.ctx, self.session, "PorMasterDetail", contract.ODATA_ENTITIES["PorMasterDetail"],
            [("PurchaseOrder", number)])]
        self.headers[number], self.details[number] = header, details
        return syspro_view(header, details)

    def find_by_customer_po(self, reference: str) -> str | None:
        rows = links.syspro_rows(self.ctx, self.session, "PorMasterHdr", contract.ODATA_ENTITIES["PorMasterHdr"],
                                 [("CustomerPoNumber", reference)], limit=5)
        return PoHeaderRecord.from_row(rows[0]).purchase_order if rows else None

    # ------------------------------------------------------------------ the cycle
    def reconcile(self) -> None:
        self.read_syspro()
        for link in list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.syspro_key.is_null(),
                                                 SyncLink.st_id.is_null(False),
                                                 SyncLink.state.in_([READY, IN_DOUBT, HELD, WAITING]))
                         .order_by(SyncLink.id)):
            self.ctx.check_cancelled()
            self.one(link, self.new_st_po)
        self.adds.flush()
        for link in list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.st_id.is_null(False),
                                                 SyncLink.syspro_key.is_null(False)).order_by(SyncLink.id)):
            self.ctx.check_cancelled()
            self.one(link, self.pair)
        ours = {(link.data or {}).get("customer_po") for link in SyncLink.select().where(SyncLink.flow == FLOW)}
        start = self.ctx.settings["sync.start_date"]
        for number, header in sorted(self.headers.items()):
            link = links.by_syspro(FLOW, number)
            if link is not None and link.st_id is not None:
                continue
            if header.customer_po_number and header.customer_po_number in ours:
                continue  # one of ours whose link is being settled by the ServiceTitan pass
            if link is None and (header.order_status == "*" or dates.before_start(header.order_entry_date, start)):
                # cancelled, or SYSPRO's history before go-live: not brought over, and not listed either
                # (a SYSPRO of some years holds thousands of such POs)
                continue
            if (link is not None and header.order_entry_date is not None and start is not None
                    and dates.before_start(header.order_entry_date, start) and link.state not in (IN_DOUBT, SYNCING)):
                # found while the go-live date was earlier and never created in ServiceTitan
                self.hold(link, SKIPPED, dates.before_start_reason(header.order_entry_date, start))
                continue
            self.ctx.check_cancelled()
            self.new_syspro_po(header, link)
        for link in self.gate.release():
            self.ctx.check_cancelled()
            if link.origin == "servicetitan":
                self.one(link, self.new_st_po)
            elif link.syspro_key in self.headers:
                self.one(link, lambda link: self.new_syspro_po(self.headers[link.syspro_key], link))
        self.adds.flush()

    def left_out(self, link: SyncLink) -> bool:
        return super().left_out(link) or link.syspro_key in self.syspro_unreadable

    # ------------------------------------------------------------------ helpers
    def _post(self, link: SyncLink, doc: portoi.PurchaseOrderDocument, message: str):
        """One PORTOI post, committed as SYNCING first. Returns (item, xml_out) or None if not settled."""
        try:
            params = portoi.build_parameters(validate_only=False)
            xml_in = portoi.build_document([doc])
        except ValidationError as exc:
            self.failed(link, f"Cannot be sent to SYSPRO: {exc}", st_hash=links.view_hash(st_view(link.st_current)))
            return None
        def send():
            xml_out = self.session.get().post(portoi.BUSINESS_OBJECT, params, xml_in)
            return portoi.parse_result(xml_out).items[0], xml_out

        return records.send_once(
            link, actor=self.actor, summary=self.summary, message=message, params=params, xml_in=xml_in,
            send=send, noun="order",
            refused=lambda text: self.failed(link, text, st_hash=links.view_hash(st_view(link.st_current))))

    @staticmethod
    def _stock_code(line: dict) -> str | None:
        row = None
        if line.get("skuId") is not None:
            row = ItemMapping.get_or_none(ItemMapping.st_sku_id == int(line["skuId"]))
        if row is None and line.get("skuCode"):
            row = ItemMapping.get_or_none(ItemMapping.st_sku_code == line["skuCode"])
        return row.syspro_stock_code if row is not None and row.syspro_stock_code else None

    def _synced(self, link: SyncLink, kind: str, message: str, st_raw: dict, sp_view: dict, **fields) -> None:
        view = st_view(st_raw)
        data = dict(link.data or {})
        data.pop("winner", None)
        data.pop("approved", None)
        data.update(fields.pop("data", {}))
        records.transition(link, SYNCED, kind, message, actor=self.actor, reason="", conflict=None,
                           st_current=st_raw, st_synced=view, st_hash=links.view_hash(view),
                           st_version=str(st_raw.get("modifiedOn") or ""), syspro_synced=sp_view,
                           syspro_hash=links.view_hash(sp_view), data=data, **fields)

    # ------------------------------------------------------------------ ServiceTitan → SYSPRO: new
    def found_in_syspro(self, link: SyncLink, raw: dict, reference: str) -> bool:
        """The look-up before a PO is added again: a SYSPRO PO carries its CustomerPoNumber."""
        found = self.find_by_customer_po(reference)
        if found is None:
            return False
        view = self.read_one(found)
        assert view is not None, "find_by_customer_po has just read this PO's header"
        records.record(link, "found", f"SYSPRO PO {found} carries CustomerPoNumber {reference}: the earlier attempt "
                       "went through. Not sent again.", actor=self.actor)
        lines = {str(i["item"]): s["line"] for i, s in zip(st_view(raw)["lines"], view["lines"], strict=False)}
        self._synced(link, "linked", f"Linked to SYSPRO PO {found}", raw, view, syspro_key=found, data={"lines": lines})
        return True

    def new_st_po(self, link: SyncLink) -> None:
        raw = link.st_current
        number = str(raw.get("number") or raw["id"])
        reference = (link.data or {}).get("customer_po") or customer_po(number)
        if self.look_up_first(link, lambda: self.found_in_syspro(link, raw, reference),
                              not_there=f"No SYSPRO PO carries CustomerPoNumber {reference}: the earlier attempt did "
                                        "not add it. It will be added."):
            return
        order_date = self.local_date(raw.get("date"))
        start = self.ctx.settings["sync.start_date"]
        if order_date is not None and start is not None and dates.before_start(order_date, start):
            self.hold(link, SKIPPED, dates.before_start_reason(order_date, start),
                       st_hash=links.view_hash(st_view(raw)))
            return
        if raw.get("status") == "Canceled":
            self.hold(link, SKIPPED, "Canceled in ServiceTitan before it reached SYSPRO: not sent",
                       st_hash=links.view_hash(st_view(raw)))
            return
        missing = []
        vendor = VendorMapping.get_or_none(VendorMapping.st_vendor_id == raw.get("vendorId"))
        if vendor is None:
            missing.append(f"vendor {raw.get('vendorId')} has no SYSPRO supplier (vendor mapping)")
        location = WarehouseMapping.get_or_none(WarehouseMapping.st_location_id == raw.get("inventoryLocationId"))
        if location is None:
            missing.append(f"inventory location {raw.get('inventoryLocationId')} has no SYSPRO warehouse "
                           "(warehouse mapping)")
        items = [i for i in raw.get("items") or [] if i.get("status") != "Inactive"]
        po_lines = []
        for item in sorted(items, key=lambda i: int(i["id"])):
            code = self._stock_code(item)
            if code is None:
                missing.append(f"SKU {item.get('skuCode') or item.get('skuId')} "
                               "has no SYSPRO stock code (item mapping)")
                continue
            po_lines.append(portoi.PoStockLine(stock_code=code, quantity=Decimal(str(item["quantity"])),
                                               price=Decimal(str(item.get("cost") or 0)),
                                               warehouse=location.syspro_warehouse if location else None,
                                               due_date=self.local_date(raw.get("requiredOn"))))
        if not items:
            missing.append("the PO has no active lines")
        if missing:
            self.hold(link, HELD, "Needs mapping: " + "; ".join(missing), st_hash=links.view_hash(st_view(raw)))
            return
        if self.gate.holds(link):
            return
        doc = portoi.PurchaseOrderDocument(supplier=vendor.syspro_supplier, order_date=order_date,
                                           due_date=self.local_date(raw.get("requiredOn")),
                                           warehouse=location.syspro_warehouse,
                                           customer_po_number=reference, lines=po_lines)
        try:
            xml_in = portoi.build_document([doc])
        except ValidationError as exc:
            self.failed(link, f"Cannot be sent to SYSPRO: {exc}", st_hash=links.view_hash(st_view(link.st_current)))
            return
        self.adds.add(link, xml_in, f"Adding ServiceTitan PO {number} to SYSPRO (supplier {vendor.syspro_supplier}, "
                      f"warehouse {location.syspro_warehouse}, {len(po_lines)} line(s), CustomerPoNumber {reference})",
                      then=lambda items, xml_out: self._added(link, raw, reference, items[0], xml_out),
                      refused=lambda text: self.failed(link, text, st_hash=links.view_hash(st_view(link.st_current))),
                      what=f"ServiceTitan PO {number} ({len(po_lines)} line(s))")

    def _added(self, link: SyncLink, raw: dict, reference: str, item, xml_out: str) -> None:
        """What SYSPRO answered for a new PO of ours (its item of the PORTOI post)."""
        if not item.ok:
            self.failed(link, "SYSPRO rejected the PO: " + item.message, xml_received=xml_out,
                        st_hash=links.view_hash(st_view(raw)))
            return
        number_sp = (item.purchase_order or "").strip() or self.find_by_customer_po(reference)
        view = self.read_one(number_sp) if number_sp else None
        if view is None:
            records.transition(link, IN_DOUBT, "not_found_after_write", "SYSPRO answered but the PO cannot be read "
                               "back: it will be looked up next cycle.", actor=self.actor, xml_received=xml_out,
                               reason="Not found after the write")
            self.summary.in_doubt += 1
            return
        lines = {str(i["item"]): s["line"] for i, s in zip(st_view(raw)["lines"], view["lines"], strict=False)}
        self._synced(link, "created_syspro", f"Added to SYSPRO as PO {number_sp}", raw, view, syspro_key=number_sp,
                     data={"lines": lines})
        self.summary.to_syspro += 1

    # ------------------------------------------------------------------ linked pairs
    def pair(self, link: SyncLink) -> None:
        header = self.headers.get(link.syspro_key)
        if header is None:
            reason = f"SYSPRO PO {link.syspro_key} is not in SYSPRO (any more)"
            self.hold(link, HELD, reason)
            return
        sp_now = syspro_view(header, self.details.get(link.syspro_key, []))
        raw = link.st_current
        st_now = st_view(raw)
        if link.st_synced is None or link.syspro_synced is None:
            # found again after an interrupted create: both current versions are the starting point
            lines = {str(i["item"]): s["line"] for i, s in zip(st_now["lines"], sp_now["lines"], strict=False)}
            self._synced(link, "linked", f"Linked ServiceTitan PO {raw.get('number')} and SYSPRO PO {link.syspro_key}",
                         raw, sp_now, data={"lines": lines})
            self.summary.settled += 1
            return
        st_changed = st_now != link.st_synced
        sp_changed = sp_now != link.syspro_synced
        if not st_changed and not sp_changed:
            if link.state != SYNCED:
                records.transition(link, SYNCED, "unchanged", "Both sides agree with the last synced versions",
                                   actor=self.actor, reason="", conflict=None)
            self.summary.unchanged += 1
            return
        versions = links.view_hash({"st": st_now, "syspro": sp_now})
        if link.state in (FAILED, HELD) and (link.data or {}).get("blocked_versions") == versions:
            return  # refused or held for this very version: waits for an edit or a replay
        if st_changed and sp_changed:
            winner = links.winner_for(link, self.ctx.settings)
            if winner is None:
                data = {"servicetitan": st_now, "syspro": sp_now,
                        "last_synced": {"servicetitan": link.st_synced, "syspro": link.syspro_synced}}
                if link.state != CONFLICT or link.conflict != data:
                    why = ("SYSPRO keeps no change time for PO headers, so 'newer' cannot decide"
                           if links.policy(self.ctx.settings) == "newer" else "sync.conflict_policy is 'ask'")
                    reason = ("Changed in ServiceTitan and in SYSPRO since the last sync: "
                              f"choose which side wins ({why}).")
                    records.transition(link, CONFLICT, "conflict", reason, actor=self.actor, event=data,
                                       conflict=data, reason=reason)
                self.summary.conflicts += 1
                return
            if winner == "servicetitan":
                self.to_syspro(link, raw, st_now, sp_now, versions, why="conflict: servicetitan wins")
            else:
                self.to_servicetitan(link, raw, sp_now, versions, why="conflict: syspro wins")
            return
        if st_changed:
            self.to_syspro(link, raw, st_now, sp_now, versions, why="changed in ServiceTitan")
        else:
            self.to_servicetitan(link, raw, sp_now, versions, why="changed in SYSPRO")

    def _block(self, link: SyncLink, state: str, reason: str, versions: str) -> None:
        self.hold(link, state, reason, data={**(link.data or {}), "blocked_versions": versions})

    def to_syspro(self, link: SyncLink, raw: dict, st_now: dict, sp_now: dict, versions: str, *, why: str) -> None:
        number = link.syspro_key
        if st_now["cancelled"]:
            if sp_now["cancelled"]:
                self._synced(link, "converged", "Cancelled on both sides", raw, sp_now)
                return
            doc = portoi.PurchaseOrderDocument(supplier=None, action="D", purchase_order=number)
            what = "cancelling"
        else:
            if st_now["vendor"] != link.st_synced["vendor"] or st_now["location"] != link.st_synced["location"]:
                self._block(link, HELD, f"The vendor or inventory location of the PO changed in ServiceTitan ({why}): "
                            f"change SYSPRO PO {number} by hand; it is not changed automatically", versions)
                return
            line_map = (link.data or {}).get("lines", {})
            sp_lines = {sp["line"]: sp for sp in sp_now["lines"]}
            items = {str(i["id"]): i for i in raw.get("items") or [] if i.get("status") != "Inactive"}
            po_lines = []
            for item_id, item in items.items():
                qty, cost = Decimal(str(item["quantity"])), Decimal(str(item.get("cost") or 0))
                line = line_map.get(item_id)
                if line is None:
                    code = self._stock_code(item)
                    if code is None:
                        sku = item.get('skuCode') or item.get('skuId')
                        self._block(link, HELD, f"A line with SKU {sku} was added in "
                                    "ServiceTitan but has no SYSPRO stock code (item mapping)", versions)
                        return
                    po_lines.append(portoi.PoStockLine(stock_code=code, quantity=qty, price=cost, action="A",
                                                       warehouse=self.headers[number].warehouse or None))
                elif line in sp_lines and (links.number(qty) != sp_lines[line]["qty"]
                                           or links.number(cost) != sp_lines[line]["price"]):
                    po_lines.append(portoi.PoStockLine(stock_code="", quantity=qty, price=cost, line=line, action="C"))
            for item_id, line in line_map.items():
                if item_id not in items and line in sp_lines:
                    po_lines.append(portoi.PoStockLine(stock_code="", quantity=Decimal(0), line=line, action="D"))
            if not po_lines:
                self._synced(link, "converged", "Both sides already agree", raw, sp_now)
                return
            doc = portoi.PurchaseOrderDocument(supplier=None, action="C", purchase_order=number, lines=po_lines)
            what = f"changing {len(po_lines)} line(s) of"
        sent = self._post(link, doc, f"{what.capitalize()} SYSPRO PO {number} ({why})")
        if sent is None:
            return
        item, xml_out = sent
        if not item.ok:
            self.failed(link, "SYSPRO rejected the change: " + item.message, xml_received=xml_out,
                        data={**(link.data or {}), "blocked_versions": versions})
            return
        view = self.read_one(number) or sp_now
        lines = dict((link.data or {}).get("lines", {}))
        known = set(lines.values())
        new_lines = [sp["line"] for sp in view["lines"] if sp["line"] not in known]
        unmapped_items = [str(i["item"]) for i in st_now["lines"] if str(i["item"]) not in lines]
        lines.update(dict(zip(unmapped_items, new_lines, strict=False)))
        lines = {k: v for k, v in lines.items() if v in {sp["line"] for sp in view["lines"]}}
        self._synced(link, "updated_syspro", f"SYSPRO PO {number} updated: {what.split(' ')[0]} ({why})", raw, view,
                     data={"lines": lines})
        self.summary.to_syspro += 1

    def to_servicetitan(self, link: SyncLink, raw: dict, sp_now: dict, versions: str, *, why: str) -> None:
        number = link.syspro_key
        if sp_now["cancelled"]:
            self._block(link, HELD, f"SYSPRO PO {number} was cancelled. ServiceTitan PO {raw.get('number')} is not "
                        "cancelled automatically: cancel it in ServiceTitan", versions)
            return
        if raw.get("status") in NOT_EDITABLE:
            self._block(link, HELD, f"SYSPRO PO {number} changed ({why}) but ServiceTitan PO {raw.get('number')} is "
                        f"{raw.get('status')} and can no longer be edited through the API", versions)
            return
        line_map = {v: k for k, v in ((link.data or {}).get("lines") or {}).items()}
        sp_lines = {sp["line"]: sp for sp in sp_now["lines"]}
        if any(line not in line_map for line in sp_lines):
            self._block(link, HELD, f"A line was added to SYSPRO PO {number}: ServiceTitan's API cannot add lines to "
                        "an existing PO; add it in ServiceTitan", versions)
            return
        items = {str(i["id"]): i for i in raw.get("items") or [] if i.get("status") != "Inactive"}
        payload_items = []
        for line, item_id in line_map.items():
            item = items.get(item_id)
            if item is None or line not in sp_lines:
                continue  # removed in SYSPRO: left out, which makes ServiceTitan mark the item inactive
            payload_items.append({"id": int(item_id), "skuId": item["skuId"],
                                  "description": item.get("description") or "",
                                  "vendorPartNumber": item.get("vendorPartNumber") or "",
                                  "quantity": Decimal(sp_lines[line]["qty"]), "cost": Decimal(sp_lines[line]["price"])})
        payload = {"items": payload_items}
        sent = self.write(
            link, f"Updating ServiceTitan PO {raw.get('number')} ({why})",
            lambda: self.ctx.st.patch_purchase_order(link.st_id, payload),
            system="ServiceTitan", refused=(ServiceTitanApiError,), event={"payload": payload},
            on_refused=lambda exc: self.failed(link, f"ServiceTitan refused the update: {exc} {exc.errors or ''}",
                                               data={**(link.data or {}), "blocked_versions": versions}),
            then="It will be read again before anything is sent.")
        if sent is protocol.NOT_SETTLED:
            return
        after = self.ctx.st.get_purchase_order(link.st_id).raw
        self._synced(link, "updated_servicetitan", f"ServiceTitan PO {raw.get('number')} updated ({why})",
                     after, sp_now)
        self.summary.to_servicetitan += 1

    # ------------------------------------------------------------------ SYSPRO → ServiceTitan: new
    def _warehouse_addresses(self) -> dict[int, dict]:
        if self._warehouses is None:
            self._warehouses = {w.id: {"name": w.name or "", "address": w.address or {}}
                                for w in self.ctx.st.warehouses()}
        return self._warehouses

    def _warehouse_branch(self, warehouse: str) -> str:
        if warehouse and warehouse not in self._warehouse_branches:
            rows = links.syspro_rows(self.ctx, self.session, "InvWhControl", contract.ODATA_ENTITIES["InvWhControl"],
                                     [("Warehouse", warehouse)], limit=5)
            self._warehouse_branches[warehouse] = next((str(r.get("Branch") or "").strip() for r in rows
                                                        if str(r.get("Warehouse") or "").strip() == warehouse), "")
        return self._warehouse_branches.get(warehouse, "")

    def _business_unit(self, header: PoHeaderRecord) -> tuple[int | None, str]:
        """The ServiceTitan business unit of a SYSPRO PO: its branch's, else its warehouse's branch's, else
        sync.po_business_unit. Returns (unit, "") or (None, what is missing)."""
        branches = [header.branch]
        if header.warehouse:
            branches.append(self._warehouse_branch(header.warehouse))
        for branch in dict.fromkeys(b for b in branches if b):
            units = [r.st_business_unit_id for r in BranchMapping.select().where(BranchMapping.syspro_branch == branch)]
            if len(units) > 1:
                return None, f"branch {branch} has more than one ServiceTitan business unit (branch mapping)"
            if units:
                return units[0], ""
        fallback = self.ctx.settings["sync.po_business_unit"]
        if fallback:
            return fallback, ""
        where = f"branch {header.branch or '(blank)'} has"
        if header.warehouse and len(branches) > 1 and branches[1] and branches[1] != header.branch:
            where = f"neither branch {header.branch or '(blank)'} nor warehouse {header.warehouse}'s branch " \
                    f"{branches[1]} has"
        return None, (f"{where} a ServiceTitan business unit (add a branch mapping, or set sync.po_business_unit "
                      "for POs whose branch maps to none)")

    @staticmethod
    def _po_type() -> int | None:
        """ServiceTitan needs a PO type; the one its own POs use most (the simulator and the client have
        no PO-type list)."""
        counter = Counter((link.st_current or {}).get("typeId") for link in SyncLink.select(SyncLink.st_current)
                          .where(SyncLink.flow == FLOW, SyncLink.origin == "servicetitan"))
        counter.pop(None, None)
        return counter.most_common(1)[0][0] if counter else None

    def found_in_servicetitan(self, link: SyncLink, view: dict, marker: str) -> bool:
        """The look-up before a PO is created in ServiceTitan again: a PO changed since the attempt
        carries the marker in its memo."""
        if link.last_attempt_at is None:
            return False
        since = link.last_attempt_at.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=10)
        found = [po for po in self.ctx.st.purchase_orders(modified_on_or_after=since)
                 if (po.summary or "").strip() == marker]
        if not found:
            return False
        raw = found[0].raw
        records.record(link, "found", f"ServiceTitan PO {found[0].number} carries '{marker}': the earlier create went "
                       "through. Not sent again.", actor=self.actor)
        lines = {str(i["item"]): s["line"] for i, s in zip(st_view(raw)["lines"], view["lines"], strict=False)}
        self._synced(link, "linked", f"Linked to ServiceTitan PO {found[0].number}", raw, view, st_id=found[0].id,
                     data={"lines": lines})
        return True

    def new_syspro_po(self, header: PoHeaderRecord, link: SyncLink | None) -> None:
        number = header.purchase_order
        details = self.details.get(number, [])
        view = syspro_view(header, details)
        marker = MARKER.format(number=number)
        if link is None:
            link = records.new_link(FLOW, state=READY, kind="discovered", message=f"SYSPRO PO {number} found (not "
                                    "from ServiceTitan)", actor=self.actor, syspro_key=number, label=number,
                                    origin="syspro", syspro_current=view, data={"marker": marker})
        if self.look_up_first(link, lambda: self.found_in_servicetitan(link, view, marker),
                              not_there=f"No ServiceTitan PO carries '{marker}': the earlier attempt did not create "
                                        "it. It will be created."):
            return
        if link.state == FAILED and link.syspro_hash == links.view_hash(view):
            return
        missing = []
        vendor_id = vendor_flow.primary_vendor(header.supplier)
        if vendor_id is None:
            missing.append(f"supplier {header.supplier} has no ServiceTitan vendor (vendor mapping)")
        locations = [r.st_location_id for r in WarehouseMapping.select()
                     .where(WarehouseMapping.syspro_warehouse == header.warehouse)]
        if len(locations) != 1:
            how_many = 'no' if not locations else 'more than one'
            missing.append(f"warehouse {header.warehouse or '(blank)'} has {how_many} "
                           "ServiceTitan inventory location (warehouse mapping)")
        unit, no_unit = self._business_unit(header)
        if no_unit:
            missing.append(no_unit)
        items = []
        for detail in sorted(details, key=lambda d: d.line or 0):
            skus = [r.st_sku_id for r in ItemMapping.select().where(ItemMapping.syspro_stock_code == detail.stock_code,
                                                                     ItemMapping.st_sku_id.is_null(False))]
            if len(skus) != 1:
                missing.append(f"stock code {detail.stock_code} has {'no' if not skus else 'more than one'} "
                               "ServiceTitan SKU (item mapping)")
                continue
            items.append({"skuId": skus[0], "description": detail.description or detail.stock_code,
                          "vendorPartNumber": "", "quantity": detail.order_qty or Decimal(0),
                          "cost": detail.price or Decimal(0)})
        if not details:
            missing.append("the PO has no lines")
        # read only when everything else is known: a held PO costs no ServiceTitan request per cycle
        ship_to = self._warehouse_addresses().get(locations[0]) if len(locations) == 1 and not missing else None
        if len(locations) == 1 and not missing and (ship_to is None or not (ship_to["address"] or {}).get("street")):
            missing.append(f"inventory location {locations[0]} is not a warehouse with an address (ServiceTitan "
                           "requires a ship-to address)")
        type_id = self._po_type()
        if type_id is None:
            missing.append("no ServiceTitan PO type is known yet (none seen on ServiceTitan's own POs)")
        if missing or ship_to is None:  # no ship-to is among what is missing
            self.hold(link, HELD, "Cannot be created in ServiceTitan: " + "; ".join(missing),
                       syspro_hash=links.view_hash(view), syspro_current=view)
            return
        address = {key: (ship_to["address"].get(key) or "") for key in ("street", "unit", "city", "state", "zip",
                                                                          "country")}
        entry = header.order_entry_date or dt.date.today()
        payload = {
            "vendorId": vendor_id, "typeId": type_id, "businessUnitId": unit, "inventoryLocationId": locations[0],
            "shipTo": {"description": ship_to["name"], "address": address}, "impactsTechnicianPayroll": False,
            "date": f"{entry.isoformat()}T00:00:00Z",
            "requiredOn": f"{(header.order_due_date or entry).isoformat()}T00:00:00Z",
            "tax": Decimal(0), "shipping": Decimal(0), "memo": marker, "items": items,
        }
        if self.gate.holds(link):
            return
        po_id = self.write(
            link, f"Creating a ServiceTitan PO for SYSPRO PO {number}",
            lambda: self.ctx.st.create_purchase_order(payload),
            system="ServiceTitan", refused=(ServiceTitanApiError,), event={"payload": payload},
            on_refused=lambda exc: self.failed(link, f"ServiceTitan refused the PO: {exc} {exc.errors or ''}",
                                               syspro_hash=links.view_hash(view)),
            then=f"It will be looked up ('{marker}') before anything is sent again.")
        if po_id is protocol.NOT_SETTLED:
            return
        raw = self.ctx.st.get_purchase_order(po_id).raw
        lines = {str(i["item"]): s["line"] for i, s in zip(st_view(raw)["lines"], view["lines"], strict=False)}
        self._synced(link, "created_servicetitan", f"Created in ServiceTitan as PO {raw.get('number')} ('{marker}')",
                     raw, view, st_id=po_id, label=str(raw.get("number") or number), data={"lines": lines})
        self.summary.to_servicetitan += 1


def run_cycle(ctx: SyncContext) -> FlowSummary:
    return PoSync.run_cycle(ctx)


def read_again(ctx: SyncContext, held: list[SyncLink], summary: FlowSummary) -> None:
    """Retry of POs held as unreadable: ServiceTitan is asked for them again and what it sends now is
    stored as a fresh version (still unreadable: held again, with what is wrong now)."""
    sync = PoSync(ctx, LazySession(ctx), summary)
    records.take_read_again(FLOW, ctx.st.purchase_orders(ids=[link.st_id for link in held], hold_unreadable=True),
                            lambda po: sync.store_st(po.raw), actor=ctx.actor, summary=summary)
