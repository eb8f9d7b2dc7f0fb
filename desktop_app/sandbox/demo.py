"""`ml-connector demo`: the whole product against the simulators, in its own data folder."""
from __future__ import annotations

import os
import sys

from desktop_app.core import paths
from desktop_app.core.errors import ConfigError

DEMO_HOME = "ml-connector-demo"
# SYSPRO suppliers the demo company has that ServiceTitan does not: more than sync.max_auto_create,
# so the first sync shows them waiting for approval instead of creating them all.
BACKLOG_SUPPLIERS = 25
BACKLOG_NAMES = ("Alamo", "Brazos", "Cedar", "Del Rio", "Eagle", "Frio", "Guadalupe", "Hill Country", "Ingram",
                 "Jasper", "Kerr", "Llano", "Medina", "Nueces", "Orange", "Pecos", "Quanah", "Red River", "Sabine",
                 "Trinity", "Uvalde", "Val Verde", "Wichita", "Yoakum", "Zavala")

# A real SYSPRO answers an e.net call in a few hundred milliseconds, longer for a larger document: the
# demo's simulator does the same, so what it shows (batched posting, progress) is what a site sees.
DEMO_SYSPRO_LATENCY = "syspro.latency_ms=250,syspro.latency_per_item_ms=10"


def prepare_demo_home() -> None:
    """Use a separate data folder so the demo can never touch a real profile's ledger or keyring."""
    from desktop_app.core import secrets

    if not os.environ.get(paths.ENV_HOME):
        os.environ[paths.ENV_HOME] = str(paths.default_data_dir().parent / DEMO_HOME)
    home = paths.data_dir()
    marker = home / secrets.DEMO_MARKER
    if paths.db_path().exists() and not marker.exists():
        raise ConfigError(f"The folder {home} holds a real ml-connector profile; the demo needs its own folder. "
                          f"Unset {paths.ENV_HOME} or point it at an empty folder.")
    marker.write_text("This data folder belongs to the ml-connector demo.\n", encoding="utf-8")
    # a fresh ledger each time: the simulators start from their seed again
    for suffix in ("", "-wal", "-shm"):
        target = paths.db_path().with_name(paths.db_path().name + suffix)
        if target.exists():
            target.unlink()


def run_demo(*, headless: bool, seed: int = 7, invoices: int = 120) -> int:
    from desktop_app.core import config, db, logs
    from desktop_app.sandbox.runner import Sandbox

    prepare_demo_home()
    logs.setup_logging(console=headless)
    db.open_database()
    sandbox = Sandbox(seed, invoices, faults=DEMO_SYSPRO_LATENCY, max_lifetime_s=None if not headless else 1800).start()
    try:
        sandbox.configure_profile()
        add_supplier_backlog(sandbox)
        if headless:
            return _one_cycle(sandbox)
        config.save_setting("sync.interval_minutes", "1", actor="demo")
        sandbox.keep_invoices_coming()
        from desktop_app.ui.app import run_gui

        return run_gui(minimized=False)
    finally:
        sandbox.stop()
        db.close_database()


def add_supplier_backlog(sandbox) -> None:
    """Suppliers of years past, with complete addresses: a real SYSPRO has many more than ServiceTitan."""
    for n, place in enumerate(BACKLOG_NAMES[:BACKLOG_SUPPLIERS]):
        code = "".join(place.upper().split())[:8] + "S"
        sandbox.company.syspro.add_supplier(code, SupplierName=f"{place} Supply", SupShortName=f"{place} Supply"[:20],
                                            Branch="DAL", TermsCode="30", SupAddr1=f"{100 + n} Commerce St",
                                            SupAddr2="Austin", SupAddr3="TX", SupAddr4="USA", SupPostalCode="78701")


def _one_cycle(sandbox) -> int:
    from desktop_app.sync import ledger, records
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle
    from desktop_app.sync.jobs import recorded_run

    ctx = SyncContext.from_database(actor="demo")
    try:
        with recorded_run("cycle", "demo") as record:
            result = record.result = run_cycle(ctx)
    finally:
        ctx.close()
    counts = ledger.counts()
    posted = counts[ledger.POSTED] + counts[ledger.CONFIRMED]
    print(f"Demo company: {len(sandbox.company.st.invoices)} ServiceTitan invoices "
          f"(data folder {paths.data_dir()})")
    print(f"AP documents posted to SYSPRO: {posted} (confirmed by read-back: {counts[ledger.CONFIRMED]})")
    print(f"Need mapping: {counts[ledger.NEEDS_MAPPING]}")
    print(f"Failed: {counts[ledger.FAILED]}   In doubt: {counts[ledger.IN_DOUBT]}   "
          f"Skipped (nothing owed): {counts[ledger.SKIPPED]}")
    for waiting in records.waiting_counts():
        print(f"{waiting['sentence']} (ml-connector records approve --flow {waiting['flow']} --all, or Create "
              "on its page)")
    for flow, message in result.errors.items():
        print(f"{flow}: could not run — {message}", file=sys.stderr)
    print("Open the app with 'ml-connector demo' to see every invoice, its audit trail and the mappings to add.")
    return 1 if result.errors else 0
