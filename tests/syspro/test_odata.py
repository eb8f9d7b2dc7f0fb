"""OData reader: paging, filters, Decimal amounts, entity-name overrides, $metadata, errors."""
from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from desktop_app.core.config import Settings
from desktop_app.core.errors import AuthenticationError, ConfigError
from desktop_app.syspro import contract
from desktop_app.syspro.odata import ODataReader, literal

from .conftest import ODATA_URL, OPERATOR_PASSWORD

COMPANY_URL = f"{ODATA_URL}/L"


def page(rows, next_link=None) -> str:
    payload = {"@odata.context": f"{COMPANY_URL}/$metadata#X", "value": rows}
    if next_link:
        payload["@odata.nextLink"] = next_link
    return json.dumps(payload)


def params_of(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def csdl(columns_by_set: dict[str, tuple[str, ...]]) -> str:
    """A minimal OData 4.0 CSDL document: one entity type (all strings) and set per entry."""
    types = "".join(f'<EntityType Name="{name}"><Key><PropertyRef Name="{columns[0]}"/></Key>'
                    + "".join(f'<Property Name="{c}" Type="Edm.String"/>' for c in columns) + "</EntityType>"
                    for name, columns in columns_by_set.items())
    sets = "".join(f'<EntitySet Name="{name}" EntityType="SYSPRO.{name}"/>' for name in columns_by_set)
    return ('<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" '
            'xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
            '<Schema Namespace="SYSPRO" xmlns="http://docs.oasis-open.org/odata/ns/edm">' + types
            + f'<EntityContainer Name="Container">{sets}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>')


CONTRACT_METADATA = csdl(dict(contract.ODATA_ENTITIES))


@pytest.fixture(autouse=True)
def site_metadata(rsps):
    """The site lists every column the client reads (tests of a site lacking some register their own)."""
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=CONTRACT_METADATA)


def data_calls(rsps) -> list:
    """The requests for rows: $metadata is read once per reader, before the first."""
    return [call for call in rsps.calls if "$metadata" not in call.request.url]


@pytest.fixture
def reader():
    http = requests.Session()
    yield ODataReader(base_url=ODATA_URL, company="L", user="ADMIN", password=OPERATOR_PASSWORD, session=http)
    http.close()


def invoice_row(n: int, amount: str = "100.10") -> str:
    return (f'{{"Supplier": "SUPP01", "Invoice": "INV-{n}", "DocumentType": "I", "InvoiceDate": "2026-01-{n:02d}", '
            f'"PostDate": "2026-01-{n:02d}T00:00:00Z", "DueDate": null, "Branch": "10", "OrigInvValue": {amount}, '
            f'"OrigTaxValue": 8.25, "Journal": 77, "TrnYear": 2026, "TrnMonth": 1, "Reference": "r", "Notation": "n"}}')


def raw_page(rows: list[str], next_link: str | None = None) -> str:
    link = f', "@odata.nextLink": "{next_link}"' if next_link else ""
    return f'{{"@odata.context": "x", "value": [{", ".join(rows)}]{link}}}'


def test_follows_next_link(rsps, reader):
    next_link = f"{COMPANY_URL}/ApInvoice?$skiptoken=abc"
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=raw_page([invoice_row(1), invoice_row(2)], next_link))
    rsps.add(responses.GET, next_link, body=raw_page([invoice_row(3)]))
    records = list(reader.ap_invoices())
    assert [r.invoice for r in records] == ["INV-1", "INV-2", "INV-3"]
    assert len(data_calls(rsps)) == 2
    assert data_calls(rsps)[1].request.url.endswith("$skiptoken=abc")


