"""Tokens, headers, tenants, paging and filters of the ServiceTitan simulator over real HTTP."""
from __future__ import annotations

import re

import requests

from .conftest import body

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{7})?Z$")


def test_token_is_issued_for_the_right_client_only(sim, company):
    creds = company.credentials
    ok = requests.post(sim.auth_url, data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                                           "client_secret": creds["client_secret"]})
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "Bearer" and ok.json()["access_token"].count(".") == 2
    wrong = requests.post(sim.auth_url, data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                                              "client_secret": "cs1.wrong"})
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_client"}
    grant = requests.post(sim.auth_url, data={"grant_type": "password", "client_id": creds["client_id"],
                                              "client_secret": creds["client_secret"]})
    assert grant.status_code == 400


def test_tokens_expire_on_the_injected_clock(client, clock, sim):
    assert client.fetch_token().json()["expires_in"] == 900
    assert client.get("settings", "business-units").status_code == 200
    clock.advance(899)
    assert client.get("settings", "business-units").status_code == 200
    clock.advance(2)
    expired = client.get("settings", "business-units")
    assert expired.status_code == 401
    assert body(expired)["status"] == 401
    client.fetch_token()
    assert client.get("settings", "business-units").status_code == 200


def test_401_without_token_or_app_key_or_with_a_wrong_one(client):
    client.fetch_token()
    assert client.get("settings", "business-units", headers=client.headers(Authorization=None)).status_code == 401
    assert client.get("settings", "business-units", headers=client.headers(**{"ST-App-Key": None})).status_code == 401
    assert client.get("settings", "business-units",
                      headers=client.headers(**{"ST-App-Key": "ak1.not-ours"})).status_code == 401
    assert client.get("settings", "business-units",
                      headers=client.headers(Authorization="Bearer forged.token.x")).status_code == 401
    raw = client.get("settings", "business-units", headers=client.headers(Authorization=client.token))
    assert raw.status_code == 200  # the docs' example sends the token without "Bearer"


def test_another_tenant_is_404(client):
    response = client.get("settings", "business-units", tenant="1234")
    assert response.status_code == 404 and body(response)["status"] == 404


def test_unknown_route_is_404(client):
    assert client.get("accounting", "no-such-thing").status_code == 404


def test_paging_envelope_and_total_only_on_request(client, company):
    first = body(client.get("accounting", "invoices", params={"pageSize": 50}))
    active = [i for i in company.st.invoices.values() if i.get("active", True)]
    assert first["page"] == 1 and first["pageSize"] == 50 and first["hasMore"] is True
    assert first["totalCount"] is None and len(first["data"]) == 50
    seen = [row["id"] for row in first["data"]]
    page = 2
    while True:
        chunk = body(client.get("accounting", "invoices", params={"pageSize": 50, "page": page, "includeTotal": True}))
        assert chunk["totalCount"] == len(active)
        seen += [row["id"] for row in chunk["data"]]
        if not chunk["hasMore"]:
            break
        page += 1
    assert sorted(seen) == sorted(i["id"] for i in active)


def test_inactive_records_are_hidden_by_default(client, company):
    vendors = company.st.vendors
    default = {v["id"] for v in body(client.get("inventory", "vendors"))["data"]}
    everyone = {v["id"] for v in body(client.get("inventory", "vendors", params={"active": "Any"}))["data"]}
    inactive = {v["id"] for v in body(client.get("inventory", "vendors", params={"active": "False"}))["data"]}
    assert default == {i for i, v in vendors.items() if v["active"]}
    assert inactive == {i for i, v in vendors.items() if not v["active"]} and inactive
    assert everyone == default | inactive
    assert client.get("inventory", "vendors", params={"active": "Sometimes"}).status_code == 400

    invoices = company.st.invoices
    hidden = {i for i, inv in invoices.items() if not inv["active"]}
    assert hidden, "the seed should include voided invoices"
    listed = {r["id"] for r in body(client.get("accounting", "invoices", params={"pageSize": 500}))["data"]}
    assert not listed & hidden
    all_ids = {r["id"] for r in body(client.get("accounting", "invoices",
                                                params={"pageSize": 500, "activeState": "All"}))["data"]}
    assert all_ids == set(invoices)


def test_ids_filter_and_its_limit_of_50(client, company):
    wanted = list(company.st.invoices)[:3]
    rows = body(client.get("accounting", "invoices", params={"ids": ",".join(map(str, wanted))}))["data"]
    assert sorted(r["id"] for r in rows) == sorted(wanted)
    too_many = client.get("accounting", "invoices", params={"ids": ",".join(map(str, range(1, 52)))})
    assert too_many.status_code == 400 and "Ids" in body(too_many)["errors"]
    repeated = client.get("inventory", "vendors", params=[("ids", str(i)) for i in list(company.st.vendors)[:2]])
    assert len(body(repeated)["data"]) == 2


def test_modified_on_or_after(client, company):
    moments = sorted(inv["modifiedOn"] for inv in company.st.invoices.values() if inv["active"])
    cut = moments[len(moments) // 2]
    rows = body(client.get("accounting", "invoices",
                           params={"modifiedOnOrAfter": cut.isoformat() + "Z", "pageSize": 500}))["data"]
    assert len(rows) == sum(1 for m in moments if m >= cut)
    assert client.get("accounting", "invoices", params={"modifiedOnOrAfter": "yesterday"}).status_code == 400


def test_amounts_and_dates_are_written_like_servicetitan(client, company):
    invoice = body(client.get("accounting", "invoices", params={"pageSize": 1}))["data"][0]
    assert isinstance(invoice["total"], str) and isinstance(invoice["items"][0]["cost"], str)
    assert STAMP.match(invoice["createdOn"]) and invoice["createdOn"].count(".") == 1
    assert invoice["invoiceDate"].endswith("T00:00:00Z")
    material = body(client.get("pricebook", "materials", params={"pageSize": 100}))["data"]
    awkward = next(m for m in material if m["code"] == "R454B-LB")
    assert str(awkward["cost"]) == "19.995"  # a JSON number, digit for digit
    raw = client.get("pricebook", "materials", params={"pageSize": 100}).text
    assert '"cost":19.995' in raw


def test_requests_are_logged_without_credentials(client, sim, company):
    client.fetch_token()
    client.get("settings", "technicians", params={"access_token": "leaky"})
    entry = sim.request_log[-1]
    assert entry["path"].endswith("/technicians") and entry["status"] == 200
    assert "leaky" not in entry["query"]
    assert all(company.credentials["client_secret"] not in str(e) for e in sim.request_log)


def test_invoices_filter_by_business_unit_and_adjustment(client, company):
    adjustment = next(i for i in company.st.invoices.values() if i.get("adjustmentToId"))
    rows = body(client.get("accounting", "invoices", params={"adjustmentToId": adjustment["adjustmentToId"],
                                                             "activeState": "All"}))["data"]
    assert adjustment["id"] in {r["id"] for r in rows}
    bu = adjustment["businessUnit"]["id"]
    rows = body(client.get("accounting", "invoices", params={"businessUnitId": bu, "pageSize": 500}))["data"]
    assert rows and all(r["businessUnit"]["id"] == bu for r in rows)
