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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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
    # what else a person should know, e.g. a credit that waits for its original and follows it in the same sync
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"key": self.key, "st_invoice_id": self.st_invoice_id, "st_invoice_number": self.st_invoice_number,
                "supplier": self.supplier, "branch": self.branch, "transaction_code": self.transaction_code,
                "amount": _money(self.amount), "invoice_date": self.invoice_date.isoformat() if self.invoice_date
                else None, "problems": list(self.problems), "ok": self.ok, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> RehearsalDocument:
        return cls(key=d["key"], st_invoice_id=int(d["st_invoice_id"]), st_invoice_number=d["st_invoice_number"],
                   supplier=d["supplier"], branch=d["branch"], transaction_code=d["transaction_code"],
                   amount=Decimal(d["amount"]),
                   invoice_date=dt.date.fromisoformat(d["invoice_date"]) if d.get("invoice_date") else None,
                   problems=tuple(d.get("problems") or ()), note=d.get("note") or "")


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

    kind: str  # vendor, item, GL account, branch
    value: str  # as the office knows it: the SKU code, vendor or business unit name, GL account number
    fix: str
    invoices: int
    key: str = ""  # the ServiceTitan key a mapping row takes (vendor, SKU or business unit id, GL account)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value, "fix": self.fix, "invoices": self.invoices, "key": self.key}

    @classmethod
    def from_dict(cls, d: dict) -> MappingNeed:
        return cls(kind=d["kind"], value=d["value"], fix=d["fix"], invoices=int(d["invoices"]),
                   key=str(d.get("key") or ""))


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

    RUN_KIND: ClassVar[str] = "rehearsal"  # its job_run row's kind, whoever started it (jobs.recorded_run)

    def run_summary(self) -> dict:
        """What its job_run row keeps: the numbers; the rehearsal itself is in its own table."""
        return {"rehearsal": self.id, "would_post": len(self.would_post()), "total_amount": _money(self.total_amount()),
                "rejected": len(self.documents) - len(self.would_post()), "needs_mapping": len(self.needs_mapping),
                "creations": len(self.creations), "problems": list(self.problems)}

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
        """One row per document, then the totals, rejections, mappings and creations as sections of
        their own (a blank row and a header before each), every cell guarded against formulas."""
        from desktop_app.core import csv_safe

        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            out = csv_safe.writer(fh)
            out.writerow(["Rehearsal", self.ran_at.isoformat(timespec="seconds"), "Company", self.company,
                          "Go-live", self.go_live.isoformat() if self.go_live else ""])
            out.writerow([])
            out.writerow(["Document", "ST invoice", "ST invoice id", "Supplier", "Branch", "Type", "Amount",
                          "Invoice date", "Would post", "SYSPRO says", "Note"])
            for doc in self.documents:
                out.writerow([doc.key, doc.st_invoice_number, doc.st_invoice_id, doc.supplier, doc.branch,
                               TYPES.get(doc.transaction_code, doc.transaction_code), _money(doc.amount),
                               doc.invoice_date.isoformat() if doc.invoice_date else "", "yes" if doc.ok else "no",
                               "; ".join(doc.problems), doc.note])
            for title, totals in (("Supplier", self.by_supplier()), ("Branch", self.by_branch())):
                out.writerow([])
                out.writerow([f"Totals by {title.lower()}", "Documents", "Amount"])
                for total in totals:
                    out.writerow([total.name, total.documents, _money(total.amount)])
            out.writerow(["Total", len(self.would_post()), _money(self.total_amount())])
            out.writerow([])
            out.writerow(["SYSPRO would reject", "Documents", "Fix", "Which"])
            for group in self.rejections:
                out.writerow([group.reason, len(group.documents), group.fix, " ".join(group.documents)])
            out.writerow([])
            out.writerow(["Needs a mapping", "Value", "Invoices", "Fix"])
            for need in self.needs_mapping:
                out.writerow([need.kind, need.value, need.invoices, need.fix])
            out.writerow([])
            out.writerow(["Would be created in", "Flow", "Record", "Waits for approval"])
            for creation in self.creations:
                out.writerow([creation.system, creation.flow, creation.name,
                              "yes" if creation.waits_for_approval else "no"])
            for title, lines in (("Left alone", self.skipped), ("Could not run", self.problems)):
                if lines:
                    out.writerow([])
                    out.writerow([title])
                    out.writerows([line] for line in lines)

    def creation_counts(self) -> list[tuple[str, str, int, int]]:
        """(system, flow, records, of which waiting for approval), in a stable order."""
        counts: dict[tuple[str, str], list[int]] = {}
        for creation in self.creations:
            entry = counts.setdefault((creation.system, creation.flow), [0, 0])
            entry[0] += 1
            entry[1] += creation.waits_for_approval
        return [(system, flow, n, waiting) for (system, flow), (n, waiting) in sorted(counts.items())]

    def headline(self) -> str:
        """"12 documents, 4,310.55 would post" — the numbers the Start posting button and the log carry."""
        posting = self.would_post()
        return (f"{len(posting):,} document{'s' * (len(posting) != 1)} totalling {_money(self.total_amount())} "
                "would post")

    def summary_text(self) -> str:
        lines = [f"Go-live rehearsal {self.ran_at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M')} UTC"
                 + (f", company {self.company}" if self.company else "")
                 + (f", documents dated {self.go_live.isoformat()} onwards" if self.go_live else ""),
                 "Nothing was posted or changed in ServiceTitan, SYSPRO or the ledger.", "",
                 f"{self.headline()[0].upper()}{self.headline()[1:]}."]
        rejected = [doc for doc in self.documents if not doc.ok]
        if rejected:
            lines.append(f"Would not post: {len(rejected)} document(s) SYSPRO would reject or that wait.")
        for title, totals in (("supplier", self.by_supplier()), ("branch", self.by_branch())):
            if totals:
                lines += ["", f"By {title}:"]
                lines += [f"  {t.name:<16} {t.documents:>5}  {_money(t.amount):>14}" for t in totals]
        if self.rejections:
            lines += ["", "SYSPRO would reject:"]
            for group in self.rejections:
                lines.append(f"  {group.reason} ({len(group.documents)}): {', '.join(group.documents[:8])}"
                             + (" …" if len(group.documents) > 8 else ""))
                lines.append(f"    Fix: {group.fix}")
        if self.needs_mapping:
            lines += ["", "Needs a mapping:"]
            lines += [f"  {need.kind} {need.value} ({need.invoices} invoice(s)): {need.fix}"
                      for need in self.needs_mapping]
        if self.creations:
            lines += ["", "Would be created:"]
            for system, flow, count, waiting in self.creation_counts():
                lines.append(f"  in {system}: {count} ({flow})"
                             + (f", {waiting} of them waiting for approval (sync.max_auto_create)" if waiting else ""))
        if self.skipped:
            lines += ["", "Left alone:"] + [f"  {line}" for line in self.skipped]
        if self.problems:
            lines += ["", "Could not be rehearsed:"] + [f"  {line}" for line in self.problems]
        return "\n".join(lines)

    def printable_html(self) -> str:
        """A page the controller prints and signs: what would be posted, what would not and why."""
        e = html.escape

        def table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:  # type: ignore[assignment]
            head = "".join(f"<th>{e(h)}</th>" for h in headers)
            body = "".join("<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{e(str(c))}</td>"
                                            for i, c in enumerate(row)) + "</tr>" for row in rows)
            return f"<table><tr>{head}</tr>{body}</table>"

        def totals(rows: list[Total]) -> str:
            return table(["", "Documents", "Amount"], [[t.name, str(t.documents), _money(t.amount)] for t in rows]
                         + [["Total", str(len(self.would_post())), _money(self.total_amount())]], {1, 2})

        parts = [
            "<html><head><meta charset='utf-8'><title>Go-live rehearsal</title><style>"
            "body{font-family:sans-serif;font-size:10pt}table{border-collapse:collapse;margin-bottom:12pt}"
            "td,th{border:1px solid #999;padding:2pt 6pt;text-align:left}td.n{text-align:right}"
            "</style></head><body>",
            "<h1>Go-live rehearsal</h1>",
            f"<p>Company: <b>{e(self.company or '-')}</b><br>Go-live date: <b>"
            f"{e(self.go_live.isoformat() if self.go_live else '-')}</b><br>Rehearsed: <b>"
            f"{e(self.ran_at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M'))} UTC</b></p>",
            f"<p>{e(self.headline())}. Nothing was posted during the rehearsal.</p>",
            "<h2>By supplier</h2>", totals(self.by_supplier()),
            "<h2>By branch</h2>", totals(self.by_branch()),
            "<h2>SYSPRO would reject</h2>",
            table(["Reason", "Documents", "Fix"], [[g.reason, str(len(g.documents)), g.fix] for g in self.rejections],
                  {1}) if self.rejections else "<p>Nothing.</p>",
            "<h2>Needs a mapping</h2>",
            table(["Kind", "ServiceTitan value", "Invoices", "Fix"],
                  [[m.kind, m.value, str(m.invoices), m.fix] for m in self.needs_mapping], {2})
            if self.needs_mapping else "<p>Nothing.</p>",
            "<h2>Would be created</h2>",
            table(["In", "Flow", "Records", "Waiting for approval"],
                  [[system, flow, str(n), str(w)] for system, flow, n, w in self.creation_counts()], {2, 3})
            if self.creations else "<p>Nothing.</p>",
        ]
        if self.problems:
            parts += ["<h2>Could not be rehearsed</h2><ul>", *(f"<li>{e(p)}</li>" for p in self.problems), "</ul>"]
        parts.append("<p style='margin-top:36pt'>Reviewed by ______________________________ "
                     "Date ______________</p></body></html>")
        return "\n".join(parts)


