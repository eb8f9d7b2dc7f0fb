"""Typed records (Decimal money, nulls, integer enums) and the write operations' request shapes."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import responses

from desktop_app.core import money_json
from desktop_app.core.unreadable import Unreadable
from desktop_app.servicetitan import jsonio
from desktop_app.servicetitan.errors import ReadOnlyViolation
from desktop_app.servicetitan.models import Invoice, Sku, to_decimal

from .st_fakes import api, page

INVOICE = {
    "id": 77, "referenceNumber": "INV-77", "invoiceDate": "2026-01-19T00:00:00Z",
    "modifiedOn": "2026-01-19T20:35:38.2876004Z", "active": True, "subTotal": "1234.565", "salesTax": "0.00",
    "total": "1234.565", "businessUnit": {"id": 3, "name": "Plumbing"}, "job": {"id": 9, "number": "J-9", "type": None},
    "adjustmentToId": None, "customer": {"id": 5, "name": "Customer"}, "employeeInfo": None, "syncStatus": 0,
    "items": [
        {"id": 1, "skuId": 100, "skuName": "PIPE", "type": "Material", "quantity": "2.5", "cost": "10.123",
         "totalCost": "25.3075", "price": "20.00", "total": "50.00", "description": "Pipe",
         "inventoryLocationId": 4, "inventoryLocation": "Truck 4",
         "generalLedgerAccount": {"id": 1, "name": "COGS", "number": "5000", "type": "x", "detailType": "y"},
         "technicianId": 12, "modifiedOn": "2026-01-19T20:35:38Z"},
        {"id": 2, "skuId": 101, "skuName": None, "type": 2, "quantity": None, "cost": None, "totalCost": None,
         "price": None, "total": None, "description": None, "inventoryLocationId": None,
         "generalLedgerAccount": None, "technicianId": None},
    ],
}


def test_invoice_parsing_keeps_money_exact():
    invoice = Invoice.from_api(money_json.loads(json.dumps(INVOICE)))
    assert invoice.total == Decimal("1234.565") and isinstance(invoice.total, Decimal)
    assert invoice.number == "INV-77" and invoice.invoice_date == date(2026, 1, 19)
    assert invoice.modified_on == datetime(2026, 1, 19, 20, 35, 38, 287600, tzinfo=UTC)
    assert (invoice.business_unit_id, invoice.business_unit_name) == (3, "Plumbing")
    assert (invoice.job_id, invoice.job_number, invoice.customer_name) == (9, "J-9", "Customer")
    assert invoice.employee_id is None and invoice.sync_status == "0"
    first, second = invoice.items
    assert first.quantity * first.cost == Decimal("25.3075")
    assert (first.gl_account_number, first.gl_account_name, first.technician_id) == ("5000", "COGS", 12)
    assert first.invoice_id == 77 and first.active
    assert second.type == "2"  # an enum that came back as an integer
    assert second.quantity == Decimal("0") and second.gl_account_number is None
    assert invoice.technician_ids == [12]
    assert invoice.raw["referenceNumber"] == "INV-77"


def test_pricebook_json_numbers_are_decimal_not_float(st, tokens, make_client):
    body = ('{"page":1,"pageSize":500,"hasMore":false,"data":[{"id":1,"code":"M1","displayName":"Widget",'
            '"cost":12.345,"price":0.1,"active":false,"primaryVendor":{"id":8,"vendorName":"Acme","vendorId":44,'
            '"cost":12.345,"active":true},"otherVendors":null,"modifiedOn":"2026-02-01T00:00:00Z"}]}')
    st.add(responses.GET, api("pricebook", "materials"), body=body, content_type="application/json")
    [sku] = make_client().materials()
    assert sku.cost == Decimal("12.345") and type(sku.cost) is Decimal
    assert sku.price == Decimal("0.1")  # via float this would be 0.1000000000000000055511151231257827
    assert sku.primary_vendor.vendor_id == 44 and sku.primary_vendor.vendor_name == "Acme"
    assert sku.primary_vendor.cost == Decimal("12.345")
    assert sku.other_vendors == [] and sku.active is False and sku.kind == "material"


def test_service_without_vendor():
    sku = Sku.from_api({"id": 3, "code": "S", "cost": 0, "primaryVendor": None}, "service")
    assert sku.primary_vendor is None and sku.cost == Decimal(0)


@pytest.mark.parametrize("record", [
    {key: value for key, value in INVOICE.items() if key != "id"},
    {**INVOICE, "id": None},
    {**INVOICE, "items": [{key: value for key, value in INVOICE["items"][0].items() if key != "id"}]},
])
def test_a_record_without_its_own_id_is_unreadable(record):
    # every record is keyed on its id: one without it cannot be told apart, so it is held, never stored as None
    with pytest.raises(Unreadable, match=r"^id None is missing"):
        Invoice.from_api(money_json.loads(json.dumps(record)))


def test_to_decimal_accepts_strings_numbers_and_nulls():
    assert to_decimal("1234.565") == Decimal("1234.565")
    assert to_decimal(Decimal("12.345")) == Decimal("12.345")
    assert to_decimal(3) == Decimal(3)
    assert to_decimal(None) == Decimal(0) and to_decimal("", None) is None
    with pytest.raises(ValueError):
        to_decimal("abc")


def test_payload_decimals_are_written_as_exact_json_numbers():
    text = jsonio.dumps({"cost": Decimal("12.345"), "qty": Decimal("1E+1"), "n": None, "ok": True, "s": "é"})
    assert text == '{"cost":12.345,"qty":10,"n":null,"ok":true,"s":"é"}'
    with pytest.raises(TypeError):
        jsonio.dumps({"cost": 1.5})


def test_create_and_patch_vendor(st, tokens, make_client):
    url = api("inventory", "vendors")
    st.add(responses.POST, url, json={"id": 501})
    st.add(responses.PATCH, url + "/501", json={"id": 501})
    client = make_client()
    payload = {"name": "Acme", "active": True, "isTruckReplenishment": False, "taxRate": Decimal("0.0825"),
               "restrictedMobileCreation": False,
               "address": {"street": "1 Main", "unit": "", "city": "Austin", "state": "TX", "zip": "78701",
                           "country": "USA"}}
    assert client.create_vendor(payload) == 501
    patch = {"externalData": {"patchMode": "Merge", "applicationGuid": "8e6b6e2c-0000-4000-8000-000000000001",
                              "externalData": [{"key": "syspro_supplier", "value": "ACME01"}]}}
    assert client.patch_vendor(501, patch) == 501
    sent = json.loads(st.calls[1].request.body, parse_float=Decimal)
    assert sent["taxRate"] == Decimal("0.0825")
    assert st.calls[1].request.headers["Content-Type"] == "application/json"


def test_get_vendor_and_purchase_order(st, tokens, make_client):
    st.add(responses.GET, api("inventory", "vendors/7"), json={"id": 7, "name": "V", "active": True,
                                                               "defaultTaxRate": 0.05, "externalData": [
                                                                   {"key": "k", "value": "v"}]})
    st.add(responses.GET, api("inventory", "purchase-orders/9"), json={
        "id": 9, "number": "PO9", "status": "Pending", "vendorId": 7, "total": 10.5, "tax": 0, "shipping": 0,
        "date": "2026-01-05T00:00:00Z", "items": [{"id": 1, "skuId": 2, "quantity": 3, "cost": 3.5, "total": 10.5,
                                                   "quantityReceived": 0, "skuCode": "M1"}]})
    client = make_client()
    vendor = client.get_vendor(7)
    assert vendor.default_tax_rate == Decimal("0.05") and vendor.external_data == {"k": "v"}
    po = client.get_purchase_order(9)
    assert po.total == Decimal("10.5") and po.items[0].cost == Decimal("3.5") and po.date == date(2026, 1, 5)


def test_create_and_patch_purchase_order(st, tokens, make_client):
    url = api("inventory", "purchase-orders")
    st.add(responses.POST, url, json={"id": 900})
    st.add(responses.PATCH, url + "/900", json={"id": 900})
    client = make_client()
    payload = {
        "vendorId": 1, "typeId": 2, "businessUnitId": 3, "inventoryLocationId": 4,
        "shipTo": {"description": "Main", "address": {"street": "1", "unit": "", "city": "c", "state": "s",
                                                      "zip": "z", "country": "US"}},
        "impactsTechnicianPayroll": False, "date": "2026-01-05T00:00:00Z", "requiredOn": "2026-01-10T00:00:00Z",
        "tax": Decimal("0"), "shipping": Decimal("0"),
        "items": [{"skuId": 10, "description": "Pipe", "vendorPartNumber": "P-1", "quantity": Decimal("2"),
                   "cost": Decimal("12.345")}],
    }
    assert client.create_purchase_order(payload) == 900
    assert client.patch_purchase_order(900, {"memo": "updated"}) == 900
    assert b'"cost":12.345' in st.calls[1].request.body


def test_receipts_and_adjustments_lists(st, tokens, make_client):
    st.add(responses.GET, api("inventory", "receipts"), json=page([{"id": 1, "purchaseOrderId": 9,
                                                                    "receiptAmount": 10.25, "items": []}]))
    st.add(responses.GET, api("inventory", "adjustments"), json=page([{"id": 2, "type": 1, "items": [
        {"id": 3, "skuId": 4, "quantity": -1, "cost": 2.5, "totalCost": -2.5}]}]))
    client = make_client()
    [receipt] = client.receipts(purchase_order_ids=[9])
    assert receipt.receipt_amount == Decimal("10.25")
    [adjustment] = client.adjustments()
    assert adjustment.type == "1" and adjustment.items[0].total_cost == Decimal("-2.5")


def test_mark_invoices_exported(st, tokens, make_client):
    url = api("accounting", "invoices/markasexported")
    st.add(responses.POST, url, json=[{"invoiceId": 1, "success": True, "errorMessage": None},
                                      {"invoiceId": 2, "success": False, "errorMessage": "Not found"}])
    results = make_client().mark_invoices_exported([(1, "AP-100", "Posted to SYSPRO"), (2, "AP-101", None)])
    assert [(r.invoice_id, r.success, r.error_message) for r in results] == [(1, True, None), (2, False, "Not found")]
    assert json.loads(st.calls[-1].request.body) == [
        {"invoiceId": 1, "externalId": "AP-100", "externalMessage": "Posted to SYSPRO"},
        {"invoiceId": 2, "externalId": "AP-101", "externalMessage": None}]


def test_patch_adjustment_external_data(st, tokens, make_client):
    url = api("inventory", "adjustments/42")
    st.add(responses.PATCH, url, json={"id": 42})
    guid = "8e6b6e2c-0000-4000-8000-000000000001"
    assert make_client().patch_adjustment_external_data(42, guid, {"syspro_journal": "J123"}) == 42
    assert json.loads(st.calls[-1].request.body) == {"externalData": {
        "patchMode": "Merge", "applicationGuid": guid, "externalData": [{"key": "syspro_journal", "value": "J123"}]}}


def test_ap_bills_are_readable(st, tokens, make_client):
    st.add(responses.GET, api("accounting", "ap-bills"), json=page([{
        "id": 1, "billAmount": "99.995", "vendor": {"id": 3, "name": "Acme"}, "landedCostMethod": 0, "items": [
            {"id": 1, "skuId": 2, "quantity": "1", "cost": "99.995", "inventoryLocation": {"id": 4, "name": "W"}}]}]))
    st.add(responses.GET, api("accounting", "ap-bills/1"), json={"id": 1, "billAmount": "1.00"})
    client = make_client()
    [bill] = client.ap_bills(bill_type="ApBill")
    assert bill.bill_amount == Decimal("99.995") and bill.vendor_name == "Acme"
    assert bill.items[0].inventory_location_id == 4
    assert client.get_ap_bill(1).bill_amount == Decimal("1.00")


@pytest.mark.parametrize("method,path", [
    ("POST", "ap-bills"), ("PATCH", "ap-bills/5"), ("DELETE", "ap-bills/5"), ("POST", "ap-bills/markasexported"),
    ("PATCH", "ap-bills/custom-fields"), ("PUT", "/ap-bills/5"), ("post", "inventory-bills/markasexported"),
])
def test_ap_bill_writes_are_refused_before_any_request(st, make_client, method, path):
    client = make_client()
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        client.request(method, "accounting", path, json_body={"x": 1})
    assert len(st.calls) == 0  # not even a token request
    assert client.stats.requests == 0 and client.stats.token_requests == 0
