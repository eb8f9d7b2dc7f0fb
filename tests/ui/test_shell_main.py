"""The shell: main window, navigation, shortcuts, Sync now, Pause/Resume, live log, dashboard, app lifecycle.

Real widgets, real worker and bridge, real database; the engine is never mocked.
"""
from __future__ import annotations

import functools
import gc
import logging
import sys
import threading
from decimal import Decimal

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QPushButton

from desktop_app.core import config, logs
from desktop_app.core.instance_lock import AlreadyRunning, InstanceLock
from desktop_app.core.models import ApDocument, JobRun, SyncCursor
from desktop_app.sync.jobs import CycleScheduler
from desktop_app.ui.dashboard import DashboardPage
from desktop_app.ui.log_view import LogPage
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.messages import UNEXPECTED, GuiExceptHook
from desktop_app.ui.sync_control import SyncControl, submit_cycle
from desktop_app.ui.tray import Tray, failure_notification
from tests.sync.test_engine_process import process_exists

# The offscreen platform cannot resize real windows and says so whenever a shown window's minimum
# size changes (a page switch); that is the test platform talking, not the app.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def live_logging():
    logs.setup_logging()
    yield
    logs.reset_logging()


@pytest.fixture
def scheduler(worker):
    scheduler = CycleScheduler(functools.partial(submit_cycle, worker), 15, watchdog_seconds=3600)
    scheduler.start(paused=False)
    yield scheduler
    scheduler.shutdown()


@pytest.fixture
def control(bridge, scheduler):
    return SyncControl(bridge, scheduler)


@pytest.fixture
def window(qtbot, bridge, control):
    window = MainWindow(bridge, control)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    yield window
    window.quitting = True


def make_doc(n: int, state: str, **fields) -> ApDocument:
    return ApDocument.create(doc_key=f"{1000 + n}:SUP{n % 3}", st_invoice_id=1000 + n, st_invoice_number=f"INV{n}",
                             state=state, supplier=f"SUP{n % 3}", amount=Decimal("12.50"), **fields)


def tile_count(page: DashboardPage, state: str) -> int:
    tile = page.tiles[state]
    assert tile.count_label.text() == f"{tile.count:,}"
    return tile.count


def test_navigation_switches_pages(qtbot, window):
    assert window.current_key() == "dashboard"
    assert isinstance(window.current_page(), DashboardPage)
    window.nav.setCurrentRow(window.index_of("log"))
    assert isinstance(window.current_page(), LogPage)
    from desktop_app.ui.adjustments_page import AdjustmentsPage
    from desktop_app.ui.records_page import RecordsPage

    for key, kind in (("vendors", RecordsPage), ("purchase_orders", RecordsPage), ("adjustments", AdjustmentsPage)):
        page = window.show_page(key)
        assert window.current_page() is page and isinstance(page, kind)
    # every page can be opened, including ones from modules that may not exist yet
    for row in range(window.nav.count()):
        window.nav.setCurrentRow(row)
        assert window.stack.currentIndex() == row
        assert window.current_page() is window.pages[window.specs[row].key]


def test_shortcuts(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    assert window.current_key() == "log"
    qtbot.keyClick(window, Qt.Key.Key_9, Qt.KeyboardModifier.ControlModifier)
    assert window.current_key() == "settings"
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_key() == "dashboard"

    qtbot.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.pages["log"].search

    with qtbot.waitSignal(window.control.cycleEnded, timeout=15000):
        qtbot.keyClick(window, Qt.Key.Key_F5)

    with qtbot.waitSignal(window.quitRequested, timeout=1000):
        qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)


def test_sync_now_runs_a_real_cycle_that_fails_with_a_sentence(qtbot, window, engine_db, go_live):
    dashboard = window.pages["dashboard"]
    with qtbot.waitSignal(window.control.cycleEnded, timeout=15000) as ended:
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    kind, sentence, _ = ended.args
    assert kind == "failed"
    assert "ServiceTitan is not fully set up" in sentence  # nothing is configured yet
    assert "Traceback" not in sentence
    assert dashboard.progress_label.text() == sentence
    assert dashboard.sync_button.isEnabled()
    assert sentence in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: dashboard.snapshot is not None and dashboard.snapshot.last_cycle is not None,
                    timeout=5000)
    # no flow could run: the cycle failed (it did not "complete with errors"), with every reason
    assert "It failed: Nothing was synced" in dashboard.last_label.text()
    assert "invoices, purchase-orders, adjustments: ServiceTitan is not fully set up" in dashboard.last_label.text()
    assert "sync-now" in dashboard.last_label.text()
    run = JobRun.select().where(JobRun.kind == "cycle").get()
    assert run.actor == "sync-now" and run.state == "failed" and "not fully set up" in run.error
    # the failure names ServiceTitan, so the dashboard says which side is not working
    assert dashboard.snapshot.connections["servicetitan"].status == "failed"