TYPES = {"I": "invoice", "C": "credit note", "A": "adjustment", "D": "debit note"}


# ---------------------------------------------------------------------------- what SYSPRO's answers mean
@dataclass(frozen=True)
class _Known:
    pattern: re.Pattern
    reason: str
    fix: str  # {values}: the values the documents named (suppliers, ledger codes, ...)


_KNOWN = (
    _Known(re.compile(r"Supplier '?([^' ]*)'? is on hold", re.I), "Supplier is on hold",
           "Take supplier {values} off hold in SYSPRO (AP Supplier Maintenance), or map the vendor to another "
           "supplier"),
    _Known(re.compile(r"Supplier '?([^' ]*)'? (?:was )?not found", re.I), "Supplier not found in SYSPRO",
           "Correct the vendor mapping for supplier {values} (Mappings, Vendors), or add the supplier in SYSPRO"),
    _Known(re.compile(r"Posting period is closed", re.I), "Posting period is closed",
           "Open the period in SYSPRO (AP period end), or move the go-live date to a date in an open period"),
    _Known(re.compile(r"Ledger code '?([^' ]*)'? (?:was )?not found", re.I), "GL code not found in SYSPRO",
           "Correct the GL mapping that gives ledger code {values} (Mappings, GL accounts), or add the code in "
           "SYSPRO"),
    _Known(re.compile(r"Ledger code '?([^' ]*)'? is on hold", re.I), "GL code is on hold",
           "Take ledger code {values} off hold in SYSPRO General Ledger, or map the GL account to another code"),
    _Known(re.compile(r"Branch '?([^' ]*)'? (?:was )?not found", re.I), "Branch not found in SYSPRO",
           "Correct the branch mapping that gives branch {values} (Mappings, Branches)"),
    _Known(re.compile(r"Invoice '?([^' ]*)'? already exists", re.I), "Invoice number already in SYSPRO",
           "Already in SYSPRO (entered by hand?): when posting starts the connector looks it up and does not "
           "post it again; one with another amount is shown as failed for a person to check"),
    _Known(re.compile(r"Invoice '?([^' ]*)'? (?:was )?not found for supplier", re.I), "Invoice to credit not in SYSPRO",
           "Pick the SYSPRO invoice to credit on the Invoices page (Credit against…), or skip the credit"),
)
_WAITS = _Known(re.compile(re.escape(WAITS_FOR_ORIGINAL.split(":")[0])), "Waits for its original",
                "Fix what stops the original invoice; the credit follows it")
