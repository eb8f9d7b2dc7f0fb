"""APSTIN (post AP invoice) validation and storage, seen through XmlOut, OData and COMFND."""
from __future__ import annotations

import json
from decimal import Decimal

from lxml import etree

from .conftest import apstin_doc, apstin_item, apstin_params, errors, items


def odata_invoices(enet, **params):
    response = enet.odata("ApInvoice", **params)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)["value"]


def test_posted_invoice_gets_a_journal_and_is_visible_in_odata_and_comfnd(enet, state):
    root = enet.post("APSTIN", apstin_doc(apstin_item(reference="JOB-77", notation="ST 1001")), apstin_params())
    assert root.tag == "postapinvoice"
    assert root.get("Version") == "8.0.000" and root.get("OperatorPrimaryRole") == "   "
    (item,) = items(root)
    assert item.tag == "Item"
    assert [item.findtext("Supplier"), item.findtext("Invoice"), item.findtext("ItemNumber")] == \
        ["FERGUSON", "INV-1001", "000001"]
    assert (item.findtext("Journal"), item.findtext("TrnYear"), item.findtext("TrnMonth")) == ("1", "2026", "3")
    assert root.findtext("StatusOfItems/ItemsProcessed") == "000001"
    assert root.findtext("StatusOfItems/ItemsInvalid") == "000000"
    assert state.post_count == 1

    (row,) = odata_invoices(enet, **{"$filter": "Supplier eq 'FERGUSON' and Invoice eq 'INV-1001'"})
    assert row == {
        "Supplier": "FERGUSON", "Invoice": "INV-1001", "DocumentType": "I", "InvoiceDate": "2026-03-10",
        "PostDate": "2026-03-15", "DueDate": "2026-04-09", "Branch": "NORTH", "OrigInvValue": Decimal("110.00"),
        "OrigTaxValue": Decimal("10.00"), "Journal": 1, "TrnYear": 2026, "TrnMonth": 3, "Reference": "JOB-77",
        "Notation": "ST 1001", "MthInvBal1": Decimal("110.00"),
    }

    found = enet.query("COMFND", """<Query><TableName>ApInvoice</TableName><ReturnRows>10</ReturnRows>
        <Columns><Column>Invoice</Column><Column>Journal</Column></Columns>
        <Where><Expression><OpenBracket>(</OpenBracket><AndOr>And</AndOr><Column>Supplier</Column>
        <Condition>EQ</Condition><Value>FERGUSON</Value><CloseBracket>)</CloseBracket></Expression></Where>
        </Query>""")
    assert found.tag == "ApInvoice"
    assert [r.findtext("Invoice") for r in found.findall("Row")] == ["INV-1001"]
    assert found.findtext("RowsReturned") == "       1"


def test_second_post_of_the_same_invoice_is_the_contract_duplicate_error(enet, state):
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    root = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    (item,) = items(root)
    assert errors(item) == {"Invoice": ("110402", "Invoice 'INV-1001' already exists for supplier 'FERGUSON'")}
    assert item.find("Journal") is None
    assert item.find("Invoice/Value").text == "INV-1001"
    assert root.findtext("StatusOfItems/ItemsInvalid") == "000001"
    assert len(state.ap_invoices) == 1
    # The same number from another supplier is a different invoice.
    other = enet.post("APSTIN", apstin_doc(apstin_item(supplier="JOHNSTONE")), apstin_params())
    assert items(other)[0].findtext("Journal") == "2"