def test_sync_now_without_a_go_live_date_fails_and_says_how_to_set_it(qtbot, window, engine_db):
    dashboard = window.pages["dashboard"]
    with qtbot.waitSignal(window.control.cycleEnded, timeout=15000) as ended:
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    kind, sentence, _ = ended.args
    assert kind == "failed"
    assert "No go-live date is set" in sentence and "config set sync.start_date YYYY-MM-DD" in sentence
    assert "Traceback" not in sentence and dashboard.sync_button.isEnabled()
    run = JobRun.select().where(JobRun.kind == "cycle").get()
    assert run.state == "failed" and "No go-live date" in run.error
    assert not SyncCursor.select().exists()  # no flow ran: nothing was read or posted


def test_pause_and_resume_persist(qtbot, window, scheduler, engine_db):
    dashboard = window.pages["dashboard"]
    assert scheduler.next_run_time() is not None
    qtbot.mouseClick(dashboard.pause_button, Qt.MouseButton.LeftButton)
    assert scheduler.paused and scheduler.next_run_time() is None
    assert dashboard.pause_button.text() == "Resume scheduled syncs"
    assert "paused" in dashboard.next_label.text()
    window.bridge.wait_idle()
    qtbot.waitUntil(lambda: config.load_settings()["sync.paused"] is True, timeout=3000)

    qtbot.mouseClick(dashboard.pause_button, Qt.MouseButton.LeftButton)
    assert not scheduler.paused and scheduler.next_run_time() is not None
    window.bridge.wait_idle()
    qtbot.waitUntil(lambda: config.load_settings()["sync.paused"] is False, timeout=3000)


def test_live_log_lines_arrive_and_filter(qtbot, bridge, live_logging):
    page = LogPage(bridge)
    qtbot.addWidget(page)
    logging.getLogger("desktop_app.sync.invoices").info("Posted INV-4711 to SYSPRO as AP invoice ST4711")
    logging.getLogger("desktop_app.sync.invoices").warning("Supplier V77 is on hold")

    def shown(text):
        return any(text in page.proxy.index(r, 3).data() for r in range(page.proxy.rowCount()))

    qtbot.waitUntil(lambda: shown("INV-4711"), timeout=3000)
    row = next(r for r in range(page.model.rowCount()) if "INV-4711" in page.model.line(r).message)
    assert page.model.index(row, 2).data() == "invoices"
    assert page.flow_box.findData("invoices") >= 0

    page.level_box.setCurrentIndex(page.level_box.findData(logging.WARNING))
    assert not shown("INV-4711") and shown("V77")
    page.level_box.setCurrentIndex(page.level_box.findData(logging.NOTSET))
    page.search.setText("inv-4711")
    assert shown("INV-4711") and not shown("V77")

    page.view.selectAll()
    assert page.copy_selection() == 1
    assert "Posted INV-4711" in QGuiApplication.clipboard().text()


def test_log_ring_buffer_stays_bounded(qtbot, bridge, live_logging):
    page = LogPage(bridge, capacity=50)
    qtbot.addWidget(page)
    log = logging.getLogger("desktop_app.sync.invoices")
    for i in range(120):
        log.info("line %03d", i)
    qtbot.waitUntil(lambda: page.model.rowCount() == 50 and "line 119" in page.model.line(49).message, timeout=3000)
    assert page.model.line(0).message == "line 070"