_HELD = _Known(re.compile(r"^Held: "), "Credit with nothing to credit",
               "Pick the SYSPRO invoice to credit on the Invoices page (Credit against…), or skip it")


def _classify(problem: str) -> tuple[_Known | None, str]:
    """The known reason a problem text gives, with the value it names ("" if none)."""
    for known in (*_KNOWN, _WAITS, _HELD):
        match = known.pattern.search(problem)
        if match:
            return known, (match.group(1) if match.groups() else "")
    return None, ""


def group_rejections(documents: list[RehearsalDocument]) -> list[RejectionGroup]:
    """Problems grouped by reason (a document with two problems is in both groups), the largest first.
    A reason not known here groups by SYSPRO's own text (without the field name)."""
    groups: dict[str, tuple[str, list[str], list[str]]] = {}  # reason -> (fix template, values, keys)
    for doc in documents:
        for problem in doc.problems:
            known, value = _classify(problem)
            if known is None:
                text = problem.split(": ", 1)[1] if ": " in problem else problem
                reason, fix = text.strip() or problem, SEE_MESSAGE
            else:
                reason, fix = known.reason, known.fix
            _fix, values, keys = groups.setdefault(reason, (fix, [], []))
            if value and value not in values:
                values.append(value)
            if doc.key not in keys:
                keys.append(doc.key)
    out = []
    for reason, (fix, values, keys) in groups.items():
        named = ", ".join(sorted(values)) if values else "named in SYSPRO's message"
        out.append(RejectionGroup(reason, fix.replace("{values}", named), tuple(keys)))
    return sorted(out, key=lambda g: (-len(g.documents), g.reason))


