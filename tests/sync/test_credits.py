"""Where a credit note goes: the SYSPRO invoice of its original, or what it waits for (APSTIN rule:
for C the invoice must already exist for the supplier)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from desktop_app.core import db, models
from desktop_app.sync import invoices, ledger
from desktop_app.sync.build import BuildResult, PlannedDocument, content_hash
from desktop_app.sync.invoices import credit_target


@pytest.fixture
def database():
    yield db.open_database()
    db.close_database()


def original(state, *, supplier="FERG01", number="ST1001", st_id=444, code="I"):
    return models.ApDocument.create(doc_key=f"{st_id}:{supplier}", st_invoice_id=st_id, st_invoice_number="1001",
                                state=state, supplier=supplier, syspro_invoice=number, transaction_code=code,
                                amount=Decimal("50.00"), reason="why" if state in ledger.ATTENTION else "")


def credit_plan(supplier="FERG01", credit_of=444):
    plan = PlannedDocument(supplier=supplier, transaction_code="C", syspro_invoice="ST1001-R", amount=Decimal("-12.00"),
                           invoice_date=dt.date(2026, 3, 9), branch="DAL", business_unit="Dallas HVAC",
                           technician="Jo", job_number="J-1", reference="ST credit id 555 inv 1001-R", notation="",
                           journal_notation="", lines=[], mapping_rows=[], credit_of=credit_of)
    plan.content_hash = content_hash(plan)
    return plan


def evaluate(plan, unmatched="hold"):
    source = {"id": 555, "referenceNumber": "1001-R", "modifiedOn": "2026-03-09T10:00:00Z"}
    invoices.evaluate_invoice(source, BuildResult(documents=[plan]), actor="test", unmatched_credits=unmatched)
    return models.ApDocument.get(models.ApDocument.doc_key == f"555:{plan.supplier}")


@pytest.mark.parametrize("state", [ledger.POSTED, ledger.CONFIRMED, ledger.CHANGED_IN_SOURCE])
def test_credit_of_a_posted_original_goes_against_its_syspro_invoice(database, state):
    original(state, number="ST-444")  # the renumbered form is the number SYSPRO knows
    assert credit_target("FERG01", 444, "1001-R") == invoices.CreditTarget(ledger.READY, "ST-444")


@pytest.mark.parametrize("state", [ledger.READY, ledger.POSTING, ledger.IN_DOUBT, ledger.FAILED])
def test_credit_of_an_original_on_its_way_waits_for_it(database, state):
    original(state)
    target = credit_target("FERG01", 444, "1001-R")
    assert (target.state, target.invoice) == (ledger.WAITING_FOR_ORIGINAL, "ST1001")
    assert "1001" in target.reason


def test_credit_of_an_original_that_needs_mapping_waits(database):
    models.ApDocument.create(doc_key="444:*", st_invoice_id=444, st_invoice_number="1001", state=ledger.NEEDS_MAPPING,
                         reason="Needs mapping: vendor")
    target = credit_target("FERG01", 444, "1001-R")
    assert target.state == ledger.WAITING_FOR_ORIGINAL and "needs a mapping" in target.reason


def test_credit_without_an_original_document_for_the_supplier_is_held_with_the_reason(database):
    original(ledger.CONFIRMED, supplier="JOHN01")
    target = credit_target("FERG01", 444, "1001-R")
    assert target.state == ledger.HELD and "no SYSPRO invoice for supplier FERG01" in target.reason
    assert credit_target("FERG01", 999, "1001-R").state == ledger.HELD  # original never seen
    assert "not an adjustment" in credit_target("FERG01", None, "77").reason


def test_a_credit_never_takes_the_original_as_its_own_number(database):
    original(ledger.CONFIRMED)
    doc = evaluate(credit_plan())
    assert (doc.state, doc.syspro_invoice, doc.transaction_code, doc.credit_of) == (ledger.READY, "ST1001", "C", 444)
    kinds = [e.kind for e in ledger.trail(doc.id)]
    assert "number_taken" not in kinds and "renumbered" not in " ".join(e.message for e in ledger.trail(doc.id))


def test_held_credit_then_a_persons_pick_survives_the_next_evaluation(database):
    doc = evaluate(credit_plan(credit_of=None))
    assert doc.state == ledger.HELD and doc.syspro_invoice == ""
    invoices.pick_credit_target(doc.id, " INV 7731 ", actor="alice")
    picked = models.ApDocument.get_by_id(doc.id)
    assert (picked.state, picked.syspro_invoice, picked.credit_against) == (ledger.READY, "INV 7731", "INV 7731")
    again = evaluate(credit_plan(credit_of=None))
    assert (again.state, again.syspro_invoice) == (ledger.READY, "INV 7731")


def test_pick_is_refused_for_an_invoice_or_a_document_syspro_may_hold(database):
    invoice = original(ledger.READY)
    with pytest.raises(ValueError, match="not a credit note"):
        invoices.pick_credit_target(invoice.id, "X1", actor="alice")
    credit = original(ledger.POSTED, st_id=555, code="C")
    with pytest.raises(ValueError, match="SYSPRO may hold it"):
        invoices.pick_credit_target(credit.id, "X1", actor="alice")
    held = evaluate(credit_plan(credit_of=None, supplier="JOHN01"))
    with pytest.raises(ValueError, match="Give the SYSPRO invoice"):
        invoices.pick_credit_target(held.id, "  ", actor="alice")


def test_unmatched_credit_becomes_a_negative_invoice_when_the_site_says_so(database):
    doc = evaluate(credit_plan(credit_of=None), unmatched="negative_invoice")
    assert (doc.state, doc.transaction_code, doc.syspro_invoice, doc.amount) == (ledger.READY, "I", "ST1001-R",
                                                                                Decimal("-12.00"))


def test_new_states_are_listed_and_held_needs_attention():
    assert {ledger.WAITING_FOR_ORIGINAL, ledger.HELD} <= set(ledger.STATES)
    assert ledger.HELD in ledger.ATTENTION
    assert ledger.READY in ledger.ALLOWED[ledger.WAITING_FOR_ORIGINAL] and ledger.SKIPPED in ledger.ALLOWED[ledger.HELD]
