"""Exactly once under races: a person's Skip, an evicted session, a taken invoice number."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from desktop_app.core.models import ApDocument, AuditEvent
from desktop_app.sync import invoices, ledger
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle


def cycle(actor="scheduler", flow="invoices", **kwargs):
    ctx = SyncContext.from_database(actor=actor, **kwargs)
    try:
        return run_cycle(ctx, flow=flow)
    finally:
        ctx.close()


def posted_keys(box) -> Counter:
    return Counter((row["Supplier"], row["Invoice"]) for row in box.company.syspro.ap_invoices)


def cli(*args: str) -> subprocess.CompletedProcess:
    """The CLI in another process (its own database connection), as a person would run it."""
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ), check=False)


def test_a_skip_landing_while_the_engine_holds_the_page_wins(sandbox, monkeypatch):
    prepared = []
    plain = invoices._prepare

    def skip_the_next_one_meanwhile(ctx, session, doc, summary):
        if not prepared:
            # the engine has read this page of READY rows; a person skips a later one from the CLI
            later = (ApDocument.select().where(ApDocument.state == ledger.READY, ApDocument.id > doc.id,
                                               ApDocument.transaction_code == "I")
                     .order_by(ApDocument.id).first())
            assert later is not None
            done = cli("invoices", "skip", str(later.id), "--reason", "paid by cheque")
            assert done.returncode == 0, done.stderr
            prepared.append(later)
        return plain(ctx, session, doc, summary)

    monkeypatch.setattr(invoices, "_prepare", skip_the_next_one_meanwhile)
    cycle()
    (skipped,) = prepared
    after = ApDocument.get_by_id(skipped.id)
    assert after.state == ledger.SKIPPED and after.reason.endswith("paid by cheque")
    assert (skipped.supplier, skipped.syspro_invoice) not in posted_keys(sandbox)
    kinds = [event.kind for event in ledger.trail(skipped.id)]
    assert "post_attempt" not in kinds and kinds[-1] == "skipped"
    # everything else of the page went
    assert ledger.counts()[ledger.CONFIRMED] > 10


def _twin_of_an_older_waiting_invoice(box):
    """Make a waiting invoice (its ledger row older than a posted one's) a copy of the posted one,
    number and supplier included, as a hand-edited ServiceTitan invoice can be. The posted one's row
    is the younger, so "the earliest row keeps the number" alone would give the twin the same number."""
    waiting = (ApDocument.select().where(ApDocument.state == ledger.NEEDS_MAPPING).order_by(ApDocument.id).first())
    holder = (ApDocument.select().where(ApDocument.state == ledger.CONFIRMED, ApDocument.transaction_code == "I",
                                        ApDocument.id > waiting.id).order_by(ApDocument.id).first())
    assert waiting is not None and holder is not None
    st = box.company.st
    source = st.invoices[holder.st_invoice_id]
    items = [{**{k: v for k, v in item.items() if k != "id"}, "id": st.new_id()}
             for item in source["items"]]

    def copy(invoice):
        for key, value in source.items():
            if key not in ("id", "createdOn", "modifiedOn", "exportId", "items"):
                invoice[key] = value
        invoice["items"] = items

    st.edit_invoice(waiting.st_invoice_id, copy)
    return waiting.st_invoice_id, holder


def _posted_under_its_own_number(box, twin_id, holder):
    twin = ApDocument.get(ApDocument.st_invoice_id == twin_id, ApDocument.supplier == holder.supplier)
    if twin.state == ledger.FAILED:  # what a person does with a FAILED document: Retry
        ctx = SyncContext.from_database(actor="gui")
        try:
            invoices.replay(ctx, [twin.id])
        finally:
            ctx.close()
        twin = ApDocument.get_by_id(twin.id)
    assert twin.state in (ledger.POSTED, ledger.CONFIRMED), (twin.state, twin.reason)
    assert twin.syspro_invoice == invoices.alternate_invoice_number(twin_id) != holder.syspro_invoice
    keys = posted_keys(box)
    assert keys[(holder.supplier, holder.syspro_invoice)] == 1 and keys[(twin.supplier, twin.syspro_invoice)] == 1
    return twin


def test_a_twin_of_a_posted_invoice_gets_a_number_of_its_own(sandbox):
    cycle()
    twin_id, holder = _twin_of_an_older_waiting_invoice(sandbox)
    cycle()
    _posted_under_its_own_number(sandbox, twin_id, holder)
    assert ApDocument.get_by_id(holder.id).syspro_invoice == holder.syspro_invoice  # the holder keeps it


@pytest.mark.parametrize("holder_state", [ledger.IN_DOUBT, ledger.POSTING])
def test_a_holder_in_doubt_or_posting_counts_as_taken(sandbox, holder_state):
    cycle()
    twin_id, holder = _twin_of_an_older_waiting_invoice(sandbox)
    # the holder's post went out but its answer did not come back (or the app stopped mid-post)
    ApDocument.update(state=holder_state, confirmed_at=None).where(ApDocument.id == holder.id).execute()
    cycle()
    _posted_under_its_own_number(sandbox, twin_id, holder)
    assert ApDocument.get_by_id(holder.id).state in (ledger.POSTED, ledger.CONFIRMED)


@pytest.mark.parametrize("batch_size", ["1", "25"])
def test_a_session_evicted_between_mark_and_post_is_looked_up_before_it_is_sent_again(sandbox, monkeypatch,
                                                                                    batch_size):
    from desktop_app.core import config
    from desktop_app.syspro.enet import EnetClient

    config.save_setting("syspro.post_batch_size", batch_size, actor="test")
    c = sandbox.company.credentials
    evicted = []
    plain = invoices._send_and_record

    def evict_first(ctx, session, docs, params, xml_in, summary):
        if not evicted:
            # the same operator logs on elsewhere (a second copy, a person in SYSPRO): ours is evicted
            other = EnetClient(base_url=sandbox.syspro.enet_url, operator=c["syspro_operator"],
                               operator_password=c["syspro_operator_password"], company_id=c["syspro_company"],
                               company_password="", connect_timeout=5, read_timeout=5)
            with other.session():
                pass
            evicted.extend(doc.id for doc in docs)
        return plain(ctx, session, docs, params, xml_in, summary)

    monkeypatch.setattr(invoices, "_send_and_record", evict_first)
    cycle()
    assert len(evicted) == 1 if batch_size == "1" else 1 < len(evicted) <= 25
    for doc_id in evicted:  # every document of the call the session was evicted under
        doc = ApDocument.get_by_id(doc_id)
        assert doc.state == ledger.CONFIRMED, doc.reason
        kinds = [event.kind for event in ledger.trail(doc_id)]
        # e.net turned the post away; it was looked up on a fresh session, found missing, and sent once more
        tried = kinds[kinds.index("post_attempt"):kinds.index("posted")]
        assert tried[:4] == ["post_attempt", "session_lost", "lookup", "not_posted"]
        assert tried.count("post_attempt") == 2 and tried[-1] == "post_attempt"
    assert ledger.counts()[ledger.CONFIRMED] > 10 and ledger.counts()[ledger.IN_DOUBT] == 0
    assert all(count == 1 for count in posted_keys(sandbox).values())


def logons(box) -> int:
    return sum(1 for _method, path, _params, _status in box.syspro.request_log
               if path.rstrip("/").lower().endswith("/logon"))


def test_test_connection_during_a_cycle_refuses_instead_of_evicting_its_session(sandbox, monkeypatch):
    from desktop_app.core import config
    from desktop_app.sync.connection import test_syspro

    config.save_setting("syspro.test_connection_wait_s", "1", actor="test")
    answers = []
    plain = invoices._send_and_record

    def test_connection_meanwhile(ctx, session, docs, params, xml_in, summary):
        if not answers:
            before = logons(sandbox)
            answers.append((cli("test-connection", "--syspro"), logons(sandbox) - before))
        return plain(ctx, session, docs, params, xml_in, summary)

    monkeypatch.setattr(invoices, "_send_and_record", test_connection_meanwhile)
    cycle()
    ((done, its_logons),) = answers
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "A sync is still running" in done.stdout and "cannot start now" in done.stdout and "Try again" in done.stdout
    assert its_logons == 0  # it never logged on as the sync's operator
    # the cycle's session lived on: no post was turned away, nothing waits for a look-up
    assert not AuditEvent.select().where(AuditEvent.kind == "session_lost").exists()
    assert ledger.counts()[ledger.IN_DOUBT] == 0 and ledger.counts()[ledger.CONFIRMED] > 10
    # with no cycle running, the test logs on and passes
    assert test_syspro(config.load_settings()).ok


@pytest.mark.parametrize("scenario", ["evicted_mid_post_in", "concurrent_skip_in"])
def test_the_race_scenarios_of_the_reliability_report_lose_and_duplicate_nothing(sandbox, scenario):
    from tests.reliability import race_scenarios

    outcome = getattr(race_scenarios, scenario)(sandbox, cycles=2, arrivals=10)
    assert outcome.kills > 0, "the race never landed"
    assert outcome.ok, outcome
