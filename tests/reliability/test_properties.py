"""Property-based: generated broken invoices, XmlOut answers and mapping CSVs through the engine.

Whatever comes in, no exception escapes a cycle, nothing broken is posted, and everything else is
(checked against what the SYSPRO simulator holds). Bounded to run in well under a minute on two cores.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from desktop_app.core import db
from desktop_app.core.config import Settings
from desktop_app.core.errors import ConfigError
from desktop_app.core.models import ApDocument
from desktop_app.sandbox.st_wire import RawJson
from desktop_app.sync import invoices, ledger, mappings
from desktop_app.sync.build import BuildSettings, Mappings, Reference, Sku, build_documents
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle
from desktop_app.syspro import apstin

# no example database, and its other caches (constants) in the temp directory: hypothesis writes
# nothing into the repository
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ml-connector-hypothesis")
settings.register_profile("ml-connector", database=None, deadline=None, print_blob=True)
settings.load_profile("ml-connector")

COST_TYPES = ("Material", "Equipment")
NOT_AMOUNTS = st.sampled_from(["abc", "1,5", "1_000", "12.5.0", "--1", "0x10", True, [1], {"v": 1},
                               RawJson("NaN"), RawJson("Infinity"), RawJson("-Infinity"), RawJson("1E+400"),
                               "1E+400", "1234567890123", "-99999999999999.5"])
GOOD_AMOUNTS = st.decimals(min_value=Decimal("-500"), max_value=Decimal("5000"), places=3).map(lambda d: format(d, "f"))
NOT_DATES = st.sampled_from([None, "", "yesterday", "2026-13-40T00:00:00Z", "31/02/2026", 20260301, [2026, 3, 1]])
NOT_OBJECTS = st.sampled_from(["Plumbing", [10], 10, True])
NOT_IDS = st.sampled_from(["x1", "1.5", [1], {"id": 1}, True, "٣"])
BROKEN_TEXT = st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"\\ud83d tail"'])


# ---------------------------------------------------------------------------- broken invoices
@st.composite
def breakage(draw):
    """(where, value, what the reason must say): one field of an invoice made unreadable."""
    kind = draw(st.sampled_from(["cost", "quantity", "date", "businessUnit", "skuId", "text", "costOfSale"]))
    if kind in ("cost", "quantity"):
        return kind, draw(NOT_AMOUNTS), f".{kind} "
    if kind == "date":
        return kind, draw(NOT_DATES), "invoiceDate"
    if kind == "businessUnit":
        return kind, draw(NOT_OBJECTS), "businessUnit"
    if kind == "skuId":
        return kind, draw(NOT_IDS), ".skuId"
    if kind == "costOfSale":
        return kind, draw(NOT_OBJECTS), ".costOfSaleAccount"
    return kind, RawJson(draw(BROKEN_TEXT)), "broken character"


def apply(record: dict, kind: str, value, index: int) -> None:
    """Break `record` (a wire-shaped invoice) in place; `index` is a cost line."""
    if kind == "date":
        record["invoiceDate"] = value
    elif kind == "businessUnit":
        record["businessUnit"] = value
    elif kind == "text":
        record["items"][index]["description"] = value
    elif kind == "costOfSale":
        record["items"][index]["costOfSaleAccount"] = value
    else:
        record["items"][index][kind] = value


def in_memory(value):
    """What the JSON reader makes of a wire value (RawJson as the client would read it)."""
    from desktop_app.core import money_json

    return money_json.loads(str(value)) if isinstance(value, RawJson) else value


SETTINGS = BuildSettings(timezone="America/Chicago")
REFERENCE = Reference(skus={1: Sku(1, "CU", "Copper", 100, "Vendor"), 2: Sku(2, "PVC", "Pipe", 200, "Other")})
MAPPINGS = Mappings(vendors={100: "SUP", 200: "OTH"}, items_by_id={1: ("CU", ""), 2: ("PVC", "")},
                    gl={("5000", None): "10-5000"}, branches={10: ("DAL", "")})


@st.composite
def invoice_lines(draw):
    count = draw(st.integers(1, 4))
    return [{"id": 100 + n, "skuId": draw(st.sampled_from([1, 2])), "type": draw(st.sampled_from(COST_TYPES)),
             "quantity": draw(GOOD_AMOUNTS), "cost": draw(GOOD_AMOUNTS), "description": draw(st.text(max_size=8)),
             "costOfSaleAccount": {"number": "5000"}} for n in range(count)]


@settings(max_examples=150)
@given(lines=invoice_lines(), broken=st.one_of(st.none(), breakage()), data=st.data())
def test_a_generated_invoice_is_built_or_held_by_name_never_raises(lines, broken, data):
    invoice = {"id": 7, "referenceNumber": "70", "invoiceDate": "2026-03-02T00:00:00Z",
               "businessUnit": {"id": 10, "name": "Dallas"}, "items": lines, "modifiedOn": "m"}
    if broken is not None:
        kind, value, _ = broken
        apply(invoice, kind, in_memory(value), data.draw(st.integers(0, len(lines) - 1)))
    result = build_documents(invoice, MAPPINGS, REFERENCE, SETTINGS)
    outcomes = [bool(result.documents), bool(result.missing), bool(result.skip_reason), bool(result.unreadable)]
    assert sum(outcomes) == 1, result
    if broken is None:
        assert not result.unreadable
    elif result.unreadable:
        assert not result.documents
        assert broken[2] in result.unreadable
    else:
        # a "broken" value that reads fine all the same (quantity 0 zeroes the line): the rules hold
        assert broken[0] in ("cost", "quantity", "text", "costOfSale", "skuId")
    for doc in result.documents:
        assert abs(doc.amount) < Decimal("1E12") and doc.amount == doc.amount.quantize(Decimal("0.01"))


# ---------------------------------------------------------------------------- XmlOut answers
@st.composite
def xml_answers(draw):
    """Well-formed APSTIN answers with random structure, and some garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["", "not xml", "<postapinvoice>", "<other/>", "ERROR: session", "\x00"]))
    parts = ["<postapinvoice>"]
    top_error = draw(st.booleans())
    if top_error:
        parts.append("<ErrorDescription>Period closed</ErrorDescription>")
    for _ in range(draw(st.integers(0, 2))):
        parts.append("<Item><Supplier>SUP</Supplier><Invoice>ST100</Invoice>")
        if draw(st.booleans()):
            parts.append(f"<Journal>{draw(st.integers(1, 999))}</Journal>")
        if draw(st.booleans()):
            parts.append("<ErrorDescription>Invalid ledger code</ErrorDescription>")
        if draw(st.integers(0, 4)) == 0:
            parts.append("<Invoice><ErrorNumber>110400</ErrorNumber><ErrorDescription>Invoice already exists"
                         "</ErrorDescription></Invoice>")
        parts.append("</Item>")
    if draw(st.booleans()):
        parts.append(f"<StatusOfItems><ItemsProcessed>{draw(st.integers(0, 2)):06d}</ItemsProcessed>"
                     f"<ItemsInvalid>{draw(st.integers(0, 2)):06d}</ItemsInvalid></StatusOfItems>")
    parts.append("</postapinvoice>")
    return "".join(parts)


