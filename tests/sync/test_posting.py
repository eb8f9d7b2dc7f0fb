"""Posting decisions that the simulators cannot easily provoke, with a scripted e.net session."""
from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytest

from desktop_app.core import db, models
from desktop_app.core.config import Settings
from desktop_app.core.errors import ConnectError
from desktop_app.core.models import ApDocument
from desktop_app.sync import invoices, ledger
from desktop_app.sync.context import SyncContext
from desktop_app.syspro.errors import BusinessObjectError


class ScriptedSession:
    def __init__(self, answer):
        self.answer = answer
        self.posts = 0
        self.sent: list[str] = []

    def post(self, business_object, params, xml_in):
        self.posts += 1
        self.sent.append(xml_in)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def each_posted(xml_in: str, journal: int = 91) -> str:
    """SYSPRO's answer that posts every item of `xml_in`, one journal for them all."""
    from lxml import etree

    items = etree.fromstring(xml_in)
    parts = [f"<Item><Supplier>{item.findtext('Supplier')}</Supplier><Invoice>{item.findtext('Invoice')}</Invoice>"
             f"<Journal>{journal}</Journal><ItemNumber>{n:06d}</ItemNumber></Item>"
             for n, item in enumerate(items, start=1)]
    return ('<?xml version="1.0" encoding="Windows-1252"?><postapinvoice>' + "".join(parts)
            + f"<StatusOfItems><ItemsProcessed>{len(parts):06d}</ItemsProcessed><ItemsInvalid>000000</ItemsInvalid>"
            "</StatusOfItems></postapinvoice>")


class EachPosted(ScriptedSession):
    """Answers every post with each of its items posted."""

    def __init__(self):
        super().__init__(None)

    def post(self, business_object, params, xml_in):
        super().post(business_object, params, xml_in)
        return each_posted(xml_in)


def batch_settings(size: int, max_bytes: int = 15000) -> Settings:
    return Settings({"syspro.post_batch_size": str(size), "syspro.max_request_bytes": str(max_bytes)})


@pytest.fixture
def doc():
    db.open_database()
    row = ApDocument.create(doc_key="1:SUP", st_invoice_id=1, st_invoice_number="100", state=ledger.READY,
                            supplier="SUP", syspro_invoice="ST100", amount=Decimal("12.50"),
                            invoice_date=dt.date(2026, 11, 2), branch="DAL",
                            lines=[{"ledger_code": "10-5000", "amount": "12.50", "stock_code": "CU", "sku_code": "CU",
                                    "sku_id": 1, "st_item_id": 5, "description": "", "quantity": "1",
                                    "unit_cost": "12.50"}])
    yield row
    db.close_database()


def test_an_enet_exception_is_a_failure_with_syspros_words(doc):
    ctx = SyncContext(settings=Settings(), actor="test")
    session = ScriptedSession(BusinessObjectError(
        "APSTIN", "ERROR: e.net exception 100000: Business object APSTIN is not licensed"))
    summary = invoices.CycleSummary()
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(doc.id)], summary)
    after = ApDocument.get_by_id(doc.id)
    assert after.state == ledger.FAILED and "not licensed" in after.reason
    assert summary.failed == 1 and session.posts == 1
    assert [e.kind for e in ledger.trail(doc.id)][-2:] == ["post_attempt", "rejected"]


def test_a_sent_document_is_looked_up_and_never_sent_twice(doc, monkeypatch):
    ctx = SyncContext(settings=Settings(), actor="test")
    ApDocument.update(attempts=1).where(ApDocument.id == doc.id).execute()

    class Found:
        supplier, invoice, amount, journal = "SUP", "ST100", Decimal("12.50"), "77"

    monkeypatch.setattr(invoices, "lookup", lambda ctx, session, d: Found())
    session = ScriptedSession("<never used/>")
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(doc.id)], invoices.CycleSummary())
    after = ApDocument.get_by_id(doc.id)
    assert session.posts == 0
    assert after.state == ledger.POSTED and after.journal == "77"


