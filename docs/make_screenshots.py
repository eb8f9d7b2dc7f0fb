"""Screenshots of every page with the demo company, for the README (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py
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


def main() -> int:
    os.environ.setdefault("ML_CONNECTOR_HOME", tempfile.mkdtemp(prefix="mlc-shots-"))
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop_app.core import db, logs
    from desktop_app.sandbox.demo import prepare_demo_home
    from desktop_app.sandbox.runner import Sandbox
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle
    from desktop_app.ui.app import ConnectorApp, make_application

    prepare_demo_home()
    logs.setup_logging()
    db.open_database()
    box = Sandbox(seed=7, invoices=120, max_lifetime_s=600).start()
    box.configure_profile()
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
    for key in PAGES:
        page = window.show_page(key)
        if key == "invoices":
            settle(1.0)
            select = getattr(page, "select_document", None)
            failed = db.ApDocument.select().where(db.ApDocument.state == "FAILED").first()
            if select and failed:
                select(failed.id)
        settle(1.5)
        window.grab().save(str(OUT / f"{key}.png"))
        print("saved", OUT / f"{key}.png")
    wizard = services.open_wizard()
    settle(1.0)
    wizard.grab().save(str(OUT / "wizard.png"))
    print("saved", OUT / "wizard.png")
    wizard.close()
    services.shutdown()
    box.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
