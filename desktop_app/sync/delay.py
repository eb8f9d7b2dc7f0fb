"""How long the last invoices took from their creation in ServiceTitan to SYSPRO AP.

The creation time is the invoice's `createdOn` as the export feed sent it (kept in SourceInvoice's
payload), the arrival the moment SYSPRO accepted the document (`ApDocument.posted_at`). The figure
covers the last `LAST_POSTED` documents posted, credits included; a document that waited for a
mapping or a person counts its wait too: that is how long the books were behind. Invoices created
before the connector's first sync are left out: they were the go-live backlog, and their age says
when the connector was installed, not how quickly it works.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from desktop_app.core.models import ApDocument, JobRun, SourceInvoice

LAST_POSTED = 50


@dataclass(frozen=True)
class Delay:
    count: int
    median: dt.timedelta
    p95: dt.timedelta

    def sentence(self) -> str:
        return (f"Invoice to AP: median {duration(self.median)}, 95% within {duration(self.p95)} "
                f"(last {self.count} posted)")

    def as_dict(self) -> dict:
        return {"count": self.count, "median_s": round(self.median.total_seconds()),
                "p95_s": round(self.p95.total_seconds())}


def created_on(payload: dict | None) -> dt.datetime | None:
    """ServiceTitan's createdOn as naive UTC (as the ledger keeps times), or None if absent or unreadable."""
    text = str((payload or {}).get("createdOn") or "")
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def percentile(values: list[dt.timedelta], share: float) -> dt.timedelta:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def first_sync_started() -> dt.datetime | None:
    """When the connector's first sync cycle started (None before it ran)."""
    first = JobRun.select(JobRun.started_at).where(JobRun.kind == "cycle").order_by(JobRun.started_at).first()
    return None if first is None else first.started_at


# how many posted documents are read to find the last `last` created since the first sync
_LOOK_BACK = 4


def invoice_to_ap(last: int = LAST_POSTED) -> Delay | None:
    """The delay of the last `last` documents posted whose invoices were created since the first
    sync, or None when there is none yet."""
    since = first_sync_started()
    rows = list(ApDocument.select(ApDocument.st_invoice_id, ApDocument.posted_at)
                .where(ApDocument.posted_at.is_null(False))
                .order_by(ApDocument.posted_at.desc(), ApDocument.id.desc()).limit(last * _LOOK_BACK).tuples())
    if not rows:
        return None
    payloads = {st_id: payload for st_id, payload in SourceInvoice.select(SourceInvoice.st_invoice_id,
                SourceInvoice.payload).where(SourceInvoice.st_invoice_id.in_(sorted({r[0] for r in rows}))).tuples()}
    delays = []
    for st_id, posted_at in rows:
        created = created_on(payloads.get(st_id))
        if created is not None and (since is None or created >= since):
            delays.append(max(posted_at - created, dt.timedelta(0)))
            if len(delays) == last:
                break
    if not delays:
        return None
    return Delay(count=len(delays), median=percentile(delays, 0.5), p95=percentile(delays, 0.95))


def duration(span: dt.timedelta) -> str:
    """A span for people: 45 s, 2 min, 1 h 5 min, 3 days."""
    seconds = span.total_seconds()
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds / 86400:.0f} days"
