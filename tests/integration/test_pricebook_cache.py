"""The pricebook kept between cycles: read whole once from the export feeds, then only what changed.
Against the running ServiceTitan simulator, over real HTTP with the real client."""
from __future__ import annotations

from collections import Counter

import pytest

from desktop_app.core.errors import ConnectError
from desktop_app.core.models import ApDocument, PricebookSku, SyncCursor, VendorMapping
from desktop_app.sync import ledger, pricebook
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle


def cycle(**kwargs):
    ctx = SyncContext.from_database(actor="scheduler", **kwargs)
    try:
        return run_cycle(ctx, flow="invoices")["invoices"]
    finally:
        ctx.close()


def pricebook_requests(box, since: int = 0) -> Counter:
    paths = [entry["path"] for entry in list(box.st.request_log)[since:]]
    return Counter(path.split("/pricebook/v2/tenant/", 1)[1].split("/", 1)[1]
                   for path in paths if "/pricebook/v2/tenant/" in path)


def sim_skus(box) -> dict[int, dict]:
    return {**box.company.st.materials, **box.company.st.equipment}


def test_the_pricebook_is_read_whole_once_then_only_its_changes(sandbox):
    sandbox.st.export_batch_size = 10  # several pages, as a real pricebook has
    assert cycle().discovered > 0
    skus = sim_skus(sandbox)
    stored = {row.id: row for row in PricebookSku.select()}
    assert set(stored) == set(skus)
    some = next(iter(skus.values()))
    assert stored[some["id"]].code == some["code"]
    assert stored[some["id"]].vendor_id == (some.get("primaryVendor") or {}).get("vendorId")
    first = pricebook_requests(sandbox)
    assert first["export/materials"] > 1 and "materials" not in first  # pages of the feed, no list
    assert {c.name for c in SyncCursor.select()} >= set(pricebook.FEEDS.values())

    sandbox.company.st.advance(5)  # new invoices: the next cycle needs the reference data again
    before = len(sandbox.st.request_log)
    assert cycle().discovered == 5
    assert pricebook_requests(sandbox, before) == {"export/materials": 1, "export/equipment": 1}


def test_a_sku_changed_in_servicetitan_counts_in_the_next_cycle(sandbox):
    cycle()
    waiting = [d for d in ApDocument.select().where(ApDocument.state == ledger.NEEDS_MAPPING)
               if any(m["kind"] == "vendors" for m in d.missing)]
    assert waiting
    doc = waiting[0]
    unmapped = next(m["key"] for m in doc.missing if m["kind"] == "vendors")
    mapped = VendorMapping.select().first()
    state = sandbox.company.st
    invoice = state.invoices[doc.st_invoice_id]
    moved = []
    for item in invoice["items"]:
        sku = state.sku(item.get("skuId"))
        if sku is not None and (sku.get("primaryVendor") or {}).get("vendorId") == unmapped:
            # the office gives the SKU another primary vendor: ServiceTitan stamps the change
            sku["primaryVendor"] = {**sku["primaryVendor"], "vendorId": mapped.st_vendor_id,
                                    "vendorName": mapped.st_vendor_name or "Mapped vendor"}
            sku["modifiedOn"] = state.stamp()
            moved.append(sku["id"])
    assert moved
    cycle()
    assert {PricebookSku.get_by_id(sku_id).vendor_id for sku_id in moved} == {mapped.st_vendor_id}
    documents = ApDocument.select().where(ApDocument.st_invoice_id == doc.st_invoice_id)
    assert not any(m["kind"] == "vendors" and m["key"] == unmapped for d in documents for m in d.missing)


def test_a_dry_run_reads_the_feeds_but_stores_nothing(sandbox):
    assert cycle(dry_run=True).validated > 0
    assert PricebookSku.select().count() == 0
    assert not SyncCursor.select().where(SyncCursor.name.in_(list(pricebook.FEEDS.values()))).exists()


def test_a_feed_stopped_midway_keeps_the_pages_it_stored_and_goes_on_from_there(sandbox, monkeypatch):
    sandbox.st.export_batch_size = 10
    materials = len(sandbox.company.st.materials)
    assert materials > 30
    ctx = SyncContext.from_database(actor="scheduler")
    real = ctx.st.export_materials

    def two_pages_then_gone(*args, **kwargs):
        for number, page in enumerate(real(*args, **kwargs)):
            if number == 2:
                raise ConnectError("ServiceTitan could not be reached")
            yield page

    monkeypatch.setattr(ctx.st, "export_materials", two_pages_then_gone)
    try:
        with pytest.raises(ConnectError):
            pricebook.load_skus(ctx)
    finally:
        ctx.close()
    assert PricebookSku.select().count() == 20
    before = len(sandbox.st.request_log)
    ctx = SyncContext.from_database(actor="scheduler")
    try:
        skus = pricebook.load_skus(ctx)
    finally:
        ctx.close()
    assert set(skus) == set(sim_skus(sandbox)) and PricebookSku.select().count() == len(skus)
    pages_left = -(-(materials - 20) // 10)
    assert pricebook_requests(sandbox, before)["export/materials"] in (pages_left, pages_left + 1)


def test_the_mapping_grids_sku_list_comes_from_the_kept_pricebook(sandbox):
    from desktop_app.sync import code_lists

    ctx = SyncContext.from_database(actor="user")
    try:
        lists = code_lists.refresh(ctx)
        before = len(sandbox.st.request_log)
        again = code_lists.refresh(ctx)
    finally:
        ctx.close()
    skus = sim_skus(sandbox)
    assert sorted(lists["st_skus"]) == sorted([str(s["id"]), s["code"], s["displayName"] or ""] for s in skus.values())
    assert again["st_skus"] == lists["st_skus"]
    assert PricebookSku.select().count() == len(skus)
    assert pricebook_requests(sandbox, before) == {"export/materials": 1, "export/equipment": 1}