def test_a_lookup_with_another_amount_is_not_taken_as_ours(doc, monkeypatch):
    ctx = SyncContext(settings=Settings(), actor="test")
    ApDocument.update(attempts=1).where(ApDocument.id == doc.id).execute()

    class Found:
        supplier, invoice, amount, journal = "SUP", "ST100", Decimal("99.00"), "78"

    monkeypatch.setattr(invoices, "lookup", lambda ctx, session, d: Found())
    session = ScriptedSession("<never used/>")
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(doc.id)], invoices.CycleSummary())
    after = ApDocument.get_by_id(doc.id)
    assert session.posts == 0
    assert after.state == ledger.FAILED and "99.00" in after.reason


def test_illegal_transitions_are_refused(doc):
    with pytest.raises(ledger.IllegalTransition):
        ledger.transition(ApDocument.get_by_id(doc.id), ledger.CONFIRMED, "x", "x", actor="test")


def test_a_number_another_st_invoice_posted_is_not_taken_as_ours(doc, monkeypatch):
    """A ledger from before numbers were made unique: the look-up finds the other invoice's bill."""
    ctx = SyncContext(settings=Settings(), actor="test")
    ApDocument.create(doc_key="2:SUP", st_invoice_id=2, st_invoice_number="100", state=ledger.CONFIRMED,
                      supplier="SUP", syspro_invoice="ST100", amount=Decimal("12.50"), journal="70")
    ApDocument.update(attempts=1).where(ApDocument.id == doc.id).execute()

    class Found:
        supplier, invoice, amount, journal = "SUP", "ST100", Decimal("12.50"), "70"

    monkeypatch.setattr(invoices, "lookup", lambda ctx, session, d: Found())
    session = ScriptedSession("<never used/>")
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(doc.id)], invoices.CycleSummary())
    after = ApDocument.get_by_id(doc.id)
    assert session.posts == 0
    assert after.state == ledger.FAILED and "belongs to ST invoice 100" in after.reason


POSTED_ANSWER = """<?xml version="1.0" encoding="Windows-1252"?><postapinvoice><Item><Supplier>SUP</Supplier>
<Invoice>ST100</Invoice><Journal>91</Journal><ItemNumber>000001</ItemNumber></Item>
<StatusOfItems><ItemsProcessed>000001</ItemsProcessed><ItemsInvalid>000000</ItemsInvalid></StatusOfItems>
</postapinvoice>"""


def _commit_modes(statements: list[str]) -> list[tuple[str, str]]:
    """(state last written, synchronous mode) for each COMMIT of a traced connection (FULL at first)."""
    mode, state, commits = "FULL", "", []
    for sql in statements:
        if sql.upper().startswith("PRAGMA SYNCHRONOUS"):
            mode = sql.split("=")[1].strip().upper()
        elif sql.startswith('UPDATE "ap_document" SET "state" = '):
            state = sql.split("'")[1]
        elif sql == "COMMIT":
            commits.append((state, mode))
    return commits


@pytest.mark.parametrize("answer, outcome", [(POSTED_ANSWER, ledger.POSTED),
                                             (ConnectError("refused"), ledger.IN_DOUBT)])
def test_the_posting_mark_and_the_result_both_wait_for_the_disk(doc, answer, outcome):
    """One durable setting: every commit of a post, the POSTING mark and the result, is made with
    synchronous=FULL, and nothing switches it."""
    ctx = SyncContext(settings=Settings(), actor="test")
    statements: list[str] = []
    connection = models.database.connection()
    connection.set_trace_callback(statements.append)
    try:
        with pytest.raises(ConnectError) if isinstance(answer, Exception) else contextlib.nullcontext():
            invoices.post_documents(ctx, ScriptedSession(answer), [ApDocument.get_by_id(doc.id)],
                                   invoices.CycleSummary())
    finally:
        connection.set_trace_callback(None)
    assert ApDocument.get_by_id(doc.id).state == outcome
    assert _commit_modes(statements) == [(ledger.POSTING, "FULL"), (outcome, "FULL")]
    assert not [sql for sql in statements if "SYNCHRONOUS" in sql.upper()]
    assert models.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def more_docs(doc, count):
    """`count` READY documents like `doc` (other ST invoices), ids in order."""
    rows = [doc]
    for n in range(2, count + 1):
        rows.append(ApDocument.create(doc_key=f"{n}:SUP", st_invoice_id=n, st_invoice_number=str(99 + n),
                                      state=ledger.READY, supplier="SUP", syspro_invoice=f"ST{99 + n}",
                                      amount=doc.amount, invoice_date=doc.invoice_date, branch="DAL", lines=doc.lines))
    return [ApDocument.get_by_id(row.id) for row in rows]


