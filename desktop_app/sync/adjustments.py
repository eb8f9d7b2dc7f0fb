"""Inventory adjustments (docs/architecture.md §1, with ServiceTitan's API limits).

ServiceTitan → SYSPRO: adjustments from the export feed are posted through INVTMA, one item per
(warehouse, stock code), all or nothing, with Reference "ST-ADJ-<number>" as the idempotency key:
before any re-post of an adjustment whose outcome is unknown, InvMovements is searched for that
reference. What was posted is remembered per (warehouse, stock code), so a later edit or a
cancellation in ServiceTitan posts only the difference (reference "ST-ADJ-<number>-<n>"). The
SYSPRO journal is written back to the adjustment's externalData. An adjustment a SYSPRO user
already entered by hand with the adjustment number as Reference (same warehouse, stock code and
quantity) is matched, not posted again.

SYSPRO → ServiceTitan: the API cannot create adjustments (docs/architecture.md §1), so SYSPRO adjustments
(InvMovements TrnType 'A') that did not come from us and match no ServiceTitan adjustment become
rows of a stock-difference worklist for a person to enter in ServiceTitan and tick off.

More adjustments posted for the first time in one cycle than sync.max_auto_create wait for a
person's approval (records.CreationGate); later differences of a posted adjustment are not held.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from desktop_app.core import csv_safe
from desktop_app.core.db import (
    ItemMapping,
    SyncCursor,
    SyncLink,
    WarehouseMapping,
    WorklistRow,
    database,
    set_cursor,
    utcnow,
)
from desktop_app.core.errors import OutcomeUnknown
from desktop_app.servicetitan.errors import ServiceTitanApiError
from desktop_app.servicetitan.models import UnreadableRecord
from desktop_app.sync import dates, links, records
from desktop_app.sync.batch_posts import PostQueue
from desktop_app.sync.context import SyncContext
from desktop_app.sync.records import (
    FAILED,
    HELD,
    IN_DOUBT,
    READY,
    SKIPPED,
    SYNCED,
    WAITING,
    FlowSummary,
    LazySession,
)
from desktop_app.syspro import contract
from desktop_app.syspro import inventory as invtma
from desktop_app.syspro.errors import ValidationError
from desktop_app.syspro.records import InventoryMovementRecord, readable_rows

log = logging.getLogger("desktop_app.sync.adjustments")

FLOW = "adjustments"
CURSOR = "adjustments.export"
REFERENCE_PREFIX = "ST-ADJ-"
JOURNAL_KEY = "syspro.journal"
REFERENCE_KEY = "syspro.reference"
WORKLIST_COLUMNS = ("id", "warehouse", "st_location_id", "st_location_name", "stock_code", "st_sku_id", "st_sku_code",
                    "quantity", "syspro_reference", "journal", "entry_date", "done", "done_by", "done_at")


def reference_for(number: str, posting: int) -> str:
    base = f"{REFERENCE_PREFIX}{number}"
    return (base if posting == 1 else f"{base}-{posting}")[:contract.MAX_LENGTH["Reference"]]


def movement_key(m: InventoryMovementRecord) -> str:
    return f"{m.journal}/{m.entry_number}/{m.warehouse}/{m.stock_code}/{m.entry_date}"


def _group_key(warehouse: str, stock_code: str) -> str:
    return f"{warehouse}|{stock_code}"


class AdjustmentSync(records.FeedSync):
    FLOW, NOUN = FLOW, "adjustments"

    def __init__(self, ctx: SyncContext, session: LazySession, summary: FlowSummary):
        super().__init__(ctx, session, summary)
        self.guid = links.application_guid(ctx.settings)
        self.movements: list[InventoryMovementRecord] = []
        # posts waiting to go several to an INVTMA call, by transaction date (a parameter of the call)
        self.posts: dict[dt.date | None, PostQueue] = {}

    def reconcile(self) -> None:
        self.read_movements()
        for link in list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.st_id.is_null(False),
                                                 SyncLink.state.in_([READY, IN_DOUBT, HELD, WAITING]))
                         .order_by(SyncLink.id)):
            self.ctx.check_cancelled()
            self.one(link, self.settle)
        for link in self.gate.release():
            self.ctx.check_cancelled()
            self.one(link, self.settle)
        for queue in self.posts.values():
            queue.flush()
        self.write_back()
        self.worklist()

    # ------------------------------------------------------------------ reading
    def discover(self) -> int:
        """ServiceTitan's changes since the feed's token, stored; how many records the feed sent."""
        received = 0
        dates.reopen_skipped_for_date(self.ctx, FLOW, CURSOR)
        cursor = SyncCursor.get_or_none(SyncCursor.name == CURSOR)
        start = self.ctx.settings["sync.start_date"]
        since = cursor.value if cursor else (start.isoformat() if start else None)
        for page in self.ctx.st.export_adjustments(since):
            received += len(page.records)
            with database.atomic():
                for adjustment in page.records:
                    if isinstance(adjustment, UnreadableRecord):
                        records.hold_unreadable(FLOW, adjustment, actor=self.actor, summary=self.summary)
                        continue
                    self.store(adjustment.raw)
                if page.continue_from:
                    set_cursor(CURSOR, page.continue_from)
            self.ctx.check_cancelled()
            if not page.has_more:
                break
        return received

    def store(self, raw: dict) -> None:
        link = links.by_st(FLOW, int(raw["id"]))
        number = str(raw.get("number") or raw["id"])
        if link is None:
            records.new_link(FLOW, state=READY, kind="discovered", message=f"ServiceTitan adjustment {number} found",
                             actor=self.actor, st_id=int(raw["id"]), label=number, origin="servicetitan",
                             st_current=raw, data={"posted": {}, "postings": [], "matched": []})
            return
        previous = link.st_hash
        link.st_current = raw
        link.st_hash = links.view_hash(self.view(raw))
        if records.readable_again(link):
            records.record(link, "readable", f"ServiceTitan adjustment {number} can be read again", actor=self.actor)
        if link.st_hash != previous and link.state in (SYNCED, FAILED, SKIPPED):
            records.transition(link, READY, "changed_in_source", f"ServiceTitan adjustment {number} changed: what "
                               "SYSPRO lacks will be posted", actor=self.actor, reason="", st_hash=link.st_hash,
                               st_current=raw, data=link.data)
        else:
            link.save()

    @staticmethod
    def view(raw: dict) -> dict:
        """What the adjustment asks of stock: nothing once cancelled (inactive)."""
        if raw.get("active") is False:
            return {"active": False, "items": []}
        return {"active": True, "location": raw.get("inventoryLocationId"),
                "items": sorted([item.get("skuId"), item.get("code"), links.number(item.get("quantity"))]
                                for item in raw.get("items") or [] if item.get("active", True) is not False)}

    def read_movements(self) -> None:
        start = self.ctx.settings["sync.start_date"]
        bad = []
        if self.ctx.odata is not None:
            self.movements = list(self.ctx.odata.inventory_movements(since=start))
            bad = self.ctx.odata.take_unreadable("InvMovements")
        else:
            rows = links.syspro_rows(self.ctx, self.session, "InvMovements", contract.ODATA_ENTITIES["InvMovements"],
                                     [("TrnType", "A")], limit=100000)
            self.movements = readable_rows("InvMovements", rows, InventoryMovementRecord, bad)
        # a movement that cannot be read is left out of the worklist and the matching, and said so
        self.summary.problems += [f"{row.sentence()}: left out until it can be read" for row in bad]
        # a SYSPRO entry date is already the office's date; the worklist starts at go-live
        self.movements = [m for m in self.movements
                          if m.trn_type == "A" and not dates.before_start(m.entry_date, start)]

    # ------------------------------------------------------------------ ServiceTitan → SYSPRO
    def groups(self, raw: dict) -> tuple[dict[str, Decimal], list[str]]:
        """Signed quantity per warehouse|stock code, and what is missing to know them."""
        if raw.get("active") is False:
            return {}, []
        missing: list[str] = []
        location = WarehouseMapping.get_or_none(WarehouseMapping.st_location_id == raw.get("inventoryLocationId"))
        if location is None:
            missing.append(f"inventory location {raw.get('inventoryLocationId')} has no SYSPRO warehouse "
                           "(warehouse mapping)")
        groups: dict[str, Decimal] = {}
        for item in raw.get("items") or []:
            if item.get("active", True) is False:
                continue
            row = ItemMapping.get_or_none(ItemMapping.st_sku_id == item.get("skuId")) if item.get("skuId") else None
            if row is None and item.get("code"):
                row = ItemMapping.get_or_none(ItemMapping.st_sku_code == item["code"])
            if row is None or not row.syspro_stock_code:
                missing.append(f"SKU {item.get('code') or item.get('skuId')} has no SYSPRO stock code (item mapping)")
                continue
            if location is not None:
                key = _group_key(location.syspro_warehouse, row.syspro_stock_code)
                groups[key] = groups.get(key, Decimal(0)) + Decimal(str(item.get("quantity") or 0))
        return {k: v for k, v in groups.items() if v != 0}, missing

    def local_date(self, raw: dict) -> dt.date | None:
        """The adjustment's date as the office sees it (sync.timezone)."""
        return dates.accounting_date(raw.get("date"), self.ctx.settings["sync.timezone"])

    def settle(self, link: SyncLink) -> None:
        raw = link.st_current
        number = link.label
        data = {"posted": {}, "postings": [], "matched": [], **(link.data or {})}
        if data.get("pending"):
            # sent before without a known outcome: SYSPRO is searched for the reference first
            in_doubt, sent = link.state == IN_DOUBT, dict(data["pending"])
            if self.look_up_first(link, lambda: self.found_posted(link, data, sent),
                                  not_there=f"No movement with reference {sent['reference']} in SYSPRO: the "
                                            "earlier attempt did not post. It will be posted."):
                data = link.data
            elif in_doubt:
                data.pop("pending")
        day = self.local_date(raw)
        start = self.ctx.settings["sync.start_date"]
        if (day is not None and start is not None and dates.before_start(day, start)
                and not (data["postings"] or data["matched"] or data.get("pending"))):
            # nothing of it is in SYSPRO: it is not ours; one posted before the date moved stays ours
            self.hold(link, SKIPPED, dates.before_start_reason(day, start))
            return
        wanted, missing = self.groups(raw)
        if missing:
            self.hold(link, HELD, "Needs mapping: " + "; ".join(missing))
            return
        posted = {k: Decimal(v) for k, v in data["posted"].items()}
        delta = {k: wanted.get(k, Decimal(0)) - posted.get(k, Decimal(0)) for k in set(wanted) | set(posted)}
        delta = {k: v for k, v in delta.items() if v != 0}
        if delta and not data["postings"] and not posted:
            matched = self.match_by_hand(link, data, delta)
            if matched is None:
                return
            delta = matched
        if not delta:
            if raw.get("active") is False and not data["postings"] and not data["matched"]:
                self.hold(link, SKIPPED, "Cancelled in ServiceTitan before it reached SYSPRO: not posted")
            elif link.state != SYNCED:
                records.transition(link, SYNCED, "unchanged", "SYSPRO already holds this adjustment", actor=self.actor,
                                   reason="", data=data)
            return
        if not data["postings"] and self.gate.holds(link):
            return  # a first posting: a new record in SYSPRO
        reference = reference_for(number, len(data["postings"]) + 1)
        items = []
        for key, quantity in sorted(delta.items()):
            warehouse, stock_code = key.split("|", 1)
            items.append(invtma.InventoryAdjustment(
                warehouse=warehouse, stock_code=stock_code, quantity=quantity,
                reference=reference, notation=f"ServiceTitan adjustment {number}"[:50]))
        try:
            xml_in = invtma.build_document(items)
        except ValidationError as exc:
            self.failed(link, f"Cannot be sent to SYSPRO: {exc}", kind="invalid", reason=str(exc))
            return
        pending = {"reference": reference, "groups": {k: format(v, "f") for k, v in delta.items()}}
        self._queue(day).add(
            link, xml_in, f"Posting {len(items)} movement(s) to SYSPRO with reference {reference}",
            then=lambda answered, xml_out: self._answered(link, pending, answered, xml_out),
            refused=lambda text: self._rejected(link, text, None),
            what=f"Adjustment {number} ({len(items)} movement(s))", items=len(items),
            fields={"data": {**data, "pending": pending}}, event={"pending": pending})

    def _queue(self, day: dt.date | None) -> PostQueue:
        if day not in self.posts:
            self.posts[day] = PostQueue(
                self.ctx, self.session, self.summary, business_object=invtma.BUSINESS_OBJECT,
                # several adjustments: all or none, so a refused one never leaves another half posted
                parameters=lambda count: invtma.build_parameters(validate_only=False, transaction_date=day),
                parse=invtma.parse_result, noun="movement", all_or_nothing=True)
        return self.posts[day]

    def _answered(self, link: SyncLink, pending: dict, result_items: list, xml_out: str) -> None:
        """What SYSPRO answered for an adjustment's movements (its items of the INVTMA post)."""
        if result_items and all(item.ok for item in result_items):
            journals = ", ".join(sorted({str(item.journal) for item in result_items if item.journal}))
            self._posted(link, link.data, pending, journals, xml_out=xml_out)
            self.summary.to_syspro += 1
            return
        problems = [f"{i.warehouse}/{i.stock_code}: {i.message}" for i in result_items if not i.ok]
        self._rejected(link, "SYSPRO rejected it: " + ("; ".join(problems) or "no items in the answer"), xml_out)

    def _rejected(self, link: SyncLink, message: str, xml_out: str | None) -> None:
        data = dict(link.data or {})
        data.pop("pending", None)  # a rejection is a definite answer: nothing was posted
        self.failed(link, message, xml_received=xml_out, data=data)

    def found_posted(self, link: SyncLink, data: dict, pending: dict) -> bool:
        """The look-up before an adjustment is posted again: a SYSPRO movement carries its reference."""
        found = [m for m in self.movements if m.reference == pending["reference"]]
        if found:
            self._posted(link, data, pending, ", ".join(sorted({m.journal for m in found})), settled=True)
        return bool(found)

    def _posted(self, link: SyncLink, data: dict, pending: dict, journals: str, *, xml_out: str | None = None,
                settled: bool = False) -> None:
        data = dict(data)
        posted = {k: Decimal(v) for k, v in data.get("posted", {}).items()}
        for key, quantity in pending["groups"].items():
            posted[key] = posted.get(key, Decimal(0)) + Decimal(quantity)
        data["posted"] = {k: format(v, "f") for k, v in posted.items() if v != 0}
        data["postings"] = data.get("postings", []) + [{"reference": pending["reference"], "journal": journals,
                                                        "groups": pending["groups"]}]
        data.pop("pending", None)
        message = (f"Found in SYSPRO with reference {pending['reference']} (journal {journals}): the earlier attempt "
                   "went through. Not posted again." if settled else
                   f"Posted to SYSPRO, journal {journals}, reference {pending['reference']}")
        records.transition(link, SYNCED, "found" if settled else "posted", message, actor=self.actor, reason="",
                           xml_received=xml_out, data=data, syspro_key=f"{link.label}")

    def match_by_hand(self, link: SyncLink, data: dict, delta: dict[str, Decimal]) -> dict[str, Decimal] | None:
        """Movements a SYSPRO user entered with the adjustment number as Reference cover what they match."""
        mirrors = [m for m in self.movements if m.reference == link.label and movement_key(m) not in data["matched"]]
        if not mirrors:
            return delta
        remaining = dict(delta)
        for m in mirrors:
            key = _group_key(m.warehouse, m.stock_code)
            if key not in remaining:
                continue
            if m.quantity != remaining[key]:
                self.hold(link, HELD, f"SYSPRO has a movement with reference {link.label} for {m.warehouse}/"
                           f"{m.stock_code} of {m.quantity}, ServiceTitan says {remaining[key]}: decide by hand")
                return None
            data["matched"] = data["matched"] + [movement_key(m)]
            posted = {k: Decimal(v) for k, v in data["posted"].items()}
            posted[key] = posted.get(key, Decimal(0)) + m.quantity
            data["posted"] = {k: format(v, "f") for k, v in posted.items()}
            data.setdefault("hand_journals", []).append(m.journal)
            del remaining[key]
            records.record(link, "matched", f"{m.warehouse}/{m.stock_code} {m.quantity} was already entered in SYSPRO "
                           f"(journal {m.journal}, reference {m.reference}): not posted again", actor=self.actor)
        link.data = data
        link.save()
        return remaining

    def write_back(self) -> None:
        """The SYSPRO journal(s) to the adjustment's externalData (the only field the API lets us set)."""
        for link in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == SYNCED):
            data = link.data or {}
            journals = sorted({p["journal"] for p in data.get("postings", []) if p.get("journal")}
                              | set(data.get("hand_journals", [])))
            text = ", ".join(journals)[:100]
            if not text or data.get("written_back") == text:
                continue
            references = ", ".join(p["reference"] for p in data.get("postings", []))[:100] or link.label
            try:
                self.ctx.st.patch_adjustment_external_data(link.st_id, self.guid, {JOURNAL_KEY: text,
                                                                                    REFERENCE_KEY: references})
            except (OutcomeUnknown, ServiceTitanApiError) as exc:
                self.summary.problems.append(f"adjustment {link.label}: journal not written back: {exc}")
                continue
            link.data = {**data, "written_back": text}
            link.save()
            records.record(link, "write_back", f"SYSPRO journal {text} written to the adjustment's externalData",
                           actor=self.actor)

    # ------------------------------------------------------------------ SYSPRO → ServiceTitan: the worklist
    def worklist(self) -> None:
        matched = set()
        for (data,) in SyncLink.select(SyncLink.data).where(SyncLink.flow == FLOW).tuples():
            matched.update((data or {}).get("matched", []))
        locations: dict[str, list[WarehouseMapping]] = {}
        for row in WarehouseMapping.select():
            locations.setdefault(row.syspro_warehouse, []).append(row)
        skus: dict[str, list[ItemMapping]] = {}
        for row in ItemMapping.select():
            skus.setdefault(row.syspro_stock_code, []).append(row)
        with database.atomic():
            for m in self.movements:
                key = movement_key(m)
                if m.reference.upper().startswith(REFERENCE_PREFIX):
                    continue  # posted by us from a ServiceTitan adjustment
                existing = WorklistRow.get_or_none(WorklistRow.movement_key == key)
                if key in matched:
                    if existing is not None and not existing.done:
                        existing.done, existing.done_by, existing.done_at = True, "ml-connector", utcnow()
                        existing.note = "Matches a ServiceTitan adjustment"
                        existing.save()
                    continue
                if existing is not None:
                    continue
                location = locations.get(m.warehouse, [])
                sku = skus.get(m.stock_code, [])
                WorklistRow.create(
                    movement_key=key, warehouse=m.warehouse, stock_code=m.stock_code, quantity=m.quantity or Decimal(0),
                    st_location_id=location[0].st_location_id if len(location) == 1 else None,
                    st_location_name=location[0].st_location_name if len(location) == 1 else "",
                    st_sku_id=sku[0].st_sku_id if len(sku) == 1 else None,
                    st_sku_code=(sku[0].st_sku_code or "") if len(sku) == 1 else "",
                    syspro_reference=m.reference, journal=m.journal, entry_date=m.entry_date,
                    note="" if len(location) == 1 and len(sku) == 1 else "No single mapped ServiceTitan location/SKU")
                self.summary.worklist_added += 1


