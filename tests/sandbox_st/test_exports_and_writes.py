"""Export feeds with continuation tokens, and the write routes ServiceTitan allows (and those it doesn't)."""
from __future__ import annotations

from decimal import Decimal

from desktop_app.sandbox.st_sim import ServiceTitanSimulator

from .conftest import StClient, body

GUID = "0a1b2c3d-0000-4000-8000-00000000abcd"


def drain(client, module, path, token=None):
    records, calls = [], 0
    while True:
        page = body(client.get(module, path, params={"from": token} if token else None))
        calls += 1
        records += page["data"]
        token = page["continueFrom"]
        if not page["hasMore"]:
            return records, token, calls


def test_export_feed_pages_by_batch_and_resumes_from_the_token(company, clock):
    with ServiceTitanSimulator(company.st, clock=clock, export_batch_size=25, max_lifetime_s=60) as sim:
        client = StClient(sim, company.credentials)
        try:
            records, token, calls = drain(client, "accounting", "export/invoices")
            assert calls == 5 and len(records) == 120  # inactive ones too: exports are unfiltered
            stamps = [(r["modifiedOn"], r["id"]) for r in records]
            assert stamps == sorted(stamps)
            again = body(client.get("accounting", "export/invoices", params={"from": token}))
            assert again["data"] == [] and again["hasMore"] is False and again["continueFrom"]

            edited = records[3]["id"]
            company.st.edit_invoice(edited)
            new_ids = company.st.advance(2)
            after, _token, _ = drain(client, "accounting", "export/invoices", token)
            assert [r["id"] for r in after] == [edited, *new_ids]
            assert after[0]["modifiedOn"] > records[3]["modifiedOn"]
            assert after[0]["items"][0]["quantity"] != records[3]["items"][0]["quantity"] or len(after[0]["items"]) > 1
        finally:
            client.close()


def test_export_from_a_date_means_modified_on_or_after(client, company):
    moments = sorted(inv["modifiedOn"] for inv in company.st.invoices.values())
    cut = moments[100]
    day = cut.date().isoformat()
    rows = body(client.get("accounting", "export/invoices", params={"from": day}))["data"]
    assert len(rows) == sum(1 for m in moments if m.date() >= cut.date())


def test_export_invoice_items_are_flat_and_point_at_their_invoice(client, company):
    rows = body(client.get("accounting", "export/invoice-items"))["data"]
    expected = sum(len(i["items"]) for i in company.st.invoices.values())
    assert len(rows) == min(expected, 500)
    row = rows[0]
    assert row["invoiceId"] in company.st.invoices and isinstance(row["active"], bool)


def test_mark_as_exported_changes_the_invoice(client, company):
    invoice_id = next(i for i, inv in company.st.invoices.items() if inv["active"])
    response = client.call("POST", "accounting", "invoices/markasexported",
                           json_body=[{"invoiceId": invoice_id, "externalId": "JOHNST/ST-40001",
                                       "externalMessage": "Posted to SYSPRO"},
                                      {"invoiceId": 42, "externalId": "x"}])
    assert response.status_code == 200
    results = body(response)
    assert results[0] == {"invoiceId": invoice_id, "success": True, "errorMessage": None}
    assert results[1]["success"] is False and results[1]["errorMessage"]
    row = body(client.get("accounting", "invoices", params={"ids": invoice_id}))["data"][0]
    assert row["syncStatus"] == "Exported" and row["exportId"] == "JOHNST/ST-40001"
    exported = body(client.get("accounting", "invoices", params={"statuses": "Exported", "pageSize": 500}))["data"]
    assert invoice_id in {r["id"] for r in exported}


def test_ap_bills_cannot_be_written(client, company):
    bill = next(iter(company.st.ap_bills))
    assert client.get("accounting", f"ap-bills/{bill}").status_code == 200
    for method, path in (("POST", "ap-bills"), ("PATCH", f"ap-bills/{bill}"), ("PUT", f"ap-bills/{bill}"),
                         ("DELETE", f"ap-bills/{bill}"), ("POST", f"ap-bills/{bill}")):
        response = client.call(method, "accounting", path, json_body={"billAmount": "1.00"})
        assert response.status_code in (404, 405), (method, path)
    assert company.st.ap_bills[bill]["billAmount"] != Decimal("1.00")


def test_vendor_create_validates_required_fields(client, company):
    response = client.call("POST", "inventory", "vendors", json_body={
        "name": "Müller HVAC Parts West", "active": True, "isTruckReplenishment": False,
        "restrictedMobileCreation": False, "address": {"street": "1 Elm", "city": "Dallas"}})
    assert response.status_code == 400
    problem = body(response)
    assert problem["title"] and problem["status"] == 400 and problem["traceId"]
    assert set(problem["errors"]) == {"TaxRate", "Address.Unit", "Address.State", "Address.Zip", "Address.Country"}
    before = len(company.st.vendors)
    assert len(company.st.vendors) == before

    created = client.call("POST", "inventory", "vendors", json_body={
        "name": "Müller HVAC Parts West", "active": True, "isTruckReplenishment": False, "taxRate": 0.0825,
        "restrictedMobileCreation": False, "email": "west@muller.example",
        "address": {"street": "1 Elm", "unit": "", "city": "Dallas", "state": "TX", "zip": "75201", "country": "USA"},
        "externalData": {"applicationGuid": GUID, "externalData": [{"key": "syspro_supplier", "value": "MULLERW"}]}})
    assert created.status_code == 200
    vendor_id = body(created)["id"]
    vendor = body(client.get("inventory", f"vendors/{vendor_id}"))
    assert vendor["name"] == "Müller HVAC Parts West" and vendor["defaultTaxRate"] == Decimal("0.0825")
    assert vendor["contactInfo"]["email"] == "west@muller.example"
    assert vendor["externalData"] == [{"key": "syspro_supplier", "value": "MULLERW"}]
    found = body(client.get("inventory", "vendors", params={
        "externalDataApplicationGuid": GUID, "externalDataKey": "syspro_supplier", "externalDataValues": "MULLERW"}))
    assert [v["id"] for v in found["data"]] == [vendor_id]