MAPPING_KINDS = {"branches": "branch", "items": "item", "vendors": "vendor", "gl": "GL account"}
MAPPING_FIXES = {
    "branches": "Map the business unit to a SYSPRO branch (Mappings, Branches)",
    "items": "Map the item to a SYSPRO stock code (Mappings, Items)",
    "vendors": "Map the vendor to a SYSPRO supplier (Mappings, Vendors), or set a default supplier",
    "gl": "Map the GL account to a SYSPRO ledger code (Mappings, GL accounts)",
}


def mapping_value(missing: dict) -> str:
    """A build plan's missing mapping as the office names it (`build._build`'s `need`)."""
    if missing["kind"] == "items" and missing.get("sku_code"):
        return str(missing["sku_code"])
    if missing["kind"] == "gl":
        return str(missing.get("key") or "(none)")
    return str(missing.get("label") or missing.get("key") or "")


def mapping_needs(entries: list[dict]) -> list[MappingNeed]:
    """What the build plans miss, one row per missing value with how many invoices wait for it."""
    found: dict[tuple[str, str], tuple[str, str, set[int]]] = {}
    for entry in entries:
        for missing in entry["plan"].missing:
            key = (missing["kind"], "" if missing.get("key") is None else str(missing["key"]))
            label = mapping_value(missing)
            fix = MAPPING_FIXES.get(missing["kind"], missing.get("reason") or SEE_MESSAGE)
            if missing["kind"] == "items" and "no primary vendor" in (missing.get("reason") or ""):
                fix = "Map a supplier for the item (Mappings, Items), or set a default supplier"
            if missing["kind"] == "gl" and not missing.get("key"):
                fix = "Give the item a cost-of-sale GL account in ServiceTitan"
            found.setdefault(key, (label, fix, set()))[2].add(entry["st_invoice_id"])
    needs = [MappingNeed(MAPPING_KINDS.get(kind, kind), label, fix, len(ids), key)
             for (kind, key), (label, fix, ids) in found.items()]
    return sorted(needs, key=lambda n: (-n.invoices, n.kind, n.value))


# ---------------------------------------------------------------------------- the two-way flows, planned
class RehearsalWrite(Exception):
    """A write was attempted during a rehearsal: refused before it left."""


