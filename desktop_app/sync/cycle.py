"""A sync cycle: every flow in turn (or one), each failure contained to its flow, one e.net session."""
from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable

import peewee as pw

from desktop_app.core import cycle_lock, paths
from desktop_app.core.errors import EXIT_RECORDS_NEED_ATTENTION, EXIT_USAGE, ConfigError, ConnectError, ConnectorError
from desktop_app.servicetitan.errors import ServiceTitanAuthError, ServiceTitanUnavailable
from desktop_app.sync import adjustments, dates, invoices, purchase_orders, vendors
from desktop_app.sync.context import Cancelled, SyncContext

log = logging.getLogger("desktop_app.sync")

# How long a cycle waits for another process's cycle or connection test to end before it fails.

# vendors first: a supplier created this cycle can already carry a purchase order or an invoice
FLOWS: dict[str, Callable[[SyncContext], object]] = {
    "vendors": vendors.run_cycle,
    "invoices": invoices.run_cycle,
    "purchase-orders": purchase_orders.run_cycle,
    "adjustments": adjustments.run_cycle,
}


# What a cycle imports on first use: the HTTP clients and SYSPRO's business objects, with requests,
# urllib3 and the codecs they load (kept out of module level so that the CLI starts quickly).
ENGINE_MODULES = (
    "desktop_app.servicetitan.client", "desktop_app.servicetitan.resources", "desktop_app.sync.connection",
    "desktop_app.syspro.enet", "desktop_app.syspro.odata", "desktop_app.syspro.apstin",
    "desktop_app.syspro.queries", "desktop_app.syspro.errors", "_strptime", "encodings.cp1252", "encodings.idna",
)


def preload() -> None:
    """Import now what the first cycle would import. The GUI's worker calls this before its first
    job: once PySide6 is loaded, its import hook reads the source of every module imported after
    it, and that many imports in the middle of the first sync would keep the GUI thread from the GIL."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)


# why a flow could not run, as `CycleResult.error_kinds` records it
CONFIGURATION = "configuration"  # a setting, mapping or site layout to fix (ConfigError)
CONNECTION = "connection"  # a system could not be reached or refused the credentials (ConnectError)
OTHER = "other"


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, ConfigError):
        return CONFIGURATION
    if isinstance(exc, ConnectError):
        return CONNECTION
    return OTHER


class CycleResult(dict):
    """flow name → summary; `errors` names flows that could not run and why, `error_kinds` of what kind."""

    def __init__(self):
        super().__init__()
        self.errors: dict[str, str] = {}
        self.error_kinds: dict[str, str] = {}

    def fail(self, flow: str, message: str, kind: str) -> None:
        self.errors[flow] = message
        self.error_kinds[flow] = kind

    def exit_code(self) -> int | None:
        """2 when a flow could not run for its configuration, 1 when one failed otherwise, None when
        every flow ran (the ledger's counts then decide)."""
        if not self.errors:
            return None
        if CONFIGURATION in self.error_kinds.values():
            return EXIT_USAGE
        return EXIT_RECORDS_NEED_ATTENTION

    def as_dict(self) -> dict:
        out = {name: (summary.as_dict() if hasattr(summary, "as_dict") else summary) for name, summary in self.items()}
        if self.errors:
            out["errors"] = dict(self.errors)
            out["error_kinds"] = dict(self.error_kinds)
        return out


class CycleNotConfigured(ConfigError):
    """No flow of a cycle could run, and at least one for want of a setting: the cycle failed."""

    def __init__(self, result: CycleResult):
        self.result = result
        order = list(FLOWS)
        by_reason: dict[str, list[str]] = {}
        for name in sorted(result.errors, key=lambda f: (order.index(f) if f in order else len(order), f)):
            by_reason.setdefault(result.errors[name], []).append(name)
        reasons = "\n".join(f"  {', '.join(names)}: {reason.rstrip()}" for reason, names in by_reason.items())
        super().__init__(f"Nothing was synced: no flow could run.\n{reasons}")


def run_cycle(ctx: SyncContext, flow: str | None = None) -> CycleResult:
    """Every flow in turn; one that fails is recorded with its reason and the others still run.

    All flows share one e.net session, logged off at the end however the cycle ends. When no flow
    could run the cycle fails (it is recorded and shown as failed, not as completed): with
    CycleNotConfigured when a setting stopped one of them, else with the first connection error.
    """
    dates.require_start_date(ctx.settings)  # CLI (exit 2), scheduler and Sync now alike: a failed cycle

    def waiting(message: str) -> None:
        ctx.check_cancelled()
        ctx.progress(0, 0, message)

    # an engine whose app died may still be finishing its document: this cycle waits for it
    with cycle_lock.held(on_wait=waiting):
        return _run_flows(ctx, flow)


def run_scheduled_cycle(ctx: SyncContext) -> CycleResult:
    """A cycle the scheduler started: every flow, with what rarely changes read only when its time
    is up (`sync.refresh_minutes`, sync/freshness.py), so that a short interval stays cheap."""
    minutes = ctx.settings["sync.refresh_minutes"]
    ctx.refresh_every = dt.timedelta(minutes=minutes) if minutes else None
    return run_cycle(ctx)


def _run_flows(ctx: SyncContext, flow: str | None) -> CycleResult:
    names = [flow] if flow else list(FLOWS)
    result = CycleResult()
    first_connect_error: ConnectError | None = None
    try:
        for position, name in enumerate(names):
            ctx.check_cancelled()
            log.info("%s: %s cycle started (%s)", name, "dry-run" if ctx.dry_run else "sync", ctx.actor)
            try:
                result[name] = FLOWS[name](ctx)
            except Cancelled:
                raise
            except pw.OperationalError as exc:
                result.fail(name, database_problem(exc), OTHER)
                log.error("%s: %s", name, result.errors[name])
            except ConnectorError as exc:
                # a problem the message already explains (a bad answer, a refusal, a setting): the
                # trace is for debugging
                result.fail(name, str(exc), error_kind(exc))
                log.error("%s flow failed: %s", name, exc)
                log.debug("%s flow stopped", name, exc_info=True)
                if isinstance(exc, ConnectError) and first_connect_error is None:
                    first_connect_error = exc
                if isinstance(exc, (ServiceTitanUnavailable, ServiceTitanAuthError)):
                    # every flow starts by reading ServiceTitan: the others would wait out the same retries
                    for later in names[position + 1:]:
                        result.fail(later, f"Not run: {exc}", CONNECTION)
                    break
            except Exception as exc:
                result.fail(name, str(exc) or type(exc).__name__, OTHER)
                log.exception("%s flow failed", name)
    finally:
        ctx.end_enet_session()
    if not result and CONFIGURATION in result.error_kinds.values():
        raise CycleNotConfigured(result)
    if first_connect_error is not None and not result and set(result.error_kinds.values()) == {CONNECTION}:
        raise first_connect_error
    return result


def database_problem(exc: Exception) -> str:
    """The local database refused a write: say what it means for the books."""
    text = str(exc).lower()
    if "full" in text:
        return (f"The disk holding the data folder ({paths.data_dir()}) is full. The last step was rolled "
                "back and nothing was lost; free some space and the next cycle carries on.")
    if "locked" in text:
        return ("The database is locked by another program (a backup tool or a second copy of the app?). "
                "Nothing was lost; the next cycle will try again.")
    return f"The local database refused a change ({exc}). Nothing was lost; the next cycle will try again."
