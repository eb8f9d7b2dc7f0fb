"""Rules of the published SYSPRO behaviour (docs/sandbox-fidelity.md) that the older test files do not
already name: each test says which rule it holds the simulator to."""
from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app.sandbox.syspro_sim import SysproSimulator

from .conftest import (
    COMPANY,
    COMPANY_PASSWORD,
    OPERATOR,
    PASSWORD,
    apstin_doc,
    apstin_item,
    apstin_params,
    errors,
    items,
    parse,
)
from .test_syspro_other_bos import APSSSP_PARAMS, INVTMA_PARAMS, PORTOI_PARAMS, adjustment, po_add, supplier_doc

COMFND = "<Query><TableName>ApSupplier</TableName></Query>"


def test_rule_01_browse_fetch_and_setup_delete_are_served(enet, state):
    user_id = enet.logon()
    fetched = parse(enet.get("Query/Fetch", UserId=user_id, XmlIn=(
        "<Fetch><TableName>InvMaster</TableName><Key>FLT-1620</Key><FullKeyProvided>Y</FullKeyProvided></Fetch>")))
    assert fetched.tag == "InvMaster"
    assert (fetched.findtext("StockCode"), fetched.findtext("Description")) == ("FLT-1620", "Filter 16x20x1")
    assert fetched.findtext("Decimals").strip() == "0"
    missing = enet.get("Query/Fetch", UserId=user_id,
                       XmlIn="<Fetch><TableName>InvMaster</TableName><Key>NOPE</Key></Fetch>").text
    assert missing.startswith("ERROR: e.net exception 100000: ")

    browse = parse(enet.get("Query/Browse", UserId=user_id, XmlIn=(
        "<Browse><BrowseName>SiteApSupplier</BrowseName><StartAtKey>G</StartAtKey><ReturnRows>1</ReturnRows>"
        "</Browse>")))
    assert browse.tag == "ApSupplier"
    (row,) = browse.findall("Row")
    assert (row.findtext("Supplier/Value"), row.findtext("Supplier/DataType")) == ("HOLDCO", "AlphaNumeric")
    assert browse.findtext("NextPrevKey/Fwd") == "True"
    assert browse.findtext("HeaderDetails/Table") == "ApSupplier"

    lower_case_names = parse(enet.get("Query/Query", userid=user_id, businessobject="COMFND", xmlin=COMFND))
    assert lower_case_names.tag == "ApSupplier"

    delete = enet.post("APSSSP", supplier_doc("JOHNSTONE"), APSSSP_PARAMS.format(v="N"), op="Setup/Delete")
    assert errors(delete.find("item")) == {} and "JOHNSTONE" not in state.suppliers
    again = enet.post("APSSSP", supplier_doc("JOHNSTONE"), APSSSP_PARAMS.format(v="N"), op="Setup/Delete")
    assert errors(again.find("item"))["supplier"][0] == "110400"
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    in_use = enet.post("APSSSP", supplier_doc("FERGUSON"), APSSSP_PARAMS.format(v="N"), op="Setup/Delete")
    assert "has AP documents" in errors(in_use.find("item"))["supplier"][1]
    assert "FERGUSON" in state.suppliers