# ---------------------------------------------------------------------------- the worklist, for CLI and GUI
def worklist_rows(*, include_done: bool = True) -> list[dict]:
    query = WorklistRow.select().order_by(WorklistRow.entry_date, WorklistRow.id)
    if not include_done:
        query = query.where(WorklistRow.done == False)  # noqa: E712 - peewee expression
    return [{"id": r.id, "warehouse": r.warehouse, "st_location_id": r.st_location_id,
             "st_location_name": r.st_location_name, "stock_code": r.stock_code, "st_sku_id": r.st_sku_id,
             "st_sku_code": r.st_sku_code, "quantity": format(r.quantity, "f"), "syspro_reference": r.syspro_reference,
             "journal": r.journal, "entry_date": r.entry_date.isoformat() if r.entry_date else "",
             "done": r.done, "done_by": r.done_by, "done_at": r.done_at.isoformat() if r.done_at else "",
             "note": r.note} for r in query]


def export_worklist(path, *, include_done: bool = False) -> int:
    rows = worklist_rows(include_done=include_done)
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        csv_safe.write_dicts(fh, list(WORKLIST_COLUMNS), rows)
    return len(rows)


def mark_done(row_ids: list[int], *, actor: str, done: bool = True) -> int:
    count = 0
    with database.atomic():
        for row in WorklistRow.select().where(WorklistRow.id.in_(row_ids)):
            row.done, row.done_by, row.done_at = done, actor if done else "", utcnow() if done else None
            row.save()
            count += 1
    return count


def run_cycle(ctx: SyncContext) -> FlowSummary:
    return AdjustmentSync.run_cycle(ctx)


def read_again(ctx: SyncContext, held: list[SyncLink], summary: FlowSummary) -> None:
    """Retry of adjustments held as unreadable: ServiceTitan is asked for them again (see
    purchase_orders.read_again)."""
    sync = AdjustmentSync(ctx, LazySession(ctx), summary)
    records.take_read_again(FLOW, ctx.st.adjustments(ids=[link.st_id for link in held], hold_unreadable=True),
                            lambda adjustment: sync.store(adjustment.raw), actor=ctx.actor, summary=summary)