_WRITE_PREFIXES = ("create_", "patch_", "mark_", "update_", "delete_", "put_", "post", "setup")


class _ReadOnly:
    """A client or e.net session whose writing calls raise instead of sending (a second line of
    defence: the planning syncers below never reach them)."""

    def __init__(self, target: Any, system: str):
        self._target, self._system = target, system

    def __getattr__(self, name: str) -> Any:
        if name.startswith(_WRITE_PREFIXES):
            def refused(*_args: Any, **_kwargs: Any) -> Any:
                raise RehearsalWrite(f"A rehearsal writes nothing: {self._system} {name} was not sent")
            return refused
        return getattr(self._target, name)


class _ReadOnlySession:
    """The two-way syncers' `LazySession`, reading only."""

    def __init__(self, ctx: SyncContext):
        self.ctx = ctx

    def get(self) -> Any:
        return _ReadOnly(self.ctx.enet_session(), "SYSPRO e.net")


class _PlanningGate:
    """`records.CreationGate` that never releases: it notes each record a cycle would create, and
    tells from the same rule (`sync.max_auto_create`) whether it would wait for approval."""

    def __init__(self, ctx: SyncContext, flow: str):
        from desktop_app.sync import records

        self.records = records
        self.flow, self.limit = flow, ctx.settings["sync.max_auto_create"]
        self.planning = True
        self.planned: dict[str, list] = {}
        self.waiting: list = []
        self._created: list[_Planned] | None = None

    def holds(self, link) -> bool:
        if link.state == self.records.WAITING and not self.records.is_approved(link):
            self.waiting.append(link)
        else:
            self.planned.setdefault(link.origin, []).append(link)
        return True

    def release(self) -> list:
        self.planning = False
        return []

    def created(self) -> list[_Planned]:
        if self._created is None:
            self._created = []
            for planned in self.planned.values():
                fresh = [link for link in planned if not self.records.is_approved(link) and link.attempts == 0]
                over = len(fresh) > self.limit
                self._created += [_Planned.of(self.flow, link, over and link in fresh) for link in planned]
            self._created += [_Planned.of(self.flow, link, True) for link in self.waiting]
        return self._created

    def creations(self) -> list[Creation]:
        return [planned.creation for planned in self.created()]


@dataclass(frozen=True)
class _Planned:
    origin: str
    st_id: int | None
    code: str  # a vendor flow's planned supplier code
    waits: bool
    creation: Creation

    @classmethod
    def of(cls, flow: str, link, waits: bool) -> _Planned:
        return cls(link.origin, link.st_id, (link.data or {}).get("planned_code") or "", waits,
                   _creation(flow, link, waits))


_NOUNS = {("vendors", "servicetitan"): "Supplier for vendor", ("vendors", "syspro"): "Vendor for supplier",
          ("purchase-orders", "servicetitan"): "PO for ServiceTitan PO",
          ("purchase-orders", "syspro"): "PO for SYSPRO PO", ("adjustments", "servicetitan"): "Adjustment"}


def _creation(flow: str, link, waits: bool) -> Creation:
    system = "SYSPRO" if link.origin == "servicetitan" else "ServiceTitan"
    noun = _NOUNS.get((flow, link.origin), "Record")
    label = link.label or link.syspro_key or str(link.st_id or "")
    code = (link.data or {}).get("planned_code")
    return Creation(system, flow, f"{noun} {label}" + (f" (as {code})" if code else ""), waits)


def _syncer(flow: str):
    from desktop_app.sync import adjustments, purchase_orders, vendors

    return {"vendors": vendors.VendorSync, "purchase-orders": purchase_orders.PoSync,
            "adjustments": adjustments.AdjustmentSync}[flow]


def plan_creations(ctx: SyncContext, flow: str) -> list[Creation]:
    """What one cycle of a two-way flow would create (see `_plan`)."""
    return _plan(ctx, flow).creations()


def new_suppliers(gate: _PlanningGate) -> dict[int, str]:
    """ServiceTitan vendor id → the SYSPRO supplier code the vendor flow would create for it this
    cycle (not held for approval): the invoice flow, which runs after it, maps through them."""
    return {c.st_id: c.code for c in gate.created()
            if c.st_id is not None and c.origin == "servicetitan" and c.code and not c.waits}


