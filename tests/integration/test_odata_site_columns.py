"""A SYSPRO OData service that lacks columns: optional ones read as empty, a required one is named,
and the flows that do not need it still run (CLI `sync`, `test-connection`, `status`)."""
from __future__ import annotations

import json

import pytest

from desktop_app.cli import main
from desktop_app.core.errors import EXIT_USAGE
from desktop_app.core.models import ApDocument, JobRun
from desktop_app.sync import ledger
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import CONFIGURATION, FLOWS, run_cycle
from desktop_app.sync.jobs import recorded_run
from tests.integration.test_invoice_sync import assert_exactly_once

OPTIONAL_MISSING = {"syspro_options": {"odata_drop": "ApSupplier.Email,ApInvoice.Notation,PorMasterDetail.MStockDes"}}
INVOICE_MISSING = {"syspro_options": {"odata_drop": "ApInvoice.Invoice,ApSupplier.Email"}}
SUPPLIER_NAME_MISSING = {"syspro_options": {"odata_drop": "ApSupplier.SupplierName"}}


def cycle():
    ctx = SyncContext.from_database(actor="scheduler")
    try:
        with recorded_run("cycle", "scheduler") as record:
            result = record.result = run_cycle(ctx)
    finally:
        ctx.close()
    return result


def odata_reads(box, entity: str) -> list[dict]:
    return [params for _m, path, params, _s in box.syspro.request_log if path.endswith(f"/{entity}")]


@pytest.mark.parametrize("sandbox", [OPTIONAL_MISSING], indirect=True)
def test_a_site_lacking_optional_columns_still_syncs_every_flow(sandbox):
    result = cycle()
    assert not result.errors, result.errors
    assert set(result) == set(FLOWS)
    assert result["invoices"].posted > 5
    assert ledger.counts()[ledger.CONFIRMED] == result["invoices"].posted  # the read-back ran
    assert_exactly_once(sandbox)
    # nothing was asked for that the site does not have (it would have answered 400)
    assert all(status < 400 for _m, path, _p, status in sandbox.syspro.request_log if "/SYSPROOData/" in path)
    selects = [p.get("$select", "") for p in odata_reads(sandbox, "ApSupplier")]
    assert selects and all("Email" not in s.split(",") for s in selects)
    # a second cycle finds nothing changed: a column read as empty is not taken for an edit
    second = cycle()
    assert not second.errors and second["vendors"].to_servicetitan == second["vendors"].to_syspro == 0


@pytest.mark.parametrize("sandbox", [INVOICE_MISSING], indirect=True)
def test_a_missing_required_column_fails_only_the_flow_that_needs_it(sandbox, capsys):
    assert main(["test-connection", "--syspro"]) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "OData: ApInvoice lacks required column Invoice: the invoice read-back cannot run" in out
    assert "OData: ApSupplier lacks optional column Email (read as empty)" in out

    assert main(["sync", "--once"]) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "invoices: FAILED — SYSPRO OData: ApInvoice lacks required column Invoice" in out
    lines = out.splitlines()
    for flow in ("vendors", "purchase-orders", "adjustments"):  # ran, and said what they did
        (line,) = [line for line in lines if line.startswith(f"{flow}: ")]
        assert "FAILED" not in line
    run = JobRun.select().where(JobRun.kind == "cycle").get()
    assert run.state == "completed"
    assert set(run.summary["errors"]) == {"invoices"} and run.summary["error_kinds"] == {"invoices": CONFIGURATION}
    # the invoices were posted (e.net); only their read-back could not run, and nothing went twice
    assert ApDocument.select().where(ApDocument.state == ledger.POSTED).count() > 5
    # credits are read back from the invoice transactions (ApInvoicePay), which the site has whole
    assert not ApDocument.select().where(ApDocument.state == ledger.CONFIRMED,
                                         ApDocument.transaction_code != "C").exists()
    assert_exactly_once(sandbox)

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert "ApInvoice lacks required column Invoice" in status["last_cycle"]["failed_flows"]["invoices"]
    assert main(["status"]) == 0
    assert "invoices: FAILED — SYSPRO OData: ApInvoice lacks required column Invoice" in capsys.readouterr().out


@pytest.mark.parametrize("sandbox", [SUPPLIER_NAME_MISSING], indirect=True)
def test_vendors_failing_on_a_column_does_not_stop_invoices_from_posting(sandbox):
    result = cycle()
    assert set(result.errors) == {"vendors"}
    assert "ApSupplier lacks required column SupplierName: the vendor sync cannot run" in result.errors["vendors"]
    assert result.exit_code() == EXIT_USAGE
    assert result["invoices"].posted > 5 and result["invoices"].confirmed > 5
    assert {"purchase-orders", "adjustments"} <= set(result)
    assert_exactly_once(sandbox)