class Session:
    def __init__(self, answer):
        self.answer = answer

    def post(self, *args):
        return self.answer


@pytest.fixture
def ledger_db():
    db.open_database()
    yield
    db.close_database()


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=xml_answers())
def test_a_generated_answer_never_escapes_and_posted_means_a_journal(ledger_db, answer, monkeypatch):
    monkeypatch.setattr(invoices, "lookup", lambda *a: None)  # SYSPRO does not hold it
    ApDocument.delete().execute()
    doc = ApDocument.create(doc_key="1:SUP", st_invoice_id=1, st_invoice_number="100", state=ledger.READY,
                            supplier="SUP", syspro_invoice="ST100", amount=Decimal("12.50"),
                            invoice_date=dt.date(2026, 11, 2), branch="DAL",
                            lines=[{"ledger_code": "10-5000", "amount": "12.50", "stock_code": "CU",
                                    "sku_code": "CU", "sku_id": 1, "st_item_id": 5, "description": "",
                                    "quantity": "1", "unit_cost": "12.50"}])
    ctx = SyncContext(settings=Settings(), actor="test")
    invoices.post_documents(ctx, Session(answer), [doc], invoices.CycleSummary())
    after = ApDocument.get_by_id(doc.id)
    assert after.state in (ledger.POSTED, ledger.FAILED, ledger.IN_DOUBT)
    if after.state == ledger.POSTED:
        result = apstin.parse_result(answer)
        assert after.journal and not result.errors and len(result.items) == 1 and not result.items[0].errors
    else:
        assert after.reason
    if (after.state == ledger.FAILED and "Period closed" in answer.split("<Item>")[0]
            and "already exists" not in answer):  # a duplicate is settled by the look-up first
        assert "Period closed" in after.reason