def test_rule_02_application_errors_are_http_200_text_and_only_faults_are_5xx(enet, http, sim):
    answers = [
        http.get(f"{sim.enet_url}/Logon", params={"Operator": OPERATOR, "OperatorPassword": "wrong",
                                                  "CompanyId": COMPANY, "CompanyPassword": COMPANY_PASSWORD}),
        http.get(f"{sim.enet_url}/Query/Query", params={"UserId": "X" * 34, "BusinessObject": "COMFND",
                                                        "XmlIn": COMFND}),
        http.get(f"{sim.enet_url}/Query/Query", params={"UserId": enet.logon(), "BusinessObject": "NOSUCH",
                                                        "XmlIn": COMFND}),
        http.get(f"{sim.enet_url}/Transaction/Post", params={"UserId": enet.user_id, "BusinessObject": "APSTIN",
                                                             "XmlParameters": apstin_params(), "XmlIn": "<broken"}),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/octet-stream"
        assert answer.text.startswith("ERROR")
    sim.set_faults({"http_500": 1})
    assert http.get(f"{sim.enet_url}/GetVersion").status_code == 500


def test_rule_06_the_expired_session_answer_is_switchable(state, http, clock):
    with SysproSimulator(state, session_idle_timeout_s=60, clock=clock, max_lifetime_s=60,
                         invalid_session_message="ERROR: Session expired. Please log on again") as sim:
        logon = {"Operator": OPERATOR, "OperatorPassword": PASSWORD, "CompanyId": COMPANY,
                 "CompanyPassword": COMPANY_PASSWORD}
        user_id = http.get(f"{sim.enet_url}/Logon", params=logon).text
        clock.advance(61)
        answer = http.get(f"{sim.enet_url}/Query/Query",
                          params={"UserId": user_id, "BusinessObject": "COMFND", "XmlIn": COMFND})
        assert answer.status_code == 200 and answer.text == "ERROR: Session expired. Please log on again"
        assert http.get(f"{sim.enet_url}/Logoff", params={"UserId": user_id}).text.startswith("ERROR: Session")
    with pytest.raises(ValueError):
        SysproSimulator(state, invalid_session_message="expired")


def test_rule_12_validate_only_changes_nothing_in_invtma(enet, state):
    params = INVTMA_PARAMS.format(date="2026-03-14", count="N").replace(
        "<ValidateOnly>N</ValidateOnly>", "<ValidateOnly>Y</ValidateOnly>")
    root = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '-5')}</PostInvAdjustments>",
                     params)
    assert errors(items(root)[0]) == {} and items(root)[0].find("Journal") is None
    assert state.movements == [] and state.stock_levels[("FLT-1620", "N1")] == Decimal("40")
    assert state.post_count == 0


def test_rule_12_validate_only_changes_nothing_in_portoi(enet, state):
    root = enet.post("PORTOI", po_add(), PORTOI_PARAMS.replace("<ValidateOnly>N", "<ValidateOnly>Y"))
    assert errors(root.find("item")) == {}
    assert state.purchase_orders == {} and state.post_count == 0


def test_rule_13_invtma_apply_if_entire_document_valid_n_posts_the_valid_items(enet, state):
    params = INVTMA_PARAMS.format(date="2026-03-14", count="N").replace(
        "<ApplyIfEntireDocumentValid>Y", "<ApplyIfEntireDocumentValid>N")
    root = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '-5')}"
                               f"{adjustment('NOPE', 'N1', '1')}</PostInvAdjustments>", params)
    good, bad = items(root)
    assert good.findtext("Journal") == "1" and "stockcode" in errors(bad)
    assert state.stock_levels[("FLT-1620", "N1")] == Decimal("35")


def test_rule_14_a_ledger_code_on_hold_is_rejected(enet, state):
    state.add_gl_code("5000-900", "Closed account", on_hold=True)
    root = enet.post("APSTIN", apstin_doc(apstin_item(lines=(("5000-900", "100.00"),))), apstin_params())
    assert errors(items(root)[0]) == {"LedgerCode": ("110413", "Ledger code '5000-900' is on hold")}
    assert state.ap_invoices == []
    adjust = enet.post("INVTMA", "<PostInvAdjustments><Item><Warehouse>N1</Warehouse><StockCode>FLT-1620</StockCode>"
                                 "<Quantity>1</Quantity><LedgerCode>5000-900</LedgerCode></Item></PostInvAdjustments>",
                       INVTMA_PARAMS.format(date="2026-03-14", count="N"))
    assert errors(items(adjust)[0])["ledgercode"][0] == "110413"


def test_other_bos_invtma_lot_and_bin_rules(enet, state):
    state.add_stock_code("COIL-LOT", warehouses=("N1",), Description="Coil by lot", TraceableType="T")
    state.add_warehouse("B1", Description="Binned", Branch="NORTH", MultipleBins="Y")
    state.set_stock_level("FLT-1620", "B1", Decimal(0))
    params = INVTMA_PARAMS.format(date="2026-03-14", count="N")
    root = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('COIL-LOT', 'N1', '2')}"
                               f"{adjustment('FLT-1620', 'B1', '2')}</PostInvAdjustments>", params)
    lot, bin_ = (errors(i) for i in items(root))
    assert set(lot) == {"lot"} and set(bin_) == {"binlocation"}
    assert state.movements == []
    fixed = enet.post("INVTMA", "<PostInvAdjustments>"
                                "<Item><Warehouse>N1</Warehouse><StockCode>COIL-LOT</StockCode><Quantity>2</Quantity>"
                                "<Lot>L-77</Lot></Item>"
                                "<Item><Warehouse>B1</Warehouse><StockCode>FLT-1620</StockCode><Quantity>2</Quantity>"
                                "<BinLocation>A-01</BinLocation></Item></PostInvAdjustments>", params)
    assert [errors(i) for i in items(fixed)] == [{}, {}]
    assert len(state.movements) == 2


