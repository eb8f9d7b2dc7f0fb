"""A cycle with a plain http:// SYSPRO address on another machine does not send the passwords: it is a
configuration failure with the sentence that says what to do, and no logon is sent."""
from __future__ import annotations

from desktop_app.core import config
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import CONFIGURATION, CycleNotConfigured, run_cycle
from desktop_app.sync.jobs import recorded_run


def test_a_cycle_with_an_http_enet_elsewhere_fails_for_its_configuration(sandbox, go_live):
    config.save_setting("syspro.enet_url", "http://erp.invalid:20000/SYSPROWCFService/Rest", actor="test")
    ctx = SyncContext.from_database(actor="scheduler")
    try:
        # the flows that need e.net fail for their configuration; when none could run at all, the
        # cycle itself fails as one that is not configured
        with recorded_run("cycle", "scheduler") as record:
            result = record.result = run_cycle(ctx)
    except CycleNotConfigured as refused:
        result = refused.result
    finally:
        ctx.close()
    assert result.errors and CONFIGURATION in result.error_kinds.values()
    assert any("syspro.enet_url (http://erp.invalid:20000) is a plain http:// address" in message
               for message in result.errors.values()), result.errors
    assert result.exit_code() == 2
    # e.net was never asked (not even the simulator's own address); OData, on this machine, was
    assert not [entry for entry in sandbox.syspro.request_log if "SYSPROWCFService" in entry[1]]
