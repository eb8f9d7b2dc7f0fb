"""What a scheduled cycle may leave unread: the data that rarely changes, read again once its time is up.

A cycle every minute must be cheap when nothing happened: ServiceTitan's export feeds of invoices,
purchase orders and adjustments are asked each time (a new invoice should reach AP within
minutes), but vendors, SYSPRO's own purchase orders and ServiceTitan's reference lists change
seldom and are read in full only once `sync.refresh_minutes` have passed since they were last
read (or when a record waits on them). A job that is not a scheduled cycle (Sync now, the CLI, a
Retry) has no `refresh_every` and reads everything, as before.

The time of the last full read of each part is a sync cursor (`refresh.<part>`), so it holds
across jobs and restarts.
"""
from __future__ import annotations

import datetime as dt

from desktop_app.core.models import AuditEvent, SyncCursor, SyncLink, set_cursor, utcnow

PREFIX = "refresh."


def due(ctx, part: str) -> bool:
    """Whether `part` must be read in full this cycle: always outside scheduled cycles, else once
    `ctx.refresh_every` has passed since its last full read (or it was never read)."""
    every: dt.timedelta | None = getattr(ctx, "refresh_every", None)
    if every is None or every <= dt.timedelta(0):
        return True
    last = SyncCursor.get_or_none(SyncCursor.name == PREFIX + part)
    return last is None or utcnow() - last.updated_at >= every


def read(part: str) -> None:
    """`part` was read in full now (the next scheduled cycle may leave it until its time is up)."""
    set_cursor(PREFIX + part, utcnow().isoformat())


def last_read(part: str) -> dt.datetime | None:
    row = SyncCursor.get_or_none(SyncCursor.name == PREFIX + part)
    return row.updated_at if row is not None else None


def flow_has_work(flow: str, states) -> bool:
    """Whether a two-way flow has something to do besides looking for changes: a record in one of
    `states` (to write, in doubt, on its way), or anything recorded on one of its records since its
    last full read (a person's Skip, Retry, approval or chosen winner; a record the feed brought)."""
    if SyncLink.select().where(SyncLink.flow == flow, SyncLink.state.in_(list(states))).exists():
        return True
    since = last_read(flow)
    return since is None or AuditEvent.select().where(AuditEvent.flow == flow, AuditEvent.created_at > since).exists()
