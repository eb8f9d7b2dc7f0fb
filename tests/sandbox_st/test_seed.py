"""The demo company: deterministic, fast, awkward in the right places, partly unmapped on purpose."""
from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from desktop_app.sandbox import st_shapes
from desktop_app.sandbox.seed import UNMAPPED_SKUS, advance, build_company
from desktop_app.sandbox.st_wire import dumps
from desktop_app.sandbox.syspro_state import SysproState

from .conftest import TODAY


def fingerprint(company) -> bytes:
    st = company.st
    invoices = [st_shapes.invoice(i) for i in st.invoices.values()]
    return dumps([invoices, company.starter_mappings, company.credentials,
                  sorted(company.syspro.suppliers), sorted(company.syspro.stock_codes),
                  [sorted(company.syspro.stock_levels.items())], company.syspro.movements,
                  {k: v["header"] for k, v in company.syspro.purchase_orders.items()}])


def test_same_seed_same_company_and_another_seed_another():
    one = build_company(7, today=TODAY)
    assert fingerprint(one) == fingerprint(build_company(7, today=TODAY))
    assert fingerprint(one) != fingerprint(build_company(8, today=TODAY))


def test_twenty_thousand_invoices_build_in_a_few_seconds():
    started = time.perf_counter()
    company = build_company(3, invoices=20_000, today=TODAY)
    assert len(company.st.invoices) == 20_000
    assert time.perf_counter() - started < 6


def test_invoices_fall_in_the_last_month(company):
    dates = [i["invoiceDate"] for i in company.st.invoices.values()]
    assert min(dates) >= TODAY - timedelta(days=30) and max(dates) < TODAY
    assert len({i["referenceNumber"] for i in company.st.invoices.values()}) == len(dates)


def cost_items(invoice):
    return [i for i in invoice["items"] if i["type"] in ("Material", "Equipment")]


def test_the_invoices_cover_the_hard_cases(company):
    st = company.st
    invoices = list(st.invoices.values())

    def vendor_of(item):
        return st.sku(item["skuId"])["primaryVendor"]["vendorId"]

    assert any(len({vendor_of(i) for i in cost_items(inv) if i["cost"]}) >= 2 for inv in invoices)
    adjustments = [inv for inv in invoices if inv.get("adjustmentToId")]
    assert adjustments and all(a["adjustmentToId"] in st.invoices for a in adjustments)
    assert any(a["total"] < 0 for a in adjustments)
    assert any(any(i["cost"] == 0 for i in cost_items(inv)) for inv in invoices)
    assert any(not cost_items(inv) for inv in invoices)
    items = [i for inv in invoices for i in inv["items"]]
    assert any(i["cost"] == Decimal("19.995") and i["quantity"] == 3 for i in items)
    assert any(i["quantity"] == Decimal("0.333") for i in items)
    assert any(i["type"] == "Equipment" for i in items)
    assert any(not inv["active"] for inv in invoices)


def test_awkward_names_are_present(company):
    st = company.st
    vendor_names = {v["name"] for v in st.vendors.values()}
    assert {"Johnstone Supply & Co", "Ferguson's Plumbing Supply", "Müller HVAC Parts"} <= vendor_names
    tech_names = {t["name"] for t in st.technicians.values()}
    assert "Patrick O'Connor" in tech_names and "José Muñoz" in tech_names
    assert len(st.business_units) == 5 and len(st.materials) >= 60 and len(st.equipment) == 15


def test_starter_mappings_cover_most_but_not_all(company):
    st, maps = company.st, company.starter_mappings
    assert set(maps) == {"vendors", "items", "gl", "branches", "warehouses"}
    mapped_vendors = {int(r["st_vendor_id"]) for r in maps["vendors"]}
    active_vendors = {i for i, v in st.vendors.items() if v["active"]}
    assert len(active_vendors - mapped_vendors) == 2
    mapped_skus = {int(r["st_sku_id"]) for r in maps["items"]}
    all_skus = set(st.materials) | set(st.equipment)
    unmapped = {st.sku(i)["code"] for i in all_skus - mapped_skus if st.sku(i)["active"]}
    assert unmapped == set(UNMAPPED_SKUS)
    assert all(r["syspro_stock_code"] in company.syspro.stock_codes for r in maps["items"])
    assert any(r["syspro_stock_code"] == r["st_sku_code"] for r in maps["items"])
    assert any(r["syspro_stock_code"] != r["st_sku_code"] for r in maps["items"])
    assert all(r["syspro_supplier"] in company.syspro.suppliers for r in maps["vendors"])
    assert all(r["syspro_gl_code"] in company.syspro.gl_codes for r in maps["gl"])
    assert {r["syspro_branch"] for r in maps["branches"]} == company.syspro.ap_branches
    assert all(r["syspro_warehouse"] in company.syspro.warehouses for r in maps["warehouses"])
    assert len(maps["warehouses"]) < len([w for w in st.warehouses.values() if w["active"]]) + len(st.trucks)

    def needs_mapping(invoice):
        return any(i["cost"] and (i["skuId"] not in mapped_skus or
                                  st.sku(i["skuId"])["primaryVendor"]["vendorId"] not in mapped_vendors)
                   for i in cost_items(invoice))

    waiting = [inv for inv in st.invoices.values() if needs_mapping(inv)]
    assert 0 < len(waiting) < len(st.invoices) / 2


def test_the_syspro_side(company):
    sp = company.syspro
    assert isinstance(sp, SysproState)
    assert sp.operators[company.credentials["syspro_operator"]] == company.credentials["syspro_operator_password"]
    assert sp.company_id == company.credentials["syspro_company"] == "EDU1"
    assert {"GRAING", "FASTEN"} <= set(sp.suppliers)  # suppliers ServiceTitan does not have yet
    assert sp.suppliers["MULLER"]["SupplierName"] == "Müller HVAC Parts"
    assert len(sp.movements) >= 4 and all(m["TrnType"] == "A" for m in sp.movements)
    assert len(sp.purchase_orders) >= 3
    assert all(len(code) <= 30 for code in sp.stock_codes)
    assert all(len(code) <= 10 for code in sp.warehouses)


def test_credentials_are_demo_values(company):
    creds = company.credentials
    assert creds["client_id"].startswith("cid.demo") and creds["client_secret"].startswith("cs1.demo")
    assert creds["app_key"].startswith("ak1.demo") and creds["tenant"].isdigit()
    assert creds["syspro_operator"] == "INTEGRATION" and creds["syspro_company_password"] == ""


def test_advance_adds_new_invoices_now(company):
    before = max(i["modifiedOn"] for i in company.st.invoices.values())
    new = advance(company, 4)
    assert len(new) == 4 and all(i in company.st.invoices for i in new)
    assert all(company.st.invoices[i]["modifiedOn"] > before for i in new)
    assert all(company.st.invoices[i]["invoiceDate"] >= date.today() - timedelta(days=1) for i in new)
