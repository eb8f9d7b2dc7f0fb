"""A scheduled cycle with nothing new is cheap: counted by the simulators themselves.

At most 3 ServiceTitan requests (the three export feeds of what a person creates in ServiceTitan,
with the last cycle's token), at most 3 e.net calls (Logon, one read, Logoff), and no OData read of a
whole table: every OData request carries a $filter on a date column. What rarely changes is read
again once `sync.refresh_minutes` have passed, and Sync now reads everything at once.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from desktop_app.core.models import ApDocument, SyncCursor
from desktop_app.sandbox.seed import advance
from desktop_app.sync import freshness, ledger
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import FLOWS, run_cycle, run_scheduled_cycle
from tests.integration.test_invoice_sync import assert_exactly_once

DATE_COLUMNS = ("InvoiceDate", "PostDate", "TrnDate", "EntryDate", "OrderEntryDate", "OrderDueDate", "DueDate")


def scheduled(actor: str = "scheduler"):
    ctx = SyncContext.from_database(actor=actor)
    try:
        result = run_scheduled_cycle(ctx)
    finally:
        ctx.close()
    assert not result.errors, result.errors
    return result


def sync_now():
    ctx = SyncContext.from_database(actor="sync-now")
    try:
        result = run_cycle(ctx)
    finally:
        ctx.close()
    assert not result.errors, result.errors
    return result


class Requests:
    """What each simulator received from now on, by its own request log."""

    def __init__(self, box):
        self.box = box
        self.st_from = len(box.st.request_log)
        self.syspro_from = len(box.syspro.request_log)

    def servicetitan(self) -> list[str]:
        return [f"{e['method']} {e['path']}" for e in list(self.box.st.request_log)[self.st_from:]]

    def syspro(self) -> list[tuple[str, dict]]:
        return [(path, params) for _m, path, params, _s in self.box.syspro.request_log[self.syspro_from:]]

    def enet(self) -> list[str]:
        return [path for path, _params in self.syspro() if "/Rest/" in path]

    def odata(self) -> list[tuple[str, dict]]:
        return [(path, params) for path, params in self.syspro() if "/Rest/" not in path]


def date_filtered(params: dict) -> bool:
    text = params.get("$filter") or ""
    return any(re.search(rf"\b{column} (ge|gt|le|lt|eq) \d{{4}}-\d{{2}}-\d{{2}}", text) for column in DATE_COLUMNS)


def settle(box) -> None:
    """Cycles until one writes nothing anywhere (a create on one side comes back in the other's feed)."""
    for _ in range(4):
        requests = Requests(box)
        scheduled()
        if not [r for r in requests.servicetitan() if not r.startswith("GET")] and \
                not any("/Transaction/" in path or "/Setup/" in path for path, _ in requests.syspro()):
            return
    raise AssertionError("the sandbox company did not settle in four cycles")


def test_an_idle_scheduled_cycle_makes_at_most_three_requests_of_each_kind(sandbox, go_live):
    settle(sandbox)
    requests = Requests(sandbox)
    result = scheduled()
    assert set(result) == set(FLOWS)
    st = requests.servicetitan()
    assert len(st) <= 3, st
    assert not any("/connect/token" in r for r in st), "a new token was fetched although the last one is good"
    assert len(requests.enet()) <= 3, requests.enet()
    for path, params in requests.odata():
        assert date_filtered(params), f"OData read without a date filter: {path} {params}"
    # and a new invoice still reaches AP in the next scheduled cycle
    before = ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])).count()
    advance(sandbox.company, 6)
    requests = Requests(sandbox)
    scheduled()
    after = ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])).count()
    assert after > before
    assert any("/Transaction/Post" in path for path, _ in requests.syspro())
    assert_exactly_once(sandbox)


def test_what_rarely_changes_is_read_again_once_the_refresh_time_is_up(sandbox, go_live):
    settle(sandbox)
    sandbox.company.syspro.suppliers["FERGUS"].update(Email="ap@fergus.example")
    requests = Requests(sandbox)
    scheduled()
    assert not any(path.endswith("/ApSupplier") for path, _ in requests.odata())
    assert not any(r.endswith("/vendors") for r in requests.servicetitan())
    # the refresh time is up: the vendors are read in full again, and the change reaches ServiceTitan
    for row in SyncCursor.select().where(SyncCursor.name.startswith(freshness.PREFIX)):
        SyncCursor.update(updated_at=row.updated_at - dt.timedelta(minutes=16)).where(
            SyncCursor.name == row.name).execute()
    requests = Requests(sandbox)
    scheduled()
    assert any(path.endswith("/ApSupplier") for path, _ in requests.odata())
    assert any(vendor["contactInfo"]["email"] == "ap@fergus.example"
               for vendor in sandbox.company.st.vendors.values())


def test_sync_now_reads_everything_at_once(sandbox, go_live):
    settle(sandbox)
    requests = Requests(sandbox)
    sync_now()
    st = requests.servicetitan()
    assert any(r.endswith("/vendors") for r in st) and any(r.endswith("/technicians") for r in st)
    assert any(path.endswith("/ApSupplier") for path, _ in requests.odata())


def test_a_person_s_action_on_a_record_is_not_left_until_the_refresh_time(sandbox, go_live):
    settle(sandbox)
    assert not freshness.due(SyncContext.from_database(refresh_every=dt.timedelta(minutes=15)), "vendors")
    # anything recorded on a flow's record since its last full read (here: a record put back to
    # READY, as a Retry does) makes the next scheduled cycle run that flow in full
    from desktop_app.core.models import SyncLink
    from desktop_app.sync import records

    link = SyncLink.select().where(SyncLink.flow == "vendors", SyncLink.state == records.SYNCED).first()
    records.transition(link, records.READY, "retry", "Retry asked by a person", actor="test")
    requests = Requests(sandbox)
    scheduled()
    assert any(path.endswith("/ApSupplier") for path, _ in requests.odata())


@pytest.fixture
def cli_logging():
    """The CLI sets up the process's logging; later tests of this process expect it as it was."""
    from desktop_app.core import logs

    ours = logging.getLogger("desktop_app")
    level, handlers = ours.level, list(ours.handlers)
    yield
    logs.reset_logging()
    ours.setLevel(level)
    for handler in [h for h in ours.handlers if h not in handlers]:
        ours.removeHandler(handler)


def test_status_says_how_long_new_invoices_took_to_reach_ap(sandbox, go_live, capsys, cli_logging):
    import json

    from desktop_app.cli import main
    from desktop_app.sync import delay

    settle(sandbox)
    advance(sandbox.company, 6)  # created in ServiceTitan now
    scheduled()  # the next scheduled cycle posts them
    newest = delay.invoice_to_ap(last=4)
    assert newest is not None and newest.p95.total_seconds() < 60
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["invoice_to_ap"]["count"] > 0 and status["invoice_to_ap"]["sentence"].startswith("Invoice to AP:")
    assert main(["status"]) == 0
    assert delay.invoice_to_ap().sentence() in capsys.readouterr().out