def test_duplicate_check_sees_rows_stored_any_way_and_forgets_removed_ones(enet, state):
    # The duplicate check reads a key index kept up with ap_invoices: rows a test (or the seed)
    # appends directly count, and a list cut back is keyed afresh.
    enet.post("APSTIN", apstin_doc(apstin_item(invoice="INV-1")), apstin_params())
    state.ap_invoices.append({**state.ap_invoices[0], "Invoice": "INV-2"})
    assert [r["Invoice"] for r in state.find_invoices("FERGUSON", "INV-2")] == ["INV-2"]
    (item,) = items(enet.post("APSTIN", apstin_doc(apstin_item(invoice="INV-2")), apstin_params()))
    assert "Invoice" in errors(item)
    state.ap_invoices.clear()
    assert state.find_invoices("FERGUSON", "INV-1") == []
    (item,) = items(enet.post("APSTIN", apstin_doc(apstin_item(invoice="INV-1")), apstin_params()))
    assert item.findtext("Journal") and not errors(item)
    assert [r["Invoice"] for r in state.find_invoices("FERGUSON", "INV-1")] == ["INV-1"]


def test_unknown_supplier_and_unknown_ledger_code(enet, state):
    root = enet.post("APSTIN", apstin_doc(apstin_item(supplier="NOBODY", lines=(("9999-999", "100.00"),))),
                     apstin_params())
    assert errors(items(root)[0]) == {
        "Supplier": ("110400", "Supplier 'NOBODY' not found"),
        "LedgerCode": ("110406", "Ledger code '9999-999' not found"),
    }
    assert state.ap_invoices == []


def test_closed_period_by_parameter_and_by_document_date(enet, state):
    before_previous = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params(period="B"))
    assert errors(items(before_previous)[0])["PostingPeriod"][1] == "Posting period is closed"
    january = enet.post("APSTIN", apstin_doc(apstin_item(invoice_date="2026-01-31")), apstin_params())
    assert errors(items(january)[0])["PostingPeriod"][1] == "Posting period is closed"
    assert state.ap_invoices == []
    previous = enet.post("APSTIN", apstin_doc(apstin_item(invoice_date="2026-02-27")), apstin_params(period="P"))
    item = items(previous)[0]
    assert (item.findtext("TrnYear"), item.findtext("TrnMonth")) == ("2026", "2")


def test_validate_only_stores_nothing_and_returns_no_journal(enet, state):
    root = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params(validate="Y"))
    (item,) = items(root)
    assert errors(item) == {} and item.find("Journal") is None
    assert root.findtext("StatusOfItems/ItemsInvalid") == "000000"
    assert state.ap_invoices == [] and state.post_count == 0
    bad = enet.post("APSTIN", apstin_doc(apstin_item(supplier="NOBODY")), apstin_params(validate="Y"))
    assert "Supplier" in errors(items(bad)[0])


def odata_transactions(enet, **params):
    response = enet.odata("ApInvoicePay", **params)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)["value"]


def credit_item(invoice="INV-1001", reference="ST credit id 5001 inv 1001-A", value="55.00", supplier="FERGUSON"):
    return apstin_item(supplier=supplier, invoice=invoice, code="C", value=value, tax="5.00",
                       lines=(("5000-100", str(Decimal(value) - Decimal("5.00"))),), reference=reference)


def test_rule_15_credit_note_applies_to_the_existing_invoice_without_a_row_of_its_own(enet, state):
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    root = enet.post("APSTIN", apstin_doc(credit_item()), apstin_params())
    assert errors(items(root)[0]) == {} and items(root)[0].findtext("Journal") == "2"
    # SYSPRO keeps one AP invoice row; the credit is a transaction of it that lowers its balance
    (row,) = odata_invoices(enet, **{"$filter": "Supplier eq 'FERGUSON' and Invoice eq 'INV-1001'"})
    assert (row["DocumentType"], row["OrigInvValue"], row["MthInvBal1"]) == ("I", Decimal("110.00"), Decimal("55.00"))
    (credit,) = odata_transactions(enet, **{"$filter": "TrnType eq 'C'"})
    assert (credit["Supplier"], credit["Invoice"], credit["TrnValue"], credit["Journal"], credit["Reference"]) == \
        ("FERGUSON", "INV-1001", Decimal("-55.00"), 2, "ST credit id 5001 inv 1001-A")
    assert len(state.ap_invoices) == 1


