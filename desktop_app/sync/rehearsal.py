"""The go-live rehearsal: what a sync would do, without doing it, and the posting gate.

A rehearsal reads both systems, builds every AP document the invoice flow would post (from the
go-live date on) and has SYSPRO validate each one (APSTIN with ValidateOnly=Y); it lists what the
two-way flows would create on each side and whether the approval threshold would hold it. It writes
nothing on either system, nothing in the ledger and no feed cursor: the only row it adds is itself
(`models.Rehearsal`, the latest few kept), for the Rehearsal page and the sign-off.

The gate: `sync.posting` off (the wizard leaves it off) makes the scheduler and the GUI's Sync now
run a rehearsal instead of a cycle; a person turns posting on after reading one (`start_posting`).
The command line's `sync --once` is a person's explicit act and posts either way.
"""
from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.sync.context import SyncContext

log = logging.getLogger("desktop_app.sync.rehearsal")

POSTING_KEY = "sync.posting"
KEEP = 5  # rehearsals kept in the database: the page shows the latest, the others are for comparison
WAITS_FOR_ORIGINAL = "Waits for its original: the credit is posted after the invoice it returns"
SEE_MESSAGE = "See SYSPRO's message"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RehearsalDocument:
    """One AP document SYSPRO would receive."""

    key: str
    st_invoice_id: int
    st_invoice_number: str
    supplier: str
    branch: str
    transaction_code: str  # "I" invoice, "C" credit note
    amount: Decimal
    invoice_date: dt.date | None
    problems: tuple[str, ...] = ()  # SYSPRO's ValidateOnly answer ("field: description"); empty: it would post

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"key": self.key, "st_invoice_id": self.st_invoice_id, "st_invoice_number": self.st_invoice_number,
                "supplier": self.supplier, "branch": self.branch, "transaction_code": self.transaction_code,
                "amount": _money(self.amount), "invoice_date": self.invoice_date.isoformat() if self.invoice_date
                else None, "problems": list(self.problems), "ok": self.ok}

    @classmethod
    def from_dict(cls, d: dict) -> RehearsalDocument:
        return cls(key=d["key"], st_invoice_id=int(d["st_invoice_id"]), st_invoice_number=d["st_invoice_number"],
                   supplier=d["supplier"], branch=d["branch"], transaction_code=d["transaction_code"],
                   amount=Decimal(d["amount"]),
                   invoice_date=dt.date.fromisoformat(d["invoice_date"]) if d.get("invoice_date") else None,
                   problems=tuple(d.get("problems") or ()))


@dataclass(frozen=True)
class Total:
    name: str
    documents: int
    amount: Decimal

    def as_dict(self) -> dict:
        return {"name": self.name, "documents": self.documents, "amount": _money(self.amount)}


@dataclass(frozen=True)
class RejectionGroup:
    """Documents SYSPRO would reject for one reason, and what a person does about it."""

    reason: str
    fix: str
    documents: tuple[str, ...]  # RehearsalDocument keys

    def as_dict(self) -> dict:
        return {"reason": self.reason, "fix": self.fix, "documents": list(self.documents)}

    @classmethod
    def from_dict(cls, d: dict) -> RejectionGroup:
        return cls(reason=d["reason"], fix=d["fix"], documents=tuple(d["documents"]))


@dataclass(frozen=True)
class MappingNeed:
    """A ServiceTitan value with no SYSPRO counterpart, and how many invoices wait for it."""

    kind: str  # vendor, item, gl, branch, ...
    value: str
    fix: str
    invoices: int

    def as_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value, "fix": self.fix, "invoices": self.invoices}

    @classmethod
    def from_dict(cls, d: dict) -> MappingNeed:
        return cls(kind=d["kind"], value=d["value"], fix=d["fix"], invoices=int(d["invoices"]))


@dataclass(frozen=True)
class Creation:
    """A record a two-way flow would create."""

    system: str  # where it would be created: "SYSPRO" or "ServiceTitan"
    flow: str  # vendors, purchase-orders, adjustments
    name: str
    waits_for_approval: bool  # more than sync.max_auto_create of them: each waits for a person's Create

    def as_dict(self) -> dict:
        return {"system": self.system, "flow": self.flow, "name": self.name,
                "waits_for_approval": self.waits_for_approval}

    @classmethod
    def from_dict(cls, d: dict) -> Creation:
        return cls(system=d["system"], flow=d["flow"], name=d["name"], waits_for_approval=bool(d["waits_for_approval"]))


