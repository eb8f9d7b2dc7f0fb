"""The go-live rehearsal and the posting gate against the running simulators: what the rehearsal
lists is what SYSPRO then receives, and a rehearsal changes nothing anywhere."""
from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from desktop_app.core import config
from desktop_app.core.models import ApDocument, AuditEvent, JobRun, SourceInvoice, SyncCursor, SyncLink
from desktop_app.core.models import Rehearsal as RehearsalRow
from desktop_app.sync import ledger, records, rehearsal
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle


def _run(func, actor="scheduler"):
    ctx = SyncContext.from_database(actor=actor)
    try:
        return func(ctx)
    finally:
        ctx.close()


def _rehearse():
    return _run(rehearsal.run_rehearsal, actor="test")


def _ledger_state():
    return {"documents": ApDocument.select().count(), "links": SyncLink.select().count(),
            "sources": SourceInvoice.select().count(), "audit": AuditEvent.select().count(),
            "cursors": sorted((c.name, c.value) for c in SyncCursor.select())}


def _systems_state(box):
    syspro, st = box.company.syspro, box.company.st
    return {"syspro": syspro.counts(), "ap": len(syspro.ap_invoices), "pays": len(syspro.ap_invoice_pays),
            "suppliers": sorted(syspro.suppliers), "vendors": sorted(st.vendors),
            "st_writes": [r for r in box.st.request_log
                          if r["method"] not in ("GET", "HEAD") and not r["path"].endswith("/token")]}


def test_a_rehearsal_writes_nothing_anywhere_but_itself(sandbox):
    ledger_before, systems_before = _ledger_state(), _systems_state(sandbox)
    first = _rehearse()
    assert first.documents and first.creations and first.needs_mapping
    assert _ledger_state() == ledger_before and _systems_state(sandbox) == systems_before
    # the only row it adds is itself; a second one does not move anything either (no cursor was stored)
    assert RehearsalRow.select().count() == 1 and rehearsal.latest().id == first.id
    second = _rehearse()
    assert [(d.key, d.amount) for d in second.documents] == [(d.key, d.amount) for d in first.documents]
    assert _ledger_state() == ledger_before and _systems_state(sandbox) == systems_before
    for _ in range(rehearsal.KEEP):
        _rehearse()
    assert RehearsalRow.select().count() == rehearsal.KEEP


def test_start_posting_then_the_next_cycle_posts_exactly_what_the_rehearsal_listed(sandbox):
    config.save_setting("sync.posting", "off", actor="test")
    seen = _rehearse()
    would_post = {d.key: d.amount for d in seen.would_post()}
    assert len(would_post) > 20 and seen.total_amount() == sum(would_post.values())
    # gate off: the scheduler's job rehearses, nothing reaches SYSPRO
    result = _run(rehearsal.cycle_or_rehearsal)
    assert isinstance(result, rehearsal.Rehearsal) and sandbox.company.syspro.ap_invoices == []
    assert ApDocument.select().count() == 0
    rehearsal.start_posting(seen, actor="test")
    assert rehearsal.posting_enabled()
    (started,) = AuditEvent.select().where(AuditEvent.kind == "posting_started")
    assert f"{len(would_post)} documents totalling {seen.total_amount()}" in started.message
    assert _run(rehearsal.cycle_or_rehearsal).errors == {}
    posted = {d.doc_key: d.amount for d in ApDocument.select()
              .where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED]))}
    assert posted == would_post
    # credits whose original goes in the same cycle were listed as waiting for it, and followed it
    following = [d for d in seen.would_post() if d.transaction_code == "C" and d.note]
    assert following and all(d.note.startswith("Waits for its original") for d in following)
    # the totals are SYSPRO's own: per supplier, what its AP now holds from these documents
    in_syspro: dict[str, Decimal] = defaultdict(Decimal)
    for row in sandbox.company.syspro.ap_invoices:
        in_syspro[row["Supplier"]] += Decimal(str(row["OrigInvValue"]))
    credits = Counter()
    for doc in seen.would_post():
        if doc.transaction_code == "C":
            credits[doc.supplier] += 1
            in_syspro[doc.supplier] += doc.amount  # applied to its invoice: not a row of its own
    by_supplier = {t.name: t.amount for t in seen.by_supplier()}
    assert by_supplier == {supplier: amount for supplier, amount in in_syspro.items() if amount or supplier in
                           by_supplier}
    by_branch = Counter()
    for doc in ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])):
        by_branch[doc.branch] += 1
    assert {t.name: t.documents for t in seen.by_branch()} == dict(by_branch)


