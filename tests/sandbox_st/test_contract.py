"""Every route the simulator serves answers in the shape its OpenAPI document gives for that
operation and status — successes and the documented error responses alike."""
from __future__ import annotations

import json
from functools import cache

from jsonschema import Draft202012Validator

from desktop_app.sandbox.st_sim import ROUTES
from tests.reference_docs import ST_OPENAPI, ST_SAMPLES

from .conftest import body

GUID = "0a1b2c3d-0000-4000-8000-00000000abcd"


@cache
def spec(module: str) -> dict:
    return json.loads((ST_OPENAPI / f"{module}-v2.json").read_text("utf-8"))


def response_schema(module: str, path: str, method: str, status: int) -> dict:
    operation = spec(module)["paths"][f"/tenant/{{tenant}}/{path}"][method.lower()]
    content = operation["responses"][str(status)]["content"]
    return (content.get("application/json") or next(iter(content.values())))["schema"]


def validate(module: str, schema: dict, instance) -> None:
    root = {**schema, "components": spec(module)["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def first(table: dict) -> int:
    return next(iter(table))


def cases(company):
    st = company.st
    vendor = first(st.vendors)
    po = next(p for p in st.purchase_orders.values() if p["status"] == "Pending")
    bu = first(st.business_units)
    location = next(iter(st.warehouses))
    sku = first(st.materials)
    new_vendor = {"name": "Contract Test Supply & Co", "active": True, "isTruckReplenishment": False, "taxRate": 0,
                  "restrictedMobileCreation": False,
                  "address": {"street": "1 Main", "unit": "", "city": "Dallas", "state": "TX", "zip": "75201",
                              "country": "USA"}}
    new_po = {"vendorId": vendor, "typeId": 1, "businessUnitId": bu, "inventoryLocationId": location,
              "shipTo": {"description": "Dallas", "address": new_vendor["address"]}, "impactsTechnicianPayroll": False,
              "date": "2026-03-10T00:00:00Z", "requiredOn": "2026-03-12T00:00:00Z", "tax": 0, "shipping": "0" and 0,
              "items": [{"skuId": sku, "description": "Capacitor", "vendorPartNumber": "CAP355", "quantity": 2,
                         "cost": 18.75}]}
    ext = {"externalData": {"applicationGuid": GUID, "externalData": [{"key": "syspro", "value": "X1"}]}}
    c = [
        # (method, module, spec path, concrete path, params, json, status)
        ("GET", "accounting", "invoices", "invoices", {"includeTotal": "true", "pageSize": 20}, None, 200),
        ("GET", "accounting", "invoices", "invoices", {"ids": ",".join(map(str, range(1, 60)))}, None, 400),
        ("POST", "accounting", "invoices/markasexported", "invoices/markasexported", None,
         [{"invoiceId": first(st.invoices), "externalId": "AP-1", "externalMessage": "posted"},
          {"invoiceId": 1, "externalId": "nope"}], 200),
        ("POST", "accounting", "invoices/markasexported", "invoices/markasexported", None, [{"externalId": "x"}], 400),
        ("GET", "accounting", "export/invoices", "export/invoices", None, None, 200),
        ("GET", "accounting", "export/invoices", "export/invoices", {"from": "not a token"}, None, 400),
        ("GET", "accounting", "export/invoice-items", "export/invoice-items", None, None, 200),
        ("GET", "accounting", "gl-accounts", "gl-accounts", {"active": "Any"}, None, 200),
        ("GET", "accounting", "gl-accounts/{accountId}", f"gl-accounts/{first(st.gl_accounts)}", None, None, 200),
        ("GET", "accounting", "gl-accounts/{accountId}", "gl-accounts/1", None, None, 404),
        ("GET", "accounting", "ap-bills", "ap-bills", None, None, 200),
        ("GET", "accounting", "ap-bills/{billId}", f"ap-bills/{first(st.ap_bills)}", None, None, 200),
        ("GET", "accounting", "ap-bills/{billId}", "ap-bills/1", None, None, 404),
        ("GET", "inventory", "vendors", "vendors", {"active": "Any", "includeTotal": "true"}, None, 200),
        ("POST", "inventory", "vendors", "vendors", None, new_vendor, 200),
        ("POST", "inventory", "vendors", "vendors", None, {"name": "Missing fields"}, 400),
        ("GET", "inventory", "vendors/{id}", f"vendors/{vendor}", None, None, 200),
        ("GET", "inventory", "vendors/{id}", "vendors/1", None, None, 404),
        ("PATCH", "inventory", "vendors/{id}", f"vendors/{vendor}", None, ext, 200),
        ("PATCH", "inventory", "vendors/{id}", f"vendors/{vendor}", None, {"active": "yes"}, 400),
        ("PATCH", "inventory", "vendors/{id}", "vendors/1", None, {"memo": "x"}, 404),
        ("GET", "inventory", "purchase-orders", "purchase-orders", None, None, 200),
        ("POST", "inventory", "purchase-orders", "purchase-orders", None, new_po, 200),
        ("POST", "inventory", "purchase-orders", "purchase-orders", None, {"vendorId": vendor}, 400),
        ("GET", "inventory", "purchase-orders/{id}", f"purchase-orders/{po['id']}", None, None, 200),
        ("GET", "inventory", "purchase-orders/{id}", "purchase-orders/1", None, None, 404),
        ("PATCH", "inventory", "purchase-orders/{id}", f"purchase-orders/{po['id']}", None, {"memo": "Rush"}, 200),
        ("PATCH", "inventory", "purchase-orders/{id}", "purchase-orders/1", None, {"memo": "Rush"}, 404),
        ("GET", "inventory", "export/purchase-orders", "export/purchase-orders", None, None, 200),
        ("GET", "inventory", "receipts", "receipts", None, None, 200),
        ("GET", "inventory", "adjustments", "adjustments", {"active": "Any"}, None, 200),
        ("PATCH", "inventory", "adjustments/{id}", f"adjustments/{first(st.adjustments)}", None, ext, 200),
        ("PATCH", "inventory", "adjustments/{id}", "adjustments/1", None, ext, 404),
        ("GET", "inventory", "export/adjustments", "export/adjustments", None, None, 200),
        ("GET", "inventory", "warehouses", "warehouses", {"active": "Any"}, None, 200),
        ("GET", "inventory", "trucks", "trucks", None, None, 200),
        ("GET", "pricebook", "materials", "materials", {"active": "Any", "pageSize": 100}, None, 200),
        ("GET", "pricebook", "materials/{id}", f"materials/{sku}", None, None, 200),
        ("GET", "pricebook", "materials/{id}", "materials/1", None, None, 404),
        ("GET", "pricebook", "equipment", "equipment", None, None, 200),
        ("GET", "pricebook", "equipment/{id}", f"equipment/{first(st.equipment)}", None, None, 200),
        ("GET", "pricebook", "services", "services", None, None, 200),
        ("GET", "pricebook", "services/{id}", f"services/{first(st.services)}", None, None, 200),
        ("GET", "pricebook", "export/materials", "export/materials", None, None, 200),
        ("GET", "pricebook", "export/equipment", "export/equipment", None, None, 200),
        ("GET", "pricebook", "export/services", "export/services", None, None, 200),
        ("GET", "settings", "business-units", "business-units", None, None, 200),
        ("GET", "settings", "business-units/{id}", f"business-units/{bu}", None, None, 200),
        ("GET", "settings", "business-units/{id}", "business-units/1", None, None, 404),
        ("GET", "settings", "export/business-units", "export/business-units", None, None, 200),
        ("GET", "settings", "technicians", "technicians", {"active": "Any"}, None, 200),
        ("GET", "settings", "technicians/{id}", f"technicians/{first(st.technicians)}", None, None, 200),
        ("GET", "settings", "export/technicians", "export/technicians", None, None, 200),
    ]
    return c


def test_every_route_answers_as_its_openapi_document_says(client, company):
    covered = set()
    for method, module, spec_path, path, params, json_body, status in cases(company):
        response = client.call(method, module, path, params=params, json_body=json_body)
        assert response.status_code == status, (method, path, response.text[:300])
        schema = response_schema(module, spec_path, method, status)
        data = body(response)
        validate(module, schema, data)
        if status == 200 and isinstance(data, dict) and "data" in data:
            assert data["data"], f"{path}: contract checked against an empty list"
        covered.add((method, module, spec_path))
    served = {(m, mod, p.replace("<int:record_id>", "{id}")) for m, mod, p, _ in ROUTES}
    normalise = {"gl-accounts/{accountId}": "gl-accounts/{id}", "ap-bills/{billId}": "ap-bills/{id}"}
    covered = {(m, mod, normalise.get(p, p)) for m, mod, p in covered}
    assert served <= covered, f"routes without a contract check: {sorted(served - covered)}"


def test_export_pages_beyond_the_first_also_match(company, clock):
    from desktop_app.sandbox.st_sim import ServiceTitanSimulator

    from .conftest import StClient

    with ServiceTitanSimulator(company.st, clock=clock, export_batch_size=7, max_lifetime_s=60) as sim:
        client = StClient(sim, company.credentials)
        try:
            token = None
            schema = response_schema("accounting", "export/invoices", "GET", 200)
            for _ in range(3):
                page = body(client.get("accounting", "export/invoices", params={"from": token} if token else None))
                validate("accounting", schema, page)
                assert len(page["data"]) == 7 and page["hasMore"] is True
                token = page["continueFrom"]
        finally:
            client.close()


def test_token_response_has_the_documented_fields(sim, company):
    import requests

    sample = json.loads((ST_SAMPLES / "token-response.json").read_text("utf-8"))
    response = requests.post(sim.auth_url, data={"grant_type": "client_credentials",
                                                 "client_id": company.credentials["client_id"],
                                                 "client_secret": company.credentials["client_secret"]})
    data = response.json()
    assert set(k for k in sample if not k.startswith("_")) == set(data)
    assert data["token_type"] == "Bearer" and data["expires_in"] == 900


REQUEST_CHECKS = [
    # (module, spec path, method, the simulator's check)
    ("inventory", "vendors", "post", "CREATE_VENDOR"),
    ("inventory", "vendors/{id}", "patch", "UPDATE_VENDOR"),
    ("inventory", "purchase-orders", "post", "CREATE_PURCHASE_ORDER"),
    ("inventory", "purchase-orders/{id}", "patch", "UPDATE_PURCHASE_ORDER"),
    ("inventory", "adjustments/{id}", "patch", "UPDATE_ADJUSTMENT"),
    ("accounting", "invoices/markasexported", "post", "MARK_INVOICE_EXPORTED"),
]
KINDS = {"str": {"string"}, "guid": {"string"}, "datetime": {"string"}, "bool": {"boolean"}, "int": {"integer"},
         "num": {"number"}}


def _resolve(module: str, schema: dict) -> dict:
    """Follow $ref and the one-member oneOf/allOf wrappers (with or without a null) the documents use."""
    while True:
        if "$ref" in schema:
            schema = spec(module)["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            continue
        wrapped = schema.get("oneOf") or schema.get("anyOf") or schema.get("allOf")
        if wrapped:
            members = [m for m in wrapped if m.get("type") != "null"]
            if len(members) == 1:
                schema = members[0]
                continue
        return schema


def _compare(module: str, schema: dict, check: dict, where: str, problems: list[str]) -> None:
    schema = _resolve(module, schema)
    if "items" in schema:
        schema = _resolve(module, schema["items"])
    properties, required = schema.get("properties", {}), set(schema.get("required", []))
    for name in required - set(check):
        problems.append(f"{where}{name}: required by the document, not checked by the simulator")
    for name, (kind, needed) in check.items():
        if name not in properties:
            problems.append(f"{where}{name}: not in the document")
            continue
        if needed != (name in required):
            problems.append(f"{where}{name}: required={needed} in the simulator, {name in required} in the document")
        field = _resolve(module, properties[name])
        types = set(field["type"] if isinstance(field.get("type"), list) else [field.get("type")]) - {"null", None}
        if isinstance(kind, dict):
            _compare(module, field, kind, f"{where}{name}.", problems)
        elif isinstance(kind, list):
            _compare(module, field, kind[0], f"{where}{name}[].", problems)
        elif isinstance(kind, tuple):
            if set(kind) != set(field.get("enum", [])):
                problems.append(f"{where}{name}: values {sorted(kind)} vs {sorted(field.get('enum', []))}")
        elif types != KINDS[kind]:
            problems.append(f"{where}{name}: {kind} in the simulator, {sorted(types)} in the document")


def test_request_checks_follow_the_openapi_request_schemas():
    """Vendor create/update, PO create/update, adjustment externalData and markasexported bodies are
    refused or accepted as ServiceTitan's request schemas say: same required fields, same types."""
    from desktop_app.sandbox import st_validate

    problems: list[str] = []
    for module, path, method, name in REQUEST_CHECKS:
        content = spec(module)["paths"][f"/tenant/{{tenant}}/{path}"][method]["requestBody"]["content"]
        schema = (content.get("application/json") or next(iter(content.values())))["schema"]
        _compare(module, schema, getattr(st_validate, name), f"{name}: ", problems)
    assert problems == []
