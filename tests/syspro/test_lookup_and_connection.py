"""find_ap_invoice (OData, then e.net COMFND) and the SYSPRO connection check."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from lxml import etree

from desktop_app.core.config import Settings
from desktop_app.syspro.connection import check_connection
from desktop_app.syspro.errors import LookupUnavailable
from desktop_app.syspro.odata import ODataReader, find_ap_invoice

from .conftest import COMPANY_PASSWORD, ENET_URL, ODATA_URL, OPERATOR_PASSWORD, xml_out
from .test_odata import CONTRACT_METADATA, METADATA, page

COMPANY_URL = f"{ODATA_URL}/L"
AP_ROW = {"Supplier": "SUPP01", "Invoice": "INV-1001", "DocumentType": "I", "InvoiceDate": "2026-01-31",
          "PostDate": "2026-02-01", "OrigInvValue": 108.25, "OrigTaxValue": 8.25, "Journal": 123, "TrnYear": 2026,
          "TrnMonth": 2}
COMFND_AP = xml_out("ApInvoice", """<HeaderDetails><TableName>ApInvoice</TableName></HeaderDetails>
<Row><Supplier>SUPP01</Supplier><Invoice>INV-1001</Invoice><DocumentType>I</DocumentType>
<InvoiceDate>2026-01-31</InvoiceDate><PostDate>2026-02-01</PostDate><OrigInvValue>      108.25</OrigInvValue>
<OrigTaxValue>   8.25</OrigTaxValue><Journal>   000123</Journal><TrnYear>2026</TrnYear><TrnMonth>2</TrnMonth></Row>
<RowsReturned>       1</RowsReturned>""")
COMFND_NONE = xml_out("ApInvoice", "<HeaderDetails><TableName>ApInvoice</TableName></HeaderDetails>"
                                   "<RowsReturned>       0</RowsReturned>")


@pytest.fixture
def odata():
    http = requests.Session()
    yield ODataReader(base_url=ODATA_URL, company="L", user="ADMIN", password=OPERATOR_PASSWORD, session=http)
    http.close()


def test_found_via_odata(rsps, odata):
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=CONTRACT_METADATA)
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=json.dumps({"value": [AP_ROW]}))
    record = find_ap_invoice(odata=odata, session=None, supplier="SUPP01", invoice="INV-1001")
    assert record.amount == Decimal("108.25") and record.journal == "123"
    assert record.invoice_date == dt.date(2026, 1, 31)
    sent = parse_qs(urlsplit(rsps.calls[1].request.url).query)
    assert sent["$filter"] == ["Supplier eq 'SUPP01' and Invoice eq 'INV-1001'"]


def test_not_found_via_odata_is_none(rsps, odata):
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=CONTRACT_METADATA)
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=page([]))
    assert find_ap_invoice(odata=odata, session=None, supplier="SUPP01", invoice="INV-9") is None


def test_odata_failure_falls_back_to_comfnd(rsps, enet, client, odata, debug_logs):
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", status=500)
    enet.answer("Query/Query", COMFND_AP)
    with client.session() as session:
        record = find_ap_invoice(odata=odata, session=session, supplier="SUPP01", invoice="INV-1001")
    assert (record.supplier, record.invoice, record.journal) == ("SUPP01", "INV-1001", "123")
    assert record.amount == Decimal("108.25") and record.trn_month == 2
    query = enet.calls_to("Query/Query")[0].params
    assert query["BusinessObject"] == "COMFND"
    xml_in = etree.fromstring(query["XmlIn"])
    assert xml_in.findtext("TableName") == "ApInvoice"
    assert [(e.findtext("Column"), e.findtext("Condition"), e.findtext("Value"))
            for e in xml_in.iter("Expression")] == [("Supplier", "EQ", "SUPP01"), ("Invoice", "EQ", "INV-1001")]
    assert any("trying e.net" in r.getMessage() for r in debug_logs.records)


def test_comfnd_only_when_odata_not_configured(enet, client):
    enet.answer("Query/Query", COMFND_NONE)
    with client.session() as session:
        assert find_ap_invoice(odata=None, session=session, supplier="SUPP01", invoice="INV-9") is None


def test_no_source_answering_raises_instead_of_none(rsps, enet, client, odata):
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=requests.ConnectTimeout())
    enet.answer("Query/Query", "ERROR: e.net exception 100000: table not found")
    with client.session() as session, pytest.raises(LookupUnavailable) as caught:
        find_ap_invoice(odata=odata, session=session, supplier="SUPP01", invoice="INV-1001")
    assert "will not be posted again" in str(caught.value)
    with pytest.raises(LookupUnavailable):
        find_ap_invoice(odata=None, session=None, supplier="SUPP01", invoice="INV-1001")


# --- check_connection ------------------------------------------------------------------------------

@pytest.fixture
def settings(memory_keyring):
    from desktop_app.core.secrets import set_secret

    set_secret("syspro.operator_password", OPERATOR_PASSWORD)
    set_secret("syspro.company_password", COMPANY_PASSWORD)
    return Settings({"syspro.enet_url": ENET_URL, "syspro.odata_url": ODATA_URL, "syspro.operator": "ADMIN",
                     "syspro.company": "L"})


FULL_METADATA = METADATA.replace(
    '<EntitySet Name="InvMaster" EntityType="SYSPRO.InvMaster"/>',
    "".join(f'<EntitySet Name="{n}" EntityType="SYSPRO.{n}"/>' for n in (
        "InvMaster", "InvWarehouse", "InvWhControl", "GenMaster", "PorMasterHdr", "PorMasterDetail", "InvMovements",
        "ApInvoicePay")))


def test_check_connection_ok(rsps, enet, settings, debug_logs):
    enet.answer("Query/Query", xml_out("ApSupplier", "<HeaderDetails/><Row><Supplier>S1</Supplier></Row>"))
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=FULL_METADATA)
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=json.dumps({"value": [AP_ROW]}))
    result = check_connection(settings)
    assert result.ok, result.message
    assert result.system == "SYSPRO"
    assert enet.paths() == ["Logon", "Query/Query", "Logoff"]
    text = " ".join(result.details)
    assert "logged on to company 'L'" in text and "1 row returned" in text and "logged off" in text
    assert "read 1 AP invoice row" in text
    comfnd = etree.fromstring(enet.calls_to("Query/Query")[0].params["XmlIn"])
    assert (comfnd.findtext("TableName"), comfnd.findtext("ReturnRows")) == ("ApSupplier", "1")


def test_check_connection_reports_missing_entity_sets(rsps, enet, settings):
    enet.answer("Query/Query", xml_out("ApSupplier", "<HeaderDetails/>"))
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=METADATA)
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=page([]))
    result = check_connection(settings)
    assert not result.ok
    assert "GenMaster" in result.message and "syspro.odata_entities" in result.message
    missing = result.message.split("not found:")[1].split(".")[0]
    assert "ApInvoice" not in missing.replace("ApInvoicePay", "")
    assert "ApSupplier" not in missing and "InvMovements" in missing


def test_check_connection_logon_refused_without_leaking(rsps, enet, settings, debug_logs):
    enet.answer("Logon", "ERROR: Invalid operator password")
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", status=401)
    result = check_connection(settings)
    assert not result.ok
    assert "Invalid operator password" in result.message and "OData" in result.message
    for text in [result.message, *result.details, *(r.getMessage() for r in debug_logs.records)]:
        assert OPERATOR_PASSWORD not in text and COMPANY_PASSWORD not in text


def test_check_connection_without_odata(enet, memory_keyring):
    enet.answer("Query/Query", xml_out("ApSupplier", "<HeaderDetails/>"))
    settings = Settings({"syspro.enet_url": ENET_URL, "syspro.operator": "ADMIN", "syspro.company": "L"})
    result = check_connection(settings)
    assert result.ok and any("OData: not configured" in d for d in result.details)


def test_check_connection_names_the_columns_a_site_lacks(rsps, enet, settings):
    from .test_odata import site_without

    enet.answer("Query/Query", xml_out("ApSupplier", "<HeaderDetails/><Row><Supplier>S1</Supplier></Row>"))
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=site_without(ApSupplier="Email"))
    rsps.add(responses.GET, f"{COMPANY_URL}/ApInvoice", body=json.dumps({"value": [AP_ROW]}))
    result = check_connection(settings)
    assert result.ok, result.message
    assert "OData: ApSupplier lacks optional column Email (read as empty)." in result.message
    assert "OData: ApSupplier lacks optional column Email (read as empty)." in result.details


def test_check_connection_fails_as_configuration_on_a_missing_required_column(rsps, enet, settings):
    from .test_odata import site_without

    enet.answer("Query/Query", xml_out("ApSupplier", "<HeaderDetails/><Row><Supplier>S1</Supplier></Row>"))
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", body=site_without(ApInvoice="Invoice", ApSupplier="Email"))
    result = check_connection(settings)
    assert not result.ok and result.configuration_only
    assert "OData: ApInvoice lacks required column Invoice: the invoice read-back cannot run." in result.message
    assert "OData: ApSupplier lacks optional column Email (read as empty)." in result.message
    assert "syspro.odata_entities" in result.message
    assert not [c for c in rsps.calls if "/ApInvoice" in c.request.url], "no read the site would refuse"


def test_check_connection_refused_credentials_are_not_configuration(rsps, enet, settings):
    enet.answer("Logon", "ERROR: Invalid operator password")
    rsps.add(responses.GET, f"{COMPANY_URL}/$metadata", status=401)
    result = check_connection(settings)
    assert not result.ok and not result.configuration_only
