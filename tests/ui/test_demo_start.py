"""`ml-connector demo` moves at once: its first cycle starts as the window opens, and the Go-live
rehearsal page shows the demo company's rehearsal with posting already on.

The demo's own preparation (`demo.prepare_demo_gui`) and the app's start option the demo uses,
against the sandbox simulators; the measure starts when the window is shown.
"""
from __future__ import annotations

import time

import pytest

from desktop_app.core import logs
from desktop_app.core.models import ApDocument
from desktop_app.sandbox import demo
from desktop_app.sync import ledger

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (propagateSizeHints|raise)")

FIRST_CYCLE_WITHIN_S = 5


def test_the_demo_starts_its_first_cycle_within_5_seconds_of_the_window_and_shows_its_rehearsal(qtbot, sandbox):
    from desktop_app.ui.app import build_app_for_tests

    demo.add_supplier_backlog(sandbox)
    demo.prepare_demo_gui()
    services = build_app_for_tests()
    shown: list[float] = []
    started: list[float] = []
    ended: list[tuple] = []
    services.bridge.jobEvent.connect(lambda event: started.append(time.monotonic())
                                     if event.job_kind == "cycle" and event.kind == "started" else None)
    services.bridge.jobEvent.connect(lambda event: ended.append((event.kind, event.result))
                                     if event.job_kind == "cycle" and event.kind in ("finished", "failed") else None)
    services.ready.connect(lambda: shown.append(time.monotonic()))
    try:
        with qtbot.waitSignal(services.ready, timeout=10000):
            services.start(first_run_wizard=False, sync_at_start=True)
        assert services.window.isVisible()
        qtbot.waitUntil(lambda: bool(started), timeout=FIRST_CYCLE_WITHIN_S * 1000)
        assert started[0] - shown[0] < FIRST_CYCLE_WITHIN_S

        page = services.window.show_page("rehearsal")
        qtbot.waitUntil(lambda: page.loaded, timeout=5000)
        assert page.posting is True
        assert page.start_button.text() == "Posting is on" and page.stop_button.isVisible()
        listed = {doc.key for doc in page.rehearsal.would_post()}
        assert listed, "the demo's rehearsal lists nothing to post"
        assert int(page.numbers["would_post"].count_label.text().replace(",", "")) == len(listed)
        assert not services.window.pages["dashboard"].posting_banner.isVisibleTo(services.window.pages["dashboard"])

        qtbot.waitUntil(lambda: bool(ended), timeout=180000)
        kind, _result = ended[0]
        assert kind == "finished"
        posted = {doc.doc_key for doc in ApDocument.select().where(
            ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED]))}
        assert posted == listed  # the newcomer's first cycle posts what the rehearsal page lists
    finally:
        services.quit()
        services.shutdown()
        logs.reset_logging()


def test_run_gui_starts_the_app_with_the_demos_sync_at_start(monkeypatch):
    """`ml-connector demo` reaches `ConnectorApp.start(sync_at_start=True)` through `run_gui`."""
    from types import SimpleNamespace

    from desktop_app.ui import app as app_module

    starts: list[dict] = []

    class Services:
        def __init__(self, app, *, lock):
            self.ready = SimpleNamespace(connect=lambda slot: None)

        def open(self):
            pass

        def start(self, **options):
            starts.append(options)

        def shutdown(self):
            pass

    monkeypatch.setattr(app_module, "make_application", lambda: SimpleNamespace(exec=lambda: 0))
    monkeypatch.setattr(app_module, "InstanceLock", lambda: SimpleNamespace(acquire=lambda: None))
    monkeypatch.setattr(app_module, "ConnectorApp", Services)
    monkeypatch.setattr(app_module, "_quit_on_signals", lambda services: None)
    assert app_module.run_gui(minimized=False, sync_at_start=True) == 0
    assert app_module.run_gui() == 0
    assert [s["sync_at_start"] for s in starts] == [True, False]
