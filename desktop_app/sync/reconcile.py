"""ServiceTitan cost vs SYSPRO AP per day, supplier and branch.

The ServiceTitan side is what the ledger owes (every mapped document except skipped ones);
the SYSPRO side is what the read-back found in SYSPRO AP for those documents. A credit note (a
return) counts negative on both sides, in its own day, supplier and branch: SYSPRO keeps it as a
transaction of the invoice it credits, and the read-back found it there.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from desktop_app.core.db import ApDocument
from desktop_app.sync.ledger import CHANGED_IN_SOURCE, CONFIRMED, NEEDS_MAPPING, POSTED, SKIPPED

ZERO = Decimal("0.00")


@dataclass
class ReconRow:
    day: dt.date | None
    supplier: str
    branch: str
    st_cost: Decimal = ZERO
    syspro_ap: Decimal = ZERO
    documents: int = 0
    unconfirmed: int = 0

    @property
    def difference(self) -> Decimal:
        return self.st_cost - self.syspro_ap

    def as_dict(self) -> dict:
        return {"date": self.day.isoformat() if self.day else None, "supplier": self.supplier,
                "branch": self.branch, "st_cost": format(self.st_cost, "f"),
                "syspro_ap": format(self.syspro_ap, "f"), "difference": format(self.difference, "f"),
                "documents": self.documents, "unconfirmed": self.unconfirmed}


def reconcile(day: dt.date | None = None) -> list[ReconRow]:
    query = ApDocument.select().where(ApDocument.state.not_in([SKIPPED, NEEDS_MAPPING]), ApDocument.supplier != "")
    if day is not None:
        query = query.where(ApDocument.invoice_date == day)
    rows: dict[tuple, ReconRow] = {}
    for doc in query.iterator():
        key = (doc.invoice_date, doc.supplier, doc.branch)
        row = rows.get(key) or ReconRow(*key)
        rows[key] = row
        row.documents += 1
        row.st_cost += doc.amount
        if doc.state in (CONFIRMED, CHANGED_IN_SOURCE) and doc.syspro_amount is not None:
            row.syspro_ap += doc.syspro_amount if doc.amount >= 0 else -doc.syspro_amount
        else:
            row.unconfirmed += 1
            if doc.state == POSTED and doc.syspro_amount is not None:
                row.syspro_ap += doc.syspro_amount if doc.amount >= 0 else -doc.syspro_amount
    return sorted((r for r in rows.values() if r), key=lambda r: (r.day or dt.date.min, r.supplier, r.branch))
