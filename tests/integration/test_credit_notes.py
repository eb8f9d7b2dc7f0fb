"""Returns and credits (ServiceTitan adjustment invoices) against a SYSPRO that enforces APSTIN rule 15:
a credit note (C) is applied to an invoice that must already exist for the supplier."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import pytest

from desktop_app.core import config
from desktop_app.core.models import ApDocument, database
from desktop_app.sync import invoices, ledger
from desktop_app.sync.build import is_credit_reference
from desktop_app.sync.reconcile import reconcile

from .test_invoice_sync import assert_exactly_once, cycle


def credits_in_syspro(box, doc):
    return [t for t in box.company.syspro.ap_invoice_pays
            if (t["Supplier"], t["Invoice"]) == (doc.supplier, doc.syspro_invoice)
            and is_credit_reference(t["Reference"], doc.st_invoice_id)]


def cost_items(invoice):
    return [i for i in invoice["items"] if i["type"] in ("Material", "Equipment") and i["cost"] and i["quantity"] > 0]


def add_return(box, original_id, keep=None, *, number=None, adjustment=True):
    return box.company.st.add_return(original_id, keep, number=number, adjustment=adjustment)


def supplier_of(box, item):
    from desktop_app.core.models import VendorMapping

    sku = box.company.st.sku(item["skuId"])
    vendor = (sku.get("primaryVendor") or {}).get("vendorId")
    row = VendorMapping.get_or_none(VendorMapping.st_vendor_id == vendor)
    return row.syspro_supplier if row else None


def test_a_month_of_returns_posts_every_credit_against_its_original(sandbox):
    cycle()
    posted = [d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                                     ApDocument.transaction_code == "I")
              if d.amount > 0 and d.st_invoice_number and not d.st_invoice_number.endswith("-R")]
    # returns against several originals, one of them twice (two credits against one invoice)
    originals = list({d.st_invoice_id: d for d in posted}.values())[:4]
    assert len(originals) == 4
    for doc in originals:
        add_return(sandbox, doc.st_invoice_id)
    add_return(sandbox, originals[0].st_invoice_id, number=f"{originals[0].st_invoice_number}-R2")
    cycle()
    cycle()

    credits = list(ApDocument.select().where(ApDocument.transaction_code == "C"))
    assert len(credits) >= 5
    state = sandbox.company.syspro
    assert not [row for row in state.ap_invoices if row["DocumentType"] != "I"], "a credit got a row of its own"
    applied = defaultdict(Decimal)
    for credit in credits:
        assert credit.state == ledger.CONFIRMED, (credit.state, credit.reason)
        original = ApDocument.get(ApDocument.st_invoice_id == credit.credit_of, ApDocument.supplier == credit.supplier,
                                  ApDocument.transaction_code == "I")
        assert credit.syspro_invoice == original.syspro_invoice != f"ST{credit.st_invoice_number}"
        (transaction,) = credits_in_syspro(sandbox, credit)
        assert transaction["TrnType"] == "C" and transaction["TrnValue"] == credit.amount < 0
        # AP staff can trace it: the adjustment's number and id
        assert credit.st_invoice_number in transaction["Reference"]
        assert str(credit.st_invoice_id) in transaction["Reference"]
        applied[(credit.supplier, credit.syspro_invoice)] += credit.amount
    for (supplier, invoice), total in applied.items():
        (row,) = state.find_invoices(supplier, invoice)
        assert row["MthInvBal1"] == row["OrigInvValue"] + total
    assert_exactly_once(sandbox)
    # a third cycle sends nothing again
    before = (len(state.ap_invoices), len(state.ap_invoice_pays))
    cycle()
    assert (len(state.ap_invoices), len(state.ap_invoice_pays)) == before


def test_the_seeded_company_has_returns_that_post_against_their_originals(sandbox):
    cycle()
    cycle()
    credits = list(ApDocument.select().where(ApDocument.transaction_code == "C", ApDocument.credit_of.is_null(False)))
    assert credits, "the demo company should include ServiceTitan returns"
    for credit in credits:
        if credit.state == ledger.CONFIRMED:
            assert credits_in_syspro(sandbox, credit)
        else:
            assert credit.state in (ledger.WAITING_FOR_ORIGINAL, ledger.HELD, ledger.NEEDS_MAPPING) and credit.reason
    assert any(credit.state == ledger.CONFIRMED for credit in credits)


def test_reconciliation_nets_credits_into_their_day_supplier_and_branch(sandbox):
    cycle()
    doc = next(d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                                      ApDocument.transaction_code == "I") if d.amount > 0)
    returned = add_return(sandbox, doc.st_invoice_id)
    cycle()
    cycle()
    credit = ApDocument.get(ApDocument.st_invoice_id == returned["id"], ApDocument.supplier == doc.supplier)
    assert credit.state == ledger.CONFIRMED and credit.syspro_amount == -credit.amount
    day_rows = [row for row in reconcile(credit.invoice_date)
                if (row.supplier, row.branch) == (credit.supplier, credit.branch)]
    (row,) = day_rows
    same_key = list(ApDocument.select().where(
        ApDocument.invoice_date == credit.invoice_date, ApDocument.supplier == credit.supplier,
        ApDocument.branch == credit.branch, ApDocument.state.not_in([ledger.SKIPPED, ledger.NEEDS_MAPPING])))
    assert row.st_cost == sum((d.amount for d in same_key), Decimal("0.00"))
    assert row.syspro_ap == row.st_cost and row.difference == 0  # the credit lowers both sides


def _unmapped_vendor_invoice(sandbox):
    """A NEEDS_MAPPING invoice blocked only by a vendor, with a cost item of a mapped supplier too."""
    for doc in ApDocument.select().where(ApDocument.state == ledger.NEEDS_MAPPING):
        if not doc.missing or any(m["kind"] != "vendors" for m in doc.missing):
            continue
        source = sandbox.company.st.invoices[doc.st_invoice_id]
        mapped = [i for i in cost_items(source) if supplier_of(sandbox, i)]
        if mapped:
            return doc, mapped[0]
    pytest.fail("the seeded company should have an invoice blocked by a vendor mapping only")


@pytest.mark.parametrize("sandbox", [{"invoices": 60}], indirect=True)
def test_a_credit_whose_original_is_pending_waits_then_posts_right_after_it(sandbox, tmp_path):
    from desktop_app.sync.mappings import import_csv

    cycle()
    blocked, item = _unmapped_vendor_invoice(sandbox)
    supplier = supplier_of(sandbox, item)
    returned = add_return(sandbox, blocked.st_invoice_id, keep=lambda i: i["id"] == item["id"])
    cycle()
    credit = ApDocument.get(ApDocument.st_invoice_id == returned["id"])
    assert (credit.state, credit.supplier, credit.transaction_code) == (ledger.WAITING_FOR_ORIGINAL, supplier, "C")
    assert "needs a mapping" in credit.reason
    assert not [t for t in sandbox.company.syspro.ap_invoice_pays if str(returned["id"]) in t["Reference"]]

    rows = [f"{m['key']},{supplier}" for m in blocked.missing]
    csv_file = tmp_path / "vendors.csv"
    csv_file.write_text("st_vendor_id,syspro_supplier\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import_csv("vendors", csv_file)
    cycle()  # the original posts, and its credit right after it in the same cycle
    original = ApDocument.get(ApDocument.st_invoice_id == blocked.st_invoice_id, ApDocument.supplier == supplier)
    credit = ApDocument.get_by_id(credit.id)
    assert original.state in (ledger.POSTED, ledger.CONFIRMED)
    assert credit.state in (ledger.POSTED, ledger.CONFIRMED) and credit.syspro_invoice == original.syspro_invoice
    kinds = [e.kind for e in ledger.trail(credit.id)]
    assert "waiting_for_original" in kinds and kinds.index("waiting_for_original") < kinds.index("post_attempt")
    assert original.posted_at <= credit.posted_at
    assert len(credits_in_syspro(sandbox, credit)) == 1
    assert_exactly_once(sandbox)


def _negative_invoice(sandbox):
    """A negative ServiceTitan invoice that is not an adjustment of another: a return with no original."""
    doc = next(d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                                      ApDocument.transaction_code == "I") if d.amount > 0)
    item = next(i for i in cost_items(sandbox.company.st.invoices[doc.st_invoice_id])
                if supplier_of(sandbox, i) == doc.supplier)
    returned = add_return(sandbox, doc.st_invoice_id, keep=lambda i: i["id"] == item["id"], adjustment=False,
                          number=f"NEG{doc.st_invoice_id}")
    return doc, returned


def test_a_credit_without_an_original_is_held_and_a_persons_pick_makes_it_post(sandbox):
    cycle()
    target, returned = _negative_invoice(sandbox)
    cycle()
    held = ApDocument.get(ApDocument.st_invoice_id == returned["id"])
    assert held.state == ledger.HELD and held.transaction_code == "C"
    assert "not an adjustment" in held.reason and "Pick the SYSPRO invoice" in held.reason
    assert not [t for t in sandbox.company.syspro.ap_invoice_pays if str(returned["id"]) in t["Reference"]]

    invoices.pick_credit_target(held.id, target.syspro_invoice, actor="alice")
    picked = ApDocument.get_by_id(held.id)
    assert (picked.state, picked.syspro_invoice, picked.credit_against) == (ledger.READY, target.syspro_invoice,
                                                                            target.syspro_invoice)
    event = ledger.trail(held.id)[-1]
    assert event.kind == "credit_target_picked" and event.actor == "alice" and target.syspro_invoice in event.message
    # the source is edited (a note), the pick is the person's: it survives the re-evaluation
    sandbox.company.st.edit_invoice(returned["id"], lambda inv: inv.update(summary="customer returned it"))
    cycle()
    posted = ApDocument.get_by_id(held.id)
    assert posted.state == ledger.CONFIRMED and posted.syspro_invoice == target.syspro_invoice
    assert len(credits_in_syspro(sandbox, posted)) == 1
    assert_exactly_once(sandbox)


def test_with_negative_invoice_setting_an_unmatched_credit_posts_as_a_negative_invoice(sandbox):
    config.save_setting("sync.unmatched_credits", "negative_invoice", actor="test")
    cycle()
    _, returned = _negative_invoice(sandbox)
    cycle()
    doc = ApDocument.get(ApDocument.st_invoice_id == returned["id"])
    assert doc.state == ledger.CONFIRMED and doc.transaction_code == "I" and doc.amount < 0
    assert doc.syspro_invoice == f"ST{returned['referenceNumber']}"
    (row,) = sandbox.company.syspro.find_invoices(doc.supplier, doc.syspro_invoice)
    assert row["DocumentType"] == "I" and row["OrigInvValue"] == doc.amount


def test_held_credits_post_as_negative_invoices_once_the_setting_says_so(sandbox):
    cycle()
    _, returned = _negative_invoice(sandbox)
    cycle()
    assert ApDocument.get(ApDocument.st_invoice_id == returned["id"]).state == ledger.HELD
    config.save_setting("sync.unmatched_credits", "negative_invoice", actor="test")
    cycle()
    doc = ApDocument.get(ApDocument.st_invoice_id == returned["id"])
    assert doc.state in (ledger.POSTED, ledger.CONFIRMED) and doc.transaction_code == "I"


def test_a_credit_interrupted_while_posting_is_looked_up_not_sent_twice(sandbox):
    cycle()
    doc = next(d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                                      ApDocument.transaction_code == "I") if d.amount > 0)
    returned = add_return(sandbox, doc.st_invoice_id)
    cycle()
    credit = ApDocument.get(ApDocument.st_invoice_id == returned["id"], ApDocument.supplier == doc.supplier)
    assert credit.state == ledger.CONFIRMED
    # a crash right after the request left: the row is still POSTING, SYSPRO has the credit
    ApDocument.update(state=ledger.POSTING).where(ApDocument.id == credit.id).execute()
    before = len(sandbox.company.syspro.ap_invoice_pays)
    cycle()
    settled = ApDocument.get_by_id(credit.id)
    assert settled.state in (ledger.POSTED, ledger.CONFIRMED)
    assert "found_in_syspro" in [e.kind for e in ledger.trail(credit.id)]
    assert len(sandbox.company.syspro.ap_invoice_pays) == before
    assert len(credits_in_syspro(sandbox, settled)) == 1


def test_a_credit_marked_posting_but_never_sent_is_posted_once_after_the_look_up(sandbox):
    cycle()
    doc = next(d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                                      ApDocument.transaction_code == "I") if d.amount > 0)
    returned = add_return(sandbox, doc.st_invoice_id)
    original_post = invoices.post_documents

    def crash_after_marking(ctx, session, docs, summary, done_one=None):
        if any(d.transaction_code == "C" for d in docs):
            with database.atomic():
                for d in docs:
                    ledger.transition(d, ledger.POSTING, "post_attempt", "marked", actor="test",
                                      attempts=d.attempts + 1)
            raise SystemExit("killed")  # the process dies before the request leaves
        return original_post(ctx, session, docs, summary, done_one)

    invoices.post_documents = crash_after_marking
    try:
        with pytest.raises(SystemExit):
            cycle()
    finally:
        invoices.post_documents = original_post
    credit = ApDocument.get(ApDocument.st_invoice_id == returned["id"], ApDocument.supplier == doc.supplier)
    assert credit.state == ledger.POSTING
    cycle()
    credit = ApDocument.get_by_id(credit.id)
    assert credit.state in (ledger.POSTED, ledger.CONFIRMED)
    kinds = [e.kind for e in ledger.trail(credit.id)]
    assert "interrupted" in kinds and "lookup" in kinds
    assert len(credits_in_syspro(sandbox, credit)) == 1


def run_cli(*args):
    """The real command line in its own process, on this test's data directory (the database only)."""
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_cli_lists_held_credits_and_applies_one_to_the_invoice_a_person_names(sandbox):
    cycle()
    target, returned = _negative_invoice(sandbox)
    cycle()
    listing = run_cli("invoices", "list", "--state", "held", "--json")
    assert listing.returncode == 0, listing.stderr
    (listed,) = [d for d in json.loads(listing.stdout) if d["st_invoice_id"] == returned["id"]]
    assert listed["type"] == "credit note" and "Pick the SYSPRO invoice" in listed["reason"]
    picked = run_cli("invoices", "credit", str(listed["id"]), "--against", "NOPE-1")
    assert picked.returncode == 0 and "READY" in picked.stdout, picked.stderr
    cycle()  # SYSPRO has no such invoice for the supplier: rejected, and the person can pick again
    failed = ApDocument.get_by_id(listed["id"])
    assert failed.state == ledger.FAILED and "not found" in failed.reason
    assert run_cli("invoices", "credit", str(listed["id"]), "--against", target.syspro_invoice).returncode == 0
    cycle()
    assert ApDocument.get_by_id(listed["id"]).state == ledger.CONFIRMED
    too_late = run_cli("invoices", "credit", str(listed["id"]), "--against", "X")
    assert too_late.returncode == 2 and "SYSPRO may hold it" in too_late.stderr


