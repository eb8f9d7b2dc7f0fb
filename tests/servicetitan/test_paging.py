"""Page-numbered lists, ids chunking, export feeds with continueFrom, dedupe."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from .st_fakes import api, page

INVOICES = api("accounting", "invoices")
EXPORT_INVOICES = api("accounting", "export/invoices")
MATERIALS = api("pricebook", "materials")


def _query(call) -> dict:
    return {k: v if len(v) > 1 else v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def _calls(st, url):
    return [c for c in st.calls if c.request.url.split("?")[0] == url]


def _invoice(i, modified="2026-01-02T10:00:00Z"):
    return {"id": i, "referenceNumber": str(i), "modifiedOn": modified, "total": "1.00", "items": []}


def test_list_follows_has_more_with_page_numbers_and_active_any(st, tokens, make_client):
    st.add(responses.GET, MATERIALS, json=page([{"id": 1, "code": "A", "cost": 1}], has_more=True))
    st.add(responses.GET, MATERIALS, json=page([{"id": 2, "code": "B", "cost": 2}], has_more=True, page_number=2))
    st.add(responses.GET, MATERIALS, json=page([{"id": 3, "code": "C", "cost": 3}], has_more=False, page_number=3))
    skus = make_client(page_size=200).materials()
    assert [s.code for s in skus] == ["A", "B", "C"]
    queries = [_query(c) for c in _calls(st, MATERIALS)]
    assert [q["page"] for q in queries] == ["1", "2", "3"]
    assert all(q["pageSize"] == "200" and q["active"] == "Any" for q in queries)


def test_default_page_size_is_500(st, tokens, make_client):
    st.add(responses.GET, api("inventory", "warehouses"), json=page([]))
    make_client().warehouses()
    assert _query(st.calls[-1])["pageSize"] == "500"


def test_every_sync_list_asks_for_inactive_records(st, tokens, make_client):
    client = make_client()
    lists = {
        ("settings", "business-units"): client.business_units, ("settings", "technicians"): client.technicians,
        ("inventory", "warehouses"): client.warehouses, ("accounting", "gl-accounts"): client.gl_accounts,
        ("inventory", "vendors"): client.vendors, ("pricebook", "equipment"): client.equipment,
        ("pricebook", "services"): client.services, ("inventory", "receipts"): client.receipts,
        ("inventory", "adjustments"): client.adjustments,
    }
    for (module, path), method in lists.items():
        st.add(responses.GET, api(module, path), json=page([]))
        method()
        assert _query(st.calls[-1])["active"] == "Any", path
    st.add(responses.GET, INVOICES, json=page([]))
    client.invoices()
    assert _query(st.calls[-1])["activeState"] == "All"


def test_ids_are_sent_fifty_at_a_time(st, tokens, make_client):
    st.add(responses.GET, INVOICES, json=page([_invoice(1)]))
    ids = list(range(1000, 1120)) + [1000, 1001]  # duplicates are asked for once
    make_client().list_invoices_by_ids(ids)
    chunks = [_query(c)["ids"].split(",") for c in _calls(st, INVOICES)]
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert [int(i) for chunk in chunks for i in chunk] == list(range(1000, 1120))
    assert all(_query(c)["activeState"] == "All" for c in _calls(st, INVOICES))


def test_vendor_ids_are_an_array_parameter(st, tokens, make_client):
    url = api("inventory", "vendors")
    st.add(responses.GET, url, json=page([{"id": 1, "name": "A"}]))
    make_client().vendors_by_ids(range(1, 61))
    calls = _calls(st, url)
    assert [len(parse_qs(urlsplit(c.request.url).query)["ids"]) for c in calls] == [50, 10]


def test_modified_on_or_after_is_sent_in_utc(st, tokens, make_client):
    url = api("inventory", "vendors")
    st.add(responses.GET, url, json=page([]))
    make_client().vendors(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert _query(st.calls[-1])["modifiedOnOrAfter"] == "2026-03-01T12:00:00.000Z"


def test_export_follows_continue_from_one_page_at_a_time(st, tokens, make_client):
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "tok-A", "data": [_invoice(1)]})
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "tok-B", "data": [_invoice(2)]})
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": False, "continueFrom": "tok-C", "data": []})
    client = make_client()
    pages = client.export_invoices("stored-token")
    first = next(pages)
    assert [i.id for i in first.records] == [1] and first.continue_from == "tok-A" and first.has_more
    assert len(_calls(st, EXPORT_INVOICES)) == 1  # the next page waits until the caller has stored this one
    rest = list(pages)
    assert [(p.continue_from, p.has_more) for p in rest] == [("tok-B", True), ("tok-C", False)]
    froms = [_query(c).get("from") for c in _calls(st, EXPORT_INVOICES)]
    assert froms == ["stored-token", "tok-A", "tok-B"]


def test_export_from_a_start_date_or_from_the_beginning(st, tokens, make_client):
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": False, "continueFrom": "t1", "data": []})
    client = make_client()
    list(client.export_invoices("2026-01-01"))
    list(client.export_invoices(None))
    queries = [_query(c) for c in _calls(st, EXPORT_INVOICES)]
    assert queries == [{"from": "2026-01-01"}, {}]


def test_export_dedupes_by_id_and_modified_on(st, tokens, make_client):
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "a", "data": [
        _invoice(1), _invoice(2)]})
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": False, "continueFrom": "b", "data": [
        _invoice(2), _invoice(1, modified="2026-01-03T08:00:00Z")]})
    pages = list(make_client().export_invoices(None, include_recent_changes=True))
    assert [i.id for i in pages[0].records] == [1, 2]
    # id 2 again with the same modifiedOn is dropped; id 1 with a newer modifiedOn is a new version
    assert [(i.id, i.modified_on.day) for i in pages[1].records] == [(1, 3)]
    assert _query(st.calls[-1])["includeRecentChanges"] == "true"


def test_a_raw_export_gives_the_records_as_sent_deduplicated_as_models(st, tokens, make_client):
    first = [_invoice(1), _invoice(2)]
    second = [_invoice(2), _invoice(1, modified="2026-01-03T08:00:00Z"),
              {**_invoice(1, modified="2026-01-03T08:00:00Z"), "id": "1"}]  # the same version, id as text
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "a", "data": first})
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": False, "continueFrom": "b", "data": second})
    pages = list(make_client().export_invoices(None, raw=True))
    assert [type(record) for page in pages for record in page.records] == [dict] * 3
    assert [r["id"] for r in pages[0].records] == [1, 2]
    assert [(r["id"], r["modifiedOn"]) for r in pages[1].records] == [(1, "2026-01-03T08:00:00Z")]
    assert [(p.continue_from, p.has_more) for p in pages] == [("a", True), ("b", False)]


def test_export_stops_on_a_feed_that_does_not_move(st, tokens, make_client):
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "same", "data": []})
    pages = list(make_client().export_invoices("same"))
    assert len(pages) == 1 and pages[0].continue_from == "same"


def test_other_export_feeds(st, tokens, make_client):
    client = make_client()
    feeds = {
        ("accounting", "export/invoice-items"): client.export_invoice_items,
        ("inventory", "export/purchase-orders"): client.export_purchase_orders,
        ("inventory", "export/adjustments"): client.export_adjustments,
        ("pricebook", "export/materials"): client.export_materials,
        ("pricebook", "export/equipment"): client.export_equipment,
        ("pricebook", "export/services"): client.export_services,
    }
    for (module, path), feed in feeds.items():
        st.add(responses.GET, api(module, path), json={"hasMore": False, "continueFrom": "x", "data": [{"id": 1}]})
        pages = list(feed("2026-01-01"))
        assert pages[0].records[0].id == 1 and pages[0].continue_from == "x"


def test_list_dedupes_records_that_moved_between_pages(st, tokens, make_client):
    url = api("inventory", "vendors")
    v = {"id": 5, "name": "A", "modifiedOn": "2026-01-01T00:00:00Z"}
    st.add(responses.GET, url, json=page([v], has_more=True))
    st.add(responses.GET, url, json=page([v, {"id": 6, "name": "B"}], page_number=2))
    assert [x.id for x in make_client().vendors()] == [5, 6]


def test_empty_page_with_has_more_does_not_loop_forever(st, tokens, make_client):
    st.add(responses.GET, MATERIALS, json=page([], has_more=True))
    assert make_client().materials() == []
    assert len(_calls(st, MATERIALS)) == 1


def test_an_export_feed_that_hands_back_the_same_token_stops_with_an_error_naming_it(st, tokens, make_client):
    from desktop_app.servicetitan.errors import FeedNotAdvancing

    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "tok-A", "data": [_invoice(1)]})
    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": "tok-A", "data": [_invoice(2)]})
    feed = make_client().export_invoices(None)
    pages = [next(feed), next(feed)]  # both pages are handed over: the caller stores what it was given
    assert [r.id for p in pages for r in p.records] == [1, 2]
    with pytest.raises(FeedNotAdvancing, match="accounting/export/invoices.*continueFrom token it gave before"):
        next(feed)
    assert len(_calls(st, EXPORT_INVOICES)) == 2


def test_an_export_feed_without_a_token_and_more_to_come_stops(st, tokens, make_client):
    from desktop_app.servicetitan.errors import FeedNotAdvancing

    st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "data": [_invoice(1)]})
    with pytest.raises(FeedNotAdvancing):
        list(make_client().export_invoices("2026-01-01"))
    assert len(_calls(st, EXPORT_INVOICES)) == 1


def test_an_export_feed_that_never_ends_stops_at_the_page_cap(st, tokens, make_client):
    from desktop_app.servicetitan.errors import FeedNotAdvancing

    for n in range(10):
        st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": f"t{n}", "data": [_invoice(n)]})
    client = make_client()
    client.max_pages = 4
    with pytest.raises(FeedNotAdvancing, match="after 4 pages"):
        list(client.export_invoices(None))
    assert len(_calls(st, EXPORT_INVOICES)) == 4


def test_a_list_that_repeats_its_page_stops_with_an_error_naming_it(st, tokens, make_client):
    from desktop_app.servicetitan.errors import FeedNotAdvancing

    for _ in range(5):  # a server that ignores `page`
        st.add(responses.GET, MATERIALS, json=page([{"id": 1, "code": "A", "cost": 1}], has_more=True))
    with pytest.raises(FeedNotAdvancing, match="pricebook/materials list answered page 2 with the same records"):
        make_client().materials()
    assert len(_calls(st, MATERIALS)) == 2


def test_a_list_that_never_ends_stops_at_the_page_cap(st, tokens, make_client):
    from desktop_app.servicetitan.errors import FeedNotAdvancing

    for n in range(10):
        st.add(responses.GET, MATERIALS, json=page([{"id": n, "code": f"C{n}", "cost": 1}], has_more=True))
    client = make_client()
    client.max_pages = 3
    with pytest.raises(FeedNotAdvancing, match="after 3 pages"):
        client.materials()


def test_an_export_feed_that_goes_round_in_a_circle_stops(st, tokens, make_client):
    from desktop_app.servicetitan.errors import FeedNotAdvancing

    for n, token in enumerate(["A", "B", "A", "B"]):
        st.add(responses.GET, EXPORT_INVOICES, json={"hasMore": True, "continueFrom": token, "data": [_invoice(n)]})
    with pytest.raises(FeedNotAdvancing):
        list(make_client().export_invoices(None))
    assert len(_calls(st, EXPORT_INVOICES)) == 3
