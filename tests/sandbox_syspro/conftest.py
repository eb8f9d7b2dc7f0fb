"""A running SYSPRO simulator on 127.0.0.1 and a plain requests/lxml e.net client for it.

The tests talk HTTP exactly as a client would; they do not use desktop_app.syspro.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests
from lxml import etree

from desktop_app.sandbox.syspro_sim import SysproSimulator
from desktop_app.sandbox.syspro_state import SysproState

TODAY = date(2026, 3, 15)  # current period 2026-03, previous 2026-02 open; January closed
OPERATOR, PASSWORD, COMPANY, COMPANY_PASSWORD = "INTEG", "op-secret", "EDU1", "co-secret"

APSTIN_PARAMS = """<?xml version="1.0" encoding="Windows-1252"?>
<PostApInvoice><Parameters><PostingPeriod>{period}</PostingPeriod><IgnoreWarnings>{warnings}</IgnoreWarnings>
<ApplyIfEntireDocumentValid>{apply_all}</ApplyIfEntireDocumentValid><ValidateOnly>{validate}</ValidateOnly>
<PermissibleTaxVariance>{variance}</PermissibleTaxVariance></Parameters></PostApInvoice>"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seeded_state() -> SysproState:
    state = SysproState(company_id=COMPANY, company_password=COMPANY_PASSWORD, today=lambda: TODAY)
    state.add_operator(OPERATOR, PASSWORD)
    state.add_operator("CLERK", "clerk-pw")
    state.ap_branches.update({"NORTH", "SOUTH"})
    state.add_supplier("FERGUSON", SupplierName="Ferguson HVAC Supply", Branch="NORTH", TermsCode="30")
    state.add_supplier("JOHNSTONE", SupplierName="Johnstone Supply", Branch="SOUTH")
    state.add_supplier("HOLDCO", SupplierName="Held Supplier", Branch="NORTH", OnHold="Y")
    state.add_gl_code("5000-100", "Materials", "E")
    state.add_gl_code("5000-200", "Subcontract", "E")
    state.add_warehouse("N1", Description="North van stock", Branch="NORTH")
    state.add_warehouse("S1", Description="South main", Branch="SOUTH")
    state.add_stock_code("FLT-1620", warehouses=("N1", "S1"), Description="Filter 16x20x1", StockUom="EA",
                         Decimals=0, ProductClass="FILT", Supplier="FERGUSON")
    state.add_stock_code("REF-R410A", warehouses=("N1",), Description="R-410A 25 lb", StockUom="LB",
                         Decimals=3, ProductClass="REFR", Supplier="JOHNSTONE")
    state.add_stock_code("NOWHERE", Description="Not stocked anywhere")
    state.set_stock_level("FLT-1620", "N1", Decimal("40"))
    return state


@pytest.fixture
def state() -> SysproState:
    return seeded_state()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def sim(state, clock, sleeps):
    simulator = SysproSimulator(state, session_idle_timeout_s=600, clock=clock, page_size=5,
                                max_lifetime_s=120, sleep=sleeps.append)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


class Enet:
    """The few e.net calls the tests need, over real HTTP."""

    def __init__(self, sim: SysproSimulator, http: requests.Session):
        self.sim = sim
        self.http = http
        self.user_id: str | None = None

    def get(self, op: str, **params: str) -> requests.Response:
        response = self.http.get(f"{self.sim.enet_url}/{op}", params=params, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        return response

    def logon(self, operator: str = OPERATOR, password: str = PASSWORD) -> str:
        body = self.get("Logon", Operator=operator, OperatorPassword=password, CompanyId=COMPANY,
                        CompanyPassword=COMPANY_PASSWORD).text
        assert not body.startswith("ERROR"), body
        self.user_id = body
        return body

    def raw_post(self, bo: str, xml_in: str, xml_params: str = "", op: str = "Transaction/Post") -> requests.Response:
        return self.get(op, UserId=self.user_id or self.logon(), BusinessObject=bo, XmlParameters=xml_params,
                        XmlIn=xml_in)

    def post(self, bo: str, xml_in: str, xml_params: str = "", op: str = "Transaction/Post") -> etree._Element:
        return parse(self.raw_post(bo, xml_in, xml_params, op))

    def query(self, bo: str, xml_in: str) -> etree._Element:
        return parse(self.get("Query/Query", UserId=self.user_id or self.logon(), BusinessObject=bo, XmlIn=xml_in))

    def odata(self, entity: str, auth=(OPERATOR, PASSWORD), **params: str) -> requests.Response:
        return self.http.get(f"{self.sim.odata_url}/{COMPANY}/{entity}", params=params, auth=auth, timeout=10)


def parse(response: requests.Response) -> etree._Element:
    body = response.content
    assert body.startswith(b'<?xml version="1.0" encoding="Windows-1252"?>'), body[:200]
    return etree.fromstring(body)


@pytest.fixture
def enet(sim, http) -> Enet:
    return Enet(sim, http)


def apstin_params(period="C", warnings="N", apply_all="Y", validate="N", variance="0") -> str:
    return APSTIN_PARAMS.format(period=period, warnings=warnings, apply_all=apply_all, validate=validate,
                                variance=variance)


def apstin_item(supplier="FERGUSON", invoice="INV-1001", value="110.00", tax="10.00", code="I",
                invoice_date="2026-03-10", lines=(("5000-100", "100.00"),), reference="", notation="",
                tax_code="A", extra="") -> str:
    distribution = "".join(
        f"<LedgerDistribution><LedgerCode>{gl}</LedgerCode><LedgerTaxCode>A</LedgerTaxCode>"
        f"<LedgerValue>{amount}</LedgerValue></LedgerDistribution>"
        for gl, amount in lines
    )
    return (
        f"<Item><Supplier>{supplier}</Supplier><TransactionCode>{code}</TransactionCode>"
        f"<Invoice>{invoice}</Invoice><TransactionValue>{value}</TransactionValue>"
        f"<TransactionReference>{reference}</TransactionReference><Notation>{notation}</Notation>"
        f"<InvoiceDate>{invoice_date}</InvoiceDate><TaxCode>{tax_code}</TaxCode><TaxValue>{tax}</TaxValue>"
        f"{extra}{distribution}</Item>"
    )


def apstin_doc(*items: str) -> str:
    return '<?xml version="1.0" encoding="Windows-1252"?>\n<PostApInvoice>' + "".join(items) + "</PostApInvoice>"


def items(root: etree._Element) -> list[etree._Element]:
    return [c for c in root if c.tag.lower() == "item"]


def errors(item: etree._Element) -> dict[str, tuple[str, str]]:
    """{field: (ErrorNumber, ErrorDescription)} for every field error inside an item."""
    found = {}
    for node in item:
        number, description = node.find("ErrorNumber"), node.find("ErrorDescription")
        if description is not None:
            found[node.tag] = (number.text, description.text)
    return found