def _plan(ctx: SyncContext, flow: str) -> _PlanningGate:
    """One cycle of a two-way flow's own pass, with a gate that never releases and no updates of
    linked records, in a transaction that is always rolled back; its clients refuse any write.
    Nothing reaches either system and nothing stays in the ledger."""
    from desktop_app.core.db import database
    from desktop_app.sync import records

    with ctx.servicetitan_as(lambda st: _ReadOnly(st, "ServiceTitan")), database.atomic() as txn:
        try:
            syncer = _syncer(flow)(ctx, _ReadOnlySession(ctx), records.FlowSummary())
            gate = _PlanningGate(ctx, flow)
            syncer.gate = gate
            syncer.pair = lambda link: None  # changes to linked records are not creations
            for step in ("write_back", "worklist"):
                if hasattr(syncer, step):
                    setattr(syncer, step, lambda: None)
            syncer.run()
            gate.created()  # read what it needs from the links before they are rolled back
            return gate
        finally:
            txn.rollback()


# ---------------------------------------------------------------------------- the rehearsal
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_rehearsal(ctx: SyncContext) -> Rehearsal:
    """A job function (the worker runs it like `cycle.run_cycle`, under the cycle lock): what a
    sync would do now, stored as the latest rehearsal and returned."""
    from desktop_app.core import cycle_lock
    from desktop_app.sync import dates

    go_live = dates.require_start_date(ctx.settings)

    def waiting(message: str) -> None:
        ctx.check_cancelled()
        ctx.progress(0, 0, message)

    with cycle_lock.held(on_wait=waiting):
        was = ctx.dry_run
        ctx.dry_run = True  # every reader stores nothing and moves no cursor
        try:
            rehearsal = _rehearse(ctx, go_live)
        finally:
            ctx.dry_run = was
            ctx.end_enet_session()
    return store(rehearsal)


def _rehearse(ctx: SyncContext, go_live: dt.date) -> Rehearsal:
    from desktop_app.core.errors import ConnectorError
    from desktop_app.servicetitan.errors import ServiceTitanAuthError, ServiceTitanUnavailable
    from desktop_app.sync.context import Cancelled

    rehearsal = Rehearsal(id=None, ran_at=_now(), go_live=go_live, company=ctx.settings["syspro.company"])
    created: dict[int, str] = {}

    def vendors() -> None:
        gate = _plan(ctx, "vendors")
        rehearsal.creations.extend(gate.creations())
        created.update(new_suppliers(gate))

    # in a cycle's order: a supplier the vendor flow creates can carry an invoice in the same cycle
    steps: list[tuple[str, Callable[[], None]]] = [("vendors", vendors),
                                                   ("invoices", lambda: _rehearse_invoices(ctx, rehearsal, created))]

    def two_way(flow: str) -> Callable[[], None]:
        return lambda: rehearsal.creations.extend(plan_creations(ctx, flow))

    steps += [(flow, two_way(flow)) for flow in ("purchase-orders", "adjustments")]
    for position, (name, step) in enumerate(steps):
        ctx.check_cancelled()
        ctx.progress(0, 0, f"Rehearsing {name}")
        try:
            step()
        except Cancelled:
            raise
        except Exception as exc:
            from desktop_app.core.redact import redact

            message = redact(str(exc)) or type(exc).__name__
            rehearsal.problems.append(f"{name}: {message}")
            log.log(logging.ERROR if not isinstance(exc, ConnectorError) else logging.WARNING,
                    "Rehearsal of %s failed: %s", name, message, exc_info=not isinstance(exc, ConnectorError))
            if isinstance(exc, (ServiceTitanUnavailable, ServiceTitanAuthError)):
                rehearsal.problems += [f"{later}: not rehearsed ({message})" for later, _ in steps[position + 1:]]
                break
    log.info("Rehearsal: %s; %d rejected, %d mapping(s) needed, %d record(s) would be created",
             rehearsal.headline(), len(rehearsal.documents) - len(rehearsal.would_post()),
             len(rehearsal.needs_mapping), len(rehearsal.creations))
    return rehearsal


