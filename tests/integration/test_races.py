"""Exactly once under races: a person's Skip, an evicted session, a taken invoice number."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

from desktop_app.core.db import ApDocument
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
                          timeout=120, env=dict(os.environ))


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