def test_cli_skips_a_held_credit_with_the_reason(sandbox):
    cycle()
    _, returned = _negative_invoice(sandbox)
    cycle()
    held = ApDocument.get(ApDocument.st_invoice_id == returned["id"])
    skipped = run_cli("invoices", "skip", str(held.id), "--reason", "credited by hand in SYSPRO")
    assert skipped.returncode == 0, skipped.stderr
    skipped = ApDocument.get_by_id(held.id)
    assert skipped.state == ledger.SKIPPED and "credited by hand" in skipped.reason
    cycle()
    assert ApDocument.get_by_id(held.id).state == ledger.SKIPPED


def test_a_credit_is_found_by_its_reference_over_odata_and_over_enet(sandbox):
    from desktop_app.sync.build import credit_reference_key
    from desktop_app.sync.context import SyncContext
    from desktop_app.syspro.odata import find_ap_credit

    cycle()
    doc = next(d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                                      ApDocument.transaction_code == "I") if d.amount > 0)
    returned = add_return(sandbox, doc.st_invoice_id)
    cycle()
    credit = ApDocument.get(ApDocument.st_invoice_id == returned["id"], ApDocument.supplier == doc.supplier)
    ctx = SyncContext.from_database(actor="test")
    try:
        with ctx.enet.session() as session:
            for odata, enet in ((ctx.odata, None), (None, session)):
                found = find_ap_credit(odata=odata, session=enet, supplier=credit.supplier,
                                       invoice=credit.syspro_invoice,
                                       reference_key=credit_reference_key(returned["id"]))
                assert found is not None and found.amount == credit.amount and found.trn_type == "C"
                assert find_ap_credit(odata=odata, session=enet, supplier=credit.supplier,
                                      invoice=credit.syspro_invoice, reference_key=credit_reference_key(1)) is None
    finally:
        ctx.close()