def test_a_supplier_on_hold_is_one_rejection_with_its_fix(sandbox):
    baseline = _rehearse()
    supplier = max(baseline.by_supplier(), key=lambda t: t.documents).name
    sandbox.company.syspro.suppliers[supplier]["OnHold"] = "Y"
    seen = _rehearse()
    held = {d.key for d in seen.documents if d.supplier == supplier}
    (group,) = [g for g in seen.rejections if g.reason == "Supplier is on hold"]
    assert set(group.documents) == held and len(held) > 1
    assert supplier in group.fix and "off hold" in group.fix
    assert {t.name for t in seen.by_supplier()} == {t.name for t in baseline.by_supplier()} - {supplier}
    assert seen.total_amount() == baseline.total_amount() - sum(d.amount for d in baseline.documents
                                                                if d.supplier == supplier)


def test_a_closed_period_is_one_rejection_with_its_fix(sandbox):
    state = sandbox.company.syspro
    year, month = state.current_period
    state.current_period = (year + (month + 2) // 12, (month + 2) % 12 + 1)  # three months on
    seen = _rehearse()
    assert seen.documents and not seen.would_post() and seen.total_amount() == 0
    (group,) = [g for g in seen.rejections if g.reason == "Posting period is closed"]
    assert set(group.documents) == {d.key for d in seen.documents if d.transaction_code == "I"}
    assert "Open the period in SYSPRO" in group.fix


def test_known_answers_group_by_reason_naming_what_to_fix():
    def doc(key, *problems):
        return rehearsal.RehearsalDocument(key, 1, key, "S", "HOU", "I", Decimal("1.00"), None, problems)

    groups = rehearsal.group_rejections([
        doc("1:A", "Supplier: Supplier 'A' is on hold", "PostingPeriod: Posting period is closed"),
        doc("2:B", "Supplier: Supplier 'B' is on hold"),
        doc("3:C", "LedgerCode: Ledger code '4000-HOU' not found")])
    assert [(g.reason, g.documents) for g in groups] == [
        ("Supplier is on hold", ("1:A", "2:B")), ("GL code not found in SYSPRO", ("3:C",)),
        ("Posting period is closed", ("1:A",))]
    assert "A, B" in groups[0].fix and "4000-HOU" in groups[1].fix


def test_an_unknown_answer_is_grouped_by_its_own_text():
    doc = rehearsal.RehearsalDocument("1:A", 1, "1", "A", "HOU", "I", Decimal("1.00"), dt.date(2026, 1, 1),
                                      ("Whatever: Something SYSPRO says",))
    (group,) = rehearsal.group_rejections([doc])
    assert (group.reason, group.fix, group.documents) == ("Something SYSPRO says", rehearsal.SEE_MESSAGE, ("1:A",))


def test_mappings_needed_are_what_the_cycle_then_waits_for(sandbox):
    seen = _rehearse()
    _run(run_cycle)
    waiting: dict[tuple[str, str], set[int]] = defaultdict(set)
    for doc in ApDocument.select().where(ApDocument.state == ledger.NEEDS_MAPPING):
        for missing in doc.missing:
            waiting[(rehearsal.MAPPING_KINDS[missing["kind"]], str(missing["key"]))].add(doc.st_invoice_id)
    assert waiting
    assert {(n.kind, n.key): n.invoices for n in seen.needs_mapping} == {k: len(v) for k, v in waiting.items()}
    assert all(n.fix for n in seen.needs_mapping)
    # named as the office knows them: an item by its SKU code, a vendor by its name
    items = {n.value for n in seen.needs_mapping if n.kind == "item"}
    assert items and items == {m["sku_code"] for d in ApDocument.select() for m in d.missing if m["kind"] == "items"}


def test_creations_are_listed_with_whether_they_wait_for_approval(sandbox):
    seen = _rehearse()
    per_flow = Counter((c.system, c.flow) for c in seen.creations)
    assert per_flow[("SYSPRO", "purchase-orders")] > 2 and not any(c.waits_for_approval for c in seen.creations)
    config.save_setting("sync.max_auto_create", "2", actor="test")
    limited = _rehearse()
    waits = Counter(c.flow for c in limited.creations if c.waits_for_approval)
    assert waits["purchase-orders"] >= per_flow[("SYSPRO", "purchase-orders")]
    _run(run_cycle)
    # the cycle holds exactly those for approval
    held = Counter(link.flow for link in SyncLink.select().where(SyncLink.state == records.WAITING))
    assert held["purchase-orders"] == waits["purchase-orders"]
    assert held["adjustments"] == waits["adjustments"]


def test_export_csv_and_printable_summary(sandbox, tmp_path):
    sandbox.company.syspro.suppliers[next(iter(sandbox.company.syspro.suppliers))]["OnHold"] = "Y"
    seen = _rehearse()
    assert rehearsal.Rehearsal.from_dict(json.loads(json.dumps(seen.as_dict()))).as_dict() == seen.as_dict()
    path = tmp_path / "rehearsal.csv"
    seen.write_csv(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    keys = {row[0] for row in rows if row}
    assert {d.key for d in seen.documents} <= keys and "Totals by supplier" in keys
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    page = seen.printable_html()
    assert "Reviewed by" in page and "Date" in page and seen.company in page
    assert str(seen.total_amount()) in page and seen.rejections[0].fix.split(",")[0] in page


def test_cli_dry_run_text_and_json_status_and_posting_verbs(sandbox, capsys):
    from desktop_app.cli import main

    config.save_setting("sync.posting", "off", actor="test")
    assert main(["status"]) == 0
    assert "Posting: off — run a rehearsal and start posting" in capsys.readouterr().out
    assert main(["posting", "start"]) == 2  # nobody has seen a rehearsal
    assert "sync --once --dry-run" in capsys.readouterr().err
    assert main(["sync", "--once", "--dry-run"]) in (0, 1)
    text = capsys.readouterr().out
    seen = rehearsal.latest()
    assert text.strip() == seen.summary_text().strip()
    assert f"{len(seen.would_post())} documents totalling {seen.total_amount()} would post" in text
    assert main(["sync", "--once", "--dry-run", "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert data["would_post"] == len(seen.would_post()) and data["total_amount"] == str(seen.total_amount())
    runs = list(JobRun.select().where(JobRun.kind == "rehearsal"))
    assert len(runs) == 2 and runs[-1].summary["would_post"] == len(seen.would_post())
    assert sandbox.company.syspro.ap_invoices == [] and ApDocument.select().count() == 0
    assert main(["posting", "start"]) == 0
    assert f"{len(seen.would_post())} documents totalling {seen.total_amount()}" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["posting"]["on"] is True and status["posting"]["latest_rehearsal"]["would_post"] == len(
        seen.would_post())
    assert main(["posting", "stop"]) == 0
    capsys.readouterr()
    assert not rehearsal.posting_enabled()
    # a person's `sync --once` posts whatever the gate says
    assert main(["sync", "--once"]) in (0, 1)
    assert len(sandbox.company.syspro.ap_invoices) > 20


@pytest.mark.parametrize("sent", [False, True], ids=["new site", "live site"])
def test_the_wizard_leaves_posting_off_only_on_a_site_that_sent_nothing(sandbox, sent):
    if sent:
        _run(run_cycle)
    assert rehearsal.posting_after_setup() == ({} if sent else {"sync.posting": "off"})


def test_the_schedulers_job_rehearses_while_posting_is_off(sandbox):
    from desktop_app.sync.jobs import JobWorker
    from desktop_app.ui.sync_control import submit_cycle

    config.save_setting("sync.posting", "off", actor="test")
    worker = JobWorker()
    worker.start()
    try:
        result = submit_cycle(worker, "scheduler").future.result(timeout=300)
        assert isinstance(result, rehearsal.Rehearsal) and result.would_post()
        # recorded as a rehearsal: the dashboard's "last cycle" is not one that posted nothing
        assert [run.kind for run in JobRun.select()] == ["rehearsal"]
        assert sandbox.company.syspro.ap_invoices == [] and ApDocument.select().count() == 0
        rehearsal.start_posting(rehearsal.latest(), actor="test")
        submit_cycle(worker, "scheduler").future.result(timeout=300)
        assert {(r["Supplier"], r["Invoice"]) for r in sandbox.company.syspro.ap_invoices}
    finally:
        assert worker.stop(timeout=60)


def _apstin_calls(box) -> int:
    return sum(1 for _method, path, params, _status in box.syspro.request_log
               if path.lower().endswith("/transaction/post") and params.get("BusinessObject") == "APSTIN")


def test_a_rehearsal_validates_several_documents_per_call_each_answer_its_own(sandbox):
    config.save_setting("syspro.post_batch_size", "1", actor="test")
    before = _apstin_calls(sandbox)
    one_by_one = _rehearse()
    single_calls = _apstin_calls(sandbox) - before
    config.save_setting("syspro.post_batch_size", "25", actor="test")
    # a supplier on hold: its documents are rejected, the others in the same calls are not
    supplier = max(one_by_one.by_supplier(), key=lambda t: t.documents).name
    sandbox.company.syspro.suppliers[supplier]["OnHold"] = "Y"
    before = _apstin_calls(sandbox)
    packed = _rehearse()
    packed_calls = _apstin_calls(sandbox) - before
    assert single_calls >= 20 and packed_calls * 6 <= single_calls, (single_calls, packed_calls)
    rejected = {d.key for d in packed.documents if not d.ok}
    assert rejected == {d.key for d in packed.documents if d.supplier == supplier}
    assert {d.key for d in packed.would_post()} == {d.key for d in one_by_one.would_post() if d.supplier != supplier}
