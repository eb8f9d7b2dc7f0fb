"""How long invoices took from their creation in ServiceTitan to SYSPRO AP (sync/delay.py)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from desktop_app.core import db
from desktop_app.core.models import ApDocument, SourceInvoice
from desktop_app.sync import delay, ledger

POSTED_AT = dt.datetime(2026, 3, 2, 15, 0, 0)


@pytest.fixture
def database():
    db.open_database()
    yield
    db.close_database()


def posted_invoice(number: int, minutes: float, *, created_on: str | None = None) -> None:
    """An invoice created `minutes` before POSTED_AT + number s, and its document posted then."""
    posted = POSTED_AT + dt.timedelta(seconds=number)
    created = posted - dt.timedelta(minutes=minutes)
    SourceInvoice.create(st_invoice_id=number, number=str(number),
                         payload={"id": number, "createdOn": created_on or created.isoformat() + "Z"})
    ApDocument.create(doc_key=f"{number}:SUP", st_invoice_id=number, state=ledger.CONFIRMED, supplier="SUP",
                      syspro_invoice=f"ST{number}", posted_at=posted)


def test_median_and_95th_percentile_of_the_last_posted_documents(database):
    for number in range(1, 21):  # 1 … 20 minutes
        posted_invoice(number, number)
    found = delay.invoice_to_ap()
    assert found is not None and found.count == 20
    assert found.median == dt.timedelta(minutes=10) and found.p95 == dt.timedelta(minutes=19)
    assert found.sentence() == "Invoice to AP: median 10 min, 95% within 19 min (last 20 posted)"
    # only the last ones count: the five posted last took 16 … 20 minutes
    last_five = delay.invoice_to_ap(last=5)
    assert last_five.median == dt.timedelta(minutes=18) and last_five.p95 == dt.timedelta(minutes=20)
    assert json.dumps(found.as_dict()) == '{"count": 20, "median_s": 600, "p95_s": 1140}'


def test_nothing_posted_yet_or_no_creation_time_gives_no_figure(database):
    assert delay.invoice_to_ap() is None
    ApDocument.create(doc_key="9:SUP", st_invoice_id=9, state=ledger.READY, supplier="SUP")
    assert delay.invoice_to_ap() is None  # not posted
    posted_invoice(1, 3, created_on="not a date")
    assert delay.invoice_to_ap() is None


def test_an_offset_creation_time_is_taken_in_utc(database):
    # posted at 15:00:01 UTC; created at 09:58:01 in UTC-5, i.e. 14:58:01 UTC
    posted_invoice(1, 0, created_on="2026-03-02T09:58:01-05:00")
    assert delay.invoice_to_ap().median == dt.timedelta(minutes=2)


@pytest.mark.parametrize(("seconds", "text"), [(45, "45 s"), (120, "2 min"), (3900, "1 h 5 min"), (7200, "2 h"),
                                               (3 * 86400, "3 days")])
def test_durations_read_as_people_say_them(seconds, text):
    assert delay.duration(dt.timedelta(seconds=seconds)) == text


def test_the_go_live_backlog_does_not_count_only_invoices_created_since_the_first_sync(database):
    from desktop_app.core.models import JobRun

    first_sync = POSTED_AT - dt.timedelta(hours=1)
    JobRun.create(kind="cycle", started_at=first_sync, state="completed")
    JobRun.create(kind="cycle", started_at=POSTED_AT - dt.timedelta(minutes=5), state="completed")
    for number in range(1, 11):  # a month-old backlog, posted by the first syncs
        posted_invoice(number, 30 * 24 * 60)
    for number in range(11, 14):  # created while the connector ran: 2, 3, 4 minutes
        posted_invoice(number, number - 9)
    found = delay.invoice_to_ap()
    assert found is not None and found.count == 3
    assert found.median == dt.timedelta(minutes=3) and found.p95 == dt.timedelta(minutes=4)
    ApDocument.delete().where(ApDocument.st_invoice_id >= 11).execute()
    assert delay.invoice_to_ap() is None  # only the backlog so far: no figure yet