def test_dashboard_tiles_follow_a_running_sync(qtbot, window, engine_db, monkeypatch):
    from desktop_app.sync.jobs import JobEvent
    from desktop_app.ui import dashboard as dashboard_module

    def job_event(kind: str, done: int = 0, message: str = "") -> None:  # as the worker reports a cycle
        window.bridge.jobEvent.emit(JobEvent(kind, 1, "cycle", "sync-now", done, 10, message))

    dashboard = window.pages["dashboard"]
    qtbot.waitUntil(lambda: dashboard.snapshot is not None, timeout=5000)
    monkeypatch.setattr(dashboard_module, "LIVE_REFRESH_S", 3600.0)
    job_event("started")
    for n in range(4):
        make_doc(n, "POSTED")
    job_event("progress", 1, "Posted 1 of 10 AP document(s)")
    qtbot.wait(300)
    assert tile_count(dashboard, "POSTED") == 0, "progress within LIVE_REFRESH_S of the last read reads nothing"
    monkeypatch.setattr(dashboard_module, "LIVE_REFRESH_S", 0.0)
    job_event("progress", 4, "Posted 4 of 10 AP document(s)")
    qtbot.waitUntil(lambda: tile_count(dashboard, "POSTED") == 4, timeout=5000)
    assert dashboard.progress.isVisible() and dashboard.progress.value() == 4, "still syncing"
    # no sync has ended yet: the connections are unknown, and the running one will tell
    assert dashboard.connection_labels["syspro"][1].text() == "Unknown — The sync running now will tell."


def test_dashboard_tiles_match_the_ledger_and_open_invoices(qtbot, window, engine_db):
    for n in range(3):
        make_doc(n, "FAILED", reason="Supplier on hold")
    for n in range(3, 5):
        make_doc(n, "READY")
    make_doc(5, "NEEDS_MAPPING")
    dashboard = window.pages["dashboard"]
    window.bridge.dataChanged.emit("invoices")
    qtbot.waitUntil(lambda: tile_count(dashboard, "FAILED") == 3, timeout=5000)
    expected = {state: ApDocument.select().where(ApDocument.state == state).count() for state in dashboard.tiles}
    assert {state: tile_count(dashboard, state) for state in dashboard.tiles} == expected
    row, text = dashboard.attention_rows["FAILED"]
    assert row.isVisible() and "3" in text.text()
    assert not dashboard.attention_rows["IN_DOUBT"][0].isVisible()
    assert not dashboard.all_clear.isVisible()

    qtbot.mouseClick(dashboard.tiles["FAILED"], Qt.MouseButton.LeftButton)
    assert window.current_key() == "invoices"
    invoices = window.pages["invoices"]
    if hasattr(invoices, "set_state_filter") and hasattr(invoices, "state_combo"):
        assert invoices.state_combo.currentData() == "FAILED"


def test_window_geometry_is_restored(qtbot, bridge, control):
    first = MainWindow(bridge, control)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.setGeometry(QRect(30, 40, 700, 520))
    first.quitting = True
    first.close()

    second = MainWindow(bridge, control)
    qtbot.addWidget(second)
    assert second.restore_geometry()
    assert (second.width(), second.height()) == (700, 520)
    second.quitting = True


def test_closing_without_a_tray_quits(qtbot, window):
    assert window.tray is None
    with qtbot.waitSignal(window.quitRequested, timeout=1000):
        window.close()


def test_tray_degrades_and_notifies_on_failures(qtbot, bridge):
    control = SyncControl(bridge)
    tray = Tray(control)
    assert not tray.available  # offscreen: no system tray, nothing created, nothing warned
    control.cycleStarted.emit("scheduler")
    assert tray.status == "working"
    control.cycleEnded.emit("failed", "Could not reach SYSPRO at erp:20000.", None)
    assert tray.status == "attention"
    assert tray.last_notification == "Sync failed: Could not reach SYSPRO at erp:20000."
    tray.show_counts({"FAILED": 2, "READY": 5})
    assert "2 need attention" in tray.tooltip and "5 ready" in tray.tooltip
    assert failure_notification("finished", "", {"invoices": {"failed": 0, "in_doubt": 0}}) is None
    assert "1 in doubt" in failure_notification("finished", "", {"invoices": {"failed": 0, "in_doubt": 1}})


def test_unexpected_errors_become_a_sentence_and_a_log_line(qtbot, live_logging):
    hook = GuiExceptHook().install()
    try:
        try:
            raise ValueError("login refused for password=hunter2")
        except ValueError:
            hook(*sys.exc_info())
        box = hook.last_box
        assert box.text() == UNEXPECTED.format(logs=logs.paths.log_dir())
        assert "hunter2" not in box.detailedText() and "ValueError" in box.detailedText()
        box.close()
    finally:
        hook.uninstall()
    assert sys.excepthook is not hook
    logs.reset_logging()  # flush and close the file
    text = (logs.paths.log_dir() / "ml-connector.log").read_text(encoding="utf-8")
    assert "Traceback" in text and "hunter2" not in text


