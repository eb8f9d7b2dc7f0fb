"""The exactly-once write step the two-way flows share: what each kind of answer leaves behind."""
from __future__ import annotations

import pytest

from desktop_app.core import db, models
from desktop_app.core.errors import ConnectError, OutcomeUnknown
from desktop_app.sync import records
from desktop_app.sync.records import FAILED, IN_DOUBT, READY, SYNCING, FlowSummary
from desktop_app.syspro.errors import BusinessObjectError


@pytest.fixture
def link():
    db.open_database()
    yield models.SyncLink.create(flow="purchase-orders", st_id=7, state=READY)
    db.close_database()


def send_with(link, send, refusals):
    summary = FlowSummary()
    result = records.send_once(link, actor="test", summary=summary, message="Adding PO 7", params="<P/>",
                               xml_in="<In/>", send=send, noun="order",
                               refused=lambda text: (refusals.append(text),
                                                     records.transition(link, FAILED, "rejected", text,
                                                                        actor="test", reason=text)))
    return result, summary


def kinds(link):
    return [event.kind for event in records.trail(link.id)]


def test_the_attempt_is_committed_with_what_is_sent_before_the_request_leaves(link):
    seen = {}

    def send():
        seen["state"] = models.SyncLink.get_by_id(link.id).state  # what a crash at this moment would leave
        return "item"

    result, summary = send_with(link, send, [])
    assert result == "item" and seen["state"] == SYNCING and link.attempts == 1
    sent = [e for e in records.trail(link.id) if e.kind == "write_attempt"][0]
    assert "<In/>" in sent.xml_sent and "(attempt 1)" in sent.message and summary.in_doubt == 0


@pytest.mark.parametrize("error,kind", [(OutcomeUnknown("read timed out"), "no_answer"),
                                        (IndexError("no items"), "unreadable_answer")])
def test_an_answer_that_settles_nothing_leaves_it_in_doubt(link, error, kind):
    def send():
        raise error

    result, summary = send_with(link, send, [])
    assert result is None and link.state == IN_DOUBT and summary.in_doubt == 1
    assert kinds(link)[-1] == kind and link.reason


def test_a_refusal_goes_to_the_flow_with_syspros_words(link):
    refusals = []

    def send():
        raise BusinessObjectError("PORTOI", "ERROR: e.net exception 100000: PORTOI is not licensed")

    result, summary = send_with(link, send, refusals)
    assert result is None and link.state == FAILED and "not licensed" in refusals[0]
    assert summary.in_doubt == 0


def test_a_request_that_never_left_is_in_doubt_and_stops_the_flow(link):
    def send():
        raise ConnectError("connection refused")

    with pytest.raises(ConnectError):
        send_with(link, send, [])
    assert models.SyncLink.get_by_id(link.id).state == IN_DOUBT and kinds(link)[-1] == "not_sent"


def test_a_link_changed_by_another_writer_after_it_was_read_is_not_sent(link):
    # the engine read the link READY; a person skips it (another connection) before the write starts
    stale = models.SyncLink.get_by_id(link.id)
    records.transition(models.SyncLink.get_by_id(link.id), records.SKIPPED, "skipped", "Skipped by a person",
                       actor="gui", reason="Skipped by a person")
    sent = []
    result, summary = send_with(stale, lambda: sent.append(1), [])
    assert result is None and sent == [] and summary.in_doubt == 0
    assert stale.state == records.SKIPPED == models.SyncLink.get_by_id(link.id).state  # re-read, not written over
    assert "write_attempt" not in kinds(link)


def test_a_transition_from_a_stale_read_does_not_write_over_the_row(link):
    stale = models.SyncLink.get_by_id(link.id)
    records.transition(models.SyncLink.get_by_id(link.id), records.CONFLICT, "conflict", "Changed on both sides",
                       actor="scheduler", reason="Changed on both sides")
    with pytest.raises(records.LinkTransitionLost):
        records.transition(stale, records.SYNCED, "synced", "In step", actor="scheduler", reason="")
    assert models.SyncLink.get_by_id(link.id).state == records.CONFLICT and stale.state == records.CONFLICT


def test_a_timestamp_in_another_shape_does_not_block_a_link_transition(link):
    models.database.execute_sql('UPDATE "sync_link" SET "updated_at" = ? WHERE id = ?',
                                ("2026-05-01 10:00:00.5", link.id))
    fresh = models.SyncLink.get_by_id(link.id)
    records.transition(fresh, records.SKIPPED, "skipped", "Skipped", actor="gui", reason="Skipped")
    assert models.SyncLink.get_by_id(link.id).state == records.SKIPPED
