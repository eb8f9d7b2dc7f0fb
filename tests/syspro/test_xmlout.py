"""Parsing XmlOut: the real samples, the contract's APSTIN answers, encodings and odd casing."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from desktop_app.core.errors import OutcomeUnknown
from desktop_app.syspro import apstin, inventory, purchase_orders, queries, suppliers, xmlout
from desktop_app.syspro.errors import MalformedPostXmlOut, MalformedXmlOut

from .conftest import xml_out
from .test_builders import ap_doc

APSTIN_SUCCESS = xml_out("postapinvoice", """
<Item><Supplier>SUPP01</Supplier><Invoice>INV-1001</Invoice>
      <Journal>123</Journal><TrnYear>2024</TrnYear><TrnMonth>3</TrnMonth>
      <ItemNumber>000001</ItemNumber></Item>
<StatusOfItems><ItemsProcessed>000001</ItemsProcessed><ItemsInvalid>000000</ItemsInvalid></StatusOfItems>""")

APSTIN_DUPLICATE = xml_out("postapinvoice", """
<Item><Supplier>SUPP01</Supplier><Invoice>INV-1001</Invoice><ItemNumber>000001</ItemNumber>
  <Invoice><Value>INV-1001</Value><ErrorNumber>110402</ErrorNumber>
    <ErrorDescription>Invoice 'INV-1001' already exists for supplier 'SUPP01'</ErrorDescription></Invoice>
</Item>
<StatusOfItems><ItemsProcessed>000000</ItemsProcessed><ItemsInvalid>000001</ItemsInvalid></StatusOfItems>""")

APSTIN_WARNING = xml_out("postapinvoice", """
<Item><Supplier>SUPP01</Supplier><Invoice>INV-1002</Invoice>
  <Warning><Description>Supplier 'SUPP01' is on hold</Description></Warning>
  <Journal>124</Journal><TrnYear>2024</TrnYear><TrnMonth>3</TrnMonth><ItemNumber>000001</ItemNumber></Item>
<StatusOfItems><ItemsProcessed>000001</ItemsProcessed><ItemsInvalid>000000</ItemsInvalid></StatusOfItems>""")

APSTIN_ERRORS = xml_out("postapinvoice", """
<Item><Supplier>NOPE</Supplier><Invoice>INV-1003</Invoice><ItemNumber>000001</ItemNumber>
  <Supplier><Value>NOPE</Value><ErrorNumber>110101</ErrorNumber><ErrorDescription>Supplier 'NOPE' not found</ErrorDescription></Supplier>
  <LedgerCode><Value>99-9999</Value><ErrorNumber>110201</ErrorNumber><ErrorDescription>Ledger code '99-9999' not found</ErrorDescription></LedgerCode>
</Item>
<StatusOfItems><ItemsProcessed>000000</ItemsProcessed><ItemsInvalid>000001</ItemsInvalid></StatusOfItems>""")


# --- real samples --------------------------------------------------------------------------------

def test_invsws_sample_field_error(samples):
    result = suppliers.parse_result((samples / "INVSWS-XmlOut.xml").read_bytes(), business_object="INVSWS",
                                    root="SetupInvWarehouse")
    (item,) = result.items
    assert not item.ok and item.not_found
    assert item.key == "1004/P0"
    (error,) = item.errors
    assert (error.field, error.value, error.number, error.description) == (
        "stockcode", "1004", "240004", "Stock code '1004' not found")
    assert (result.records_read, result.records_invalid) == (1, 1)


def test_portor_sample_success(samples):
    root = xmlout.load((samples / "PORTOR-XmlOut.xml").read_text(encoding="cp1252"), after_post=True)
    (item,) = xmlout.children(root, "item")
    assert xmlout.messages(item).errors == []
    assert xmlout.integer(xmlout.value(item, "ItemNumber")) == 1
    assert xmlout.value(item, "key", "grn") == "P00013151"


def test_comfnd_sample_rows(samples):
    assert queries.parse_comfnd((samples / "COMFND-XmlOut.xml").read_bytes()) == [{"StockCode": "02"}]


def test_invqry_sample(samples):
    record = inventory.parse_query((samples / "INVQRY-XmlOut.xml").read_bytes())
    assert (record.stock_code, record.description, record.stock_uom, record.decimals) == ("1003", "MWN MIX", "LB", 3)
    (warehouse,) = record.warehouses
    assert warehouse.warehouse == "P0"
    assert warehouse.qty_on_hand == Decimal("747.800000")
    assert warehouse.available_qty == Decimal("747.800000")
    assert warehouse.qty_on_order == Decimal("806.730000")


def test_porqry_sample(samples):
    record = purchase_orders.parse_query((samples / "PORQRY-XmlOut.xml").read_text(encoding="cp1252"))
    assert (record.purchase_order, record.supplier, record.warehouse) == ("00001", "UTE002", "U8")
    assert record.cancelled
    assert record.order_entry_date == dt.date(2007, 4, 24)
    assert len(record.lines) >= 2
    first = record.lines[0]
    assert (first.line, first.stock_code, first.gl_code) == (1, "2804011COL", "1908-00")
    assert first.order_qty == Decimal("38400.000000")  # the raw Unedited_ value, not "38,400.000"
    assert first.received_qty == Decimal("0")
    assert first.price == Decimal("0")


# --- APSTIN answers per the contract -------------------------------------------------------------

def test_apstin_success():
    result = apstin.parse_result(APSTIN_SUCCESS)
    (item,) = result.items
    assert item.ok and not item.duplicate
    assert (item.supplier, item.invoice, item.journal, item.trn_year, item.trn_month, item.item_number) == (
        "SUPP01", "INV-1001", "123", 2024, 3, 1)
    assert (result.items_processed, result.items_invalid) == (1, 0)


def test_apstin_duplicate_is_its_own_status():
    (item,) = apstin.parse_result(APSTIN_DUPLICATE).items
    assert not item.ok and item.duplicate
    assert item.errors[0].number == "110402"
    assert "already exists" in item.message


def test_apstin_duplicate_recognised_by_text_alone():
    text = APSTIN_DUPLICATE.replace("110402", "999999")
    assert apstin.parse_result(text).items[0].duplicate


def test_apstin_warnings_do_not_fail_the_item():
    (item,) = apstin.parse_result(APSTIN_WARNING).items
    assert item.ok and item.journal == "124"
    assert item.warnings == ["Supplier 'SUPP01' is on hold"]


def test_apstin_errors_are_per_field_and_not_duplicates():
    (item,) = apstin.parse_result(APSTIN_ERRORS).items
    assert not item.ok and not item.duplicate
    assert [(e.field, e.value) for e in item.errors] == [("Supplier", "NOPE"), ("LedgerCode", "99-9999")]
    assert item.journal is None


def test_apstin_lower_cased_windows_1252_bytes_with_padding():
    text = xml_out("postapinvoice", """<item><supplier>CAFÉ01</supplier><invoice>FACT—Ñ1</invoice>
