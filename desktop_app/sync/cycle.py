"""A sync cycle: every flow in turn (or one), each failure contained to its flow."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

import peewee as pw

from desktop_app.core import paths
from desktop_app.core.errors import ConnectError, ConnectorError
from desktop_app.sync import adjustments, dates, invoices, purchase_orders, vendors
from desktop_app.sync.context import Cancelled, SyncContext

log = logging.getLogger("desktop_app.sync")

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
    it, and ~100 imports in the middle of the first sync kept the GUI thread from the GIL for up to
    70 ms at a time."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)


class CycleResult(dict):
    """flow name → summary; `errors` names flows that could not run."""

    def __init__(self):
        super().__init__()
        self.errors: dict[str, str] = {}

    def as_dict(self) -> dict:
        out = {name: (summary.as_dict() if hasattr(summary, "as_dict") else summary) for name, summary in self.items()}
        if self.errors:
            out["errors"] = dict(self.errors)
        return out


def run_cycle(ctx: SyncContext, flow: str | None = None) -> CycleResult:
    dates.require_start_date(ctx.settings)  # CLI (exit 2), scheduler and Sync now alike: a failed cycle
    names = [flow] if flow else list(FLOWS)
    result = CycleResult()
    for name in names:
        ctx.check_cancelled()
        log.info("%s: %s cycle started (%s)", name, "dry-run" if ctx.dry_run else "sync", ctx.actor)
        try:
            result[name] = FLOWS[name](ctx)
        except Cancelled:
            raise
        except ConnectError as exc:
            # cannot reach a system: the other flows would fail the same way
            result.errors[name] = str(exc)
            log.error("%s: %s", name, exc)
            raise
        except pw.OperationalError as exc:
            result.errors[name] = database_problem(exc)
            log.error("%s: %s", name, result.errors[name])
        except ConnectorError as exc:
            # a problem the message already explains (a bad answer, a refusal): the trace is for debugging
            result.errors[name] = str(exc)
            log.error("%s: %s", name, exc)
            log.debug("%s flow stopped", name, exc_info=True)
        except Exception as exc:
            result.errors[name] = str(exc)
            log.exception("%s flow failed", name)
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
