"""Screenshots of every page with the demo company, for the README (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py [NAME …]

With names (e.g. `rehearsal dashboard-posting-off`), only those are saved. The go-live rehearsal
shots are taken at 1366×768, the smallest screen an office PC is likely to have.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
PAGES = ["dashboard", "invoices", "mappings", "vendors", "purchase_orders", "adjustments", "reconciliation",
         "log", "settings"]
SMALL_SCREEN = (1366, 768)
# the rehearsal as the demo shows it (posting on), its lower half, and what a newcomer sees after the
# wizard: the dashboard's banner and the page with the Start posting button
REHEARSAL_SHOTS = ["rehearsal", "rehearsal-details", "dashboard-posting-off", "rehearsal-posting-off"]


def main() -> int:
    os.environ.setdefault("ML_CONNECTOR_HOME", tempfile.mkdtemp(prefix="mlc-shots-"))
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop_app.core import db, logs
    from desktop_app.sandbox.demo import add_supplier_backlog, prepare_demo_gui, prepare_demo_home
    from desktop_app.sandbox.runner import Sandbox
    from desktop_app.sync import rehearsal
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle
    from desktop_app.ui.app import ConnectorApp, make_application

    prepare_demo_home()
    logs.setup_logging()
    db.open_database()
    box = Sandbox(seed=7, invoices=120, max_lifetime_s=600).start()
    box.configure_profile()
    add_supplier_backlog(box)
    box.company.syspro.suppliers["FERGUS"].update(OnHold="Y")  # so the rehearsal has a rejection to explain
    prepare_demo_gui()  # the demo's rehearsal, posting on: before the first cycle, as the demo does it
    box.syspro.set_faults({"reject_post": 2})  # two rejections, so Retry has something to do
    from desktop_app.sync.jobs import recorded_run

    ctx = SyncContext.from_database(actor="demo")
    try:
        with recorded_run("cycle", "demo") as record:
            record.result = run_cycle(ctx)
    finally:
        ctx.close()
    box.company.st.advance(4)

    app = make_application()
    services = ConnectorApp(app, lock=None)
    services.open()
    services.start(first_run_wizard=False)

    def settle(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    deadline = time.monotonic() + 20
    while services.window is None and time.monotonic() < deadline:
        settle(0.1)
    window = services.window
    window.resize(1440, 900)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = set(sys.argv[1:]) or set(PAGES) | set(REHEARSAL_SHOTS) | {"wizard"}

    def save(widget, name: str) -> None:
        widget.grab().save(str(OUT / f"{name}.png"))
        print("saved", OUT / f"{name}.png")

    for key in [page for page in PAGES if page in wanted]:
        page = window.show_page(key)
        if key == "invoices":
            settle(1.0)
            select = getattr(page, "select_document", None)
            failed = db.ApDocument.select().where(db.ApDocument.state == "FAILED").first()
            if select and failed:
                select(failed.id)
        settle(1.5)
        save(window, key)
    if wanted & set(REHEARSAL_SHOTS):
        window.resize(*SMALL_SCREEN)
        page = window.show_page("rehearsal")
        settle(1.5)
        holder = page.parentWidget().parentWidget()  # the window's scroll area around the page
        if "rehearsal" in wanted:
            save(window, "rehearsal")
        if "rehearsal-details" in wanted:
            holder.verticalScrollBar().setValue(page.rejections_box.y() - 8)
            settle(0.5)
            save(window, "rehearsal-details")
            holder.verticalScrollBar().setValue(0)
        rehearsal.stop_posting(actor="demo")
        window.bridge.dataChanged.emit("settings")
        if "dashboard-posting-off" in wanted:
            window.show_page("dashboard")
            settle(1.5)
            save(window, "dashboard-posting-off")
        if "rehearsal-posting-off" in wanted:
            window.show_page("rehearsal")
            settle(1.0)
            save(window, "rehearsal-posting-off")
        rehearsal.start_posting(rehearsal.latest(), actor="demo")
    if "wizard" in wanted:
        wizard = services.open_wizard()
        settle(1.0)
        save(wizard, "wizard")
        wizard.close()
    services.shutdown()
    box.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