def test_skip_paging_without_next_link(rsps, reader):
    rsps.add(responses.GET, f"{COMPANY_URL}/GenMaster", body=page([{"GlCode": "1"}, {"GlCode": "2"}]))
    rsps.add(responses.GET, f"{COMPANY_URL}/GenMaster", body=page([{"GlCode": "3"}, {"GlCode": "4"}]))
    rsps.add(responses.GET, f"{COMPANY_URL}/GenMaster", body=page([{"GlCode": "5"}]))
    rows = list(reader.rows("GenMaster", page_size=2, orderby="GlCode"))
    assert [r["GlCode"] for r in rows] == ["1", "2", "3", "4", "5"]
    sent = [params_of(call) for call in data_calls(rsps)]
    assert [p.get("$skip") for p in sent] == [None, "2", "4"]
    assert all(p["$top"] == "2" and p["$orderby"] == "GlCode" for p in sent)


def test_invoice_date_and_post_date_filters_are_exact(rsps, reader):
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=page([]))
    list(reader.ap_invoices(since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 31)))
    list(reader.ap_invoices(date_field="PostDate", since=dt.date(2026, 2, 1)))
    first, second = (params_of(call) for call in data_calls(rsps))
    assert first["$filter"] == "InvoiceDate ge 2026-01-01 and InvoiceDate le 2026-01-31"
    assert second["$filter"] == "PostDate ge 2026-02-01"
    assert first["$select"].split(",")[:3] == ["Supplier", "Invoice", "DocumentType"]
    assert first["$top"] == "1000"


def test_other_date_filters(rsps, reader):
    for entity in ("PorMasterHdr", "InvMovements"):
        rsps.add(responses.GET, f"{COMPANY_URL}/{entity}", body=page([]))
    list(reader.po_headers(since=dt.date(2026, 1, 5)))
    list(reader.inventory_movements(since=dt.date(2026, 1, 6)))
    assert params_of(data_calls(rsps)[0])["$filter"] == "OrderEntryDate ge 2026-01-05"
    assert params_of(data_calls(rsps)[1])["$filter"] == "EntryDate ge 2026-01-06"


def test_amounts_are_decimal_never_float(rsps, reader):
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=raw_page([invoice_row(1, "1150.10")]))
    (record,) = reader.ap_invoices()
    assert isinstance(record.amount, Decimal) and record.amount == Decimal("1150.10")
    assert str(record.amount) == "1150.10"
    assert record.tax == Decimal("8.25")
    assert record.invoice_date == dt.date(2026, 1, 1) and record.post_date == dt.date(2026, 1, 1)
    assert record.due_date is None and record.journal == "77" and record.trn_month == 1
    (row,) = reader.rows("ApInvoice")
    assert type(row["OrigInvValue"]) is Decimal


def test_po_details_quote_strings_and_chunk(rsps, reader):
    rsps.add(responses.GET, f"{COMPANY_URL}/PorMasterDetail", body=page([
        {"PurchaseOrder": "P'1", "Line": 1, "MStockCode": "A100", "MOrderQty": 2.5, "MPrice": 10.12345}]))
    numbers = ["P'1"] + [f"P{n}" for n in range(2, 23)]
    details = list(reader.po_details(numbers))
    assert len(data_calls(rsps)) == 2  # 22 numbers, 20 per request
    first = params_of(data_calls(rsps)[0])["$filter"]
    assert first.startswith("PurchaseOrder eq 'P''1' or PurchaseOrder eq 'P2'")
    assert details[0].order_qty == Decimal("2.5") and details[0].price == Decimal("10.12345")