def _money(value: Decimal) -> str:
    return format(Decimal(value).quantize(CENT), "f")


@dataclass
class Rehearsal:
    id: int | None
    ran_at: dt.datetime  # UTC, aware
    go_live: dt.date | None
    documents: list[RehearsalDocument] = field(default_factory=list)
    rejections: list[RejectionGroup] = field(default_factory=list)
    needs_mapping: list[MappingNeed] = field(default_factory=list)
    creations: list[Creation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # invoices left alone, with why
    problems: list[str] = field(default_factory=list)  # flows that could not run, with why
    company: str = ""

    def would_post(self) -> list[RehearsalDocument]:
        return [doc for doc in self.documents if doc.ok]

    def _totals(self, attribute: str) -> list[Total]:
        grouped: dict[str, list[RehearsalDocument]] = {}
        for doc in self.would_post():
            grouped.setdefault(getattr(doc, attribute) or "(none)", []).append(doc)
        return [Total(name, len(docs), sum((d.amount for d in docs), Decimal("0.00")))
                for name, docs in sorted(grouped.items())]

    def by_supplier(self) -> list[Total]:
        return self._totals("supplier")

    def by_branch(self) -> list[Total]:
        return self._totals("branch")

    def total_amount(self) -> Decimal:
        return sum((doc.amount for doc in self.would_post()), Decimal("0.00"))

    def as_dict(self) -> dict:
        return {"id": self.id, "ran_at": self.ran_at.isoformat(),
                "go_live": self.go_live.isoformat() if self.go_live else None, "company": self.company,
                "would_post": len(self.would_post()), "total_amount": _money(self.total_amount()),
                "by_supplier": [t.as_dict() for t in self.by_supplier()],
                "by_branch": [t.as_dict() for t in self.by_branch()],
                "documents": [d.as_dict() for d in self.documents],
                "rejections": [r.as_dict() for r in self.rejections],
                "needs_mapping": [m.as_dict() for m in self.needs_mapping],
                "creations": [c.as_dict() for c in self.creations],
                "skipped": list(self.skipped), "problems": list(self.problems)}

    @classmethod
    def from_dict(cls, d: dict) -> Rehearsal:
        ran_at = dt.datetime.fromisoformat(d["ran_at"])
        if ran_at.tzinfo is None:
            ran_at = ran_at.replace(tzinfo=dt.UTC)
        return cls(id=d.get("id"), ran_at=ran_at,
                   go_live=dt.date.fromisoformat(d["go_live"]) if d.get("go_live") else None,
                   documents=[RehearsalDocument.from_dict(x) for x in d.get("documents", [])],
                   rejections=[RejectionGroup.from_dict(x) for x in d.get("rejections", [])],
                   needs_mapping=[MappingNeed.from_dict(x) for x in d.get("needs_mapping", [])],
                   creations=[Creation.from_dict(x) for x in d.get("creations", [])],
                   skipped=list(d.get("skipped", [])), problems=list(d.get("problems", [])),
                   company=d.get("company", ""))

    def write_csv(self, path: str | Path) -> None:
        raise NotImplementedError  # filled in below the skeleton commit

    def summary_text(self) -> str:
        raise NotImplementedError

    def printable_html(self) -> str:
        raise NotImplementedError


def run_rehearsal(ctx: SyncContext) -> Rehearsal:
    """A job function (the worker runs it like `cycle.run_cycle`, under the cycle lock)."""
    raise NotImplementedError


def latest() -> Rehearsal | None:
    """The last stored rehearsal, or None."""
    raise NotImplementedError


def posting_enabled() -> bool:
    raise NotImplementedError


def start_posting(rehearsal: Rehearsal | None, *, actor: str) -> None:
    raise NotImplementedError


def stop_posting(*, actor: str) -> None:
    raise NotImplementedError


_ = (html, Any)