def test_rule_15_several_credits_against_one_invoice_are_allowed(enet, state):
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    for reference in ("ST credit id 1 inv A", "ST credit id 2 inv B"):
        root = enet.post("APSTIN", apstin_doc(credit_item(value="22.00", reference=reference)), apstin_params())
        assert errors(items(root)[0]) == {}
    assert [t["Reference"] for t in state.ap_invoice_pays] == ["ST credit id 1 inv A", "ST credit id 2 inv B"]
    assert state.ap_invoices[0]["MthInvBal1"] == Decimal("66.00")
    # also found through COMFND, as the look-up over e.net reads them
    found = enet.query("COMFND", """<Query><TableName>ApInvoicePay</TableName><ReturnRows>10</ReturnRows>
        <Columns><Column>Reference</Column></Columns>
        <Where><Expression><OpenBracket>(</OpenBracket><AndOr>And</AndOr><Column>Invoice</Column>
        <Condition>EQ</Condition><Value>INV-1001</Value><CloseBracket>)</CloseBracket></Expression></Where>
        </Query>""")
    assert len(found.findall("Row")) == 2


def test_rule_15_credit_note_needs_the_invoice_to_exist_for_that_supplier(enet, state):
    missing = enet.post("APSTIN", apstin_doc(credit_item(invoice="CR-1001")), apstin_params())
    assert errors(items(missing)[0])["Invoice"] == ("110405", "Invoice 'CR-1001' not found for supplier 'FERGUSON'")
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    other_supplier = enet.post("APSTIN", apstin_doc(credit_item(supplier="JOHNSTONE")), apstin_params())
    assert "Invoice" in errors(items(other_supplier)[0])
    assert state.ap_invoice_pays == [] and len(state.ap_invoices) == 1


def test_rule_15_credits_are_listed_by_apsqry_with_invoice_payments(enet, state):
    enet.post("APSTIN", apstin_doc(apstin_item(), credit_item()), apstin_params())
    plain = enet.query("APSQRY", "<Query><Key><Supplier>FERGUSON</Supplier></Key>"
                                 "<Option><IncludeInvoices>Y</IncludeInvoices></Option></Query>")
    assert [i.findtext("Invoice") for i in plain.findall("InvoiceItem")] == ["INV-1001"]
    assert plain.find("InvoiceItem/Payment") is None
    root = enet.query("APSQRY", "<Query><Key><Supplier>FERGUSON</Supplier></Key><Option><IncludeInvoices>Y"
                                "</IncludeInvoices><IncludeInvoicePayments>Y</IncludeInvoicePayments></Option></Query>")
    (payment,) = root.findall("InvoiceItem/Payment")
    assert (payment.findtext("TrnType"), payment.findtext("PaymentReference")) == ("C", "ST credit id 5001 inv 1001-A")


def test_rule_15_invoice_then_credit_in_one_document(enet, state):
    root = enet.post("APSTIN", apstin_doc(apstin_item(), credit_item()), apstin_params())
    assert [errors(item) for item in items(root)] == [{}, {}]
    assert state.ap_invoices[0]["MthInvBal1"] == Decimal("55.00") and len(state.ap_invoice_pays) == 1


def test_adjustment_requires_the_invoice_to_exist(enet):
    root = enet.post("APSTIN", apstin_doc(apstin_item(invoice="NOPE", code="A")), apstin_params())
    assert errors(items(root)[0])["Invoice"][1] == "Invoice 'NOPE' not found for supplier 'FERGUSON'"


