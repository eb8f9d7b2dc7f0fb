"""The simulator's read-only OData service: auth, $filter grammar, paging, $select/$orderby/$count."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from .conftest import COMPANY, OPERATOR, PASSWORD


def add_invoices(state, count: int) -> None:
    for n in range(1, count + 1):
        state.ap_invoices.append({
            "Supplier": "FERGUSON" if n % 2 else "JOHNSTONE", "Invoice": f"INV-{n:03d}", "DocumentType": "I",
            "InvoiceDate": date(2026, 2, n), "PostDate": date(2026, 3, 1), "DueDate": date(2026, 4, n),
            "Branch": "NORTH", "OrigInvValue": Decimal(f"{n}00.25"), "OrigTaxValue": Decimal("0.00"),
            "Journal": n, "TrnYear": 2026, "TrnMonth": 3, "Reference": f"O'Brien {n}", "Notation": "",
        })


def get(enet, entity="ApInvoice", **params):
    response = enet.odata(entity, **params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.text, parse_float=Decimal)


def test_server_driven_paging_with_next_link(enet, state, http):
    add_invoices(state, 12)
    page = get(enet, **{"$count": "true"})
    assert page["@odata.count"] == 12
    assert page["@odata.context"].endswith(f"/{COMPANY}/$metadata#ApInvoice")
    seen = [r["Invoice"] for r in page["value"]]
    assert len(seen) == 5
    while "@odata.nextLink" in page:
        response = http.get(page["@odata.nextLink"], auth=(OPERATOR, PASSWORD), timeout=5)
        page = json.loads(response.text, parse_float=Decimal)
        seen += [r["Invoice"] for r in page["value"]]
    assert seen == [f"INV-{n:03d}" for n in range(1, 13)]


def test_top_and_skip_are_honoured_across_pages(enet, state, http):
    add_invoices(state, 12)
    first = get(enet, **{"$top": "7", "$skip": "2"})
    assert [r["Journal"] for r in first["value"]] == [3, 4, 5, 6, 7]
    second = json.loads(http.get(first["@odata.nextLink"], auth=(OPERATOR, PASSWORD), timeout=5).text)
    assert [r["Journal"] for r in second["value"]] == [8, 9]
    assert "@odata.nextLink" not in second
    assert [r["Journal"] for r in get(enet, **{"$top": "2", "$skip": "10"})["value"]] == [11, 12]
    assert get(enet, **{"$skip": "50"})["value"] == []


def test_filter_grammar(enet, state):
    add_invoices(state, 12)

    def invoices(expression: str) -> list[int]:
        return [r["Journal"] for r in get(enet, **{"$filter": expression, "$top": "5"})["value"]]

    assert invoices("InvoiceDate ge 2026-02-10 and InvoiceDate lt 2026-02-12") == [10, 11]
    assert invoices("InvoiceDate le 2026-02-02") == [1, 2]
    assert invoices("OrigInvValue gt 1000.25") == [11, 12]
    assert invoices("OrigInvValue eq 300.25") == [3]
    assert invoices("Journal ne 1 and Journal lt 4") == [2, 3]
    assert invoices("Supplier eq 'JOHNSTONE' and (Journal eq 2 or Journal eq 12)") == [2, 12]
    assert invoices("(Supplier eq 'JOHNSTONE' and Journal eq 2) or Journal eq 3") == [2, 3]
    assert invoices("Supplier eq 'JOHNSTONE' and Journal eq 2 or Journal eq 3") == [2, 3]
    assert invoices("Reference eq 'O''Brien 7'") == [7]
    assert invoices("Invoice eq 'nothing'") == []


@pytest.mark.parametrize("expression", [
    "Supplier eq",
    "Supplier = 'X'",
    "contains(Supplier,'F')",
    "Supplier eq 'unterminated",
    "Nope eq 'X'",
    "InvoiceDate eq '2026-01-01'",
    "Journal eq '1'",
    "Supplier eq 5",
    "InvoiceDate eq 2026-02-30",
    "Journal eq 1 and",
    "(Journal eq 1",
    "Journal eq 1)",
    "Supplier eq 'A' xor Journal eq 1",
    "not Journal eq 1",
    "InvoiceDate ge 2026-01-01T00:00:00Z",
    "",
])
def test_bad_filters_are_400_with_an_odata_error(enet, state, expression):
    add_invoices(state, 2)
    response = enet.odata("ApInvoice", **{"$filter": expression})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "" and body["error"]["message"]


@pytest.mark.parametrize("params", [{"$expand": "x"}, {"$top": "-1"}, {"$skip": "a"}, {"$select": "Nope"},
                                    {"$orderby": "Nope"}, {"$orderby": "Journal sideways"}, {"$count": "maybe"}])
def test_bad_options_are_400(enet, params):
    assert enet.odata("ApInvoice", **params).status_code == 400


def test_select_orderby_and_exact_decimals(enet, state):
    add_invoices(state, 3)
    state.ap_invoices[0]["OrigInvValue"] = Decimal("1234567890.12345")
    response = enet.odata("ApInvoice", **{"$select": "Invoice,OrigInvValue", "$orderby": "Journal desc"})
    assert '"OrigInvValue":1234567890.12345' in response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert body["@odata.context"].endswith("#ApInvoice(Invoice,OrigInvValue)")
    assert body["value"] == [
        {"Invoice": "INV-003", "OrigInvValue": Decimal("300.25")},
        {"Invoice": "INV-002", "OrigInvValue": Decimal("200.25")},
        {"Invoice": "INV-001", "OrigInvValue": Decimal("1234567890.12345")},
    ]
    ordered = get(enet, **{"$orderby": "Supplier desc,Journal", "$select": "Journal"})["value"]
    assert [r["Journal"] for r in ordered] == [2, 1, 3]


def test_basic_auth_is_required(enet, http, sim):
    url = f"{sim.odata_url}/{COMPANY}/ApSupplier"
    anonymous = http.get(url, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert anonymous.json()["error"]["message"]
    assert http.get(url, auth=(OPERATOR, "wrong"), timeout=5).status_code == 401
    assert http.get(url, auth=("NOBODY", PASSWORD), timeout=5).status_code == 401
    assert http.get(url, headers={"Authorization": "Basic !!!"}, timeout=5).status_code == 401
    assert http.get(url, auth=("CLERK", "clerk-pw"), timeout=5).status_code == 200


def test_unknown_company_and_entity_set_are_404(enet, http, sim):
    assert http.get(f"{sim.odata_url}/OTHER/ApInvoice", auth=(OPERATOR, PASSWORD), timeout=5).status_code == 404
    assert enet.odata("ApInvoices").status_code == 404


def test_metadata_lists_every_entity_set_and_contract_columns(enet):
    response = enet.odata("$metadata")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    sets = [s.get("Name") for s in root.iterfind(".//edm:EntitySet", ns)]
    assert sets == ["ApInvoice", "ApInvoicePay", "ApSupplier", "InvMaster", "InvWarehouse", "InvWhControl", "GenMaster",
                    "PorMasterHdr", "PorMasterDetail", "InvMovements"]
    invoice = root.find(".//edm:EntityType[@Name='ApInvoice']", ns)
    props = {p.get("Name"): p.get("Type") for p in invoice.iterfind("edm:Property", ns)}
    assert props["OrigInvValue"] == "Edm.Decimal" and props["InvoiceDate"] == "Edm.Date"
    assert set(props) == {"Supplier", "Invoice", "DocumentType", "InvoiceDate", "PostDate", "DueDate", "Branch",
                          "OrigInvValue", "OrigTaxValue", "Journal", "TrnYear", "TrnMonth", "Reference", "Notation",
                          "MthInvBal1"}


def test_master_data_entity_sets(enet):
    suppliers = get(enet, "ApSupplier", **{"$filter": "OnHold eq 'Y'"})["value"]
    assert [s["Supplier"] for s in suppliers] == ["HOLDCO"]
    assert set(suppliers[0]) >= {"SupplierName", "SupShortName", "Branch", "Currency", "TermsCode", "Telephone",
                                 "Email", "SupAddr1", "SupAddr5", "SupPostalCode", "SupplierClass"}
    assert get(enet, "InvMaster", **{"$filter": "StockCode eq 'REF-R410A'"})["value"][0]["Decimals"] == 3
    assert {w["Warehouse"] for w in get(enet, "InvWhControl")["value"]} == {"N1", "S1"}
    assert get(enet, "GenMaster", **{"$filter": "GlCode eq '5000-200'"})["value"] == [
        {"GlCode": "5000-200", "Description": "Subcontract", "AccountType": "E"}]
    levels = get(enet, "InvWarehouse", **{"$filter": "QtyOnHand gt 0"})["value"]
    assert levels == [{"StockCode": "FLT-1620", "Warehouse": "N1", "QtyOnHand": 40}]


EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
PRIMITIVES = {"Edm.String", "Edm.Decimal", "Edm.Int32", "Edm.Date"}


def check_csdl(document: bytes) -> dict[str, set[str]]:
    """The rules of OData 4.0 CSDL XML the simulator's $metadata must keep; returns set → properties."""
    root = etree.fromstring(document)
    assert root.tag == f"{{{EDMX}}}Edmx" and root.get("Version") == "4.0"
    (services,) = root.findall(f"{{{EDMX}}}DataServices")
    schemas = services.findall(f"{{{EDM}}}Schema")
    assert schemas and all(s.get("Namespace") for s in schemas)
    types = {f"{s.get('Namespace')}.{t.get('Name')}": t for s in schemas for t in s.findall(f"{{{EDM}}}EntityType")}
    for entity_type in types.values():
        props = {p.get("Name"): p for p in entity_type.findall(f"{{{EDM}}}Property")}
        assert all(p.get("Type") in PRIMITIVES for p in props.values())
        (key,) = entity_type.findall(f"{{{EDM}}}Key")
        refs = [r.get("Name") for r in key.findall(f"{{{EDM}}}PropertyRef")]
        assert refs, f"{entity_type.get('Name')} has an empty key"
        for ref in refs:  # a key property exists, is primitive and not nullable
            assert ref in props and props[ref].get("Nullable") == "false"
        for prop in props.values():
            if prop.get("Type") == "Edm.Decimal":  # without a Scale, 4.0 means scale 0: no cents
                assert prop.get("Scale") == "variable"
    containers = [c for s in schemas for c in s.findall(f"{{{EDM}}}EntityContainer")]
    assert len(containers) == 1 and containers[0].get("Name")
    sets = {}
    for entity_set in containers[0].findall(f"{{{EDM}}}EntitySet"):
        entity_type = types[entity_set.get("EntityType")]  # resolves to a defined type
        sets[entity_set.get("Name")] = {p.get("Name") for p in entity_type.findall(f"{{{EDM}}}Property")}
    return sets


