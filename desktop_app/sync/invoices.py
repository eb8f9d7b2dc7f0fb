"""The invoice flow: ServiceTitan invoices → SYSPRO AP documents, exactly once (docs/architecture.md §2, §6).

Order of a cycle: recover documents a crash left in POSTING, load reference data, discover from
the export feed (the feed token is stored in the same transaction as the page it covers),
re-evaluate documents waiting for a mapping (when what they depend on changed), settle in-doubt
documents by looking them up in SYSPRO, post READY documents in one e.net session, read SYSPRO
back, write back to ServiceTitan.

The exactly-once rule: a document is committed as POSTING before its request leaves (a batch of
them in one commit, see `post_documents`); any document that has been sent before (attempts > 0)
is looked up in SYSPRO before it is sent again; a duplicate rejection is settled by the same
look-up.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import peewee as pw

from desktop_app import __version__
from desktop_app.core.db import ApDocument, SourceInvoice, SyncCursor, database, set_cursor, utcnow
from desktop_app.core.errors import ConnectError, OutcomeUnknown
from desktop_app.core.redact import redact
from desktop_app.servicetitan.errors import FeedNotAdvancing
from desktop_app.sync import dates, freshness, ledger, pricebook, protocol, readable
from desktop_app.sync.build import (
    INVOICE_NUMBER_MAX,
    BuildResult,
    BuildSettings,
    PlannedDocument,
    Reference,
    build_documents,
    content_hash,
    credit_reference_key,
    document_texts,
    is_credit_reference,
)
from desktop_app.sync.context import Cancelled, SyncContext
from desktop_app.sync.ledger import (
    CHANGED_IN_SOURCE,
    CONFIRMED,
    DISCOVERED,
    FAILED,
    HELD,
    IN_DOUBT,
    LOCKED,
    NEEDS_MAPPING,
    POSTED,
    POSTING,
    READY,
    SKIPPED,
    UNREADABLE,
    WAITING_FOR_ORIGINAL,
)
from desktop_app.sync.mappings import load_mappings

log = logging.getLogger("desktop_app.sync.invoices")

CURSOR = "invoices.export"
# What the documents waiting for a mapping were last evaluated against (see `reevaluate_waiting`).
WAITING_INPUTS = "invoices.waiting_inputs"
WAITING_LOCAL_INPUTS = "invoices.waiting_local_inputs"
REFERENCE = "invoices.reference"  # freshness part: technicians, business units, pricebook feeds
# However stable the inputs look, the waiting documents are evaluated again at least this often.
FULL_REEVALUATION_EVERY = dt.timedelta(hours=24)
USER_SKIP_PREFIX = "Skipped by "
PAGE_QUERY_IDS = 500  # ids per IN (...) query: well under SQLite's bound-parameter limit
# The reason of a document whose post e.net answered with a session error (looked up at once).
SESSION_LOST = protocol.SESSION_LOST


@dataclass
class CycleSummary:
    discovered: int = 0
    changed: int = 0
    posted: int = 0
    validated: int = 0
    confirmed: int = 0
    failed: int = 0
    in_doubt: int = 0
    needs_mapping: int = 0
    unreadable: int = 0
    skipped: int = 0
    written_back: int = 0
    problems: list[str] = field(default_factory=list)
    dry_run_results: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def build_settings(ctx: SyncContext) -> BuildSettings:
    s = ctx.settings
    return BuildSettings(cost_types=tuple(s["sync.cost_item_types"]), default_supplier=s["sync.default_supplier"],
                         timezone=s["sync.timezone"], invoice_prefix="ST", start_date=s["sync.start_date"],
                         ap_lines=s["sync.ap_lines"])


def load_reference(ctx: SyncContext) -> Reference:
    """Pricebook SKUs with their primary vendor (stored, plus the feeds' changes: `pricebook`),
    technicians, business units: a few requests per cycle."""
    reference = Reference(skus=pricebook.load_skus(ctx))
    for tech in ctx.st.technicians():
        reference.technicians[tech.id] = tech.name or ""
    for unit in ctx.st.business_units():
        reference.business_units[unit.id] = unit.name or ""
    return reference


# ---------------------------------------------------------------------------- evaluation
def _doc_fields(plan: PlannedDocument, invoice: dict, lines: list[dict] | None = None) -> dict:
    return dict(
        st_invoice_number=str(invoice.get("referenceNumber") or ""),
        supplier=plan.supplier, syspro_invoice=plan.syspro_invoice, transaction_code=plan.transaction_code,
        amount=plan.amount, invoice_date=plan.invoice_date, branch=plan.branch, business_unit=plan.business_unit,
        technician=plan.technician, job_number=plan.job_number,
        lines=plan.lines_json() if lines is None else lines, missing=[],
        content_hash=plan.content_hash, source_modified_on=str(invoice.get("modifiedOn") or ""),
        left_out=plan.left_out,
    )


# ---------------------------------------------------------------------------- credit notes
# The original's document is (or may still become) an invoice in SYSPRO: the credit waits for it.
_ORIGINAL_ON_ITS_WAY = (DISCOVERED, READY, POSTING, IN_DOUBT, FAILED)
_ORIGINAL_IN_SYSPRO = (POSTED, CONFIRMED, CHANGED_IN_SOURCE)
UNMATCHED_NEGATIVE_INVOICE = "negative_invoice"


@dataclass(frozen=True)
class CreditTarget:
    """Where a credit note goes: READY against `invoice`, or waiting / held with the reason."""

    state: str
    invoice: str
    reason: str = ""


def credit_target(supplier: str, credit_of: int | None, number: str, picked: str = "") -> CreditTarget:
    """The SYSPRO invoice a credit note of `supplier` applies to (APSTIN: for C the invoice must exist).

    A person's pick wins; otherwise the invoice the original ServiceTitan invoice (`credit_of`) was
    posted as for the same supplier, which may carry the renumbered ST-<id> form."""
    if picked:
        return CreditTarget(READY, picked)
    if credit_of is None:
        return CreditTarget(HELD, "", f"ServiceTitan invoice {number} is negative for supplier {supplier} but is not "
                            "an adjustment of another invoice, so there is no SYSPRO invoice to credit. Pick the "
                            "SYSPRO invoice to credit (Credit against…), or skip it.")
    rows = list(ApDocument.select(ApDocument.state, ApDocument.supplier, ApDocument.syspro_invoice,
                                  ApDocument.transaction_code, ApDocument.st_invoice_number)
                .where(ApDocument.st_invoice_id == credit_of).order_by(ApDocument.id))
    if not rows:
        return CreditTarget(HELD, "", f"Return {number} credits ServiceTitan invoice id {credit_of}, which the "
                            "connector has not posted (dated before the go-live date, or not read yet). Pick the "
                            f"SYSPRO invoice of supplier {supplier} to credit (Credit against…), or skip it.")
    original = rows[0].st_invoice_number or str(credit_of)
    same = [row for row in rows if row.supplier == supplier and row.transaction_code == "I"]
    for row in same:
        if row.state in _ORIGINAL_IN_SYSPRO:
            return CreditTarget(READY, row.syspro_invoice)
    for row in same:
        if row.state in _ORIGINAL_ON_ITS_WAY:
            if row.state == FAILED:
                return CreditTarget(WAITING_FOR_ORIGINAL, row.syspro_invoice,
                                    f"Waiting for ServiceTitan invoice {original} (SYSPRO invoice "
                                    f"{row.syspro_invoice}), which failed: once it is posted this credit follows.")
            return CreditTarget(WAITING_FOR_ORIGINAL, row.syspro_invoice,
                                f"Waiting for ServiceTitan invoice {original} to post as SYSPRO invoice "
                                f"{row.syspro_invoice}; this credit goes right after it.")
    if any(row.state == NEEDS_MAPPING for row in rows):
        return CreditTarget(WAITING_FOR_ORIGINAL, "",
                            f"Waiting for ServiceTitan invoice {original}, which needs a mapping; this credit goes "
                            "right after it is posted.")
    how = " (skipped)" if any(row.supplier == supplier for row in rows) else ""
    return CreditTarget(HELD, "", f"Return {number} credits ServiceTitan invoice {original}, which has no SYSPRO "
                        f"invoice for supplier {supplier}{how}. Pick the SYSPRO invoice to credit (Credit "
                        "against…), or skip it.")


def _resolve_credits(plans, existing: list[ApDocument], unmatched: str, number: str) -> dict[str, CreditTarget]:
    """Give each credit plan its SYSPRO invoice, or what it waits for. An unmatched credit becomes a
    negative invoice under its own number where the site asked for that (`sync.unmatched_credits`)."""
    picked = {doc.supplier: doc.credit_against for doc in existing if doc.credit_against and doc.supplier}
    targets = {}
    for plan in plans:
        if plan.transaction_code != "C":
            continue
        target = credit_target(plan.supplier, plan.credit_of, number, picked.get(plan.supplier, ""))
        if target.state == HELD and unmatched == UNMATCHED_NEGATIVE_INVOICE:
            plan.transaction_code = "I"
            plan.content_hash = content_hash(plan)
            continue
        plan.syspro_invoice = target.invoice
        targets[plan.supplier] = target
    return targets


def evaluate_invoice(invoice: dict, result: BuildResult, *, actor: str, retry: bool = False,
                     existing: list[ApDocument] | None = None, unmatched_credits: str = "hold") -> list[ApDocument]:
    """Bring the ledger rows of one ST invoice in line with what it owes now.

    Rows SYSPRO may hold (LOCKED) are never rebuilt: if what they owe changed they become
    CHANGED_IN_SOURCE for a person to decide. Open rows are re-used (keeping their history) for the
    new plan; FAILED rows and rows a person skipped change only on a retry or a source edit.
    `existing`: the invoice's ledger rows in id order when the caller has read them already.
    """
    st_id = readable.record_id(invoice.get("id"))
    number = readable.plain(invoice.get("referenceNumber") or st_id)
    modified = readable.plain(invoice.get("modifiedOn") or "")
    if existing is None:
        existing = list(ApDocument.select().where(ApDocument.st_invoice_id == st_id).order_by(ApDocument.id))
    if result.unreadable:
        return _hold_unreadable(st_id, number, modified, result.unreadable, existing, actor=actor, retry=retry)
    locked = {doc.supplier: doc for doc in existing if doc.state in LOCKED}
    open_rows = [doc for doc in existing if doc.state not in LOCKED]
    plans = {plan.supplier: plan for plan in result.documents}
    # a credit SYSPRO may hold already keeps what it was posted as (the locked rows below)
    credits = _resolve_credits([plan for supplier, plan in plans.items() if supplier not in locked], existing,
                               unmatched_credits, number)
    # a document SYSPRO may hold keeps the number it went under
    renumbered = _claim_invoice_numbers([plan for supplier, plan in plans.items()
                                         if plan.transaction_code == "I" and supplier not in locked], st_id, existing)
    touched: list[ApDocument] = []

    doc: ApDocument | None  # below, the supplier's document if there is one
    for supplier, doc in locked.items():
        plan = plans.pop(supplier, None)
        if plan is not None and plan.content_hash == doc.content_hash:
            continue
        if doc.source_modified_on == modified:
            continue  # same source version evaluated again (e.g. after a mapping edit): nothing new
        what = ("no longer owes this supplier anything" if plan is None
                else f"now owes {plan.amount} (posted: {doc.amount})")
        if doc.state in (POSTED, CONFIRMED):
            protocol.wait_for_person(
                ledger.LEDGER, doc, f"Edited in ServiceTitan after posting: {what}", actor=actor,
                state=CHANGED_IN_SOURCE, message=f"ServiceTitan invoice {number} was edited after posting: it {what}. "
                "It will not be posted again automatically; decide in SYSPRO and then accept or skip.",
                source_modified_on=modified)
        else:
            ledger.record(doc, "changed_in_source", f"ServiceTitan invoice {number} changed while this document "
                          f"was {doc.state}: it {what}.", actor=actor)
        touched.append(doc)

    available = [doc for doc in open_rows if _usable(doc, modified, retry)]
    by_supplier = {doc.supplier: doc for doc in available if doc.supplier}

    if result.missing or result.skip_reason:
        target_state = NEEDS_MAPPING if result.missing else SKIPPED
        reason = (f"Needs mapping: {'; '.join(m['reason'] for m in result.missing)}" if result.missing
                  else result.skip_reason)
        if locked and result.skip_reason:
            return touched  # the posted parts were handled above; there is nothing new to hold
        if not available and not open_rows and not locked:
            touched.append(ledger.new_document(
                target_state, "needs_mapping" if result.missing else "skipped", reason, actor=actor,
                discovered=f"ServiceTitan invoice {number} found", discovered_data={"modifiedOn": modified},
                data={"missing": result.missing} if result.missing else None,
                doc_key=f"{st_id}:*", st_invoice_id=st_id, st_invoice_number=number, missing=result.missing,
                reason=reason, source_modified_on=modified, left_out=result.left_out))
            return touched
        for index, doc in enumerate(available):
            if index == 0:
                if (doc.state == target_state and doc.reason == reason and doc.missing == result.missing
                        and doc.left_out == result.left_out):
                    continue
                ledger.transition(doc, target_state, "needs_mapping" if result.missing else "skipped", reason,
                                  actor=actor, data={"missing": result.missing} if result.missing else None,
                                  missing=result.missing, reason=reason, source_modified_on=modified,
                                  left_out=result.left_out)
            elif doc.state != SKIPPED:
                ledger.transition(doc, SKIPPED, "withdrawn", "No longer a separate document: the invoice is "
                                  "held as a whole until it can be mapped.", actor=actor,
                                  reason="Withdrawn: the invoice is held as a whole", missing=[])
            touched.append(doc)
        return touched

    spare = [doc for doc in available if doc.supplier not in plans]
    for supplier, plan in plans.items():
        doc = by_supplier.get(supplier) or (spare.pop(0) if spare else None)
        target = credits.get(supplier)
        state, reason = (target.state, target.reason) if target else (READY, "")
        if (doc is not None and doc.state == state and doc.content_hash == plan.content_hash
                and doc.syspro_invoice == plan.syspro_invoice and doc.transaction_code == plan.transaction_code
                and doc.reason == reason):
            continue
        lines = plan.lines_json()
        fields = _doc_fields(plan, invoice, lines)
        fields["credit_of"] = plan.credit_of
        kind = "mapped" if state == READY else state.lower()
        if plan.transaction_code == "C":
            message = (f"Mapped to supplier {supplier}: {len(plan.lines)} line(s), credit note of {plan.amount} "
                       + (f"against SYSPRO invoice {plan.syspro_invoice}" if state == READY else reason))
        else:
            message = (f"Mapped to supplier {supplier}: {len(plan.lines)} line(s), {plan.amount} "
                       f"(invoice {plan.syspro_invoice})")
            if plan.amount < 0:
                message += (" as a negative invoice: nothing posted to credit for this supplier "
                            "(sync.unmatched_credits = negative_invoice)")
        if plan.left_out:
            message += f". {left_out_sentence(plan.left_out)}"
        if supplier in renumbered:
            message += (f". Invoice number {renumbered[supplier]} is already used for this supplier by another "
                        f"ServiceTitan invoice, so this one goes to SYSPRO as {plan.syspro_invoice}")
        data = {"mapping_rows": plan.mapping_rows, "lines": lines}
        if doc is None:
            touched.append(ledger.new_document(
                state, kind, message, actor=actor, discovered=f"ServiceTitan invoice {number} found",
                discovered_data={"modifiedOn": modified}, data=data, doc_key=f"{st_id}:{supplier}",
                st_invoice_id=st_id, reason=reason, **fields))
            continue
        if doc.doc_key != f"{st_id}:{supplier}":
            ledger.record(doc, "rekeyed", f"Document now owed to supplier {supplier}", actor=actor)
            fields["doc_key"] = f"{st_id}:{supplier}"
        ledger.transition(doc, state, kind, message, actor=actor, data=data, reason=reason, **fields)
        touched.append(doc)
    for doc in spare:
        if doc.state != SKIPPED:
            ledger.transition(doc, SKIPPED, "withdrawn", "This supplier is no longer owed anything on the invoice.",
                              actor=actor, reason="Withdrawn: nothing owed to this supplier any more")
            touched.append(doc)
    return touched


def _usable(doc: ApDocument, modified: str, retry: bool) -> bool:
    """Whether an open row may change on this evaluation: FAILED rows and a person's Skip change
    only on a retry or a new version of the invoice."""
    if retry or doc.source_modified_on != modified:
        return True
    if doc.state == FAILED:
        return False
    return not (doc.state == SKIPPED and doc.reason.startswith(USER_SKIP_PREFIX))


def unreadable_reason(number: str, what: str) -> str:
    return (f"ServiceTitan invoice {number}: {what}. Nothing of it is posted; correct it in ServiceTitan "
            "(it is read again when it changes) or Retry to read it again.")


def _hold_unreadable(st_id: int, number: str, modified: str, what: str, existing: list[ApDocument], *,
                     actor: str, retry: bool) -> list[ApDocument]:
    """The invoice cannot be read: its open documents are held as UNREADABLE with the field that
    stops it; what SYSPRO may hold already stays as it is, with the news in its trail."""
    reason = unreadable_reason(number, what)
    touched: list[ApDocument] = []
    if not existing:
        touched.append(ledger.new_document(
            UNREADABLE, "unreadable", reason, actor=actor, discovered=f"ServiceTitan invoice {number} found",
            discovered_data={"modifiedOn": modified}, doc_key=f"{st_id}:*", st_invoice_id=st_id,
            st_invoice_number=number, reason=reason, source_modified_on=modified))
        return touched
    for doc in existing:
        if doc.state in LOCKED:
            if doc.source_modified_on != modified or retry:
                ledger.record(doc, "unreadable", f"{reason} This document is in SYSPRO already and stays as posted.",
                              actor=actor)
                touched.append(doc)
            continue
        if not _usable(doc, modified, retry) or (doc.state == UNREADABLE and doc.reason == reason
                                                 and doc.source_modified_on == modified):
            continue
        protocol.wait_for_person(ledger.LEDGER, doc, reason, actor=actor, state=UNREADABLE,
                                 source_modified_on=modified)
        touched.append(doc)
    return touched


def left_out_sentence(left_out: list[dict]) -> str:
    """Which stock lines the document leaves out, for the audit trail."""
    named = "; ".join(f"{line['sku_code'] or line['sku_id']} × {line['quantity']} ({line['amount']}) from "
                      f"{line['location']}" for line in left_out)
    return (f"Left out {len(left_out)} line(s) used from your own stock, bought on purchase orders whose bills "
            f"reach AP that way (sync.ap_lines = non_stock): {named}")


def alternate_invoice_number(st_id: int, prefix: str = "ST") -> str:
    # ST invoice numbers never start with "-", so this cannot meet a number built from one
    return f"{prefix}-{st_id}"[:INVOICE_NUMBER_MAX]


def _number_held(supplier: str, number: str, st_id: int, first_row: int | None) -> bool:
    """Another ServiceTitan invoice's row holds (supplier, number): an earlier row, or one SYSPRO may
    hold (posted, or sent without an answer yet) however young it is. A credit note carries the
    number of the invoice it credits: that number is not its own."""
    older = ApDocument.state.in_(sorted(LOCKED))
    if first_row is not None:
        older = (ApDocument.id < first_row) | older
    return ApDocument.select(ApDocument.id).where(
        ApDocument.supplier == supplier, ApDocument.syspro_invoice == number, ApDocument.st_invoice_id != st_id,
        ApDocument.transaction_code != "C", older).exists()


def _claim_invoice_numbers(plans, st_id: int, existing: list[ApDocument]) -> dict[str, str]:
    """Give each plan an AP invoice number no other ServiceTitan invoice holds for its supplier.

    SYSPRO knows an AP invoice by supplier and number, but ST reference numbers repeat (several
    adjustments of one job, numbers edited by hand). Two ST invoices on one number would make the
    second a "duplicate" that the look-up then mistakes for posted. A number SYSPRO may hold for
    another ST invoice (its row POSTING, IN_DOUBT, posted) is taken; otherwise the earliest ledger
    row keeps it. A later invoice goes as ST-<its id>, the same on every evaluation.
    Returns {supplier: the number it would have had} for the plans it renumbered.
    """
    first_row = min((doc.id for doc in existing), default=None)
    renumbered = {}
    for plan in plans:
        if _number_held(plan.supplier, plan.syspro_invoice, st_id, first_row):
            renumbered[plan.supplier] = plan.syspro_invoice
            plan.syspro_invoice = alternate_invoice_number(st_id)
            plan.content_hash = content_hash(plan)
    return renumbered


class Evaluator:
    """Evaluates invoices against one snapshot of mappings and reference data."""

    def __init__(self, ctx: SyncContext, reference: Reference | None = None):
        self.ctx = ctx
        self.mappings = load_mappings()
        self.settings = build_settings(ctx)
        self._reference = reference

    @property
    def reference(self) -> Reference:
        if self._reference is None:
            self._reference = load_reference(self.ctx)
        return self._reference

    @property
    def has_reference(self) -> bool:
        """Whether the reference data is loaded already (reading `reference` would fetch it)."""
        return self._reference is not None

    def build(self, invoice: dict) -> BuildResult:
        return build_documents(invoice, self.mappings, self.reference, self.settings)

    def evaluate(self, invoice: dict, *, retry: bool = False,
                 existing: list[ApDocument] | None = None) -> list[ApDocument]:
        result = self.build(invoice)
        if result.before_start:
            if existing is None:
                existing = list(ApDocument.select().where(ApDocument.st_invoice_id == readable.record_id(invoice["id"]))
                                .order_by(ApDocument.id))
            if any(doc.state in LOCKED for doc in existing):
                # posted before the go-live date was moved later: it stays the connector's, edits and all
                result = build_documents(invoice, self.mappings, self.reference,
                                         dataclasses.replace(self.settings, start_date=None))
        return evaluate_invoice(invoice, result, actor=self.ctx.actor, retry=retry, existing=existing,
                                unmatched_credits=self.ctx.settings["sync.unmatched_credits"])


# ---------------------------------------------------------------------------- discovery
def _start_from(ctx: SyncContext) -> str | None:
    cursor = SyncCursor.get_or_none(SyncCursor.name == CURSOR)
    if cursor is not None:
        return cursor.value
    start = ctx.settings["sync.start_date"]
    return start.isoformat() if start else None


def store_page(invoices: list[dict], continue_from: str | None, evaluator: Evaluator,
               summary: CycleSummary) -> set[int]:
    """Store a page of the feed and advance the feed token in ONE transaction.

    Each invoice is stored and evaluated in a savepoint of its own: one the engine cannot read is
    held as UNREADABLE (or, without an id, named in the audit trail) and the rest of the page, and
    the feed token, go on."""
    seen: set[int] = set()
    with database.atomic():
        # one read per page of what the ledger already holds
        ids = list({st_id for st_id in map(_feed_id, invoices) if st_id is not None})
        known_rows: dict[int, SourceInvoice | None] = {}
        docs_by_invoice: dict[int, list[ApDocument]] = {}
        for start in range(0, len(ids), PAGE_QUERY_IDS):
            chunk = ids[start:start + PAGE_QUERY_IDS]
            known_rows.update((row.st_invoice_id, row) for row in
                              SourceInvoice.select().where(SourceInvoice.st_invoice_id.in_(chunk)))
            for doc in ApDocument.select().where(ApDocument.st_invoice_id.in_(chunk)).order_by(ApDocument.id):
                docs_by_invoice.setdefault(doc.st_invoice_id, []).append(doc)
        fresh: set[int] = set(ids)  # invoices whose rows above are still current
        for invoice in invoices:
            st_id = _feed_id(invoice)
            if st_id is None:
                _record_without_id(invoice, evaluator.ctx.actor, summary)
                continue
            modified = readable.plain(invoice.get("modifiedOn") or "")
            known = known_rows.get(st_id)
            if known is not None and known.modified_on == modified:
                continue  # the feed repeats records (includeRecentChanges): same version, nothing to do
            # a repeat of the invoice later in the page reads its rows anew: this evaluation changes them
            existing = docs_by_invoice.get(st_id, []) if st_id in fresh else None
            fresh.discard(st_id)
            known_rows[st_id] = store_invoice(invoice, st_id, known, evaluator, summary, existing=existing)
            seen.add(st_id)
        if continue_from:
            set_cursor(CURSOR, continue_from)
    return seen


def _feed_id(invoice: dict) -> int | None:
    try:
        return readable.record_id(invoice.get("id"))
    except readable.Unreadable:
        return None


def _record_without_id(invoice: dict, actor: str, summary: CycleSummary) -> None:
    """An invoice with no usable id cannot have a ledger row (nor be asked for again): the audit
    trail and the cycle's problems name it by what it has."""
    number = readable.plain(invoice.get("referenceNumber") or "?")
    error = readable.Unreadable("id", invoice.get("id"), "is not a record id")
    message = unreadable_reason(number, str(error))
    ledger.record(None, "unreadable", message, actor=actor, record_key=f"st-invoice:{number}"[:200])
    summary.problems.append(message)
    summary.unreadable += 1


def store_invoice(invoice: dict, st_id: int, known: SourceInvoice | None, evaluator: Evaluator,
                  summary: CycleSummary, *, existing: list[ApDocument] | None = None,
                  retry: bool = False) -> SourceInvoice | None:
    """Keep this version of the invoice and bring its documents in line, in a savepoint: whatever in
    it the engine cannot read leaves it UNREADABLE with the reason, never the caller's page undone.
    Returns the stored source row."""
    number = readable.plain(invoice.get("referenceNumber") or "")
    modified = readable.plain(invoice.get("modifiedOn") or "")
    try:
        with _savepoint():
            if known is None:
                known = ledger.create_row(SourceInvoice, st_invoice_id=st_id, number=number, modified_on=modified,
                                          payload=invoice)
                summary.discovered += 1
            else:
                known.payload, known.modified_on, known.last_seen = invoice, modified, utcnow()
                known.save()
                summary.changed += 1
            evaluator.evaluate(invoice, existing=existing, retry=retry)
        return known
    except (Cancelled, pw.DatabaseError):
        raise  # the cycle's own troubles, not this invoice's
    except Exception as exc:
        # what build.py's checks did not foresee: the invoice waits with the error, the page goes on
        log.warning("ServiceTitan invoice %s could not be read: %s", st_id, redact(repr(exc)))
        what = f"could not be read ({type(exc).__name__}: {readable.plain(exc)})"
    with database.atomic():
        stored = SourceInvoice.get_or_none(SourceInvoice.st_invoice_id == st_id)
        evaluate_invoice({"id": st_id, "referenceNumber": number or st_id, "modifiedOn": modified},
                         BuildResult(unreadable=what), actor=evaluator.ctx.actor, retry=retry)
    return stored


@contextlib.contextmanager
def _savepoint():
    """One invoice's savepoint inside the caller's transaction. When SQLite itself ended the
    transaction (a full disk does), rolling back to the savepoint fails too: the error raised is
    then the one that ended it, which says what happened."""
    savepoint = database.savepoint()
    savepoint.__enter__()
    try:
        yield
    except BaseException as exc:
        try:
            savepoint.__exit__(type(exc), exc, exc.__traceback__)
        except pw.DatabaseError:
            pass
        raise
    savepoint.__exit__(None, None, None)


def read_again(ctx: SyncContext, evaluator: Evaluator, st_ids: list[int], summary: CycleSummary) -> None:
    """Retry of an unreadable invoice: ServiceTitan is asked for it again (it may have been
    corrected without a new version in the feed yet), then it is stored and evaluated anew."""
    wanted = sorted(set(st_ids))
    if not wanted:
        return
    fetched = {}
    record: dict | None  # below, None for an invoice ServiceTitan did not return
    for record in ctx.st.invoices_by_ids(wanted, raw=True):
        st_id = _feed_id(record)
        if st_id in wanted:
            fetched[st_id] = record
    for st_id in wanted:
        record = fetched.get(st_id)
        if record is None:
            for doc in ApDocument.select().where(ApDocument.st_invoice_id == st_id):
                ledger.record(doc, "read_again", f"Retry: ServiceTitan did not return invoice id {st_id}; it "
                              "stays as it was.", actor=ctx.actor)
            continue
        with database.atomic():
            known = SourceInvoice.get_or_none(SourceInvoice.st_invoice_id == st_id)
            store_invoice(record, st_id, known, evaluator, summary, retry=True)


def discover(ctx: SyncContext, evaluator: Evaluator, summary: CycleSummary) -> set[int]:
    seen: set[int] = set()
    pages = 0
    for page in ctx.st.export_invoices(_start_from(ctx), raw=True):
        pages += 1
        records = page.records
        if ctx.dry_run:
            for invoice in records:
                st_id = _feed_id(invoice)
                if st_id is None:
                    summary.problems.append(unreadable_reason(
                        readable.plain(invoice.get("referenceNumber") or "?"),
                        str(readable.Unreadable("id", invoice.get("id"), "is not a record id"))))
                    continue
                seen.add(st_id)
                summary.dry_run_results.append({"st_invoice_id": st_id, "plan": evaluator.build(invoice),
                                                "number": readable.plain(invoice.get("referenceNumber") or st_id)})
        else:
            seen |= store_page(records, page.continue_from, evaluator, summary)
        ctx.progress(0, 0, f"Read {pages} page(s) of ServiceTitan invoices")
        ctx.check_cancelled()
        if not page.has_more:
            break
    log.info("Discovery: %d new, %d changed ServiceTitan invoice(s)", summary.discovered, summary.changed)
    return seen


def local_inputs(evaluator: Evaluator) -> str:
    """The part of `evaluation_inputs` kept in this database (no ServiceTitan reference data)."""
    material = repr((__version__, evaluator.settings, evaluator.mappings))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def evaluation_inputs(evaluator: Evaluator) -> str:
    """A digest of everything an invoice's evaluation reads besides the invoice and its own rows:
    mappings, build settings, ServiceTitan reference data, the app's version. `build_documents` is
    a function of these (build.py is pure). Inputs that differ only in order digest differently:
    that costs one needless pass, never a skipped one."""
    material = repr((__version__, evaluator.settings, evaluator.mappings, evaluator.reference))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def reevaluate_waiting(ctx: SyncContext, evaluator: Evaluator, skip: set[int]) -> int:
    """Mappings added since the last cycle release the documents they blocked, with no other action.

    Evaluating every waiting invoice each cycle costs CPU in proportion to how many wait. A pass
    whose inputs are those of the last complete pass cannot change anything: every waiting document
    was evaluated against them then, or on discovery since (this cycle's discoveries with this
    cycle's inputs). So such a pass is skipped; the digest is stored only
    when a pass completes, and a full pass runs at least every FULL_REEVALUATION_EVERY anyway.
    """
    ids = sorted({st_id for (st_id,) in ApDocument.select(ApDocument.st_invoice_id)
                  .where(ApDocument.state == NEEDS_MAPPING).tuples()} - skip)
    if not ids:
        # Whatever waits was evaluated on discovery in this cycle, with these inputs. Their digest
        # is kept when it costs no request (discovery loaded the reference data); otherwise
        # nothing waits and nothing was discovered, and fetching the reference data would be waste.
        if evaluator.has_reference:
            set_cursor(WAITING_INPUTS, evaluation_inputs(evaluator))
            set_cursor(WAITING_LOCAL_INPUTS, local_inputs(evaluator))
            freshness.read(REFERENCE)
        return 0
    local = local_inputs(evaluator)
    last = SyncCursor.get_or_none(SyncCursor.name == WAITING_INPUTS)
    if not evaluator.has_reference and not freshness.due(ctx, REFERENCE):
        # a scheduled cycle within sync.refresh_minutes of the last reference read: only what is
        # kept here (mappings, settings) can have changed, and reading ServiceTitan's lists to find
        # out costs requests
        last_local = SyncCursor.get_or_none(SyncCursor.name == WAITING_LOCAL_INPUTS)
        if (last is not None and last_local is not None and last_local.value == local
                and utcnow() - last.updated_at < FULL_REEVALUATION_EVERY):
            return 0
    inputs = evaluation_inputs(evaluator)
    freshness.read(REFERENCE)
    if last is not None and last.value == inputs and utcnow() - last.updated_at < FULL_REEVALUATION_EVERY:
        set_cursor(WAITING_LOCAL_INPUTS, local)
        return 0
    released = 0
    for start in range(0, len(ids), PAGE_QUERY_IDS):
        chunk = ids[start:start + PAGE_QUERY_IDS]
        # a page of waiting invoices and their ledger rows in two queries; each is evaluated on its own
        sources = {row.st_invoice_id: row for row in
                   SourceInvoice.select().where(SourceInvoice.st_invoice_id.in_(chunk))}
        docs_by_invoice: dict[int, list[ApDocument]] = {}
        for doc in ApDocument.select().where(ApDocument.st_invoice_id.in_(chunk)).order_by(ApDocument.id):
            docs_by_invoice.setdefault(doc.st_invoice_id, []).append(doc)
        for st_id in chunk:
            source = sources.get(st_id)
            if source is None:
                continue
            with database.atomic():
                for doc in evaluator.evaluate(source.payload, existing=docs_by_invoice.get(st_id, [])):
                    released += doc.state == READY
        ctx.check_cancelled()
    set_cursor(WAITING_INPUTS, inputs)
    set_cursor(WAITING_LOCAL_INPUTS, local)
    if released:
        log.info("%d document(s) released by new mappings", released)
    return released


SCOPE = "invoices.scope"


def apply_scope_change(ctx: SyncContext, evaluator: Evaluator) -> int:
    """The go-live date or `sync.ap_lines` changed: the documents not in SYSPRO are evaluated again.

    What SYSPRO may hold (LOCKED) is never touched, and a person's Skip stays. A go-live date
    moved earlier also reads the export feed again from the new date: invoices dated between the
    two dates but last modified before the old one were never in the feed this profile read.
    Returns how many invoices were evaluated again.
    """
    start = ctx.settings["sync.start_date"]
    scope = json.dumps({"start_date": start.isoformat() if start else None,
                        "ap_lines": ctx.settings["sync.ap_lines"]}, sort_keys=True)
    last = SyncCursor.get_or_none(SyncCursor.name == SCOPE)
    if last is not None and last.value == scope:
        return 0
    if dates.moved_earlier("invoices", start):
        SyncCursor.delete().where(SyncCursor.name == CURSOR).execute()
        log.info("The go-live date moved earlier to %s: the invoice feed is read again from there", start)
    open_ids = sorted({st_id for st_id, state, reason in ApDocument.select(
        ApDocument.st_invoice_id, ApDocument.state, ApDocument.reason).where(
        ApDocument.state.in_([READY, NEEDS_MAPPING, SKIPPED])).tuples()
        if state != SKIPPED or not reason.startswith(USER_SKIP_PREFIX)})
    for start_at in range(0, len(open_ids), PAGE_QUERY_IDS):
        chunk = open_ids[start_at:start_at + PAGE_QUERY_IDS]
        sources = {row.st_invoice_id: row
                   for row in SourceInvoice.select().where(SourceInvoice.st_invoice_id.in_(chunk))}
        for st_id in chunk:
            if st_id in sources:
                with database.atomic():
                    evaluator.evaluate(sources[st_id].payload)
        ctx.check_cancelled()
    with database.atomic():
        dates.remember_start("invoices", start)
        set_cursor(SCOPE, scope)
    return len(open_ids)


def recover_interrupted() -> int:
    """POSTING rows at the start of a cycle belong to a process that died mid-post."""
    return protocol.recover_interrupted(
        ledger.LEDGER, "The app stopped while this document was marked for posting (it may have been sent). SYSPRO "
        "will be checked before it is sent again.", "Interrupted while posting: SYSPRO will be checked first")


# ---------------------------------------------------------------------------- posting
def _ap_document(doc: ApDocument):
    from desktop_app.syspro.apstin import ApInvoiceDocument, ApLedgerLine

    sign = Decimal("-1") if doc.transaction_code == "C" else Decimal("1")
    ledger_totals: dict[str, Decimal] = {}
    notes: dict[str, list[str]] = {}
    for line in doc.lines:
        code = line["ledger_code"]
        ledger_totals[code] = ledger_totals.get(code, Decimal("0")) + Decimal(line["amount"])
        notes.setdefault(line["ledger_code"], []).append(line["stock_code"] or line["sku_code"])
    lines = [ApLedgerLine(ledger_code=code, value=total * sign, notation=", ".join(notes[code])[:50])
             for code, total in ledger_totals.items()]
    reference, notation, journal_notation = document_texts(doc.transaction_code, doc.st_invoice_id,
                                                           doc.st_invoice_number, doc.job_number, doc.business_unit,
                                                           doc.technician)
    return ApInvoiceDocument(
        supplier=doc.supplier, invoice=doc.syspro_invoice, transaction_code=doc.transaction_code,
        invoice_date=doc.invoice_date, due_date=None, branch=doc.branch or None,
        transaction_value=doc.amount * sign, tax_value=Decimal("0.00"), tax_code=None,
        reference=reference, notation=notation, journal_notation=journal_notation,
        lines=lines,
    )


def lookup(ctx: SyncContext, session, doc: ApDocument):
    from desktop_app.syspro.odata import find_ap_invoice

    return find_ap_invoice(odata=ctx.odata, session=session, supplier=doc.supplier, invoice=doc.syspro_invoice)


def _found_amount(found) -> Decimal | None:
    value = getattr(found, "amount", None)
    if value is None:
        value = getattr(found, "orig_inv_value", None)
    return None if value is None else Decimal(value)


def lookup_credit(ctx: SyncContext, session, doc: ApDocument):
    from desktop_app.syspro.odata import find_ap_credit

    return find_ap_credit(odata=ctx.odata, session=session, supplier=doc.supplier, invoice=doc.syspro_invoice,
                          reference_key=credit_reference_key(doc.st_invoice_id))


def _settle_credit(ctx: SyncContext, session, doc: ApDocument, why: str) -> bool:
    """A credit applied to an invoice has no AP invoice row of its own: it is one of the invoice's
    transactions, known by the reference that carries the adjustment's ServiceTitan id."""
    found = lookup_credit(ctx, session, doc)
    if found is None:
        ledger.record(doc, "lookup", f"{why}: no credit of ServiceTitan invoice id {doc.st_invoice_id} among the "
                      f"transactions of SYSPRO invoice {doc.syspro_invoice} (supplier {doc.supplier})", actor=ctx.actor)
        return False
    return _settle_found(ctx, doc, found, why,
                         held=f"this credit against invoice {doc.syspro_invoice} of supplier {doc.supplier}",
                         check="the invoice's transactions",
                         seen=f"the credit is in SYSPRO against invoice {doc.syspro_invoice}")


def _settle_found(ctx: SyncContext, doc: ApDocument, found, why: str, *, held: str, check: str,
                  seen: str) -> bool:
    """SYSPRO holds what the look-up found for `doc`: POSTED, not sent again, when the amounts agree;
    FAILED for a person when SYSPRO holds another amount (nothing is posted over it)."""
    amount = _found_amount(found)
    if amount is not None and abs(amount) != abs(doc.amount):
        ledger.transition(doc, FAILED, "lookup_mismatch",
                          f"{why}: SYSPRO already holds {held} with amount {amount}, but this document is "
                          f"{doc.amount}. Nothing was posted; check {check} in SYSPRO.", actor=ctx.actor,
                          reason=f"SYSPRO already holds {held} with amount {amount} (ours {doc.amount})",
                          syspro_amount=abs(amount))
        return True
    journal = str(getattr(found, "journal", "") or "")
    ledger.transition(doc, POSTED, "found_in_syspro",
                      f"{why}: {seen} (journal {journal or 'unknown'}); recorded as posted, not sent again.",
                      actor=ctx.actor, journal=journal, posted_at=doc.posted_at or utcnow(), reason="",
                      syspro_amount=abs(amount) if amount is not None else None,
                      write_back="PENDING" if ctx.settings["sync.write_back"] else "")
    return True


def settle_with_lookup(ctx: SyncContext, session, doc: ApDocument, why: str) -> bool:
    """Look the document up in SYSPRO. True if it was there (and is now recorded as POSTED)."""
    if doc.transaction_code == "C":
        return _settle_credit(ctx, session, doc, why)
    found = lookup(ctx, session, doc)
    if found is None:
        ledger.record(doc, "lookup", f"{why}: not in SYSPRO (supplier {doc.supplier}, invoice "
                      f"{doc.syspro_invoice})", actor=ctx.actor)
        return False
    owner = (ApDocument.select().where(
        (ApDocument.supplier == doc.supplier) & (ApDocument.syspro_invoice == doc.syspro_invoice)
        & (ApDocument.st_invoice_id != doc.st_invoice_id) & (ApDocument.transaction_code != "C")
        & ApDocument.state.in_(LOCKED - {IN_DOUBT, POSTING}))
        .order_by(ApDocument.id).first())
    if owner is not None:
        # what SYSPRO holds is another ST invoice's bill: taking it as ours would leave this one unpaid
        ledger.transition(doc, FAILED, "number_taken",
                          f"{why}: SYSPRO's invoice {doc.syspro_invoice} for supplier {doc.supplier} is ServiceTitan "
                          f"invoice {owner.st_invoice_number or owner.st_invoice_id}, posted earlier. This document "
                          "was not posted; re-evaluate it (Retry) to give it a number of its own.", actor=ctx.actor,
                          reason=f"Invoice number {doc.syspro_invoice} belongs to ST invoice "
                                 f"{owner.st_invoice_number or owner.st_invoice_id}")
        return True
    return _settle_found(ctx, doc, found, why, held=f"invoice {doc.syspro_invoice} for supplier {doc.supplier}",
                         check="the invoice", seen="found in SYSPRO")


def settle(ctx: SyncContext, session, doc: ApDocument, why: str) -> bool:
    """`protocol.settle` with the invoice look-up: True when SYSPRO settled it (POSTED or FAILED),
    False when it is not there and is READY to post."""
    return protocol.settle(ledger.LEDGER, doc, lambda: settle_with_lookup(ctx, session, doc, why), actor=ctx.actor)


def settle_in_doubt(ctx: SyncContext, session, summary: CycleSummary) -> None:
    for doc in ApDocument.select().where(ApDocument.state == IN_DOUBT).order_by(ApDocument.id):
        ctx.check_cancelled()
        if settle(ctx, session, doc, "Checking an unanswered post") and doc.state == POSTED:
            summary.posted += 1


def _prepare(ctx: SyncContext, session, doc: ApDocument, summary: CycleSummary) -> tuple[str, str] | None:
    """(XmlParameters, XmlIn) to post, or None when the document is settled without a post: found
    in SYSPRO by the look-up that precedes any second attempt, or refused by the XML builder."""
    from desktop_app.syspro import apstin

    if doc.attempts > 0 and settle_with_lookup(ctx, session, doc, "Before sending again"):
        summary.posted += doc.state == POSTED
        summary.failed += doc.state == FAILED
        return None
    try:
        return apstin.build_parameters(validate_only=False), apstin.build_document([_ap_document(doc)])
    except Exception as exc:  # a field rule (length, precision) the builder enforces
        ledger.transition(doc, FAILED, "invalid", f"Cannot be sent to SYSPRO: {exc}", actor=ctx.actor,
                          reason=redact(str(exc)))
        summary.failed += 1
        return None


def _piece(doc: ApDocument, body: str):
    """The document's item in a post; a credit follows its original invoice (never in its call)."""
    from desktop_app.syspro.batching import Piece

    after = (doc.credit_of, doc.supplier) if doc.transaction_code == "C" and doc.credit_of is not None else None
    key = (doc.st_invoice_id, doc.supplier) if doc.transaction_code != "C" else ("credit", doc.id)
    return Piece(key=key, xml=body, after=after, payload=doc)


def post_documents(ctx: SyncContext, session, docs: list[ApDocument], summary: CycleSummary,
                   done_one: Callable[[], None] | None = None) -> None:
    """Post READY documents, as many per APSTIN call as fit (`syspro.batching`): at most
    `syspro.post_batch_size` of them within `syspro.max_request_bytes` of request line.

    The documents of a call are marked POSTING in one durable transaction (`protocol.mark`)
    committed before the call leaves; a crash leaves them POSTING, so each is looked up in SYSPRO
    before it is sent again. A call the e.net server refuses as too long (nothing was processed)
    puts its documents back to READY and halves the budget for the session; a document that alone
    is over the budget is HELD for a person, never split and never sent blindly.
    """
    from desktop_app.syspro import batching

    def one_done() -> None:
        if done_one is not None:
            done_one()

    pieces = []
    head = tail = ""
    for doc in docs:
        ctx.check_cancelled()
        wire = _prepare(ctx, session, doc, summary)
        if wire is None:
            one_done()
            continue
        head, body, tail = batching.split_document(wire[1])
        pieces.append(_piece(doc, body))
    while pieces:
        pieces = _post_pieces(ctx, session, pieces, head, tail, summary, one_done)


def _post_pieces(ctx: SyncContext, session, pieces: list, head: str, tail: str, summary: CycleSummary,
                 one_done: Callable[[], None]) -> list:
    """Pack and post `pieces`; returns those to pack again with a smaller budget (the server refused
    a call as too long), or [] when every piece has its outcome."""
    from desktop_app.syspro import apstin, batching

    budget = batching.request_budget(session, ctx.settings)
    overhead = batching.post_overhead(session, apstin.BUSINESS_OBJECT, _batch_parameters(2), head, tail)
    packing = batching.pack(pieces, overhead=overhead, max_bytes=budget,
                            max_count=int(ctx.settings["syspro.post_batch_size"]))
    for piece in packing.too_big:
        _hold_too_long(ctx, piece.payload, overhead + piece.size, budget)
        one_done()
    for _piece_left in packing.left:
        one_done()  # it follows a document that cannot be sent now: it stays READY
    status = {piece.key: piece.payload for piece in pieces}
    for index, batch in enumerate(packing.batches):
        ctx.check_cancelled()
        sendable = []
        for piece in batch:
            original = status.get(piece.after) if piece.after is not None else None
            if original is not None and original.state not in _ORIGINAL_IN_SYSPRO:
                one_done()  # its original did not post: it waits for it (release_credits)
                continue
            sendable.append(piece)
        if not sendable:
            continue
        docs = [piece.payload for piece in sendable]
        params = _batch_parameters(len(docs))
        xml_in = batching.join(head, sendable, tail)
        outcome = _send_and_record(ctx, session, docs, params, xml_in, summary)
        if outcome == TOO_LONG:
            # nothing was processed: these and every piece not yet sent are packed again, smaller
            later = [piece for rest in packing.batches[index + 1:] for piece in rest]
            return [piece for piece in sendable if piece.payload.state == READY] + later
        for _doc in docs:
            one_done()
    return []


TOO_LONG = "too_long"  # `_send_and_record`: the server refused the call as too long; pack again


def _batch_parameters(count: int) -> str:
    from desktop_app.syspro import apstin

    # one document as ever (all or nothing); several: each posted or rejected on its own
    return apstin.build_parameters(validate_only=False, apply_if_entire_document_valid=count == 1)


def _hold_too_long(ctx: SyncContext, doc: ApDocument, size: int, limit: int) -> None:
    from desktop_app.syspro.batching import too_long_reason

    what = (f"{'Credit note' if doc.transaction_code == 'C' else 'Invoice'} {doc.syspro_invoice} for supplier "
            f"{doc.supplier} ({len(doc.lines)} line(s))")
    reason = too_long_reason(what, size, limit)
    try:
        protocol.hold(ledger.LEDGER, doc, reason, actor=ctx.actor, kind="too_long")
    except ledger.TransitionLost:
        return


def _audit_part(text: str, where: str, batch_id: str) -> str:
    """What a document of a several-document post keeps of the call: its own part, and which call it was."""
    return f"{text}\n<!-- {where} in SYSPRO post {batch_id}; the others are in their own documents' trails -->"


def _send_and_record(ctx: SyncContext, session, docs: list[ApDocument], params: str, xml_in: str,
                     summary: CycleSummary) -> str | None:
    """Mark `docs` POSTING in one commit, send them in one APSTIN call and record each one's outcome
    from its own item of the answer. Returns TOO_LONG when the server refused the call as too long
    (the documents are READY again, the session's budget halved)."""
    from desktop_app.syspro import apstin, batching
    from desktop_app.syspro.errors import BusinessObjectError, RequestTooLong

    several = len(docs) > 1
    batch_id = f"{utcnow():%Y%m%dT%H%M%S}-{docs[0].id}"
    head, _body, tail = batching.split_document(xml_in)
    bodies = {doc.id: body for doc, body in zip(docs, _item_bodies(xml_in, head, tail, len(docs)), strict=True)}

    def sent(doc) -> str:
        if not several:
            return protocol.wire_text(params, xml_in)
        return _audit_part(protocol.wire_text(params, head + bodies[doc.id] + tail), f"one of {len(docs)} documents",
                           batch_id)

    marked = protocol.mark(ledger.LEDGER, docs, lambda doc: f"Posting to SYSPRO (attempt {doc.attempts + 1})"
                           + (f", one of {len(docs)} documents in post {batch_id}" if several else ""),
                           actor=ctx.actor, xml_sent=sent,
                           event=lambda doc: {"batch": batch_id, "of": len(docs)} if several else None)
    if not marked:
        return None
    if len(marked) != len(docs):  # a person took one out meanwhile: the call carries the others
        several = len(marked) > 1
        params = _batch_parameters(len(marked))
        xml_in = head + "".join(bodies[doc.id] for doc in marked) + tail
    if several:
        log.info("SYSPRO APSTIN post %s: %d documents, %d characters of XmlIn", batch_id, len(marked), len(xml_in))
    too_long = []

    def rejected(exc: BaseException) -> None:
        if isinstance(exc, RequestTooLong):
            too_long.append(exc)
            protocol.refused_as_too_long(ledger.LEDGER, marked, exc, session=session,
                                         budget=batching.request_budget(session, ctx.settings), actor=ctx.actor)
            return
        # e.net answered with an exception text, not XmlOut: nothing was posted
        for doc in marked:
            try:
                ledger.transition(doc, FAILED, "rejected", f"SYSPRO refused the document: {exc}", actor=ctx.actor,
                                  reason=f"SYSPRO refused the document: {exc}")
                summary.failed += 1
            except ledger.TransitionLost as lost:
                protocol.taken_over(ledger.LEDGER, doc, lost, actor=ctx.actor)

    xml_out = protocol.send_batch(ledger.LEDGER, marked, lambda: session.post(apstin.BUSINESS_OBJECT, params, xml_in),
                                  actor=ctx.actor, system="SYSPRO", summary=summary,
                                  refused=(BusinessObjectError, RequestTooLong), on_refused=rejected,
                                  no_answer="No answer", session_lost=True)
    if too_long:
        return TOO_LONG
    if xml_out is protocol.NOT_SETTLED:
        return None
    try:
        result = apstin.parse_result(xml_out)
    except Exception as exc:
        protocol.unreadable_batch_answer(ledger.LEDGER, marked, f"SYSPRO's answer could not be read ({exc})",
                                         actor=ctx.actor, summary=summary, xml_received=xml_out)
        return None
    verdicts = apstin.batch_verdicts(result, [(doc.supplier, doc.syspro_invoice) for doc in marked])
    for number, (doc, (verdict, item)) in enumerate(zip(marked, verdicts, strict=True), start=1):
        if several:
            part = {"batch": batch_id, "item": number, "of": len(marked)}
            received = _audit_part(item.xml if item is not None and item.xml else "<!-- no item for it -->",
                                   f"item {number} of {len(marked)}", batch_id)
        else:
            part, received = {}, xml_out
        try:
            _record_item(ctx, session, doc, verdict, item, received, part, summary)
        except ledger.TransitionLost as lost:
            protocol.taken_over(ledger.LEDGER, doc, lost, actor=ctx.actor)
    return None


def _item_bodies(xml_in: str, head: str, tail: str, count: int) -> list[str]:
    """The items of a joined document, one per document (each document is one <Item>)."""
    if count == 1:
        return [xml_in[len(head):-len(tail)]]
    from lxml import etree

    root = etree.fromstring(xml_in)
    items = [etree.tostring(item, encoding="unicode") for item in root]
    if len(items) != count:
        raise ValueError(f"the post holds {len(items)} items for {count} documents")
    return items


def _record_item(ctx: SyncContext, session, doc: ApDocument, verdict, item, xml_out: str, part: dict,
                 summary: CycleSummary) -> None:
    """Record what SYSPRO's answer says of one document of a post."""
    from desktop_app.syspro import apstin

    event = part or None
    if verdict.outcome == apstin.REFUSED:
        # SYSPRO's own words about the whole post: nothing of it was applied
        ledger.transition(doc, FAILED, "rejected", f"SYSPRO rejected it: {verdict.message}", actor=ctx.actor,
                          xml_received=xml_out, reason=verdict.message, data=event)
        summary.failed += 1
        return
    if verdict.outcome == apstin.UNCLEAR:
        ledger.transition(doc, IN_DOUBT, "unclear_answer", f"{verdict.message}. It will be looked up in SYSPRO "
                          "before anything is sent again.", actor=ctx.actor, xml_received=xml_out,
                          reason=verdict.message, data=event)
        summary.in_doubt += 1
        return
    if item.ok:
        journal = str(item.journal or "")
        ledger.transition(doc, POSTED, "posted", f"Posted to SYSPRO, journal {journal}"
                          + (f" (warnings: {'; '.join(item.warnings)})" if item.warnings else ""),
                          actor=ctx.actor, xml_received=xml_out, journal=journal, posted_at=utcnow(), reason="",
                          write_back="PENDING" if ctx.settings["sync.write_back"] else "", data=event)
        summary.posted += 1
        return
    if item.duplicate:
        ledger.record(doc, "duplicate", "SYSPRO says this invoice already exists: checking before anything else.",
                      actor=ctx.actor, xml_received=xml_out)
        # a duplicate rejection is settled by look-up, never reported as a plain failure
        if settle_with_lookup(ctx, session, doc, "After a duplicate rejection"):
            summary.posted += doc.state == POSTED
            summary.failed += doc.state == FAILED
            return
        ledger.transition(doc, FAILED, "rejected", "SYSPRO reports a duplicate invoice number but the invoice "
                          "cannot be found. Check the supplier's invoices in SYSPRO.", actor=ctx.actor,
                          reason="SYSPRO reports a duplicate that cannot be found")
        summary.failed += 1
        return
    messages = [f"{e.field}: {e.description}" for e in item.errors] or ["SYSPRO rejected the document"]
    ledger.transition(doc, FAILED, "rejected", "SYSPRO rejected it: " + "; ".join(messages), actor=ctx.actor,
                      xml_received=xml_out, reason="; ".join(messages), data=event)
    summary.failed += 1


def release_credits(ctx: SyncContext) -> list[int]:
    """Move credit notes on when what they wait for changed: READY once the original invoice is in
    SYSPRO. Returns the ids released to READY."""
    from desktop_app.syspro.batching import TOO_LONG_PREFIX

    released, evaluate_again = [], set()
    unmatched = ctx.settings["sync.unmatched_credits"]
    waiting = ApDocument.select().where(ApDocument.state.in_([WAITING_FOR_ORIGINAL, HELD]),
                                        ApDocument.transaction_code == "C").order_by(ApDocument.id)
    for doc in waiting:
        if doc.reason.startswith(TOO_LONG_PREFIX):
            continue  # held for its size: a person raises the limit and retries it
        target = credit_target(doc.supplier, doc.credit_of, doc.st_invoice_number or str(doc.st_invoice_id),
                               doc.credit_against)
        if target.state == HELD and unmatched == UNMATCHED_NEGATIVE_INVOICE:
            evaluate_again.add(doc.st_invoice_id)  # it becomes an invoice of its own: the evaluation decides
            continue
        if (target.state, target.invoice, target.reason) == (doc.state, doc.syspro_invoice, doc.reason):
            continue
        message = (f"The original is in SYSPRO: credit note against invoice {target.invoice}" if target.state == READY
                   else target.reason)
        try:
            ledger.transition(doc, target.state, "mapped" if target.state == READY else target.state.lower(),
                              message, actor=ctx.actor, syspro_invoice=target.invoice, reason=target.reason)
        except ledger.TransitionLost:
            continue  # a person picked its invoice or skipped it meanwhile: theirs stands
        if target.state == READY:
            released.append(doc.id)
    if evaluate_again:
        evaluator = Evaluator(ctx)
        for source in SourceInvoice.select().where(SourceInvoice.st_invoice_id.in_(sorted(evaluate_again))):
            with database.atomic():
                released += [doc.id for doc in evaluator.evaluate(source.payload) if doc.state == READY]
    return released


def post_ready(ctx: SyncContext, summary: CycleSummary, only: list[int] | None = None) -> None:
    release_credits(ctx)
    query = ApDocument.select().where(ApDocument.state.in_([READY, IN_DOUBT]))
    if only is not None:
        query = query.where(ApDocument.id.in_(only))
    if not query.exists():
        return
    with ctx.shared_enet_session() as session:
        if only is None:
            settle_in_doubt(ctx, session, summary)
        else:
            for doc in ApDocument.select().where(ApDocument.id.in_(only), ApDocument.state == IN_DOUBT):
                settle(ctx, session, doc, "Retry")
        ready = ApDocument.select(ApDocument.id).where(ApDocument.state == READY).order_by(ApDocument.id)
        if only is not None:
            ready = ready.where(ApDocument.id.in_(only))
        ids = [doc_id for (doc_id,) in ready.tuples()]
        done = 0

        def done_one() -> None:
            nonlocal done
            done += 1
            ctx.progress(done, len(ids), f"Posted {done} of {len(ids)} AP document(s)")

        _post_ids(ctx, session, ids, summary, done_one)
        _settle_lost_sessions(ctx, session, summary, done_one)
        # credits whose original this pass posted go right after it, in the same session
        released = release_credits(ctx)
        if released:
            ids += released
            _post_ids(ctx, session, released, summary, done_one)


def _settle_lost_sessions(ctx: SyncContext, session, summary: CycleSummary, done_one) -> None:
    """Posts that e.net answered with a session error: looked up now (the answer came, so nothing is
    still running in SYSPRO), and posted on the fresh session if SYSPRO does not have them. Once: a
    second loss leaves the document IN_DOUBT for the next cycle."""
    lost = list(ApDocument.select().where(ApDocument.state == IN_DOUBT,
                                          ApDocument.reason.startswith(SESSION_LOST)).order_by(ApDocument.id))
    again = []
    for doc in lost:
        ctx.check_cancelled()
        summary.in_doubt -= 1
        if not settle(ctx, session, doc, "After the SYSPRO session ended during its post"):
            again.append(doc.id)
        else:
            summary.posted += doc.state == POSTED
            summary.failed += doc.state == FAILED
    if again:
        _post_ids(ctx, session, again, summary, done_one)


def _post_ids(ctx: SyncContext, session, ids: list[int], summary: CycleSummary, done_one) -> None:
    # read a page of documents at a time: memory stays flat however many are waiting
    for start in range(0, len(ids), PAGE_QUERY_IDS):
        page = ApDocument.select().where(ApDocument.id.in_(ids[start:start + PAGE_QUERY_IDS]),
                                         ApDocument.state == READY).order_by(ApDocument.id)
        post_documents(ctx, session, list(page), summary, done_one)


@dataclass
class Planned:
    """A document a sync would send to SYSPRO, as a dry run or a rehearsal sees it (nothing stored)."""

    key: str  # the ledger's doc_key: "<st invoice id>:<supplier>"
    document: ApDocument  # the ledger's READY row, or an unsaved one built from the plan
    # a credit whose original this same sync would post first: the original's key (it goes right after it)
    waits_for: str = ""
    held: str = ""  # a credit with no invoice to credit: why the sync would hold it instead of sending it


def _stub(entry: dict, planned: PlannedDocument) -> ApDocument:
    return ApDocument(doc_key=f"{entry['st_invoice_id']}:{planned.supplier}", supplier=planned.supplier,
                      syspro_invoice=planned.syspro_invoice, transaction_code=planned.transaction_code,
                      amount=planned.amount, invoice_date=planned.invoice_date, branch=planned.branch,
                      business_unit=planned.business_unit, technician=planned.technician,
                      job_number=planned.job_number, lines=planned.lines_json(), credit_of=planned.credit_of,
                      st_invoice_id=entry["st_invoice_id"], st_invoice_number=entry.get("number", ""))


def plan_documents(entries: list[dict], unmatched_credits: str = "hold") -> list[Planned]:
    """The documents a sync would send: the ledger's READY ones and those the dry-run entries'
    build plans (`discover` in a dry run) give. Reads the ledger, writes nothing.

    A credit whose original is among them (or READY in the ledger) waits for it: the sync posts it
    right after its original, so it is not validated on its own against an invoice SYSPRO does not
    hold yet."""
    planned_ids = {entry["st_invoice_id"] for entry in entries}
    out = [Planned(doc.doc_key, doc) for doc in ApDocument.select().where(ApDocument.state == READY)
           .order_by(ApDocument.id) if doc.st_invoice_id not in planned_ids]
    invoices_now = {(doc.document.st_invoice_id, doc.document.supplier): doc.key for doc in out
                    if doc.document.transaction_code == "I"}
    for entry in entries:
        for planned in entry["plan"].documents:
            if planned.transaction_code == "I":
                key = f"{entry['st_invoice_id']}:{planned.supplier}"
                invoices_now[(entry["st_invoice_id"], planned.supplier)] = key
    for entry in entries:
        locked = {doc.supplier for doc in ApDocument.select(ApDocument.supplier, ApDocument.state)
                  .where(ApDocument.st_invoice_id == entry["st_invoice_id"]) if doc.state in LOCKED}
        for planned in entry["plan"].documents:
            if planned.supplier in locked:
                continue  # SYSPRO holds it already: an edit is flagged for a person, never sent again
            waits_for = held = ""
            if planned.transaction_code == "C":
                original = invoices_now.get((planned.credit_of, planned.supplier))
                target = credit_target(planned.supplier, planned.credit_of, entry.get("number") or
                                       str(entry["st_invoice_id"]))
                if original is not None and target.state != READY:
                    waits_for, planned.syspro_invoice = original, target.invoice or planned.syspro_invoice
                elif target.state == READY:
                    planned.syspro_invoice = target.invoice
                elif target.state == HELD and unmatched_credits == UNMATCHED_NEGATIVE_INVOICE:
                    planned.transaction_code = "I"
                else:
                    held = target.reason
            out.append(Planned(f"{entry['st_invoice_id']}:{planned.supplier}", _stub(entry, planned),
                               waits_for=waits_for, held=held))
    return out


def validate(ctx: SyncContext, documents: list[ApDocument]) -> list[list[str]]:
    """SYSPRO's ValidateOnly=Y answer for each document ("field: description"; empty: it would post).
    Nothing is posted. The documents go packed as a sync posts them (`syspro.batching`), with
    ApplyIfEntireDocumentValid=N so that SYSPRO judges each item on its own, and each document's
    answer is its own item; a rehearsal of a go-live backlog so takes as many calls as its posting."""
    from desktop_app.syspro import apstin, batching

    if not documents:
        return []
    answers: dict = {}  # a document's place in `documents` → SYSPRO's problems with it
    pieces: list[batching.Piece] = []
    head = tail = ""
    for index, doc in enumerate(documents):
        try:
            head, body, tail = batching.split_document(apstin.build_document([_ap_document(doc)]))
        except Exception as exc:  # a field rule (length, precision) the builder enforces
            answers[index] = [redact(str(exc))]
            continue
        pieces.append(batching.Piece(key=index, xml=body, payload=doc))
    checked = [0]
    with ctx.shared_enet_session() as session:
        while pieces:
            pieces = _validate_pieces(ctx, session, pieces, head, tail, answers, checked, len(documents))
    return [answers.get(index, []) for index in range(len(documents))]


def _validate_pieces(ctx: SyncContext, session, pieces: list, head: str, tail: str, answers: dict,
                     checked: list[int], total: int) -> list:
    """Validate `pieces` packed into calls; returns those to pack again (the server refused a call as
    too long and the session's budget is halved), or [] when each has its answer."""
    from desktop_app.syspro import apstin, batching
    from desktop_app.syspro.errors import RequestTooLong

    def parameters(count: int) -> str:
        return apstin.build_parameters(validate_only=True, apply_if_entire_document_valid=count == 1)

    budget = batching.request_budget(session, ctx.settings)
    overhead = batching.post_overhead(session, apstin.BUSINESS_OBJECT, parameters(2), head, tail)
    packing = batching.pack(pieces, overhead=overhead, max_bytes=budget,
                            max_count=int(ctx.settings["syspro.post_batch_size"]))
    for piece in packing.too_big:
        doc = piece.payload
        answers[piece.key] = [batching.too_long_reason(
            f"Invoice {doc.syspro_invoice} for supplier {doc.supplier} ({len(doc.lines)} line(s))",
            overhead + piece.size, budget)]
    for index, batch in enumerate(packing.batches):
        ctx.check_cancelled()
        try:
            xml_out = session.post(apstin.BUSINESS_OBJECT, parameters(len(batch)), batching.join(head, batch, tail))
            result = apstin.parse_result(xml_out)
        except Cancelled:
            raise
        except RequestTooLong as exc:
            batching.remember_refusal(session, exc.request_bytes, budget)
            return [piece for rest in packing.batches[index:] for piece in rest]
        except Exception as exc:
            for piece in batch:
                answers[piece.key] = [redact(str(exc))]
            continue
        keys = [(piece.payload.supplier, piece.payload.syspro_invoice) for piece in batch]
        outside = [str(error) for error in result.errors]
        for piece, item in zip(batch, apstin.match_items(result, keys), strict=True):
            if item is None:
                answers[piece.key] = outside or ["SYSPRO's answer holds no item for this document"]
            else:
                answers[piece.key] = [f"{e.field}: {e.description}" for e in item.errors]
        checked[0] += len(batch)
        ctx.progress(checked[0], total, f"SYSPRO validated {checked[0]} of {total} AP document(s)")
    return []


def validate_ready(ctx: SyncContext, summary: CycleSummary) -> None:
    """Dry run: SYSPRO validates (ValidateOnly=Y); nothing is posted and nothing in the ledger changes."""
    planned = plan_documents(summary.dry_run_results, ctx.settings["sync.unmatched_credits"])
    for entry in summary.dry_run_results:
        plan = entry.pop("plan")
        if plan.missing:
            entry["needs_mapping"] = [m["reason"] for m in plan.missing]
        if plan.skip_reason:
            entry["skipped"] = plan.skip_reason
        if plan.unreadable:
            entry["unreadable"] = plan.unreadable
    by_id = {entry["st_invoice_id"]: entry for entry in summary.dry_run_results}
    for item in planned:
        if item.held and item.document.st_invoice_id in by_id:
            by_id[item.document.st_invoice_id].setdefault("held", []).append(item.held)
    summary.dry_run_results = [e for e in summary.dry_run_results
                               if "needs_mapping" in e or "skipped" in e or "held" in e or "unreadable" in e]
    sent = [item for item in planned if not item.held and not item.waits_for]
    for item, problems in zip(sent, validate(ctx, [item.document for item in sent]), strict=True):
        summary.validated += 1
        summary.dry_run_results.append({"document": item.key, "ok": not problems, "problems": problems})
    for item in planned:
        if item.waits_for:
            summary.dry_run_results.append({"document": item.key, "ok": True, "problems": [],
                                            "waits_for": item.waits_for})


# ---------------------------------------------------------------------------- read-back
def _read_back_since(invoice_dates) -> dt.date | None:
    """The day before the oldest invoice date still to confirm: the read-back's date filter."""
    known = [day for day in invoice_dates if day]
    return min(known) - dt.timedelta(days=1) if known else None


def confirm_posted(ctx: SyncContext, summary: CycleSummary) -> None:
    """Read SYSPRO AP back over OData and mark what it holds as CONFIRMED."""
    # keys only: the full rows are read a page at a time, for the documents SYSPRO shows
    _confirm_credits(ctx, summary)
    pending = list(ApDocument.select(ApDocument.id, ApDocument.supplier, ApDocument.syspro_invoice,
                                     ApDocument.invoice_date).where(ApDocument.state == POSTED,
                                                                    ApDocument.transaction_code != "C").tuples())
    if not pending or ctx.odata is None:
        return
    since = _read_back_since(invoice_date for *_, invoice_date in pending)
    wanted = {(supplier, invoice): doc_id for doc_id, supplier, invoice, _ in pending}
    del pending
    found: list[tuple[int, object]] = []
    for record in ctx.odata.ap_invoices(date_field="InvoiceDate", since=since):
        doc_id = wanted.pop((record.supplier, record.invoice), None)
        if doc_id is None:
            continue
        found.append((doc_id, record))
        if len(found) >= PAGE_QUERY_IDS:
            _confirm_found(ctx, found, summary)
            found = []
        if not wanted:
            break
    _confirm_found(ctx, found, summary)


def _confirm_credits(ctx: SyncContext, summary: CycleSummary) -> None:
    """Credits are read back among the AP invoice transactions (no AP invoice row of their own)."""
    pending = list(ApDocument.select(ApDocument.id, ApDocument.supplier, ApDocument.syspro_invoice,
                                     ApDocument.st_invoice_id, ApDocument.invoice_date)
                   .where(ApDocument.state == POSTED, ApDocument.transaction_code == "C").tuples())
    if not pending or ctx.odata is None:
        return
    since = _read_back_since(invoice_date for *_, invoice_date in pending)
    wanted: dict[tuple[str, str], dict[int, int]] = {}
    for doc_id, supplier, invoice, st_id, _ in pending:
        wanted.setdefault((supplier, invoice), {})[st_id] = doc_id
    found: list[tuple[int, object]] = []
    for record in ctx.odata.ap_invoice_transactions(since=since, trn_type="C"):
        credits = wanted.get((record.supplier, record.invoice))
        if not credits:
            continue
        st_id = next((st_id for st_id in credits if is_credit_reference(record.reference, st_id)), None)
        if st_id is not None:
            found.append((credits.pop(st_id), record))
    _confirm_found(ctx, found, summary)


_CONFIRM_COLUMNS = (ApDocument.id, ApDocument.doc_key, ApDocument.state, ApDocument.amount, ApDocument.reason,
                    ApDocument.journal)


def _confirm_found(ctx: SyncContext, found: list[tuple[int, object]], summary: CycleSummary) -> None:
    """One transaction for a page of confirmations: a crash loses only marks the next cycle redoes."""
    if not found:
        return
    # the columns the decision, the messages and the audit events read; only changed ones are written
    docs = {doc.id: doc for doc in ApDocument.select(*_CONFIRM_COLUMNS).where(
        ApDocument.id.in_([doc_id for doc_id, _ in found]))}
    with database.atomic():
        for doc_id, record in found:
            doc = docs[doc_id]
            amount = _found_amount(record)
            if amount is not None and abs(amount) != abs(doc.amount):
                if doc.reason != "amount mismatch":
                    ledger.record(doc, "amount_mismatch",
                                  f"SYSPRO shows {amount}, ServiceTitan cost is {doc.amount}", actor=ctx.actor)
                    ledger.save_changes(doc, reason="amount mismatch", syspro_amount=abs(amount))
                continue
            ledger.transition(doc, CONFIRMED, "confirmed",
                              f"Seen in SYSPRO AP (journal {getattr(record, 'journal', '') or doc.journal})",
                              actor=ctx.actor, confirmed_at=utcnow(),
                              syspro_amount=abs(amount) if amount is not None else doc.amount)
            summary.confirmed += 1


def write_back(ctx: SyncContext, summary: CycleSummary) -> None:
    """Tell ServiceTitan the invoice is in SYSPRO (markasexported), once all its documents are."""
    if not ctx.settings["sync.write_back"]:
        return
    candidates = ApDocument.select(ApDocument.st_invoice_id).where(
        ApDocument.state.in_([POSTED, CONFIRMED]), ApDocument.write_back.in_(["PENDING", "FAILED"])).distinct()
    entries, docs_by_invoice = [], {}
    candidate_ids = [st_id for (st_id,) in candidates.tuples()]
    for start in range(0, len(candidate_ids), PAGE_QUERY_IDS):
        chunk_ids = candidate_ids[start:start + PAGE_QUERY_IDS]
        # the few columns the decision needs, for a page of invoices in one query
        rows: dict[int, list[tuple]] = {}
        for row in (ApDocument.select(ApDocument.id, ApDocument.st_invoice_id, ApDocument.state, ApDocument.supplier,
                                      ApDocument.syspro_invoice, ApDocument.journal)
                    .where(ApDocument.st_invoice_id.in_(chunk_ids)).order_by(ApDocument.id).tuples()):
            rows.setdefault(row[1], []).append(row)
        for st_id in chunk_ids:
            active = [row for row in rows.get(st_id, []) if row[2] != SKIPPED]
            if any(state not in (POSTED, CONFIRMED) for _, _, state, _, _, _ in active):
                continue  # part of the invoice is still on its way
            reference = "; ".join(f"{supplier}/{invoice} J{journal}"
                                  for _, _, _, supplier, invoice, journal in active)[:100]
            entries.append((st_id, reference, "Posted to SYSPRO AP by ml-connector"))
            docs_by_invoice[st_id] = [row[0] for row in active]
    for start in range(0, len(entries), 200):
        chunk = entries[start:start + 200]
        try:
            results = ctx.st.mark_invoices_exported(chunk)
        except (OutcomeUnknown, ConnectError) as exc:
            summary.problems.append(f"Write-back to ServiceTitan will be retried: {exc}")
            return
        outcome = {int(r.invoice_id): r for r in results}
        docs = {doc.id: doc for doc in ApDocument.select(
            ApDocument.id, ApDocument.doc_key, ApDocument.write_back).where(
            ApDocument.id.in_([doc_id for st_id, _, _ in chunk for doc_id in docs_by_invoice[st_id]]))}
        with database.atomic():
            for st_id, reference, _ in chunk:
                result = outcome.get(st_id)
                ok = bool(result and result.success)
                for doc in (docs[doc_id] for doc_id in docs_by_invoice[st_id]):
                    ledger.save_changes(doc, write_back="DONE" if ok else "FAILED")
                    ledger.record(doc, "write_back", f"Marked as exported in ServiceTitan ({reference})" if ok
                                  else f"ServiceTitan refused mark-as-exported: {getattr(result, 'error_message', '')}",
                                  actor=ctx.actor)
                summary.written_back += ok


# ---------------------------------------------------------------------------- the cycle
def run_cycle(ctx: SyncContext) -> CycleSummary:
    summary = CycleSummary()
    if not ctx.dry_run:
        recovered = recover_interrupted()
        if recovered:
            log.warning("%d document(s) were interrupted while posting; SYSPRO will be checked", recovered)
    evaluator = Evaluator(ctx)
    if not ctx.dry_run:
        apply_scope_change(ctx, evaluator)
    stuck: FeedNotAdvancing | None = None
    try:
        seen = discover(ctx, evaluator, summary)
    except FeedNotAdvancing as exc:
        if ctx.dry_run:
            raise
        # what the feed gave is stored; the documents already READY need no feed to be posted
        stuck, seen = exc, set()
        log.error("%s", exc)
    if ctx.dry_run:
        validate_ready(ctx, summary)
        return summary
    reevaluate_waiting(ctx, evaluator, seen)
    post_ready(ctx, summary)
    confirm_posted(ctx, summary)
    write_back(ctx, summary)
    if stuck is not None:
        raise stuck  # the flow is recorded as failed, with the feed named
    states = Counter(state for (state,) in ApDocument.select(ApDocument.state).tuples())
    summary.needs_mapping = states.get(NEEDS_MAPPING, 0)
    summary.skipped = states.get(SKIPPED, 0)
    summary.failed = states.get(FAILED, 0)
    summary.in_doubt = states.get(IN_DOUBT, 0)
    summary.unreadable += states.get(UNREADABLE, 0)
    log.info("Cycle done: %d posted, %d confirmed, %d need mapping, %d failed, %d in doubt",
             summary.posted, summary.confirmed, summary.needs_mapping, summary.failed, summary.in_doubt)
    return summary


def replay(ctx: SyncContext, ids: list[int] | None = None, *, all_failed: bool = False) -> CycleSummary:
    """Retry: re-map with current mappings, then post (the GUI's Retry button calls this too). It
    posts with the cycle's operator, so it holds the cycle lock like a cycle."""
    from desktop_app.core import cycle_lock

    dates.require_start_date(ctx.settings)  # what is the connector's to post depends on it, as in a cycle
    with cycle_lock.held(purpose="a Retry"):
        return _replay(ctx, ids, all_failed=all_failed)


def _replay(ctx: SyncContext, ids: list[int] | None, *, all_failed: bool) -> CycleSummary:
    summary = CycleSummary()
    query = ApDocument.select()
    if all_failed:
        query = query.where(ApDocument.state.in_([FAILED, IN_DOUBT, UNREADABLE]))
    else:
        query = query.where(ApDocument.id.in_(ids or []))
    docs = list(query)
    evaluator = Evaluator(ctx)
    targets: set[int] = set()
    unreadable = [doc for doc in docs if doc.state == UNREADABLE]
    for doc in unreadable:
        protocol.request_retry(ledger.LEDGER, doc, actor=ctx.actor, unreadable=True)
    read_again(ctx, evaluator, [doc.st_invoice_id for doc in unreadable], summary)
    for doc in unreadable:
        targets.update(d.id for d in ApDocument.select().where(ApDocument.st_invoice_id == doc.st_invoice_id))
    for doc in docs:
        if doc.state == UNREADABLE:
            continue
        # the evaluation below reopens what a Retry reopens, with current mappings
        protocol.request_retry(ledger.LEDGER, doc, actor=ctx.actor)
        if doc.state in (FAILED, NEEDS_MAPPING, SKIPPED, READY, WAITING_FOR_ORIGINAL, HELD):
            source = SourceInvoice.get_or_none(SourceInvoice.st_invoice_id == doc.st_invoice_id)
            if source is not None:
                with database.atomic():
                    evaluator.evaluate(source.payload, retry=True)
            targets.update(d.id for d in ApDocument.select().where(ApDocument.st_invoice_id == doc.st_invoice_id))
        elif doc.state == IN_DOUBT:
            targets.add(doc.id)
    post_ready(ctx, summary, only=sorted(targets))
    write_back(ctx, summary)
    summary.failed = ApDocument.select().where(ApDocument.id.in_(sorted(targets)), ApDocument.state == FAILED).count()
    summary.needs_mapping = ApDocument.select().where(ApDocument.id.in_(sorted(targets)),
                                                      ApDocument.state == NEEDS_MAPPING).count()
    summary.unreadable = ApDocument.select().where(ApDocument.id.in_(sorted(targets)),
                                                   ApDocument.state == UNREADABLE).count()
    return summary


def skip(doc_id: int, reason: str, *, actor: str) -> ApDocument:
    doc = ApDocument.get_by_id(doc_id)
    return ledger.transition(doc, SKIPPED, "skipped", f"Skipped by {actor}: {reason}", actor=actor,
                             reason=f"{USER_SKIP_PREFIX}{actor}: {reason}")


CREDIT_PICKABLE = frozenset({HELD, WAITING_FOR_ORIGINAL, FAILED, READY, SKIPPED})


def pick_credit_target(doc_id: int, invoice: str, *, actor: str) -> ApDocument:
    """A person names the SYSPRO invoice (of the document's supplier) a credit note applies to.

    The pick is theirs: kept on the document (`credit_against`), used by every later evaluation,
    and written to the audit trail. SYSPRO checks that the invoice exists when the credit is posted."""
    doc = ApDocument.get_or_none(ApDocument.id == doc_id)
    if doc is None:
        raise ValueError(f"There is no AP document {doc_id}.")
    invoice = " ".join(str(invoice or "").split())
    if doc.transaction_code != "C":
        raise ValueError(f"Document {doc_id} is an invoice, not a credit note: only a credit note is applied to "
                         "another SYSPRO invoice.")
    if doc.state not in CREDIT_PICKABLE:
        raise ValueError(f"Document {doc_id} is {doc.state}: SYSPRO may hold it already, so the invoice it "
                         "credits can no longer be changed.")
    if not invoice:
        raise ValueError("Give the SYSPRO invoice number to credit.")
    if len(invoice) > INVOICE_NUMBER_MAX:
        raise ValueError(f"{invoice!r} is longer than {INVOICE_NUMBER_MAX} characters: it cannot be a SYSPRO "
                         "invoice number.")
    return ledger.transition(doc, READY, "credit_target_picked",
                             f"{actor} chose to apply this credit note to SYSPRO invoice {invoice} of supplier "
                             f"{doc.supplier}", actor=actor, data={"invoice": invoice, "was": doc.syspro_invoice},
                             syspro_invoice=invoice, credit_against=invoice, reason="")


def accept_change(doc_id: int, *, actor: str) -> ApDocument:
    """A person decided a CHANGED_IN_SOURCE document stays as posted."""
    doc = ApDocument.get_by_id(doc_id)
    back = CONFIRMED if doc.confirmed_at else POSTED
    return ledger.transition(doc, back, "change_accepted", f"{actor} kept the posted document as it is",
                             actor=actor, reason="")