def test_supplier_on_hold_follows_ignore_warnings(enet, state):
    rejected = enet.post("APSTIN", apstin_doc(apstin_item(supplier="HOLDCO")), apstin_params(warnings="N"))
    assert errors(items(rejected)[0])["Supplier"][1] == "Supplier 'HOLDCO' is on hold"
    warned = enet.post("APSTIN", apstin_doc(apstin_item(supplier="HOLDCO")), apstin_params(warnings="W"))
    item = items(warned)[0]
    assert item.findtext("Warning/Description") == "Supplier 'HOLDCO' is on hold"
    assert item.findtext("Journal") == "1"
    ignored = enet.post("APSTIN", apstin_doc(apstin_item(supplier="HOLDCO", invoice="INV-2")),
                        apstin_params(warnings="Y"))
    assert items(ignored)[0].find("Warning") is None and items(ignored)[0].findtext("Journal") == "2"
    assert len(state.ap_invoices) == 2


def test_distribution_must_equal_value_less_tax_within_the_variance(enet, state):
    off_by_cents = apstin_doc(apstin_item(value="110.00", tax="10.00", lines=(("5000-100", "99.97"),)))
    root = enet.post("APSTIN", off_by_cents, apstin_params())
    assert errors(items(root)[0])["LedgerValue"][0] == "110409"
    root = enet.post("APSTIN", off_by_cents, apstin_params(variance="0.05"))
    assert errors(items(root)[0]) == {}
    split = apstin_doc(apstin_item(invoice="INV-9", lines=(("5000-100", "60.00"), ("5000-200", "40.00"))))
    assert errors(items(enet.post("APSTIN", split, apstin_params()))[0]) == {}
    assert len(state.ap_invoices) == 2


def test_tax_code_and_invoice_number_rules(enet):
    root = enet.post("APSTIN", apstin_doc(apstin_item(tax_code="7"), apstin_item(invoice="X" * 21),
                                          apstin_item(invoice="")), apstin_params(apply_all="N"))
    first, second, third = (errors(i) for i in items(root))
    assert set(first) == {"TaxCode"}
    assert set(second) == {"Invoice"} and "20" in second["Invoice"][1]
    assert set(third) == {"Invoice"}
    assert [i.findtext("ItemNumber") for i in items(root)] == ["000001", "000002", "000003"]


def test_apply_if_entire_document_valid(enet, state):
    document = apstin_doc(apstin_item(invoice="GOOD-1"), apstin_item(supplier="NOBODY", invoice="BAD-1"))
    all_or_nothing = enet.post("APSTIN", document, apstin_params(apply_all="Y"))
    assert [i.find("Journal") for i in items(all_or_nothing)] == [None, None]
    assert state.ap_invoices == []
    each_alone = enet.post("APSTIN", document, apstin_params(apply_all="N"))
    assert items(each_alone)[0].findtext("Journal") == "1"
    assert [r["Invoice"] for r in state.ap_invoices] == ["GOOD-1"]
    assert each_alone.findtext("StatusOfItems/ItemsProcessed") == "000002"
    assert each_alone.findtext("StatusOfItems/ItemsInvalid") == "000001"


def test_several_items_of_several_suppliers_each_get_their_own_result_in_order(enet, state):
    """APSTIN takes many invoices of many suppliers in one document; with ApplyIfEntireDocumentValid=N
    each item is posted or rejected on its own and answered in its place (ItemNumber)."""
    document = apstin_doc(apstin_item(invoice="M-1"), apstin_item(supplier="JOHNSTONE", invoice="M-2"),
                          apstin_item(invoice="M-3", lines=(("9999-999", "100.00"),)),
                          apstin_item(supplier="JOHNSTONE", invoice="M-4"))
    root = enet.post("APSTIN", document, apstin_params(apply_all="N"))
    answered = items(root)
    assert [(i.findtext("ItemNumber"), i.findtext("Supplier"), i.findtext("Invoice")) for i in answered] == [
        ("000001", "FERGUSON", "M-1"), ("000002", "JOHNSTONE", "M-2"), ("000003", "FERGUSON", "M-3"),
        ("000004", "JOHNSTONE", "M-4")]
    assert [i.findtext("Journal") for i in answered] == ["1", "1", None, "1"]  # one journal for the post
    assert set(errors(answered[2])) == {"LedgerCode"} and not errors(answered[0])
    assert [(r["Supplier"], r["Invoice"]) for r in state.ap_invoices] == [
        ("FERGUSON", "M-1"), ("JOHNSTONE", "M-2"), ("JOHNSTONE", "M-4")]
    assert root.findtext("StatusOfItems/ItemsProcessed") == "000004"
    assert root.findtext("StatusOfItems/ItemsInvalid") == "000001"


