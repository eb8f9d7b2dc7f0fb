"""run_cycle: a flow that fails is recorded with its reason and kind, the others still run, and the
cycle's one e.net session is logged off however it ends."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from desktop_app.core.config import Settings
from desktop_app.core.errors import EXIT_RECORDS_NEED_ATTENTION, EXIT_USAGE, ConfigError, ConnectError
from desktop_app.servicetitan.errors import ServiceTitanUnavailable
from desktop_app.sync import cycle
from desktop_app.sync.context import Cancelled, SyncContext
from desktop_app.syspro.errors import LogonFailed


class FakeEnet:
    """Counts logons and logoffs; the session is a plain object."""

    def __init__(self, refuse: bool = False):
        self.logons = self.logoffs = 0
        self.refuse = refuse

    @contextmanager
    def session(self):
        self.logons += 1
        if self.refuse:
            raise LogonFailed("SYSPRO refused the logon of operator 'X': Invalid operator password.")
        try:
            yield object()
        finally:
            self.logoffs += 1


@pytest.fixture
def enet():
    return FakeEnet()


@pytest.fixture
def ctx(enet):
    context = SyncContext(settings=Settings({"sync.start_date": "2026-01-01"}), enet_factory=lambda settings: enet)
    yield context
    context.close()


def flows(monkeypatch, **behaviour):
    """Replace the cycle's flows: each uses the e.net session, then returns or raises."""
    ran = []

    def make(name, outcome):
        def flow(ctx):
            ran.append(name)
            ctx.enet_session()
            if isinstance(outcome, BaseException):
                raise outcome
            return {"done": name}
        return flow

    monkeypatch.setattr(cycle, "FLOWS", {name.replace("_", "-"): make(name.replace("_", "-"), outcome)
                                         for name, outcome in behaviour.items()})
    return ran


def test_every_kind_of_failure_is_recorded_per_flow_and_the_others_run(monkeypatch, ctx, enet):
    ran = flows(monkeypatch, vendors=ConfigError("ApSupplier lacks required column SupplierName"),
                invoices="ok", purchase_orders=RuntimeError("a bug"), adjustments=ConnectError("OData timed out"))
    result = cycle.run_cycle(ctx)
    assert ran == ["vendors", "invoices", "purchase-orders", "adjustments"]
    assert dict(result) == {"invoices": {"done": "invoices"}}
    assert result.errors == {"vendors": "ApSupplier lacks required column SupplierName",
                             "purchase-orders": "a bug", "adjustments": "OData timed out"}
    assert result.error_kinds == {"vendors": cycle.CONFIGURATION, "purchase-orders": cycle.OTHER,
                                  "adjustments": cycle.CONNECTION}
    assert result.exit_code() == EXIT_USAGE
    assert result.as_dict()["error_kinds"]["vendors"] == "configuration"
    assert (enet.logons, enet.logoffs) == (1, 1), "one session for all flows, logged off by the cycle"


def test_failures_other_than_configuration_mean_records_need_attention(monkeypatch, ctx):
    flows(monkeypatch, vendors=RuntimeError("a bug"), invoices="ok")
    assert cycle.run_cycle(ctx).exit_code() == EXIT_RECORDS_NEED_ATTENTION
    flows(monkeypatch, vendors="ok", invoices="ok")
    assert cycle.run_cycle(ctx).exit_code() is None


def test_servicetitan_unreachable_stops_the_flows_that_would_wait_for_it(monkeypatch, ctx):
    ran = flows(monkeypatch, vendors="ok", invoices=ServiceTitanUnavailable("ServiceTitan could not be reached"),
                purchase_orders="ok")
    result = cycle.run_cycle(ctx)
    assert ran == ["vendors", "invoices"]
    assert result.errors["purchase-orders"] == "Not run: ServiceTitan could not be reached"


def test_a_cycle_where_every_flow_failed_to_connect_fails_as_a_whole(monkeypatch, ctx, enet):
    flows(monkeypatch, vendors=ConnectError("SYSPRO e.net could not be reached"),
          invoices=ConnectError("SYSPRO e.net could not be reached"))
    with pytest.raises(ConnectError, match="could not be reached"):
        cycle.run_cycle(ctx)
    assert enet.logons == enet.logoffs == 1


def test_a_refused_logon_is_not_tried_again_by_the_next_flow(monkeypatch):
    enet = FakeEnet(refuse=True)
    context = SyncContext(settings=Settings({"sync.start_date": "2026-01-01"}), enet_factory=lambda settings: enet)
    flows(monkeypatch, vendors="ok", invoices="ok")
    try:
        with pytest.raises(LogonFailed):
            cycle.run_cycle(context)
    finally:
        context.close()
    assert enet.logons == 1  # each try could count towards locking the operator out


def test_a_cancelled_cycle_logs_off(monkeypatch, ctx, enet):
    ran = flows(monkeypatch, vendors=Cancelled("stopped"), invoices="ok")
    with pytest.raises(Cancelled):
        cycle.run_cycle(ctx)
    assert ran == ["vendors"] and (enet.logons, enet.logoffs) == (1, 1)


def test_a_cycle_no_flow_of_which_could_run_for_its_settings_fails(monkeypatch, ctx):
    flows(monkeypatch, vendors=ConfigError("The SYSPRO e.net address (syspro.enet_url) is not set."),
          invoices=ConfigError("ServiceTitan is not fully set up."),
          purchase_orders=ConfigError("ServiceTitan is not fully set up."))
    with pytest.raises(cycle.CycleNotConfigured) as info:
        cycle.run_cycle(ctx)
    assert isinstance(info.value, ConfigError)  # the CLI exits 2
    message = str(info.value)
    assert "vendors: The SYSPRO e.net address (syspro.enet_url) is not set." in message
    assert "invoices, purchase-orders: ServiceTitan is not fully set up." in message
    assert info.value.result.error_kinds["vendors"] == cycle.CONFIGURATION


def test_one_flow_that_ran_keeps_the_cycle_completed(monkeypatch, ctx):
    flows(monkeypatch, vendors=ConfigError("syspro.enet_url is not set"), invoices="ok")
    result = cycle.run_cycle(ctx)
    assert result.exit_code() == EXIT_USAGE and set(result) == {"invoices"}