def test_a_batch_is_marked_in_one_commit_to_disk_before_its_first_request(doc):
    ctx = SyncContext(settings=Settings(), actor="test")
    statements: list[str] = []
    connection = models.database.connection()
    connection.set_trace_callback(statements.append)
    session = EachPosted()
    marked_before_first_post = []
    commits_before_first_post = []
    real_post = session.post

    def post(*args):
        if session.posts == 0:
            marked_before_first_post.extend(d.state for d in ApDocument.select().order_by(ApDocument.id))
            commits_before_first_post.extend(_commit_modes(statements))
            assert not models.database.in_transaction(), "the marks are committed, not pending, when the request leaves"
        return real_post(*args)

    session.post = post
    try:
        invoices.post_documents(ctx, session, more_docs(doc, 3), invoices.CycleSummary())
    finally:
        connection.set_trace_callback(None)
    assert marked_before_first_post == [ledger.POSTING] * 3
    assert commits_before_first_post == [(ledger.POSTING, "FULL")]
    assert _commit_modes(statements) == [(ledger.POSTING, "FULL")] + [(ledger.POSTED, "FULL")] * 3
    assert session.posts == 1  # the three go in one APSTIN call
    assert [e.kind for e in ledger.trail(doc.id)][-2:] == ["post_attempt", "posted"]


class StopAfter(EachPosted):
    """Answers POSTED, then after `count` posts cancels the job or raises `error` on the next post."""

    def __init__(self, count, ctx=None, error=None):
        super().__init__()
        self.count, self.ctx, self.error = count, ctx, error

    def post(self, *args):
        if self.posts == self.count and self.error is not None:
            self.posts += 1
            raise self.error
        answer = super().post(*args)
        if self.posts == self.count and self.ctx is not None:
            self.ctx.cancel_event.set()
        return answer


def test_a_cancel_puts_the_marked_documents_that_were_not_sent_back_to_ready(doc):
    from desktop_app.sync.context import Cancelled

    ctx = SyncContext(settings=batch_settings(2), actor="test")
    docs = more_docs(doc, 4)
    session = StopAfter(1, ctx=ctx)
    with pytest.raises(Cancelled):
        invoices.post_documents(ctx, session, docs, invoices.CycleSummary())
    after = [ApDocument.get_by_id(d.id) for d in docs]
    assert [d.state for d in after] == [ledger.POSTED, ledger.POSTED, ledger.READY, ledger.READY]
    assert [d.attempts for d in after] == [1, 1, 0, 0]  # not counted as sent: no look-up before the next post
    # a call's documents are marked just before it: the unsent ones never were
    assert "post_attempt" not in [e.kind for e in ledger.trail(docs[3].id)]
    ctx.cancel_event.clear()
    again = EachPosted()
    invoices.post_documents(ctx, again, [ApDocument.get_by_id(d.id) for d in docs[2:]], invoices.CycleSummary())
    assert again.posts == 1 and {ApDocument.get_by_id(d.id).state for d in docs} == {ledger.POSTED}


@pytest.mark.parametrize("size, states", [
    (1, [ledger.POSTED, ledger.IN_DOUBT, ledger.READY, ledger.READY]),
    (2, [ledger.POSTED, ledger.POSTED, ledger.IN_DOUBT, ledger.IN_DOUBT]),
])
def test_an_unreachable_syspro_stops_the_batch_and_only_the_documents_in_flight_are_in_doubt(doc, size, states):
    ctx = SyncContext(settings=batch_settings(size), actor="test")
    docs = more_docs(doc, 4)
    with pytest.raises(ConnectError):
        invoices.post_documents(ctx, StopAfter(1, error=ConnectError("refused")), docs, invoices.CycleSummary())
    assert [ApDocument.get_by_id(d.id).state for d in docs] == states