def test_other_bos_invtma_physical_count_may_not_be_negative(enet, state):
    root = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '-1')}</PostInvAdjustments>",
                     INVTMA_PARAMS.format(date="", count="Y"))
    assert errors(items(root)[0])["quantity"][1] == "A physical count may not be negative"
    assert state.stock_levels[("FLT-1620", "N1")] == Decimal("40")


def test_other_bos_invqry_unknown_stock_code_is_an_exception(enet):
    answer = enet.get("Query/Query", UserId=enet.logon(), BusinessObject="INVQRY",
                      XmlIn="<Query><Key><StockCode>NOPE</StockCode></Key></Query>").text
    assert answer == "ERROR: e.net exception 100000: Stock code 'NOPE' not found"


def test_rule_17_journal_numbers_run_per_period_and_the_invoice_is_readable_at_once(enet, state):
    current = items(enet.post("APSTIN", apstin_doc(apstin_item(invoice="C-1")), apstin_params()))[0]
    previous = items(enet.post("APSTIN", apstin_doc(apstin_item(invoice="P-1", invoice_date="2026-02-20")),
                               apstin_params(period="P")))[0]
    current_again = items(enet.post("APSTIN", apstin_doc(apstin_item(invoice="C-2")), apstin_params()))[0]
    assert [(i.findtext("Journal"), i.findtext("TrnYear"), i.findtext("TrnMonth"))
            for i in (current, previous, current_again)] == [("1", "2026", "3"), ("1", "2026", "2"),
                                                             ("2", "2026", "3")]
    found = enet.query("APSQRY", "<Query><Key><Supplier>FERGUSON</Supplier></Key>"
                                 "<Option><IncludeInvoices>Y</IncludeInvoices></Option></Query>")
    assert [i.findtext("Invoice") for i in found.findall("InvoiceItem")] == ["C-1", "P-1", "C-2"]


def test_fault_slow_after_post_commits_before_the_late_answer(enet, sim, state, sleeps):
    """Fault injection: a post whose answer comes too late for the client is in SYSPRO all the same."""
    enet.logon()
    sim.set_faults({"slow_after_post": 1})
    committed_before_the_wait = []
    sim.sleep = lambda seconds: committed_before_the_wait.append((seconds, len(state.ap_invoices)))
    root = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    assert items(root)[0].findtext("Journal") == "1"
    assert committed_before_the_wait == [(130, 1)]
    enet.post("APSTIN", apstin_doc(apstin_item(invoice="INV-2")), apstin_params())
    assert len(committed_before_the_wait) == 1  # counted: only the next post


def test_other_bos_text_longer_than_its_column_is_refused(enet, state):
    """APSSSP names and address lines, PORTOI customer PO numbers: the reported SYSPRO 8 column sizes."""
    root = enet.post("APSSSP", supplier_doc("LONGCO", SupplierName="N" * 51, SupAddr1="A" * 41,
                                            SupPostalCode="12345-6789-0000"),
                     APSSSP_PARAMS.format(v="N"), op="Setup/Add")
    assert set(errors(root.find("item"))) == {"suppliername", "supaddr1"}
    assert "LONGCO" not in state.suppliers
    fits = enet.post("APSSSP", supplier_doc("LONGCO", SupplierName="N" * 50, SupAddr1="A" * 40),
                     APSSSP_PARAMS.format(v="N"), op="Setup/Add")
    assert errors(fits.find("item")) == {}
    po = po_add().replace("ST-PO-55", "P" * 31)
    assert set(errors(enet.post("PORTOI", po, PORTOI_PARAMS).find("item"))) == {"customerponumber"}
    assert state.purchase_orders == {}
