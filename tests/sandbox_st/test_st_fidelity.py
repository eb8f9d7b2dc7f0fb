"""ServiceTitan rules from its published documents (docs/sandbox-fidelity.md) that the older test files do
not already name: each test says which rule it holds the simulator to."""
from __future__ import annotations

from datetime import timedelta

from .conftest import body


def drain(client, path, token=None, recent=False):
    records = []
    while True:
        params = {"from": token} if token else {}
        if recent:
            params["includeRecentChanges"] = "true"
        page = body(client.get("accounting", path, params=params))
        records += page["data"]
        token = page["continueFrom"]
        if not page["hasMore"]:
            return records, token


def test_st_export_feed_shows_a_change_15_minutes_late_unless_recent_changes_are_asked_for(client, sim, company):
    st = company.st
    now = [st.last_stamp + timedelta(hours=1)]
    st.clock = lambda: now[0]
    sim.set_faults({"export_delay": 900})
    seeded, token = drain(client, "export/invoices")
    assert len(seeded) == len(st.invoices)

    fresh = st.advance(2)
    assert drain(client, "export/invoices", token)[0] == []
    recent, recent_token = drain(client, "export/invoices", token, recent=True)
    assert [r["id"] for r in recent] == fresh
    # the token of a page with unsettled records stays before them: the next call repeats them
    again, _ = drain(client, "export/invoices", recent_token, recent=True)
    assert [r["id"] for r in again] == fresh
    sim.export_batch_size = 5000
    items, _ = drain(client, "export/invoice-items")
    assert items and not {i["invoiceId"] for i in items} & set(fresh)
    sim.export_batch_size = 500

    now[0] += timedelta(minutes=15, seconds=1)
    settled, later_token = drain(client, "export/invoices", token)
    assert [r["id"] for r in settled] == fresh
    assert drain(client, "export/invoices", later_token)[0] == []


def test_st_export_latency_never_stalls_a_feed_whose_pages_are_all_recent(client, sim, company):
    st = company.st
    now = [st.last_stamp + timedelta(hours=1)]
    st.clock = lambda: now[0]
    sim.set_faults({"export_delay": 900})
    _, token = drain(client, "export/invoices")
    sim.export_batch_size = 2
    fresh = st.advance(5)
    recent, _ = drain(client, "export/invoices", token, recent=True)
    assert [r["id"] for r in recent] == fresh


def test_st_unknown_query_parameters_and_body_fields_are_ignored(client, company):
    plain = body(client.get("inventory", "vendors", params={"pageSize": 500}))
    noisy = body(client.get("inventory", "vendors", params={"pageSize": 500, "vendorNameContains": "zzz"}))
    assert noisy["data"] == plain["data"]
    vendor_id = next(iter(company.st.vendors))
    patched = client.call("PATCH", "inventory", f"vendors/{vendor_id}", json_body={"name": "Renamed", "colour": "red"})
    assert patched.status_code == 200
    assert "colour" not in company.st.vendors[vendor_id]


def test_st_page_size_is_capped_and_page_starts_at_1(client):
    capped = body(client.get("accounting", "invoices", params={"pageSize": 100000}))
    assert capped["pageSize"] == 5000
    assert client.get("accounting", "invoices", params={"page": 0}).status_code == 400
    assert client.get("accounting", "invoices", params={"pageSize": 0}).status_code == 400


def test_st_seed_modifies_nothing_after_its_today(company):
    """With the export latency on, a record stamped in the future would hold back every change after it."""
    from datetime import datetime, time

    from .conftest import TODAY

    midnight = datetime.combine(TODAY, time(0))
    for table in ("invoices", "purchase_orders", "receipts", "adjustments", "vendors", "ap_bills", "materials"):
        late = [r["id"] for r in getattr(company.st, table).values()
                if r.get("modifiedOn") and r["modifiedOn"] >= midnight]
        assert late == [], table


def test_st_token_requests_can_be_throttled(client, sim, clock):
    """The token endpoint is throttled separately (rate unpublished: switched on by st.token_throttle)."""
    sim.set_faults({"token_throttle": 2})
    assert client.fetch_token().status_code == 200
    assert client.fetch_token().status_code == 200
    refused = client.fetch_token()
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    clock.advance(30)
    assert client.get("settings", "business-units").status_code == 200  # the token issued still works
    assert client.fetch_token().headers["Retry-After"] == "30"
    clock.advance(30.5)
    assert client.fetch_token().status_code == 200
