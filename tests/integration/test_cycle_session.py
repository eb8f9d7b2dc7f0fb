"""One e.net session per cycle: every flow shares it, logged on once and logged off once."""
from __future__ import annotations

import pytest

from desktop_app.core.models import ApDocument
from desktop_app.sandbox.seed import advance
from desktop_app.sync import ledger
from desktop_app.sync.context import Cancelled, SyncContext
from desktop_app.sync.cycle import FLOWS, run_cycle
from tests.integration.test_invoice_sync import assert_exactly_once


def enet_calls(box, operation: str, since: int = 0) -> int:
    """Logon / Logoff requests the SYSPRO simulator received (its request log), after `since`."""
    return sum(1 for _method, path, _params, _status in box.syspro.request_log[since:]
               if path.rstrip("/").lower().endswith("/" + operation.lower()))


def test_a_full_cycle_of_every_flow_logs_on_once_and_off_once(sandbox):
    ctx = SyncContext.from_database(actor="scheduler")
    try:
        result = run_cycle(ctx)
        # logged off by the cycle itself, before the job's context is closed
        assert enet_calls(sandbox, "Logoff") == 1
    finally:
        ctx.close()
    assert not result.errors, result.errors
    assert set(result) == set(FLOWS)
    assert result["invoices"].posted > 5  # SYSPRO was written to ...
    used = {params.get("BusinessObject") for _m, path, params, _s in sandbox.syspro.request_log
            if "/Transaction/" in path or "/Setup/" in path or "/Query/" in path}
    assert {"APSTIN", "APSSSP", "PORTOI", "INVTMA"} <= used, used
    # ... by more than one flow, all on the one session
    assert enet_calls(sandbox, "Logon") == 1
    assert enet_calls(sandbox, "Logoff") == 1
    assert sandbox.syspro.open_sessions() == 0


def test_a_second_cycle_logs_on_again_and_off_again(sandbox):
    for number in (1, 2):
        if number == 2:
            advance(sandbox.company, 5)  # new invoices to post: the second cycle needs SYSPRO too
        ctx = SyncContext.from_database(actor="scheduler")
        try:
            run_cycle(ctx)
        finally:
            ctx.close()
        assert enet_calls(sandbox, "Logon") == number and enet_calls(sandbox, "Logoff") == number


def test_a_cancelled_cycle_still_logs_off(sandbox):
    ctx = SyncContext.from_database(actor="sync-now")

    def cancel_once_posting(done: int, total: int, message: str) -> None:
        if message.startswith("Posted"):
            ctx.cancel_event.set()

    ctx.progress_callback = cancel_once_posting
    try:
        with pytest.raises(Cancelled):
            run_cycle(ctx)
        assert enet_calls(sandbox, "Logon") == 1
        assert enet_calls(sandbox, "Logoff") == 1, "the cycle did not log off when it was stopped"
        assert sandbox.syspro.open_sessions() == 0
    finally:
        ctx.close()
    assert enet_calls(sandbox, "Logoff") == 1  # closing the context does not log off a second time
    assert ApDocument.select().where(ApDocument.state == ledger.POSTED).count() >= 1
    assert_exactly_once(sandbox)


def test_a_session_lost_mid_cycle_is_logged_on_again_and_nothing_is_sent_twice(sandbox):
    ctx = SyncContext.from_database(actor="scheduler")
    posted = []

    def lose_the_session_after_a_few_posts(done: int, total: int, message: str) -> None:
        if message.startswith("Posted"):
            posted.append(done)
            if len(posted) == 3:
                sandbox.syspro.set_faults({"session_expire": 1})

    ctx.progress_callback = lose_the_session_after_a_few_posts
    try:
        result = run_cycle(ctx)
    finally:
        ctx.close()
    assert not result.errors, result.errors
    assert len(posted) > 3
    assert enet_calls(sandbox, "Logon") == 2  # the first, and one after SYSPRO dropped it
    assert enet_calls(sandbox, "Logoff") == 1
    assert ledger.counts()[ledger.IN_DOUBT] == 0
    assert_exactly_once(sandbox)