def test_basic_auth_and_entity_override_from_settings(rsps, memory_keyring):
    from desktop_app.core.secrets import set_secret

    set_secret("syspro.operator_password", OPERATOR_PASSWORD)
    settings = Settings({"syspro.odata_url": ODATA_URL, "syspro.company": "L", "syspro.operator": "ADMIN",
                         "syspro.odata_user": "odata-reader", "syspro.odata_entities": "ApSupplier=Suppliers"})
    rsps.add(responses.GET, f"{COMPANY_URL}/Suppliers", body=page([{"Supplier": "S1", "OnHold": "Y"}]))
    with ODataReader.from_settings(settings) as reader:
        (supplier,) = reader.suppliers()
    assert supplier.supplier == "S1" and supplier.on_hold
    auth = data_calls(rsps)[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == f"odata-reader:{OPERATOR_PASSWORD}"


def test_refused_credentials(rsps, reader):
    rsps.add(responses.GET, f"{COMPANY_URL}/ApSupplier", status=401)
    with pytest.raises(AuthenticationError) as caught:
        list(reader.suppliers())
    assert "ADMIN" in str(caught.value) and OPERATOR_PASSWORD not in str(caught.value)


def test_missing_entity_set(rsps, reader):
    rsps.add(responses.GET, f"{COMPANY_URL}/InvMaster", status=404)
    with pytest.raises(ConfigError, match="syspro.odata_entities"):
        list(reader.stock_codes())


METADATA = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
 <edmx:DataServices><Schema Namespace="SYSPRO" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityType Name="ApInvoice"><Key><PropertyRef Name="Supplier"/></Key>""" + "".join(
    f'<Property Name="{c}" Type="Edm.String"/>' for c in contract.ODATA_ENTITIES["ApInvoice"]) + """</EntityType>
  <EntityContainer Name="Container">
   <EntitySet Name="ApInvoice" EntityType="SYSPRO.ApInvoice"/>
   <EntitySet Name="ApSupplier" EntityType="SYSPRO.ApSupplier"/>
   <EntitySet Name="InvMaster" EntityType="SYSPRO.InvMaster"/>
  </EntityContainer>
 </Schema></edmx:DataServices></edmx:Edmx>"""


def test_metadata_lists_entity_sets(rsps, reader):
    rsps.replace(responses.GET, f"{COMPANY_URL}/$metadata", body=METADATA)
    assert reader.metadata() == ["ApInvoice", "ApSupplier", "InvMaster"]


def test_literals():
    assert literal("O'Brien") == "'O''Brien'"
    assert literal(dt.date(2026, 1, 31)) == "2026-01-31"
    with pytest.raises(TypeError):
        literal(dt.datetime(2026, 1, 31, 12))


# --- a site's own columns -------------------------------------------------------------------------

def site_without(**dropped: str) -> str:
    """The contract CSDL without some columns: site_without(ApSupplier="Email,Telephone")."""
    return csdl({name: tuple(c for c in columns if c not in dropped.get(name, "").split(","))
                 for name, columns in contract.ODATA_ENTITIES.items()})


def test_only_the_columns_the_site_has_are_selected_and_a_missing_optional_one_reads_as_empty(rsps, reader):
    rsps.replace(responses.GET, f"{COMPANY_URL}/$metadata", body=site_without(ApSupplier="Email,Telephone"))
    rsps.add(responses.GET, f"{COMPANY_URL}/ApSupplier", body=page([{"Supplier": "S1", "SupplierName": "One"}]))
    (supplier,) = reader.suppliers()
    assert (supplier.supplier, supplier.name, supplier.email, supplier.telephone) == ("S1", "One", "", "")
    selected = params_of(data_calls(rsps)[0])["$select"].split(",")
    assert "Email" not in selected and "Telephone" not in selected and "SupAddr1" in selected
    list(reader.suppliers())
    assert len(rsps.calls) - len(data_calls(rsps)) == 1, "$metadata is read once per reader"


def test_a_missing_required_column_is_a_configuration_error_naming_entity_and_column(rsps, reader):
    from desktop_app.syspro.odata import MissingColumn

    rsps.replace(responses.GET, f"{COMPANY_URL}/$metadata", body=site_without(ApInvoice="Invoice,Notation"))
    with pytest.raises(ConfigError) as caught:
        list(reader.ap_invoices())
    assert isinstance(caught.value, MissingColumn)
    message = str(caught.value)
    assert "ApInvoice lacks required column Invoice: the invoice read-back cannot run" in message
    assert "syspro.odata_entities" in message and "Notation" not in message
    assert data_calls(rsps) == [], "nothing is asked for that the site would refuse"
    assert reader.missing_columns("ApInvoice") == (["Invoice"], ["Notation"])


def test_an_overridden_entity_name_is_named_with_its_default(rsps, memory_keyring):
    from desktop_app.core.secrets import set_secret

    set_secret("syspro.operator_password", OPERATOR_PASSWORD)
    settings = Settings({"syspro.odata_url": ODATA_URL, "syspro.company": "L", "syspro.operator": "ADMIN",
                         "syspro.odata_entities": "ApSupplier=Suppliers"})
    rsps.replace(responses.GET, f"{COMPANY_URL}/$metadata", body=csdl({"Suppliers": ("Supplier", "Email")}))
    with ODataReader.from_settings(settings) as reader, pytest.raises(ConfigError) as caught:
        list(reader.suppliers())
    assert ("Suppliers (for ApSupplier) lacks required column SupplierName: the vendor sync cannot run"
            in str(caught.value))


@pytest.mark.parametrize("answer", [{"status": 404}, {"status": 500}, {"body": "not xml"}])
def test_without_metadata_every_column_is_asked_for_by_name(rsps, reader, answer):
    rsps.replace(responses.GET, f"{COMPANY_URL}/$metadata", **answer)
    rsps.add(responses.GET, f"{COMPANY_URL}/ApSupplier", body=page([{"Supplier": "S1"}]))
    assert [s.supplier for s in reader.suppliers()] == ["S1"]
    assert params_of(data_calls(rsps)[0])["$select"].split(",") == list(contract.ODATA_ENTITIES["ApSupplier"])
    assert reader.missing_columns("ApSupplier") == ([], [])


def test_metadata_refusing_the_credentials_stops_the_read(rsps, reader):
    rsps.replace(responses.GET, f"{COMPANY_URL}/$metadata", status=401)
    with pytest.raises(AuthenticationError):
        list(reader.suppliers())
    assert data_calls(rsps) == []


def test_columns_come_from_the_entity_type_by_namespace_or_alias_with_its_base_types():
    from desktop_app.syspro.odata import entity_set_columns

    document = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
 <Schema Namespace="Syspro.Tables" Alias="T" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityType Name="Row" Abstract="true"><Property Name="TimeStamp" Type="Edm.Binary"/></EntityType>
  <EntityType Name="ApSupplier" BaseType="T.Row"><Key><PropertyRef Name="Supplier"/></Key>
   <Property Name="Supplier" Type="Edm.String" Nullable="false"/><Property Name="SupplierName" Type="Edm.String"/>
   <NavigationProperty Name="Invoices" Type="Collection(Syspro.Tables.ApInvoice)"/></EntityType>
 </Schema>
 <Schema Namespace="Syspro.Service" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityContainer Name="Company"><EntitySet Name="ApSupplier" EntityType="Syspro.Tables.ApSupplier"/>
   <EntitySet Name="Mystery" EntityType="Elsewhere.Thing"/></EntityContainer>
 </Schema></edmx:DataServices></edmx:Edmx>"""
    assert entity_set_columns(document) == {"ApSupplier": frozenset({"Supplier", "SupplierName", "TimeStamp"}),
                                            "Mystery": None}


def test_a_server_that_ignores_skip_stops_the_read_with_an_error_naming_the_entity(rsps, reader):
    from desktop_app.syspro.errors import MalformedXmlOut

    for _ in range(4):
        rsps.add(responses.GET, f"{COMPANY_URL}/GenMaster", body=page([{"GlCode": "1"}, {"GlCode": "2"}]))
    with pytest.raises(MalformedXmlOut, match="same rows of GenMaster for \\$skip=2"):
        list(reader.rows("GenMaster", page_size=2))
    assert len(data_calls(rsps)) == 2


def test_a_read_that_never_ends_stops_at_the_page_cap(rsps, reader, monkeypatch):
    from desktop_app.syspro.errors import MalformedXmlOut

    monkeypatch.setattr(contract, "ODATA_MAX_PAGES", 3)
    for n in range(6):
        rsps.add(responses.GET, f"{COMPANY_URL}/GenMaster", body=page([{"GlCode": f"{n}a"}, {"GlCode": f"{n}b"}]))
    with pytest.raises(MalformedXmlOut, match="after 3 pages"):
        list(reader.rows("GenMaster", page_size=2))
    assert len(data_calls(rsps)) == 3