def test_app_starts_focuses_on_second_launch_and_quits_cleanly(qtbot):
    from desktop_app.ui.app import build_app_for_tests
    from desktop_app.ui.single_instance import ask_running_instance_to_show

    frozen_at_start = gc.get_freeze_count()  # not 0 in Python 3.12: see test_garbage
    services = build_app_for_tests()
    try:
        with qtbot.waitSignal(services.ready, timeout=5000):
            services.start(first_run_wizard=True)
        # nothing configured: the wizard comes first
        assert services.wizard is not None and services.wizard.isVisible()
        with qtbot.waitSignal(services.garbage._timer.timeout, timeout=5000):
            pass  # at least one check of the app's garbage collector
        assert not services.garbage.frozen  # not while the wizard is open: its objects would stay
        services.wizard.reject()
        qtbot.waitUntil(lambda: services.window.isVisible(), timeout=3000)
        qtbot.waitUntil(lambda: services.garbage.frozen, timeout=5000)  # started: start-up objects frozen

        with pytest.raises(AlreadyRunning):
            InstanceLock().acquire()
        services.window.hide()
        with qtbot.waitSignal(services.instance_server.showRequested, timeout=3000):
            assert ask_running_instance_to_show()
        assert services.window.isVisible()
        assert services.scheduler is not None and not services.scheduler.paused
        qtbot.waitUntil(lambda: services.worker.engine.pid is not None, timeout=30000)  # started with the app
        engine_pid = services.worker.engine.pid
    finally:
        services.quit()
        services.shutdown()
        logs.reset_logging()
    names = {thread.name for thread in threading.enumerate()}
    assert "ml-connector-worker" not in names and "ml-connector-wake-watchdog" not in names
    assert services.worker.engine.pid is None  # the engine process ended with the app
    assert not process_exists(engine_pid)
    assert gc.get_freeze_count() <= frozen_at_start  # shutdown handed every object back to the collector
    InstanceLock().acquire().release()  # the lock was released


def test_sync_now_against_the_sandbox_posts_and_the_dashboard_shows_it(qtbot, sandbox, window, monkeypatch):
    from desktop_app.sync import invoices

    # the cycle runs in the engine process: the GUI process's interpreter never posts anything
    monkeypatch.setattr(invoices, "post_documents", lambda *a, **k: pytest.fail("posted in the GUI process"))
    dashboard = window.pages["dashboard"]
    progress = []
    window.control.cycleProgress.connect(lambda done, total, message: progress.append((done, total)))
    with qtbot.waitSignal(window.control.cycleEnded, timeout=120000) as ended:
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    kind, sentence, result = ended.args
    assert kind == "finished", sentence
    assert sentence.startswith("Sync finished")
    posted = result["invoices"].posted
    assert posted > 0
    assert progress and progress[-1][1] > 0, "the cycle reported no progress"
    assert dashboard.progress.maximum() == progress[-1][1]  # the bar was fed, then hidden
    assert not dashboard.progress.isVisible()
    qtbot.waitUntil(lambda: dashboard.snapshot is not None and dashboard.snapshot.last_cycle is not None, timeout=5000)
    counts = dashboard.snapshot.counts
    assert {state: tile_count(dashboard, state) for state in dashboard.tiles} == counts
    assert counts["POSTED"] + counts["CONFIRMED"] >= posted
    assert dashboard.snapshot.connections["servicetitan"].status == "ok"
    assert dashboard.snapshot.connections["syspro"].status == "ok"
    assert "Connected" in dashboard.connection_labels["syspro"][1].text()


def test_the_dashboard_says_what_waits_for_approval_and_opens_its_page(qtbot, window):
    from desktop_app.sync import records

    for n in range(3):
        records.new_link("vendors", state=records.WAITING, kind="waiting_approval", message="waits", actor="test",
                         syspro_key=f"BULK{n}", origin="syspro", label=f"Bulk {n}")
    dashboard = window.pages["dashboard"]
    dashboard.refresh()
    row, text = dashboard.waiting_rows["vendors"]
    qtbot.waitUntil(lambda: row.isVisibleTo(dashboard), timeout=5000)
    assert "3 suppliers from SYSPRO wait for your approval before they are created in ServiceTitan" in text.text()
    assert not dashboard.all_clear.isVisibleTo(dashboard)
    row.findChild(QPushButton).click()
    assert window.current_key() == "vendors"
