"""The ledger's own row writers write what peewee's create() and save() would."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from desktop_app.core import db, models
from desktop_app.core.models import ApDocument, AuditEvent
from desktop_app.sync import ledger


@pytest.fixture
def database():
    yield db.open_database()
    db.close_database()


def columns(model, row_id: int) -> dict:
    row = model.select().where(model.id == row_id).dicts().get()
    del row["id"]
    return row


def as_stored(row) -> bool:
    """The returned instance holds what its row holds, column by column."""
    return {name: getattr(row, name) for name in columns(type(row), row.id)} == columns(type(row), row.id)


def test_insert_row_writes_what_create_writes(database):
    values = dict(flow="vendors", record_key="vendor:7", document_id=None, kind="discovered",
                  message="Vendor 7 found", data={"amount": Decimal("12.50"), "on": dt.date(2026, 1, 2), "to": "READY"},
                  xml_sent="<a/>", xml_received=None)
    created = columns(AuditEvent, AuditEvent.create(**values).id)
    inserted_id = ledger.insert_row(AuditEvent, **values)
    inserted = columns(AuditEvent, inserted_id)
    assert inserted_id == AuditEvent.select().order_by(AuditEvent.id.desc()).get().id
    assert abs(inserted.pop("created_at") - created.pop("created_at")) < dt.timedelta(seconds=5)
    assert inserted == created
    assert inserted["actor"] == "scheduler" and inserted["data"]["amount"] == "12.50"  # the field defaults


def test_insert_row_fills_defaults_afresh_for_each_row(database):
    """A callable default (list, utcnow) is called per row, as peewee does, not shared."""
    first = ledger.insert_row(ApDocument, doc_key="1:A", st_invoice_id=1, state="READY")
    second = ledger.insert_row(ApDocument, doc_key="2:A", st_invoice_id=2, state="READY",
                               amount=Decimal("3.10"), lines=[{"line": 1}])
    a, b = ApDocument.get_by_id(first), ApDocument.get_by_id(second)
    assert (a.lines, a.missing, a.amount, a.transaction_code) == ([], [], Decimal("0.00"), "I")
    assert (b.lines, b.amount) == ([{"line": 1}], Decimal("3.10"))
    expected = columns(ApDocument, ApDocument.create(doc_key="3:A", st_invoice_id=3, state="READY").id)
    got = columns(ApDocument, first)
    for moment in ("created_at", "updated_at"):
        assert abs(got.pop(moment) - expected.pop(moment)) < dt.timedelta(seconds=5)
    assert {**got, "doc_key": "3:A", "st_invoice_id": 3} == expected


def test_record_and_transition_write_the_audit_trail(database):
    doc = ledger.create_row(ApDocument, doc_key="9:SUP", st_invoice_id=9, state=ledger.DISCOVERED)
    event_id = ledger.record(doc, "discovered", "found", actor="bench")
    ledger.transition(doc, ledger.READY, "ready", "mapped", actor="user", supplier="SUP")
    with pytest.raises(ledger.IllegalTransition):
        ledger.transition(doc, ledger.CONFIRMED, "confirmed", "too soon", actor="user")
    trail = ledger.trail(doc.id)
    assert [(e.id == event_id, e.kind, e.actor, e.document_id) for e in trail] == [
        (True, "discovered", "bench", doc.id), (False, "ready", "user", doc.id)]
    assert trail[1].data == {"from": "DISCOVERED", "to": "READY"}
    stored = ApDocument.get_by_id(doc.id)
    assert (stored.state, stored.supplier) == ("READY", "SUP")


def test_create_row_returns_the_row_as_create_does(database):
    row = ledger.create_row(ApDocument, doc_key="4:B", st_invoice_id=4, state="READY", amount=Decimal("7.05"))
    twin = ApDocument.create(doc_key="5:B", st_invoice_id=5, state="READY", amount=Decimal("7.05"))
    assert row.id == ApDocument.get(ApDocument.doc_key == "4:B").id and as_stored(row)
    got, expected = columns(ApDocument, row.id), columns(ApDocument, twin.id)
    for moment in ("created_at", "updated_at"):
        assert abs(got.pop(moment) - expected.pop(moment)) < dt.timedelta(seconds=5)
    assert {**got, "doc_key": "5:B", "st_invoice_id": 5} == expected
    # an id given is written as given, with the same columns otherwise
    given = ledger.create_row(ApDocument, id=500, doc_key="6:B", st_invoice_id=6, state="READY")
    assert given.id == 500 and ApDocument.get_by_id(500).doc_key == "6:B"


@pytest.mark.parametrize("state, kind", [(ledger.READY, "mapped"), (ledger.NEEDS_MAPPING, "needs_mapping")])
def test_a_new_document_is_what_create_record_and_transition_write(database, state, kind):
    """One INSERT in the evaluated state, and the trail three calls would write."""
    fields = dict(st_invoice_number="100", supplier="SUP", syspro_invoice="ST100", amount=Decimal("12.50"),
                  invoice_date=dt.date(2026, 11, 2), lines=[{"amount": "12.50"}], missing=[], reason="",
                  source_modified_on="2026-11-02T10:00:00Z")
    old = ledger.create_row(ApDocument, doc_key="1:SUP", st_invoice_id=1, state=ledger.DISCOVERED)
    ledger.record(old, "discovered", "ServiceTitan invoice 100 found", actor="bench", data={"modifiedOn": "x"})
    ledger.transition(old, state, kind, "what happened", actor="bench", data={"lines": 1}, **fields)
    new = ledger.new_document(state, kind, "what happened", actor="bench", discovered="ServiceTitan invoice 100 found",
                              discovered_data={"modifiedOn": "x"}, data={"lines": 1}, doc_key="2:SUP",
                              st_invoice_id=2, **fields)
    assert new.state == state and as_stored(new)
    expected, got = columns(ApDocument, old.id), columns(ApDocument, new.id)
    for moment in ("created_at", "updated_at"):
        assert abs(got.pop(moment) - expected.pop(moment)) < dt.timedelta(seconds=5)
    assert {**got, "doc_key": "1:SUP", "st_invoice_id": 1} == expected

    def events(doc):
        return [(e.kind, e.message, e.data, e.actor, e.flow, e.record_key.split(":")[1]) for e in ledger.trail(doc.id)]
    assert events(new) == events(old)
    assert [e.data.get("to") for e in ledger.trail(new.id)] == [None, state]
    with pytest.raises(ledger.IllegalTransition):
        ledger.new_document(ledger.POSTED, "posted", "too soon", actor="bench", discovered="found", doc_key="3:SUP",
                            st_invoice_id=3)


def test_a_transition_is_a_transaction_of_its_own_or_part_of_the_callers(database, monkeypatch):
    doc = ledger.create_row(ApDocument, doc_key="5:SUP", st_invoice_id=5, state=ledger.READY)

    def disk_full(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(ledger, "record", disk_full)
        with pytest.raises(RuntimeError):
            ledger.transition(ApDocument.get_by_id(doc.id), ledger.POSTING, "post_attempt", "x", actor="test")
    assert ApDocument.get_by_id(doc.id).state == ledger.READY  # the state change went with its event

    statements: list[str] = []
    connection = models.database.connection()
    connection.set_trace_callback(statements.append)
    try:
        with pytest.raises(RuntimeError, match="later"), models.database.atomic():
            ledger.transition(ApDocument.get_by_id(doc.id), ledger.POSTING, "post_attempt", "x", actor="test")
            ledger.new_document(ledger.READY, "mapped", "m", actor="test", discovered="found", doc_key="6:SUP",
                                st_invoice_id=6)
            raise RuntimeError("later in the page")
    finally:
        connection.set_trace_callback(None)
    assert not [sql for sql in statements if "SAVEPOINT" in sql.upper()]  # the caller's transaction holds them
    assert ApDocument.get_by_id(doc.id).state == ledger.READY and ApDocument.get_or_none(st_invoice_id=6) is None
    assert ledger.trail(doc.id) == []


def test_a_transition_from_a_stale_read_is_lost_and_rereads_the_row():
    db.open_database()
    try:
        row = ApDocument.create(doc_key="9:SUP", st_invoice_id=9, state=ledger.READY, supplier="SUP",
                                syspro_invoice="9", amount=Decimal("1.00"))
        stale = ApDocument.get_by_id(row.id)
        ledger.transition(ApDocument.get_by_id(row.id), ledger.SKIPPED, "skipped", "Skipped by a person",
                          actor="gui", reason="Skipped by gui: paid")
        with pytest.raises(ledger.TransitionLost):
            ledger.transition(stale, ledger.POSTING, "post_attempt", "Posting", actor="scheduler", attempts=1)
        fresh = ApDocument.get_by_id(row.id)
        assert fresh.state == stale.state == ledger.SKIPPED and fresh.attempts == 0
        assert [e.kind for e in ledger.trail(row.id)] == ["skipped"]
        # skipped and made READY again after the read: READY again, but not the row that was read
        ledger.transition(ApDocument.get_by_id(row.id), ledger.READY, "mapped", "Retry", actor="gui")
        stale = ApDocument.get_by_id(row.id)
        ledger.transition(ApDocument.get_by_id(row.id), ledger.SKIPPED, "skipped", "Skip", actor="gui", reason="x")
        ledger.transition(ApDocument.get_by_id(row.id), ledger.READY, "mapped", "Retry", actor="gui")
        with pytest.raises(ledger.TransitionLost):
            ledger.transition(stale, ledger.POSTING, "post_attempt", "Posting", actor="scheduler", attempts=1)
        assert ApDocument.get_by_id(row.id).attempts == 0
    finally:
        db.close_database()


def test_a_timestamp_an_older_writer_stored_in_another_shape_does_not_block_a_transition():
    db.open_database()
    try:
        row = ApDocument.create(doc_key="8:SUP", st_invoice_id=8, state=ledger.READY, supplier="SUP",
                                syspro_invoice="8", amount=Decimal("1.00"))
        # milliseconds only: reads back as a datetime whose text has six digits
        models.database.execute_sql('UPDATE "ap_document" SET "updated_at" = ? WHERE id = ?',
                                ("2026-05-01 10:00:00.123", row.id))
        doc = ApDocument.get_by_id(row.id)
        ledger.transition(doc, ledger.SKIPPED, "skipped", "Skipped", actor="gui", reason="Skipped by gui: x")
        assert ApDocument.get_by_id(row.id).state == ledger.SKIPPED
    finally:
        db.close_database()
