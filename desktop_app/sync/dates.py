"""Document dates as the office sees them, and the go-live date that decides which documents are ours.

`sync.start_date` is the first DOCUMENT date (invoice date, PO order date, adjustment date, in the
office's time zone) that belongs to the connector. The export feeds start from a MODIFICATION date,
so an old document edited after go-live still arrives: the document's own date decides.

A go-live date moved later never un-posts anything (a document the connector already sent stays
its own); moved earlier, the documents skipped for their date are evaluated again and the feeds are
read again from the new date, so that what the office now calls ours is picked up.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING

from desktop_app.core.errors import ConfigError

if TYPE_CHECKING:
    from desktop_app.sync.context import SyncContext

START_DATE_KEY = "sync.start_date"
HOW_TO_SET = ("Set it with `ml-connector config set sync.start_date YYYY-MM-DD` (the first day whose "
              "invoices, purchase orders and adjustments the connector should post), or in the setup wizard "
              "or Settings.")
_BEFORE = "before the go-live date"


def accounting_date(value, timezone: str) -> dt.date | None:
    """ST sends dates as midnight UTC and timestamps as UTC; SYSPRO wants the office's date.

    A bare midnight-UTC value is a calendar date (converting it would move it to the previous
    day west of Greenwich); any other instant is converted to the office time zone.
    """
    if not value:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    utc = stamp.astimezone(dt.UTC)
    if (utc.hour, utc.minute, utc.second, utc.microsecond) == (0, 0, 0, 0):
        return utc.date()
    return utc.astimezone(zoneinfo.ZoneInfo(timezone)).date()


class StartDateMissing(ConfigError):
    """No go-live date: a sync would not know which documents are the connector's."""


def require_start_date(settings) -> dt.date:
    start = settings[START_DATE_KEY]
    if start is None:
        raise StartDateMissing("No go-live date is set (sync.start_date), so the sync cannot tell which "
                               "documents are the connector's to post; nothing was synced. " + HOW_TO_SET)
    return start


def before_start(day: dt.date | None, start: dt.date | None) -> bool:
    return start is not None and day is not None and day < start


def before_start_reason(day: dt.date, start: dt.date) -> str:
    return f"Dated {day.isoformat()}, {_BEFORE} {start.isoformat()}: not the connector's to post."


def is_before_start_reason(reason: str | None) -> bool:
    return bool(reason and reason.startswith("Dated ") and _BEFORE in reason)


def start_cursor(flow: str) -> str:
    return f"{flow}.start_date"


def previous_start(flow: str) -> dt.date | None:
    """The go-live date the flow last worked with (None: never recorded)."""
    from desktop_app.core.db import SyncCursor

    row = SyncCursor.get_or_none(SyncCursor.name == start_cursor(flow))
    if row is None or not row.value:
        return None
    try:
        return dt.date.fromisoformat(row.value)
    except ValueError:
        return None


def remember_start(flow: str, start: dt.date | None) -> None:
    from desktop_app.core.db import set_cursor

    set_cursor(start_cursor(flow), start.isoformat() if start else "")


def moved_earlier(flow: str, start: dt.date | None) -> bool:
    previous = previous_start(flow)
    return previous is not None and start is not None and start < previous


def reopen_skipped_for_date(ctx: SyncContext, flow: str, feed_cursor: str) -> int:
    """A go-live date moved earlier: the records skipped for their date are evaluated again, and
    the ServiceTitan feed is read again from the new date (records dated between the two dates but
    last modified before the old one were never in it). Shared by the PO and adjustment flows."""
    from desktop_app.core.db import SyncCursor, SyncLink, database
    from desktop_app.sync import records

    start = ctx.settings[START_DATE_KEY]
    reopened = 0
    with database.atomic():
        if moved_earlier(flow, start):
            for link in SyncLink.select().where(SyncLink.flow == flow, SyncLink.state == records.SKIPPED):
                if is_before_start_reason(link.reason):
                    records.transition(link, records.READY, "start_date_moved", f"The go-live date is now {start}: "
                                       "evaluated again", actor=ctx.actor, reason="")
                    reopened += 1
            SyncCursor.delete().where(SyncCursor.name == feed_cursor).execute()
        if previous_start(flow) != start:
            remember_start(flow, start)
    return reopened