# ---------------------------------------------------------------------------- mapping CSVs
CSV_CELLS = st.one_of(st.sampled_from(["", "12", "-5", "abc", "SUP01", "=1+1", "1e5", "10-5000", " 7 ", "ÄÖ",
                                       "x" * 40, '"q"', "a,b"]), st.text(max_size=6))


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(mappings.KINDS)), rows=st.lists(st.lists(CSV_CELLS, min_size=0, max_size=5),
                                                                   max_size=5),
       header=st.booleans())
def test_a_generated_mapping_csv_imports_or_says_why(ledger_db, tmp_path, kind, rows, header):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(mappings.KINDS[kind].header)
    writer.writerows(rows)
    path = tmp_path / "m.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    before = mappings.export_rows(kind)[1]
    try:
        mappings.import_csv(kind, path, actor="test")
    except ConfigError as exc:
        assert str(exc)
        assert mappings.export_rows(kind)[1] == before  # a refused file imports nothing


# ---------------------------------------------------------------------------- real cycles
def _postable(ctx, box, ids) -> list[int]:
    evaluator = invoices.Evaluator(ctx)
    wanted = []
    for record in ctx.st.invoices_by_ids(ids, raw=True):
        result = evaluator.build(record)
        if result.documents and all(doc.transaction_code == "I" for doc in result.documents):
            wanted.append(record["id"])
    return wanted


@pytest.mark.parametrize("sandbox", [{"invoices": 12}], indirect=True)
@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(breaks=st.lists(breakage(), min_size=1, max_size=3), data=st.data())
def test_real_cycles_hold_broken_invoices_and_post_everything_else(sandbox, breaks, data):
    company = sandbox.company
    new_ids = company.st.advance(10)
    ctx = SyncContext.from_database(actor="test")
    try:
        candidates = _postable(ctx, sandbox, new_ids)
    finally:
        ctx.close()
    assume(candidates)  # the company's generator may give only invoices that wait for a mapping
    broken = {}
    for (kind, value, words), st_id in zip(breaks, data.draw(st.permutations(candidates)), strict=False):
        items = company.st.invoices[st_id]["items"]
        index = next(i for i, item in enumerate(items) if item["type"] in COST_TYPES)
        company.st.wire_patches.setdefault("invoices", {})[st_id] = (
            lambda out, k=kind, v=value, i=index: apply(out, k, v, i))
        broken[st_id] = words
    ctx = SyncContext.from_database(actor="scheduler")
    try:
        result = run_cycle(ctx)
    finally:
        ctx.close()
    assert not result.errors, result.errors
    held = {}
    for doc in ApDocument.select().where(ApDocument.st_invoice_id.in_(list(broken))):
        held.setdefault(doc.st_invoice_id, set()).add(doc.state)
    keys = Counter((row["Supplier"], row["Invoice"]) for row in company.syspro.ap_invoices)
    assert all(count == 1 for count in keys.values())
    for st_id, words in broken.items():
        docs = list(ApDocument.select().where(ApDocument.st_invoice_id == st_id))
        if held.get(st_id) == {ledger.UNREADABLE}:
            assert words in docs[0].reason
            assert not any((doc.supplier, doc.syspro_invoice) in keys for doc in docs)
        else:
            # a quantity of 0 or a text that reads fine: then it posts like any other
            assert held.get(st_id, set()) <= {ledger.POSTED, ledger.CONFIRMED, ledger.SKIPPED}
    # everything else: nothing left READY, every posted document is in SYSPRO once
    assert ledger.counts()[ledger.READY] == 0
    for doc in ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])):
        assert keys[(doc.supplier, doc.syspro_invoice)] == 1
    for st_id in set(candidates) - set(broken):
        states = {doc.state for doc in ApDocument.select().where(ApDocument.st_invoice_id == st_id)}
        assert states <= {ledger.POSTED, ledger.CONFIRMED}, (st_id, states)
    company.st.wire_patches.clear()
