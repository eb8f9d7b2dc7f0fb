"""Several AP documents per APSTIN call: packing, per-item outcomes, too-long refusals, lost answers."""
from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from lxml import etree

from desktop_app.core import db
from desktop_app.core.errors import ConnectError
from desktop_app.core.models import ApDocument, AuditEvent
from desktop_app.sync import invoices, ledger, protocol
from desktop_app.sync.context import SyncContext
from desktop_app.syspro import apstin, batching
from desktop_app.syspro.errors import PostOutcomeUnknown, RequestTooLong, SessionLostDuringWrite

from .test_posting import EachPosted, ScriptedSession, batch_settings, each_posted

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ml-connector-hypothesis")

LINE = {"ledger_code": "10-5000", "amount": "12.50", "stock_code": "CU", "sku_code": "CU", "sku_id": 1,
        "st_item_id": 5, "description": "", "quantity": "1", "unit_cost": "12.50"}


@pytest.fixture
def database():
    db.open_database()
    yield
    db.close_database()


def make_docs(count: int, *, start: int = 1, lines: int = 1) -> list[ApDocument]:
    rows = []
    for n in range(start, start + count):
        ledger_lines = [dict(LINE, ledger_code=f"10-{5000 + k}") for k in range(lines)]
        rows.append(ApDocument.create(
            doc_key=f"{n}:SUP", st_invoice_id=n, st_invoice_number=str(100 + n), state=ledger.READY, supplier="SUP",
            syspro_invoice=f"ST{100 + n}", amount=Decimal("12.50") * lines, invoice_date=dt.date(2026, 11, 2),
            branch="DAL", lines=ledger_lines))
    return [ApDocument.get_by_id(row.id) for row in rows]


def states(docs) -> list[str]:
    return [ApDocument.get_by_id(d.id).state for d in docs]


def items_of(xml_in: str) -> list[str]:
    return [item.findtext("Invoice") for item in etree.fromstring(xml_in)]


# ---------------------------------------------------------------------------- the packer
@st.composite
def piece_lists(draw):
    count = draw(st.integers(min_value=0, max_value=40))
    pieces = []
    for n in range(count):
        size = draw(st.integers(min_value=1, max_value=3000))
        after = None
        if n and draw(st.booleans()) and draw(st.booleans()):  # a credit of an earlier or later piece
            after = draw(st.integers(min_value=0, max_value=count - 1))
            if after == n:
                after = None
        pieces.append(batching.Piece(key=n, xml="", after=after, size=size))
    return pieces


@settings(max_examples=300, database=None, deadline=None)
@given(pieces=piece_lists(), overhead=st.integers(min_value=0, max_value=2000),
       max_bytes=st.integers(min_value=500, max_value=16000), max_count=st.integers(min_value=1, max_value=30))
def test_packing_respects_bytes_and_count_keeps_order_and_puts_credits_after_originals(pieces, overhead, max_bytes,
                                                                                        max_count):
    packing = batching.pack(pieces, overhead=overhead, max_bytes=max_bytes, max_count=max_count)
    sent = [piece.key for batch in packing.batches for piece in batch]
    # every piece exactly once: sent, too big alone, or left behind what it follows
    assert sorted(sent + [p.key for p in packing.too_big] + [p.key for p in packing.left]) == list(range(len(pieces)))
    for batch in packing.batches:
        assert batch and len(batch) <= max_count
        assert overhead + sum(piece.size for piece in batch) <= max_bytes
    assert all(overhead + piece.size > max_bytes for piece in packing.too_big)
    call_of = {piece.key: number for number, batch in enumerate(packing.batches) for piece in batch}
    for piece in pieces:
        if piece.after is not None and piece.key in call_of:
            # a credit goes in a later call than its original, never the same one
            assert piece.after in call_of and call_of[piece.after] < call_of[piece.key]
        if piece.after is not None and piece.after not in call_of:
            assert piece.key not in call_of  # its original is not sent: neither is it
    # order kept: apart from a credit moved after its original, pieces go in the order given
    plain = [key for key in sent if pieces[key].after is None]
    assert plain == sorted(plain)