def test_metadata_is_valid_odata_4_csdl(enet):
    response = enet.odata("$metadata")
    assert response.headers["Content-Type"].startswith("application/xml")
    assert response.headers["OData-Version"] == "4.0"
    sets = check_csdl(response.content)
    assert sets["ApSupplier"] >= {"Supplier", "SupplierName", "Email"}


@pytest.fixture
def site_without_columns(state, http):
    from desktop_app.sandbox.syspro_sim import SysproSimulator

    from .conftest import Enet

    simulator = SysproSimulator(state, max_lifetime_s=120, odata_drop="ApSupplier.Email, ApInvoice.Notation,"
                                                                      "ApInvoice.Invoice")
    simulator.start()
    yield Enet(simulator, http)
    simulator.stop()


def test_a_site_without_some_columns_does_not_list_serve_or_accept_them(site_without_columns, state):
    enet = site_without_columns
    add_invoices(state, 2)
    sets = check_csdl(enet.odata("$metadata").content)
    assert "Email" not in sets["ApSupplier"] and "Telephone" in sets["ApSupplier"]
    assert not {"Notation", "Invoice"} & sets["ApInvoice"] and "Supplier" in sets["ApInvoice"]
    suppliers = get(enet, "ApSupplier")["value"]
    assert suppliers and all("Email" not in row and "Telephone" in row for row in suppliers)
    assert all("Invoice" not in row for row in get(enet, "ApInvoice")["value"])
    for params in ({"$select": "Supplier,Email"}, {"$filter": "Email eq 'a@b.c'"}, {"$orderby": "Email"}):
        response = enet.odata("ApSupplier", **params)
        assert response.status_code == 400, params
        assert "Could not find a property named 'Email'" in response.json()["error"]["message"]
    # the columns it does have work as before
    assert get(enet, "ApSupplier", **{"$select": "Supplier,Telephone", "$filter": "Supplier eq 'FERGUSON'"})["value"]


@pytest.mark.parametrize("spec", ["ApSupplier.Nope", "Nothing.Email", "ApSupplier", "InvWhControl.Warehouse"])
def test_a_drop_spec_names_real_columns_and_keeps_a_key(spec):
    from desktop_app.sandbox.syspro_odata import parse_drop_spec

    with pytest.raises(ValueError, match="odata_drop"):
        parse_drop_spec(spec)