<journal>   000045</journal><trnyear> 2026</trnyear><trnmonth>01</trnmonth><itemnumber>000001</itemnumber></item>
<statusofitems><itemsprocessed>000001</itemsprocessed><itemsinvalid>000000</itemsinvalid></statusofitems>""")
    data = text.encode("cp1252")
    assert b"\xc9" in data and b"\x97" in data  # É and — as Windows-1252 bytes
    (item,) = apstin.parse_result(data).items
    assert (item.supplier, item.invoice) == ("CAFÉ01", "FACT—Ñ1")
    assert (item.journal, item.trn_year, item.trn_month) == ("000045", 2026, 1)
    # the same document, already decoded to text with its declaration still in it
    assert apstin.parse_result(data.decode("cp1252")).items[0].invoice == "FACT—Ñ1"


def test_apstin_unreadable_answer_means_outcome_unknown():
    for bad in ("", "<postapinvoice><Item>", "<html>Service Unavailable</html>"):
        with pytest.raises(MalformedPostXmlOut) as caught:
            apstin.parse_result(bad)
        assert isinstance(caught.value, OutcomeUnknown) and isinstance(caught.value, MalformedXmlOut)
        assert "look it up" in str(caught.value)


def test_query_answer_unreadable_is_malformed_but_not_in_doubt():
    with pytest.raises(MalformedXmlOut) as caught:
        queries.parse_comfnd("<InvMaster><Row>")
    assert not isinstance(caught.value, OutcomeUnknown)


# --- round trip of awkward text ------------------------------------------------------------------

NASTY = "Tom & Jerry's <\"Fix\"> Café Ñandú Müller — 5"


def test_special_characters_round_trip_build_to_parse():
    doc = ap_doc(notation=NASTY[:50], reference="A&B <c> 'd' \"e\"", journal_notation="é ñ ü —")
    built = apstin.build_document([doc])
    assert "&amp;" in built and "&lt;" in built  # escaped by lxml, not by us
    root = xmlout.load(built)
    item = xmlout.child(root, "Item")
    assert xmlout.value(item, "Notation") == NASTY[:50]
    assert xmlout.value(item, "TransactionReference") == "A&B <c> 'd' \"e\""
    assert xmlout.value(item, "JournalNotation") == "é ñ ü —"
    # and back from SYSPRO as Windows-1252 bytes, names echoed in the answer
    from lxml import etree

    answer = etree.Element("postapinvoice")
    out_item = etree.SubElement(answer, "Item")
    etree.SubElement(out_item, "Supplier").text = "Müller&Ñ"
    etree.SubElement(out_item, "Invoice").text = "<é>—'\""
    data = etree.tostring(answer, encoding="Windows-1252", xml_declaration=True)
    (parsed,) = apstin.parse_result(data).items
    assert (parsed.supplier, parsed.invoice) == ("Müller&Ñ", "<é>—'\"")


def test_decode_body_variants():
    xml = xml_out("InvMaster", "<Row><StockCode>Café</StockCode></Row>")
    assert xmlout.decode_body(xml.encode("cp1252")) == xml
    assert xmlout.decode_body(json.dumps(xml).encode("utf-8")) == xml
    assert xmlout.decode_body(json.dumps(json.dumps("ABC  ")).encode()) == "ABC  "
    assert xmlout.decode_body(b"ERROR: Invalid UserId") == "ERROR: Invalid UserId"
    assert xmlout.decode_body(b"\xef\xbb\xbf0") == "0"


def test_navigation_ignores_case_namespaces_comments_and_processing_instructions():
    root = xmlout.load('<PostApInvoice xmlns:x="urn:x"><!-- c --><?pi x?><ITEM><x:Key>A</x:Key></ITEM>'
                       '<item><key> B </key><Status>ok</Status></item><Items/></PostApInvoice>')
    items = xmlout.children(root, "Item")
    assert [xmlout.value(item, "KEY") for item in items] == ["A", "B"]
    assert xmlout.child(items[1], "STATUS").text == "ok"
    assert xmlout.child(root, "Item", "Status") is None  # the path follows the first <item>, which has none
    assert xmlout.value(root, "items") == "" and xmlout.child(root, "missing", "key") is None
    assert [el.text.strip() for el in xmlout.descendants(root, "KEY")] == ["A", "B"]
    assert [xmlout.name(item) for item in items] == ["ITEM", "item"]