def test_vendor_patch_with_external_data_replace_and_merge(client, company):
    vendor_id = next(iter(company.st.vendors))
    before = company.st.vendors[vendor_id]["modifiedOn"]

    def patch(payload):
        response = client.call("PATCH", "inventory", f"vendors/{vendor_id}", json_body=payload)
        assert response.status_code == 200, response.text
        return body(client.get("inventory", f"vendors/{vendor_id}"))

    def ext(pairs, mode=None):
        return {"externalData": {"applicationGuid": GUID, "patchMode": mode, "externalData": pairs}}

    patch(ext([{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]))
    merged = patch(ext([{"key": "b", "value": "3"}, {"key": "c", "value": "4"}], "Merge"))
    assert {p["key"]: p["value"] for p in merged["externalData"]} == {"a": "1", "b": "3", "c": "4"}
    replaced = patch(ext([{"key": "z", "value": "9"}], "Replace"))
    assert replaced["externalData"] == [{"key": "z", "value": "9"}]
    renamed = patch({"name": "Johnstone Supply & Co.", "active": False})
    assert renamed["name"] == "Johnstone Supply & Co." and renamed["active"] is False
    assert company.st.vendors[vendor_id]["modifiedOn"] > before
    bad = client.call("PATCH", "inventory", f"vendors/{vendor_id}", json_body={"taxRate": "high"})
    assert bad.status_code == 400 and "TaxRate" in body(bad)["errors"]


def test_purchase_order_create_is_pending_and_patch_respects_status(client, company):
    st = company.st
    vendor = next(v for v in st.vendors.values() if v["active"])
    sku = next(iter(st.materials.values()))
    address = {"street": "1 Main", "unit": "", "city": "Dallas", "state": "TX", "zip": "75201", "country": "USA"}
    payload = {"vendorId": vendor["id"], "typeId": 1, "businessUnitId": next(iter(st.business_units)),
               "inventoryLocationId": next(iter(st.warehouses)),
               "shipTo": {"description": "Dallas", "address": address},
               "impactsTechnicianPayroll": False, "date": "2026-03-10T00:00:00Z", "requiredOn": "2026-03-12T00:00:00Z",
               "tax": 0, "shipping": 12.5, "memo": "From SYSPRO PO 000123",
               "items": [{"skuId": sku["id"], "description": sku["description"], "vendorPartNumber": "P1",
                          "quantity": 3, "cost": 19.995}]}
    created = client.call("POST", "inventory", "purchase-orders", json_body=payload)
    assert created.status_code == 200
    po = body(client.get("inventory", f"purchase-orders/{body(created)['id']}"))
    assert po["status"] == "Pending" and po["summary"] == "From SYSPRO PO 000123"
    assert po["items"][0]["total"] == Decimal("59.985") and po["total"] == Decimal("72.485")
    item_id = po["items"][0]["id"]
    patched = client.call("PATCH", "inventory", f"purchase-orders/{po['id']}", json_body={
        "items": [{"id": item_id, "skuId": sku["id"], "description": "x", "vendorPartNumber": "P1", "quantity": 4,
                   "cost": 1}]})
    assert patched.status_code == 200
    assert body(client.get("inventory", f"purchase-orders/{po['id']}"))["items"][0]["quantity"] == 4
    missing_vendor = dict(payload, vendorId=1)
    bad = client.call("POST", "inventory", "purchase-orders", json_body=missing_vendor)
    assert bad.status_code == 400 and "VendorId" in body(bad)["errors"]
    exported = next(p for p in st.purchase_orders.values() if p["status"] == "Exported")
    frozen = client.call("PATCH", "inventory", f"purchase-orders/{exported['id']}", json_body={"memo": "late"})
    assert frozen.status_code == 400


def test_adjustments_accept_only_external_data(client, company):
    adjustment_id = next(iter(company.st.adjustments))
    before = company.st.adjustments[adjustment_id]["modifiedOn"]
    response = client.call("PATCH", "inventory", f"adjustments/{adjustment_id}", json_body={
        "memo": "ignored", "externalData": {"applicationGuid": GUID,
                                            "externalData": [{"key": "syspro_journal", "value": "IN-2026-03-17"}]}})
    assert response.status_code == 200
    row = body(client.get("inventory", "adjustments", params={"ids": adjustment_id, "active": "Any"}))["data"][0]
    assert row["externalData"] == [{"key": "syspro_journal", "value": "IN-2026-03-17"}]
    assert row["memo"] != "ignored"
    assert company.st.adjustments[adjustment_id]["modifiedOn"] > before
    assert client.call("POST", "inventory", "adjustments", json_body={}).status_code in (404, 405)
