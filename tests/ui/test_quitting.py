"""Quit while a sync runs: the window stays alive under a dialog until the job has stopped after its
current step; Quit now ends the engine process at once. The real app, worker and engine process."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from desktop_app.core import logs
from desktop_app.core.models import JobRun
from desktop_app.ui.sync_control import CYCLE
from tests.sync.test_engine_process import process_exists, work_quietly

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (propagateSizeHints|raise)")


def never_look_up(ctx, seconds: float = 30.0):
    """A job stuck in one step (a request that waits for its read timeout): it never checks cancel."""
    ctx.progress(1, 3, "Posted 1 of 3 AP document(s)")
    time.sleep(seconds)
    return "ran to the end"


@pytest.fixture
def services(qtbot):
    from desktop_app.ui.app import build_app_for_tests

    services = build_app_for_tests()
    with qtbot.waitSignal(services.ready, timeout=5000):
        services.start(first_run_wizard=False)
    services.window.show()
    yield services
    services.quit()
    services.shutdown()
    logs.reset_logging()


def start_job(qtbot, services, func):
    events = []
    services.bridge.jobEvent.connect(lambda event: events.append(event))
    job = services.worker.submit(CYCLE, func, actor="test", isolated=True)
    qtbot.waitUntil(lambda: any(e.kind == "progress" and e.job_id == job.id for e in events), timeout=60000)
    return job, events


def test_quit_with_a_sync_running_waits_for_it_under_a_dialog_and_then_quits(qtbot, services):
    job, events = start_job(qtbot, services, work_quietly)
    services.quit()
    dialog = services.stopping
    assert dialog is not None and dialog.isVisible()
    assert services.window.isVisible(), "the window stays until the sync has stopped"
    assert job.cancel_event.is_set(), "the job was told to stop after its current step"
    assert services.scheduler._stop.is_set(), "no new cycle starts meanwhile"
    assert dialog.activity.text() == "started", "what the sync was doing when Quit came"

    with qtbot.waitSignal(dialog.stopped, timeout=20000):
        pass
    assert not services.window.isVisible() and not dialog.isVisible()
    assert [e.kind for e in events if e.job_id == job.id][-1] == "cancelled"
    assert not dialog.abandoned
    assert services.worker.engine.pid is not None, "Quit (not Quit now) leaves the engine to end with the app"


def test_quit_now_ends_a_stuck_sync_at_once(qtbot, services):
    job, events = start_job(qtbot, services, never_look_up)
    engine_pid = services.worker.engine.pid
    services.quit()
    dialog = services.stopping
    qtbot.wait(300)
    assert dialog.isVisible() and services.worker.busy, "a step that never checks cancel keeps it waiting"

    with qtbot.waitSignal(dialog.stopped, timeout=10000):
        qtbot.mouseClick(dialog.quit_now_button, Qt.MouseButton.LeftButton)
    assert dialog.abandoned
    qtbot.waitUntil(lambda: not process_exists(engine_pid), timeout=10000)
    qtbot.waitUntil(lambda: any(e.kind == "failed" and e.job_id == job.id for e in events), timeout=5000)
    run = JobRun.select().order_by(JobRun.id.desc()).get()
    assert run.state == "failed" and "stopped at once (Quit now)" in run.error and "looked up in SYSPRO" in run.error


def test_closing_the_dialog_keeps_waiting(qtbot, services):
    start_job(qtbot, services, never_look_up)
    services.quit()
    dialog = services.stopping
    dialog.close()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and not dialog.abandoned
    services.quit()  # Quit again: the same dialog comes forward
    assert services.stopping is dialog
    qtbot.mouseClick(dialog.quit_now_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.stopped, timeout=10000):
        pass


def test_quit_with_nothing_running_quits_at_once(qtbot, services):
    assert not services.worker.busy
    services.quit()
    assert services.stopping is None
    assert not services.window.isVisible()
