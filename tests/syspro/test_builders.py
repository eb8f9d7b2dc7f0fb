"""Every XmlParameters / XmlIn builder against the real samples and the XSD element order."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from lxml import etree

from desktop_app.syspro import apstin, inventory, purchase_orders, queries, suppliers
from desktop_app.syspro.errors import ValidationError
from desktop_app.syspro.queries import Where


def parse(text: str) -> etree._Element:
    assert not text.startswith("<?xml")  # e.net traffic carries no declaration in XmlIn
    return etree.fromstring(text)


def tags(element) -> list[str]:
    return [child.tag for child in element if isinstance(child.tag, str)]


def sample(samples, name) -> etree._Element:
    return etree.fromstring((samples / name).read_bytes())


def is_subsequence(small: list[str], big: list[str]) -> bool:
    """small (repeated elements collapsed) appears in big in the same order."""
    collapsed = [tag for i, tag in enumerate(small) if i == 0 or small[i - 1] != tag]
    it = iter(big)
    return all(tag in it for tag in collapsed)


def xsd_order(reference: str, section: str, element: str) -> list[str]:
    """Element order of `**<element>**` in bo-field-reference.md under `### ...{section}.vb`."""
    part = reference.split(f"/{section}.vb`", 1)[1]
    block = part.split(f"**<{element}>**", 1)[1].split("**<", 1)[0]
    return re.findall(r"^- `(\w+)`", block, flags=re.MULTILINE)


def canonical(element) -> list:
    return [(child.tag, (child.text or "").strip(), dict(child.attrib), canonical(child))
            for child in element if isinstance(child.tag, str)]


def ap_doc(**overrides) -> apstin.ApInvoiceDocument:
    values = dict(
        supplier="SUPP01", invoice="ST-100234", transaction_code="I", invoice_date=dt.date(2026, 1, 31),
        due_date=dt.date(2026, 3, 2), branch="10", transaction_value=Decimal("108.25"), tax_value=Decimal("8.25"),
        tax_code="A", reference="ST inv 100234 job 5521", notation="Tech: Ana Núñez", journal_notation="ST 100234",
        lines=[apstin.ApLedgerLine("10-5500", Decimal("60.00"), "Material"),
               apstin.ApLedgerLine("10-5510", Decimal("40.00"), "Equipment", tax_code="A")],
    )
    values.update(overrides)
    return apstin.ApInvoiceDocument(**values)


# --- APSTIN ---------------------------------------------------------------------------------------

def test_apstin_parameters_follow_the_sample(samples):
    ours = parse(apstin.build_parameters(validate_only=True, ignore_warnings="W", posting_period="P",
                                         apply_if_entire_document_valid=False))
    theirs = sample(samples, "APSTIN-XmlParameters.xml")
    assert ours.tag == theirs.tag == "PostApInvoice"
    assert tags(ours) == ["Parameters"]
    params = ours.find("Parameters")
    assert is_subsequence(tags(params), tags(theirs.find("Parameters")))
    assert params.findtext("ValidateOnly") == "Y"
    assert params.findtext("IgnoreWarnings") == "W"
    assert params.findtext("PostingPeriod") == "P"
    assert params.findtext("ApplyIfEntireDocumentValid") == "N"
    assert params.findtext("AutomaticTaxCalculation") == "N"
    real = parse(apstin.build_parameters(validate_only=False))
    assert real.findtext("Parameters/ValidateOnly") == "N"
    assert real.findtext("Parameters/ApplyIfEntireDocumentValid") == "Y"


@pytest.mark.parametrize("bad", [{"ignore_warnings": "X"}, {"posting_period": "Z"}])
def test_apstin_parameter_values_are_checked(bad):
    with pytest.raises(ValidationError):
        apstin.build_parameters(validate_only=False, **bad)


def test_apstin_document_matches_xsd_order_and_sample(samples, field_reference):
    ours = parse(apstin.build_document([ap_doc()]))
    assert ours.tag == "PostApInvoice"
    item = ours.find("Item")
    assert is_subsequence(tags(item), xsd_order(field_reference, "APSTINDOC", "Item"))
    sample_item = sample(samples, "APSTIN-XmlIn-LedgerDistribution.xml").find("Item")
    ledger_tags = tags(sample_item.find("LedgerDistribution"))
    for dist in item.findall("LedgerDistribution"):
        assert is_subsequence(tags(dist), ledger_tags)
    assert item.findtext("Supplier") == "SUPP01"
    assert item.findtext("TransactionCode") == "I"
    assert item.findtext("Branch") == "10"
    assert item.findtext("Invoice") == "ST-100234"
    assert item.findtext("TransactionValue") == "108.25"
    assert item.findtext("TaxValue") == "8.25"
    assert item.findtext("TaxCode") == "A"
    assert item.findtext("InvoiceDate") == "2026-01-31"
    assert item.findtext("DueDate") == "2026-03-02"
    assert item.findtext("TransactionReference") == "ST inv 100234 job 5521"
    assert item.findtext("Notation") == "Tech: Ana Núñez"
    assert item.findtext("JournalNotation") == "ST 100234"
    lines = [(d.findtext("LedgerCode"), d.findtext("LedgerValue"), d.findtext("LedgerNotation"),
              d.findtext("LedgerTaxCode")) for d in item.findall("LedgerDistribution")]
    assert lines == [("10-5500", "60.00", "Material", None), ("10-5510", "40.00", "Equipment", "A")]


def test_apstin_credit_note_and_optional_fields_left_out():
    doc = ap_doc(transaction_code="C", due_date=None, branch=None, tax_code=None, tax_value=Decimal("0"),
                 transaction_value=Decimal("100.00"))
    item = parse(apstin.build_document([doc])).find("Item")
    assert item.findtext("TransactionCode") == "C"
    assert item.find("DueDate") is None and item.find("Branch") is None and item.find("TaxCode") is None


@pytest.mark.parametrize("overrides,field", [
    ({"supplier": "S" * 16}, "Supplier"),
    ({"invoice": "I" * 21}, "Invoice"),
    ({"branch": "B" * 11}, "Branch"),
    ({"reference": "R" * 51}, "TransactionReference"),
    ({"notation": "N" * 51}, "Notation"),
    ({"transaction_code": "X"}, "TransactionCode"),
    ({"transaction_value": Decimal("108.255")}, "TransactionValue"),
    ({"transaction_value": Decimal("109.25")}, "LedgerValue"),  # lines no longer add up
    ({"lines": []}, "LedgerDistribution"),
    ({"lines": [apstin.ApLedgerLine("L" * 36, Decimal("100.00"))]}, "LedgerDistribution[1].LedgerCode"),
    ({"invoice_date": "31/01/2026"}, "InvoiceDate"),
])
def test_apstin_field_rules_name_the_field(overrides, field):
    with pytest.raises(ValidationError) as caught:
        apstin.build_document([ap_doc(**overrides)])
    assert caught.value.field == field


# --- APSSSP ---------------------------------------------------------------------------------------

def test_apsssp_parameters_and_document(field_reference):
    params = parse(suppliers.build_parameters(validate_only=False))
    assert params.tag == "SetupApSupplier"
    assert [(e.tag, e.text) for e in params.find("Parameters")] == [
        ("IgnoreWarnings", "N"), ("ApplyIfEntireDocumentValid", "Y"), ("ValidateOnly", "N")]
    doc = suppliers.SupplierDocument(supplier="ACME01", name="Acme & Sons <Plumbing>", short_name="ACME",
                                     address=("1 Main St", "Suite 2"), postal_code="75001", on_hold=False,
                                     email="ap@acme.test", telephone="555-0100")
    root = parse(suppliers.build_document([doc]))
    item = root.find("Item")
    assert item.findtext("Key/Supplier") == "ACME01"
    assert item.findtext("SupplierName") == "Acme & Sons <Plumbing>"
    assert [item.findtext(f"SupAddr{n}") for n in range(1, 6)] == ["1 Main St", "Suite 2", "", "", ""]
    assert item.findtext("OnHold") == "N"
    assert is_subsequence(tags(item), xsd_order(field_reference, "APSSSPDOC", "SetupApSupplierItem"))


def test_apsssp_update_sends_only_given_fields():
    document = suppliers.build_document([suppliers.SupplierDocument(supplier="ACME01", email="new@acme.test")])
    item = parse(document).find("Item")
    assert tags(item) == ["Key", "Email"]


def test_apsssp_supplier_length():
    with pytest.raises(ValidationError) as caught:
        suppliers.build_document([suppliers.SupplierDocument(supplier="X" * 16)])
    assert caught.value.field == "Supplier"


# --- PORTOI / PORQRY -----------------------------------------------------------------------------

def test_portoi_parameters_always_send_validate_only(samples):
    with pytest.raises(TypeError):
        purchase_orders.build_parameters()  # no default: PORTOI's own default is Y (post nothing)
    ours = parse(purchase_orders.build_parameters(validate_only=False))
    theirs = sample(samples, "PORTOI-XmlParameters.xml")
    assert ours.tag == theirs.tag
    assert is_subsequence(tags(ours.find("Parameters")), tags(theirs.find("Parameters")))
    assert ours.findtext("Parameters/ValidateOnly") == "N"
    assert parse(purchase_orders.build_parameters(validate_only=True)).findtext("Parameters/ValidateOnly") == "Y"


def test_portoi_change_line_matches_sample(samples):
    doc = purchase_orders.PurchaseOrderDocument(
        supplier=None, action="C", purchase_order="000123",
        lines=[purchase_orders.PoStockLine(stock_code="", quantity=Decimal("10"), line=1, action="C",
                                           due_date=dt.date(2024, 4, 30))])
    assert canonical(parse(purchase_orders.build_document([doc]))) == canonical(
        sample(samples, "PORTOI-XmlIn-ChangeLine.xml"))


def test_portoi_add_order(field_reference):
    doc = purchase_orders.PurchaseOrderDocument(
        supplier="ACME01", order_date=dt.date(2026, 2, 1), due_date=dt.date(2026, 2, 10), warehouse="W1",
        customer_po_number="ST-PO-778",
        lines=[purchase_orders.PoStockLine(stock_code="A100", quantity=Decimal("2.5"), price=Decimal("12.34567"),
                                           warehouse="W1", ledger_code="10-5500")])
    orders = parse(purchase_orders.build_document([doc])).find("Orders")
    header = orders.find("OrderHeader")
    assert is_subsequence(tags(header), xsd_order(field_reference, "PORTOIDOC", "OrderHeader"))
    assert header.findtext("OrderActionType") == "A"
    assert header.findtext("CustomerPoNumber") == "ST-PO-778"
    line = orders.find("OrderDetails/StockLine")
    assert is_subsequence(tags(line), xsd_order(field_reference, "PORTOIDOC", "StockLine"))
    assert [line.findtext(tag) for tag in ("StockCode", "OrderQty", "Price")] == ["A100", "2.5", "12.34567"]


def test_portoi_rules():
    with pytest.raises(ValidationError) as caught:
        purchase_orders.build_document([purchase_orders.PurchaseOrderDocument(supplier=None, action="C")])
    assert caught.value.field == "PurchaseOrder"
    with pytest.raises(ValidationError) as caught:
        purchase_orders.build_document([purchase_orders.PurchaseOrderDocument(
            supplier="ACME01", lines=[purchase_orders.PoStockLine("A100", Decimal("1.0000001"))])])
    assert caught.value.field == "StockLine[1].OrderQty"


def test_porqry_query_matches_sample(samples):
    ours = parse(purchase_orders.build_query(" 00001"))
    theirs = sample(samples, "PORQRY-XmlIn.xml")
    assert ours.findtext("Key/PurchaseOrder") == " 00001" == theirs.findtext("Key/PurchaseOrder")
    assert tags(ours) == tags(theirs)
    assert tags(ours.find("Option")) == tags(theirs.find("Option"))
    assert ours.find("Filter/LineNo").attrib == theirs.find("Filter/LineNo").attrib


# --- INVTMA / INVQRY -----------------------------------------------------------------------------

def test_invtma_parameters_and_document_match_sample(samples, field_reference):
    params = parse(inventory.build_parameters(validate_only=False, transaction_date=dt.date(2024, 3, 31)))
    theirs = sample(samples, "INVTMA-XmlParameters.xml")
    assert params.tag == theirs.tag
    assert is_subsequence(tags(params.find("Parameters")), tags(theirs.find("Parameters")))
    assert params.findtext("Parameters/TransactionDate") == "2024-03-31"
    assert params.findtext("Parameters/ValidateOnly") == "N"
    doc = parse(inventory.build_document([inventory.InventoryAdjustment(
        warehouse="W1", stock_code="A100", quantity=Decimal("-5"), reference="ADJ-2024-001",
        notation="ADJ-2024-001", bin_location="W1")]))
    item = doc.find("Item")
    sample_item = sample(samples, "INVTMA-XmlIn.xml").find("Item")
    assert is_subsequence(tags(item), tags(sample_item))
    assert is_subsequence(tags(item), xsd_order(field_reference, "INVTMADOC", "Item"))
    for tag in ("Warehouse", "StockCode", "Quantity", "BinLocation", "Reference", "Notation"):
        assert item.findtext(tag) == sample_item.findtext(tag), tag


def test_invtma_rules():
    with pytest.raises(ValidationError) as caught:
        inventory.build_document([inventory.InventoryAdjustment("W" * 11, "A100", Decimal("1"))])
    assert caught.value.field == "Item.Warehouse"
    with pytest.raises(ValidationError):
        inventory.build_document([inventory.InventoryAdjustment("W1", "A100", Decimal("0"))])


def test_invqry_query_shape(samples):
    ours = parse(inventory.build_query("1003", warehouse="P0"))
    theirs = sample(samples, "INVQRY-XmlIn.xml")
    assert tags(ours) == tags(theirs)
    assert ours.findtext("Key/StockCode") == "1003"
    assert is_subsequence(tags(ours.find("Option")), tags(theirs.find("Option")) + ["IncludeEcc", "XslStylesheet"])
    assert ours.find("Filter/Warehouse").attrib == theirs.find("Filter/Warehouse").attrib


# --- COMFND / APSQRY -----------------------------------------------------------------------------

def test_comfnd_matches_recorded_request(samples):
    ours = parse(queries.build_comfnd("InvMaster", ["StockCode"], where=[Where("StockCode", "02")], return_rows=5,
                                      order_by="StockCode"))
    theirs = sample(samples, "COMFND-XmlIn.xml")
    assert canonical(ours) == canonical(theirs)


def test_apsqry_query(field_reference):
    root = parse(queries.build_apsqry("ACME01", include_invoices=True))
    assert root.findtext("Key/Supplier") == "ACME01"
    assert root.findtext("Option/IncludeInvoices") == "Y"
    options = xsd_order(field_reference, "APSQRY", "Key")
    assert set(tags(root.find("Option"))) <= set(options)