def _rehearse_invoices(ctx: SyncContext, rehearsal: Rehearsal, created: dict[int, str] | None = None) -> None:
    """`created`: vendor id → supplier code the vendor flow would create first (`new_suppliers`)."""
    from desktop_app.core.db import ApDocument, SourceInvoice
    from desktop_app.sync import invoices, ledger

    evaluator = invoices.Evaluator(ctx)
    for vendor_id, code in (created or {}).items():
        evaluator.mappings.vendors.setdefault(vendor_id, code)  # the mapping the vendor flow stores with it
    summary = invoices.CycleSummary()
    invoices.discover(ctx, evaluator, summary)  # a dry run: reads from the stored cursor, stores nothing
    entries = summary.dry_run_results
    # a cycle evaluates the documents waiting for a mapping again: so does the rehearsal
    seen = {entry["st_invoice_id"] for entry in entries}
    waiting = {doc.st_invoice_id: doc.st_invoice_number for doc in ApDocument.select(
        ApDocument.st_invoice_id, ApDocument.st_invoice_number).where(ApDocument.state == ledger.NEEDS_MAPPING)}
    for source in SourceInvoice.select().where(SourceInvoice.st_invoice_id.in_(sorted(set(waiting) - seen))):
        entries.append({"st_invoice_id": source.st_invoice_id, "plan": evaluator.build(source.payload),
                        "number": waiting[source.st_invoice_id] or source.number})
    rehearsal.skipped += summary.problems
    before = 0
    for entry in entries:
        plan = entry["plan"]
        if plan.before_start:
            before += 1
        elif plan.unreadable:
            rehearsal.skipped.append(f"ServiceTitan invoice {entry['number']} cannot be read: {plan.unreadable}")
        elif plan.skip_reason:
            rehearsal.skipped.append(f"ServiceTitan invoice {entry['number']}: {plan.skip_reason}")
    if before:
        rehearsal.skipped.insert(0, f"{before} ServiceTitan invoice(s) dated before the go-live date "
                                 f"{rehearsal.go_live}: not the connector's to post")
    rehearsal.needs_mapping = mapping_needs(entries)
    planned = invoices.plan_documents(entries, ctx.settings["sync.unmatched_credits"])
    sent = [item for item in planned if not item.held and not item.waits_for]
    ctx.progress(0, len(sent), "SYSPRO validates the AP documents (ValidateOnly)")
    answers = dict(zip([item.key for item in sent], invoices.validate(ctx, [item.document for item in sent]),
                       strict=True))
    new_codes = set((created or {}).values())
    for item in sent:
        if item.document.supplier in new_codes:
            # the vendor flow creates it first in the same cycle: that SYSPRO does not hold it yet is expected
            not_yet = f"Supplier '{item.document.supplier}' not found"
            answers[item.key] = [p for p in answers[item.key] if not_yet not in p]
    documents: dict[str, RehearsalDocument] = {}
    for item in planned:
        note = ""
        if item.held:
            problems: tuple[str, ...] = (f"Held: {item.held}",)
        elif item.waits_for:
            original_ok = not answers.get(item.waits_for)
            note = f"{WAITS_FOR_ORIGINAL} ({item.waits_for}), in the same sync; SYSPRO validates it then"
            problems = () if original_ok else (f"{WAITS_FOR_ORIGINAL.split(':')[0]} {item.waits_for}, which SYSPRO "
                                               "would reject",)
        else:
            problems = tuple(answers[item.key])
        doc = item.document
        documents[item.key] = RehearsalDocument(
            key=item.key, st_invoice_id=doc.st_invoice_id, st_invoice_number=doc.st_invoice_number or "",
            supplier=doc.supplier, branch=doc.branch, transaction_code=doc.transaction_code,
            amount=Decimal(doc.amount).quantize(CENT), invoice_date=doc.invoice_date, problems=problems, note=note)
    rehearsal.documents = list(documents.values())
    rehearsal.rejections = group_rejections(rehearsal.documents)


