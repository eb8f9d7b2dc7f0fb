"""One send-once protocol over both record models: invoices' documents and the two-way links."""
from __future__ import annotations

import pytest

from desktop_app.core import db
from desktop_app.core.db import ApDocument, SyncLink
from desktop_app.core.errors import ConnectError, OutcomeUnknown
from desktop_app.sync import invoices, ledger, protocol, records


@pytest.fixture
def rows():
    db.open_database()
    doc = ledger.create_row(ApDocument, doc_key="1:SUP", st_invoice_id=1, state=ledger.READY, supplier="SUP")
    link = SyncLink.create(flow="vendors", st_id=7, state=records.READY)
    yield doc, link
    db.close_database()


@pytest.mark.parametrize("which", ["document", "link"])
def test_the_same_mark_and_send_leave_both_kinds_in_doubt_without_an_answer(rows, which):
    doc, link = rows
    book, row = (ledger.LEDGER, doc) if which == "document" else (records.LEDGER, link)

    def no_answer():
        raise OutcomeUnknown("timed out")

    assert protocol.mark(book, [row], lambda r: "sending", actor="test") == [row]
    stored = type(row).get_by_id(row.id)
    assert (stored.state, stored.attempts) == (book.marked, 1)  # committed before the request
    assert protocol.send(book, row, no_answer, actor="test", system="SYSPRO") is protocol.NOT_SETTLED
    stored = type(row).get_by_id(row.id)
    assert stored.state == protocol.IN_DOUBT and stored.reason == "No answer from SYSPRO: timed out"


@pytest.mark.parametrize("which", ["document", "link"])
def test_one_recovery_turns_what_a_dead_process_left_marked_into_in_doubt(rows, which):
    doc, link = rows
    book, row = (ledger.LEDGER, doc) if which == "document" else (records.LEDGER, link)
    protocol.mark(book, [row], lambda r: "sending", actor="test")
    recovered = invoices.recover_interrupted() if which == "document" else records.recover_interrupted("vendors")
    assert recovered == 1
    stored = type(row).get_by_id(row.id)
    assert stored.state == protocol.IN_DOUBT
    assert [e.kind for e in (ledger.trail(row.id) if which == "document" else records.trail(row.id))][-1] == \
        "interrupted"


def test_a_request_that_never_left_is_in_doubt_and_stops_the_flow(rows):
    _doc, link = rows

    def refused_connection():
        raise ConnectError("connection refused")

    with pytest.raises(ConnectError):
        records.write_once(link, "Creating a vendor", refused_connection, actor="test", summary=None,
                           system="ServiceTitan")
    assert SyncLink.get_by_id(link.id).reason == "Could not reach ServiceTitan: connection refused"


def test_a_link_on_its_way_only_ends_with_its_answer_by_the_links_table(rows):
    _doc, link = rows
    protocol.mark(records.LEDGER, [link], lambda r: "sending", actor="test")
    with pytest.raises(protocol.IllegalTransition):
        records.transition(link, records.SKIPPED, "skipped", "Skipped while on its way", actor="gui")
    assert SyncLink.get_by_id(link.id).state == records.SYNCING
    records.transition(link, records.SYNCED, "created", "Created", actor="test")


def test_a_batch_stopped_before_its_turn_goes_back_to_ready(rows):
    doc, _link = rows
    second = ledger.create_row(ApDocument, doc_key="2:SUP", st_invoice_id=2, state=ledger.READY, supplier="SUP")
    marked = protocol.mark(ledger.LEDGER, [doc, second], lambda r: "posting", actor="test")
    protocol.unmark(ledger.LEDGER, marked[1:], actor="test")
    assert [ApDocument.get_by_id(d.id).state for d in (doc, second)] == [ledger.POSTING, ledger.READY]
    assert ApDocument.get_by_id(second.id).attempts == 0


def test_retry_reopens_a_held_link_and_notes_an_in_doubt_one(rows):
    _doc, link = rows
    records.transition(link, records.HELD, "held", "needs a look", actor="test", reason="needs a look")
    protocol.request_retry(records.LEDGER, link, actor="user", reopen=frozenset({records.HELD}))
    assert SyncLink.get_by_id(link.id).state == records.READY
    protocol.mark(records.LEDGER, [link], lambda r: "sending", actor="test")
    protocol.in_doubt(records.LEDGER, link, "no_answer", "no answer", "No answer", actor="test")
    protocol.request_retry(records.LEDGER, link, actor="user", reopen=frozenset({records.HELD}))
    assert SyncLink.get_by_id(link.id).state == records.IN_DOUBT  # looked up by the flow, never reopened blindly
    assert records.trail(link.id)[-1].message == "Retry requested by user (state IN_DOUBT)"