def test_same_invoice_twice_in_one_document_is_a_duplicate(enet, state):
    root = enet.post("APSTIN", apstin_doc(apstin_item(), apstin_item()), apstin_params(apply_all="N"))
    assert errors(items(root)[0]) == {}
    assert errors(items(root)[1])["Invoice"][0] == "110402"
    assert len(state.ap_invoices) == 1


def test_special_characters_round_trip_into_odata(enet):
    invoice = "A&B<1>'\"é"
    reference = "Müller & Söhne <Ltd> 'quoted' \"dq\" €5"
    escaped = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    root = enet.post("APSTIN", apstin_doc(apstin_item(invoice=escaped(invoice), reference=escaped(reference),
                                                      notation=f"<![CDATA[{reference}]]>")), apstin_params())
    assert items(root)[0].findtext("Invoice") == invoice
    assert items(root)[0].findtext("Journal") == "1"
    literal = invoice.replace("'", "''")
    (row,) = odata_invoices(enet, **{"$filter": f"Invoice eq '{literal}'"})
    assert (row["Invoice"], row["Reference"], row["Notation"]) == (invoice, reference, reference)
    again = enet.post("APSTIN", apstin_doc(apstin_item(invoice=escaped(invoice))), apstin_params())
    assert errors(items(again)[0])["Invoice"][1] == f"Invoice '{invoice}' already exists for supplier 'FERGUSON'"


def test_xml_out_is_windows_1252_and_text_outside_it_is_stored_as_question_marks(enet, state):
    response = enet.raw_post("APSTIN", apstin_doc(apstin_item(invoice="€-Łódź")), apstin_params())
    assert "é".encode("cp1252") not in response.content
    assert "€".encode("cp1252") in response.content  # € is 0x80 in Windows-1252, not UTF-8
    root = etree.fromstring(response.content)
    assert items(root)[0].findtext("Invoice") == "€-?ód?"
    assert state.ap_invoices[0]["Invoice"] == "€-?ód?"


def test_malformed_xml_in_and_unknown_business_object_are_enet_exceptions(enet, state):
    bad = enet.raw_post("APSTIN", "<PostApInvoice><Item>", apstin_params()).text
    assert bad.startswith("ERROR: e.net exception 100000: ")
    unknown = enet.raw_post("ARSTPY", apstin_doc(apstin_item()), apstin_params()).text
    assert unknown.startswith("ERROR: e.net exception 100000: ") and "ARSTPY" in unknown
    empty = enet.raw_post("APSTIN", "<PostApInvoice/>", apstin_params()).text
    assert empty.startswith("ERROR: e.net exception 100000: ")
    assert state.ap_invoices == []


def test_unknown_elements_are_ignored_and_blank_parameters_take_the_defaults(enet, state):
    root = enet.post("APSTIN", apstin_doc(apstin_item(extra="<Telephone>123</Telephone><Frobnicate/>")), "")
    assert items(root)[0].findtext("Journal") == "1"
    assert state.ap_invoices[0]["Invoice"] == "INV-1001"


def test_missing_document_parameters_are_errors(enet):
    user_id = enet.logon()
    answer = enet.get("Transaction/Post", UserId=user_id, BusinessObject="APSTIN", XmlIn=apstin_doc(apstin_item()))
    assert answer.text == "ERROR: Parameter 'XmlParameters' is missing"
    assert enet.get("Query/Query", UserId=user_id, XmlIn="<Query/>").text == \
        "ERROR: Parameter 'BusinessObject' is missing"