# ---------------------------------------------------------------------------- stored rehearsals
def store(rehearsal: Rehearsal) -> Rehearsal:
    """Keep the rehearsal (the latest KEEP are kept); its id is set."""
    from desktop_app.core import models

    with models.database.atomic():
        row = models.Rehearsal.create(ran_at=rehearsal.ran_at.astimezone(dt.UTC).replace(tzinfo=None),
                                      body=rehearsal.as_dict())
        keep = [r.id for r in models.Rehearsal.select(models.Rehearsal.id)
                .order_by(models.Rehearsal.id.desc()).limit(KEEP)]
        models.Rehearsal.delete().where(models.Rehearsal.id.not_in(keep)).execute()
    rehearsal.id = row.id
    return rehearsal


def latest() -> Rehearsal | None:
    """The last stored rehearsal, or None."""
    from desktop_app.core import models

    row = models.Rehearsal.select().order_by(models.Rehearsal.id.desc()).first()
    if row is None:
        return None
    return Rehearsal.from_dict({**row.body, "id": row.id})


# ---------------------------------------------------------------------------- the posting gate
def posting_enabled(settings: Any = None) -> bool:
    from desktop_app.core import config

    return (settings if settings is not None else config.load_settings())[POSTING_KEY] == "on"


def _audit(kind: str, message: str, actor: str, data: dict | None = None) -> None:
    from desktop_app.core.models import AuditEvent

    AuditEvent.create(flow="posting", record_key=POSTING_KEY, kind=kind, actor=actor, message=message, data=data)
    log.info("%s (%s)", message, actor)


def start_posting(rehearsal: Rehearsal | None, *, actor: str) -> None:
    """Posting on: the next scheduled cycle posts. The audit line names the rehearsal the person saw."""
    from desktop_app.core import config, models

    with models.database.atomic():
        config.save_setting(POSTING_KEY, "on", actor=actor)
        if rehearsal is None:
            _audit("posting_started", "Posting started without a rehearsal", actor)
        else:
            _audit("posting_started", f"Posting started after rehearsal {rehearsal.id} of "
                   f"{rehearsal.ran_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC: {rehearsal.headline()}", actor,
                   {"rehearsal": rehearsal.id, "documents": len(rehearsal.would_post()),
                    "total": _money(rehearsal.total_amount())})


def stop_posting(*, actor: str) -> None:
    """Posting off: scheduled cycles and Sync now rehearse instead, until posting is started again."""
    from desktop_app.core import config, models

    with models.database.atomic():
        config.save_setting(POSTING_KEY, "off", actor=actor)
        _audit("posting_stopped", "Posting stopped: syncs rehearse until posting is started again", actor)


def posting_after_setup() -> dict[str, str]:
    """The setting the setup wizard's finish stores: posting off until a person has read a rehearsal,
    unless this site has sent something already (the wizard run again on a live site leaves it)."""
    from desktop_app.core.models import ApDocument, SyncLink
    from desktop_app.sync import ledger

    sent = (ApDocument.select().where(ApDocument.attempts > 0).exists()
            or ApDocument.select().where(ApDocument.state.in_(list(ledger.LOCKED))).exists()
            or SyncLink.select().where(SyncLink.attempts > 0).exists())
    return {} if sent else {POSTING_KEY: "off"}


def cycle_or_rehearsal(ctx: SyncContext) -> Any:
    """The scheduler's and the GUI's job: a cycle when posting is on, else a rehearsal (decided when
    the job runs, from the settings it was given)."""
    if posting_enabled(ctx.settings):
        from desktop_app.sync.cycle import run_cycle

        return run_cycle(ctx)
    return run_rehearsal(ctx)


def scheduled_cycle_or_rehearsal(ctx: SyncContext) -> Any:
    """The interval's own job: `run_scheduled_cycle` (what rarely changes is read when its time is
    up) when posting is on, else a rehearsal."""
    if posting_enabled(ctx.settings):
        from desktop_app.sync.cycle import run_scheduled_cycle

        return run_scheduled_cycle(ctx)
    return run_rehearsal(ctx)