def test_marked_documents_a_crash_left_are_all_looked_up(doc, monkeypatch):
    """What a kill between the batch's commit and its requests leaves: POSTING rows, none sent."""
    ctx = SyncContext(settings=Settings(), actor="test")
    docs = more_docs(doc, 3)
    with models.database.atomic():
        for d in docs:
            ledger.transition(d, ledger.POSTING, "post_attempt", "x", actor="test", attempts=1)
    assert invoices.recover_interrupted() == 3
    looked_up = []
    monkeypatch.setattr(invoices, "lookup", lambda ctx, session, d: looked_up.append(d.id))
    session = EachPosted()
    summary = invoices.CycleSummary()
    invoices.settle_in_doubt(ctx, session, summary)
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(d.id) for d in docs], summary)
    assert looked_up[:3] == [d.id for d in docs] and session.posts == 1
    assert {ApDocument.get_by_id(d.id).state for d in docs} == {ledger.POSTED}


def test_the_database_commits_to_disk_in_wal_mode():
    db.open_database()
    try:
        assert models.database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert models.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        db.close_database()


DOCUMENT_ERROR_ONLY = """<?xml version="1.0" encoding="Windows-1252"?><postapinvoice>
<ErrorDescription>Posting period 2026/11 is closed for Accounts Payable</ErrorDescription>
<StatusOfItems><ItemsProcessed>000000</ItemsProcessed><ItemsInvalid>000001</ItemsInvalid></StatusOfItems>
</postapinvoice>"""
STATUS_ONLY = """<postapinvoice><StatusOfItems><ItemsProcessed>000000</ItemsProcessed>
<ItemsInvalid>000001</ItemsInvalid></StatusOfItems></postapinvoice>"""
DOCUMENT_ERROR_AND_CLEAN_ITEM = """<postapinvoice><ErrorDescription>Invalid parameter PostingPeriod</ErrorDescription>
<Item><Supplier>SUP</Supplier><Invoice>ST100</Invoice><ItemNumber>000001</ItemNumber></Item></postapinvoice>"""
OK_WITHOUT_JOURNAL = """<postapinvoice><Item><Supplier>SUP</Supplier><Invoice>ST100</Invoice>
<ItemNumber>000001</ItemNumber></Item><StatusOfItems><ItemsProcessed>000001</ItemsProcessed>
<ItemsInvalid>000000</ItemsInvalid></StatusOfItems></postapinvoice>"""


@pytest.mark.parametrize("answer,words", [
    (DOCUMENT_ERROR_ONLY, "Posting period 2026/11 is closed"),
    (STATUS_ONLY, "invalid"),
    (DOCUMENT_ERROR_AND_CLEAN_ITEM, "Invalid parameter PostingPeriod"),
])
def test_document_level_errors_fail_the_post_with_syspros_words(doc, answer, words, monkeypatch):
    ctx = SyncContext(settings=Settings(), actor="test")
    monkeypatch.setattr(invoices, "lookup", lambda *a: pytest.fail("a refusal needs no look-up"))
    session = ScriptedSession(answer)
    summary = invoices.CycleSummary()
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(doc.id)], summary)
    after = ApDocument.get_by_id(doc.id)
    assert after.state == ledger.FAILED and words in after.reason and not after.journal
    assert summary.failed == 1 and summary.posted == summary.in_doubt == 0
    # a retry does not loop: the next post is sent only after a look-up (it was sent once)
    assert after.attempts == 1


def test_an_item_reported_clean_without_a_journal_is_looked_up_not_taken_as_posted(doc):
    ctx = SyncContext(settings=Settings(), actor="test")
    session = ScriptedSession(OK_WITHOUT_JOURNAL)
    summary = invoices.CycleSummary()
    invoices.post_documents(ctx, session, [ApDocument.get_by_id(doc.id)], summary)
    after = ApDocument.get_by_id(doc.id)
    assert after.state == ledger.IN_DOUBT and "no journal" in after.reason
    assert summary.in_doubt == 1 and summary.posted == 0