def test_the_packer_fills_calls_up_to_the_budget_not_beyond():
    pieces = [batching.Piece(key=n, xml="x" * 100) for n in range(10)]
    packing = batching.pack(pieces, overhead=1000, max_bytes=1350, max_count=25)
    assert [[p.key for p in batch] for batch in packing.batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [len(b) for b in batching.pack(pieces, overhead=0, max_bytes=10**6, max_count=4).batches] == [4, 4, 2]


def test_the_request_line_is_measured_exactly_as_requests_sends_it():
    from desktop_app.syspro.enet import EnetClient, EnetSession, SessionStats

    client = EnetClient(base_url="http://127.0.0.1:9/SYSPROWCFService/Rest", operator="OP", operator_password="pw",
                        company_id="C", allow_unencrypted=True)
    session = EnetSession(client, "ABCDEF0123456789ABCDEF0123456789AB  ", SessionStats())
    docs = [apstin.ApInvoiceDocument(
        supplier="SÜP & Co", invoice=f"INV/{n} +é", transaction_code="I", invoice_date=dt.date(2026, 3, 1),
        due_date=None, branch=None, transaction_value=Decimal("10.00"), notation="a<b> 100% \"quoted\" ~",
        lines=[apstin.ApLedgerLine("10-5000", Decimal("10.00"), notation="€ 5")]) for n in range(3)]
    params = apstin.build_parameters(validate_only=False, apply_if_entire_document_valid=False)
    head, _, tail = batching.split_document(apstin.build_document(docs[:1]))
    pieces = [batching.Piece(key=n, xml=batching.split_document(apstin.build_document([doc]))[1])
              for n, doc in enumerate(docs)]
    joined = batching.join(head, pieces, tail)
    assert joined == apstin.build_document(docs)  # documents join into the several-item document
    predicted = batching.post_overhead(session, "APSTIN", params, head, tail) + sum(p.size for p in pieces)
    prepared = requests.Request("GET", f"{client.base_url}/Transaction/Post", params={
        "UserId": session.user_id, "BusinessObject": "APSTIN", "XmlParameters": params, "XmlIn": joined}).prepare()
    assert predicted == len(f"GET {prepared.path_url} HTTP/1.1")
    assert "\n" not in joined and "  " not in joined  # compact: no indentation


# ---------------------------------------------------------------------------- per-item outcomes
class Answering(ScriptedSession):
    """Answers each post with `answer(xml_in)`."""

    def __init__(self, answer):
        super().__init__(None)
        self.make = answer

    def post(self, business_object, params, xml_in):
        super().post(business_object, params, xml_in)
        return self.make(xml_in)


def second_rejected(xml_in: str) -> str:
    parts = []
    for n, item in enumerate(etree.fromstring(xml_in), start=1):
        key = f"<Supplier>{item.findtext('Supplier')}</Supplier><Invoice>{item.findtext('Invoice')}</Invoice>"
        if n == 2:
            parts.append(f"<Item>{key}<LedgerCode><Value>10-5000</Value><ErrorNumber>110406</ErrorNumber>"
                         "<ErrorDescription>Ledger code '10-5000' not found</ErrorDescription></LedgerCode>"
                         f"<ItemNumber>{n:06d}</ItemNumber></Item>")
        else:
            parts.append(f"<Item>{key}<Journal>{40 + n}</Journal><TrnYear>2026</TrnYear><TrnMonth>11</TrnMonth>"
                         f"<ItemNumber>{n:06d}</ItemNumber></Item>")
    return "<postapinvoice>" + "".join(parts) + "</postapinvoice>"


def test_each_document_gets_its_own_items_outcome_and_audit(database):
    ctx = SyncContext(settings=batch_settings(25), actor="test")
    docs = make_docs(3)
    session = Answering(second_rejected)
    summary = invoices.CycleSummary()
    invoices.post_documents(ctx, session, docs, summary)
    assert session.posts == 1 and items_of(session.sent[0]) == ["ST101", "ST102", "ST103"]
    params = etree.fromstring(apstin.build_parameters(validate_only=False, apply_if_entire_document_valid=False))
    assert params.findtext("Parameters/ApplyIfEntireDocumentValid") == "N"
    after = [ApDocument.get_by_id(d.id) for d in docs]
    assert [d.state for d in after] == [ledger.POSTED, ledger.FAILED, ledger.POSTED]
    assert [d.journal for d in after] == ["41", "", "43"]
    assert "Ledger code '10-5000' not found" in after[1].reason
    assert summary.posted == 2 and summary.failed == 1
    for number, doc in enumerate(docs, start=1):
        events = list(AuditEvent.select().where(AuditEvent.document_id == doc.id).order_by(AuditEvent.id))
        mark, outcome = events[-2], events[-1]
        # what was sent for it: its own item only, and which post carried it
        assert mark.kind == "post_attempt" and doc.syspro_invoice in mark.xml_sent
        assert all(other.syspro_invoice not in mark.xml_sent for other in docs if other.id != doc.id)
        assert "one of 3 documents in SYSPRO post" in mark.xml_sent
        # what came back for it: its own item, and the same post reference
        assert f"<ItemNumber>{number:06d}</ItemNumber>" in outcome.xml_received
        assert all(other.syspro_invoice not in outcome.xml_received for other in docs if other.id != doc.id)
        assert f"item {number} of 3 in SYSPRO post {mark.data['batch']}" in outcome.xml_received
        assert outcome.data["batch"] == mark.data["batch"] and outcome.data["item"] == number


def test_an_answer_that_omits_an_item_leaves_that_document_in_doubt(database):
    ctx = SyncContext(settings=batch_settings(25), actor="test")
    docs = make_docs(3)

    def without_the_last(xml_in: str) -> str:
        answer = etree.fromstring(each_posted(xml_in).split("?>", 1)[1])
        answer.remove(answer.findall("Item")[-1])
        return etree.tostring(answer, encoding="unicode")

    invoices.post_documents(ctx, Answering(without_the_last), docs, invoices.CycleSummary())
    assert states(docs) == [ledger.POSTED, ledger.POSTED, ledger.IN_DOUBT]
    assert "holds no item for this document" in ApDocument.get_by_id(docs[2].id).reason


def test_with_batch_size_1_each_document_has_its_own_call_as_before(database):
    ctx = SyncContext(settings=batch_settings(1), actor="test")
    docs = make_docs(3)
    session = EachPosted()
    invoices.post_documents(ctx, session, docs, invoices.CycleSummary())
    assert [items_of(x) for x in session.sent] == [["ST101"], ["ST102"], ["ST103"]]
    assert states(docs) == [ledger.POSTED] * 3


@pytest.mark.parametrize("failure, reason", [
    (PostOutcomeUnknown("no answer within the read timeout"), "No answer from SYSPRO"),
    (SessionLostDuringWrite("The SYSPRO session ended"), protocol.SESSION_LOST),
])
def test_a_lost_answer_mid_batch_makes_each_in_doubt_and_each_is_looked_up_alone(database, monkeypatch, failure,
                                                                                 reason):
    ctx = SyncContext(settings=batch_settings(2), actor="test")
    docs = make_docs(4)

    class LoseSecond(EachPosted):
        def post(self, business_object, params, xml_in):
            if self.posts == 1:
                self.posts += 1
                self.sent.append(xml_in)
                raise failure
            return super().post(business_object, params, xml_in)

    session = LoseSecond()
    invoices.post_documents(ctx, session, docs, invoices.CycleSummary())
    assert states(docs) == [ledger.POSTED, ledger.POSTED, ledger.IN_DOUBT, ledger.IN_DOUBT]
    assert all(ApDocument.get_by_id(d.id).reason.startswith(reason) for d in docs[2:])
    # SYSPRO did post the first of the two: the look-ups find it and the other is sent once more
    looked_up = []

    class Found:
        supplier, invoice, amount, journal = "SUP", "ST103", Decimal("12.50"), "77"

    def lookup(ctx, session, doc):
        looked_up.append(doc.id)
        return Found() if doc.syspro_invoice == "ST103" else None

    monkeypatch.setattr(invoices, "lookup", lookup)
    again = EachPosted()
    invoices.settle_in_doubt(ctx, again, invoices.CycleSummary())
    assert looked_up == [docs[2].id, docs[3].id]  # one at a time
    ready = [ApDocument.get_by_id(d.id) for d in docs if ApDocument.get_by_id(d.id).state == ledger.READY]
    invoices.post_documents(ctx, again, ready, invoices.CycleSummary())
    assert [items_of(x) for x in again.sent] == [["ST104"]]  # ST103 is not sent twice
    assert states(docs) == [ledger.POSTED] * 4


def test_an_unreachable_syspro_in_a_batch_makes_every_document_of_the_call_in_doubt(database):
    ctx = SyncContext(settings=batch_settings(25), actor="test")
    docs = make_docs(3)
    with pytest.raises(ConnectError):
        invoices.post_documents(ctx, ScriptedSession(ConnectError("refused")), docs, invoices.CycleSummary())
    assert states(docs) == [ledger.IN_DOUBT] * 3


# ---------------------------------------------------------------------------- too long
class HttpSys(EachPosted):
    """Refuses, as HTTP.sys does, a request line longer than `limit` (measured as the engine measures it)."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.refused: list[int] = []

    def post(self, business_object, params, xml_in):
        size = batching.post_overhead(None, business_object, params, "", "") + batching.encoded_size(xml_in) \
            - batching.encoded_size("")
        if size > self.limit:
            self.refused.append(size)
            raise RequestTooLong("refused", status=414, request_bytes=size)
        return super().post(business_object, params, xml_in)


def test_a_call_refused_as_too_long_is_halved_and_the_smaller_budget_is_remembered(database):
    ctx = SyncContext(settings=batch_settings(25, max_bytes=60000), actor="test")
    docs = make_docs(12, lines=3)
    session = HttpSys(limit=5000)
    invoices.post_documents(ctx, session, docs, invoices.CycleSummary())
    assert states(docs) == [ledger.POSTED] * 12
    assert session.refused and session.request_budget is not None and session.request_budget <= 5000
    sent = [invoice for xml in session.sent for invoice in items_of(xml)]
    assert sorted(sent) == sorted(d.syspro_invoice for d in docs)  # each once
    assert all(ApDocument.get_by_id(d.id).attempts == 1 for d in docs)  # the refused call does not count
    kinds = [e.kind for e in ledger.trail(docs[0].id)]
    assert kinds.count("request_too_long") == len(session.refused) and kinds[-1] == "posted"
    # the session remembers: the next documents are packed small at once, with no refusal
    refusals = len(session.refused)
    more = make_docs(6, start=50, lines=3)
    invoices.post_documents(ctx, session, more, invoices.CycleSummary())
    assert len(session.refused) == refusals and states(more) == [ledger.POSTED] * 6


def test_a_document_alone_over_the_budget_is_held_with_its_size_the_limit_and_the_setting(database):
    ctx = SyncContext(settings=batch_settings(25, max_bytes=4000), actor="test")
    small = make_docs(2)
    big = make_docs(1, start=10, lines=60)
    session = EachPosted()
    invoices.post_documents(ctx, session, small + big, invoices.CycleSummary())
    assert states(small) == [ledger.POSTED] * 2
    held = ApDocument.get_by_id(big[0].id)
    assert held.state == ledger.HELD and held.attempts == 0
    assert [items_of(x) for x in session.sent] == [["ST101", "ST102"]]  # never sent, never split
    for words in ("ST110", "bytes", "4000", "MaxFieldLength", "MaxRequestBytes",
                  "HKLM\\System\\CurrentControlSet\\Services\\HTTP\\Parameters", "syspro.max_request_bytes"):
        assert words in held.reason, words


def test_a_single_document_the_server_refuses_is_held_not_retried(database):
    ctx = SyncContext(settings=batch_settings(25), actor="test")
    big = make_docs(1, lines=40)
    session = HttpSys(limit=3000)
    invoices.post_documents(ctx, session, big, invoices.CycleSummary())
    held = ApDocument.get_by_id(big[0].id)
    assert held.state == ledger.HELD and "MaxRequestBytes" in held.reason and held.attempts == 0
    assert len(session.refused) == 1 and session.posts == 0


# ---------------------------------------------------------------------------- credits
def test_a_credit_never_shares_a_call_with_its_original(database):
    ctx = SyncContext(settings=batch_settings(25), actor="test")
    original, other = make_docs(2)
    credit = ApDocument.create(doc_key="9:SUP", st_invoice_id=9, st_invoice_number="109", state=ledger.READY,
                               supplier="SUP", syspro_invoice=original.syspro_invoice, transaction_code="C",
                               credit_of=original.st_invoice_id, amount=Decimal("5.00"),
                               invoice_date=dt.date(2026, 11, 3), branch="DAL", lines=[dict(LINE, amount="5.00")])
    session = EachPosted()
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(credit.id), original, other], invoices.CycleSummary())
    assert [[(item.findtext("TransactionCode"), item.findtext("Invoice")) for item in etree.fromstring(x)]
            for x in session.sent] == [[("I", "ST101"), ("I", "ST102")], [("C", "ST101")]]


def test_a_credit_whose_original_was_refused_in_the_same_pass_is_not_sent(database):
    ctx = SyncContext(settings=batch_settings(25), actor="test")
    original, other = make_docs(2)
    credit = ApDocument.create(doc_key="9:SUP", st_invoice_id=9, st_invoice_number="109", state=ledger.READY,
                               supplier="SUP", syspro_invoice=other.syspro_invoice, transaction_code="C",
                               credit_of=other.st_invoice_id, amount=Decimal("5.00"),
                               invoice_date=dt.date(2026, 11, 3), branch="DAL", lines=[dict(LINE, amount="5.00")])
    session = Answering(second_rejected)
    invoices.post_documents(ctx, session, [original, other, ApDocument.get_by_id(credit.id)], invoices.CycleSummary())
    assert session.posts == 1
    assert states([original, other, credit]) == [ledger.POSTED, ledger.FAILED, ledger.READY]


def test_a_credit_held_for_its_size_stays_held_for_a_person(database):
    ctx = SyncContext(settings=batch_settings(25, max_bytes=3000), actor="test")
    original = make_docs(1)[0]
    ApDocument.update(state=ledger.CONFIRMED).where(ApDocument.id == original.id).execute()
    credit = ApDocument.create(doc_key="9:SUP", st_invoice_id=9, st_invoice_number="109", state=ledger.READY,
                               supplier="SUP", syspro_invoice=original.syspro_invoice, transaction_code="C",
                               credit_of=original.st_invoice_id, amount=Decimal("500.00"),
                               invoice_date=dt.date(2026, 11, 3), branch="DAL",
                               lines=[dict(LINE, ledger_code=f"10-{6000 + k}", amount="12.50") for k in range(40)])
    invoices.post_documents(ctx, EachPosted(), [ApDocument.get_by_id(credit.id)], invoices.CycleSummary())
    assert ApDocument.get_by_id(credit.id).state == ledger.HELD
    assert invoices.release_credits(ctx) == [] and ApDocument.get_by_id(credit.id).state == ledger.HELD
