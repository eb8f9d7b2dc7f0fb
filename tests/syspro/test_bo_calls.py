"""Business-object helpers end to end over the scripted e.net: suppliers, POs, inventory, queries."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from desktop_app.core.errors import OutcomeUnknown
from desktop_app.syspro import inventory, purchase_orders, queries, suppliers

from .conftest import xml_out


def test_supplier_add_and_update(enet, client):
    enet.answer("Setup/Add", xml_out("setupapsupplier", """<item><key><supplier>ACME01</supplier></key></item>
<StatusOfItems><RecordsRead>1</RecordsRead><RecordsInvalid>0</RecordsInvalid></StatusOfItems>"""))
    enet.answer("Setup/Update", xml_out("setupapsupplier", """<item><key><supplier>GONE01</supplier></key>
<supplier><Value>GONE01</Value><ErrorNumber>150001</ErrorNumber><ErrorDescription>Supplier 'GONE01' not found</ErrorDescription></supplier></item>
<StatusOfItems><RecordsRead>1</RecordsRead><RecordsInvalid>1</RecordsInvalid></StatusOfItems>"""))
    with client.session() as session:
        added = suppliers.save_supplier(session, suppliers.SupplierDocument("ACME01", name="Acme"), action="Add")
        updated = suppliers.save_supplier(session, suppliers.SupplierDocument("GONE01", email="x@y.test"),
                                          action="Update")
    assert added.ok and added.key == "ACME01"
    assert not updated.ok and updated.not_found and "GONE01" in updated.message
    add_call = enet.calls_to("Setup/Add")[0].params
    assert add_call["BusinessObject"] == "APSSSP"
    assert etree.fromstring(add_call["XmlParameters"]).findtext("Parameters/ValidateOnly") == "N"
    assert etree.fromstring(add_call["XmlIn"]).findtext("Item/Key/Supplier") == "ACME01"


def test_supplier_add_existing():
    result = suppliers.parse_result(xml_out("setupapsupplier", """<item><key><supplier>ACME01</supplier></key>
<supplier><Value>ACME01</Value><ErrorNumber>1</ErrorNumber><ErrorDescription>Supplier 'ACME01' already exists</ErrorDescription></supplier></item>"""))
    assert result.items[0].already_exists


def test_purchase_order_post(enet, client):
    enet.answer("Transaction/Post", xml_out("postpurchaseorders", """<item><key><purchaseorder>000124</purchaseorder></key>
<ItemNumber>000001</ItemNumber></item>
<StatusOfItems><ItemsProcessed>000001</ItemsProcessed><ItemsInvalid>000000</ItemsInvalid></StatusOfItems>"""))
    doc = purchase_orders.PurchaseOrderDocument(
        supplier="ACME01", order_date=dt.date(2026, 2, 1), customer_po_number="ST-PO-9",
        lines=[purchase_orders.PoStockLine("A100", Decimal("3"), price=Decimal("9.99"), warehouse="W1")])
    with client.session() as session:
        result = purchase_orders.post_purchase_order(session, doc)
    assert result.ok and result.purchase_order == "000124" and result.item_number == 1
    sent = enet.calls_to("Transaction/Post")[0].params
    assert sent["BusinessObject"] == "PORTOI"
    assert etree.fromstring(sent["XmlParameters"]).findtext("Parameters/ValidateOnly") == "N"


def test_purchase_order_rejected():
    result = purchase_orders.parse_result(xml_out("postpurchaseorders", """<item><key><purchaseorder/></key>
<stockcode><Value>ZZZ</Value><ErrorNumber>240004</ErrorNumber><ErrorDescription>Stock code 'ZZZ' not found</ErrorDescription></stockcode>
<ItemNumber>000001</ItemNumber></item>"""))
    (item,) = result.items
    assert not item.ok and item.purchase_order is None and "ZZZ" in item.message


def test_inventory_adjustment_post(enet, client):
    enet.answer("Transaction/Post", xml_out("postinvadjustments", """<Item><Journal>000017</Journal><GlJournal>42</GlJournal>
<ItemNumber>000001</ItemNumber></Item>
<StatusOfItems><ItemsProcessed>000001</ItemsProcessed><ItemsInvalid>000000</ItemsInvalid></StatusOfItems>"""))
    adj = inventory.InventoryAdjustment("W1", "A100", Decimal("-2.5"), reference="ST-ADJ-7")
    with client.session() as session:
        result = inventory.post_adjustments(session, [adj], transaction_date=dt.date(2026, 2, 3))
    (item,) = result.items
    assert item.ok and (item.journal, item.gl_journal, item.item_number) == ("000017", "42", 1)
    sent = enet.calls_to("Transaction/Post")[0].params
    assert sent["BusinessObject"] == "INVTMA"
    assert etree.fromstring(sent["XmlIn"]).findtext("Item/Quantity") == "-2.5"


def test_inventory_answer_cut_off_is_in_doubt():
    with pytest.raises(OutcomeUnknown):
        inventory.parse_result("<postinvadjustments><Item><Journal>00")


def test_queries_over_the_session(enet, client, samples):
    enet.answer("Query/Query", (samples / "INVQRY-XmlOut.xml").read_bytes(),
                (samples / "PORQRY-XmlOut.xml").read_bytes(),
                xml_out("ApSupplier", "<HeaderDetails/><Row><Supplier>S1</Supplier><SupplierName>Ñandú &amp; Co"
                                      "</SupplierName></Row>"))
    with client.session() as session:
        stock = inventory.query_stock_code(session, "1003", warehouse="P0")
        po = purchase_orders.query_purchase_order(session, " 00001")
        rows = queries.comfnd(session, "ApSupplier", ["Supplier", "SupplierName"], return_rows=1)
    assert stock.stock_code == "1003" and po.supplier == "UTE002"
    assert rows == [{"Supplier": "S1", "SupplierName": "Ñandú & Co"}]
    assert [c.params["BusinessObject"] for c in enet.calls_to("Query/Query")] == ["INVQRY", "PORQRY", "COMFND"]


def test_apsqry_lenient_parse():
    result = queries.parse_apsqry(xml_out("ApSupplierQuery", """<Supplier>S1</Supplier><SupplierName>Acme</SupplierName>
<OnHold>N</OnHold><Invoices><Invoice><Invoice>INV-1</Invoice></Invoice></Invoices>"""))
    assert (result.supplier, result.name, result.on_hold) == ("S1", "Acme", False)
    assert "INV-1" in result.invoices
