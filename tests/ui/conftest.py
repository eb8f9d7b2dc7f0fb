"""GUI test fixtures: an open database in the test's data dir, the job worker and the bridge.

Teardown stops the worker and the db thread, so no thread outlives its test. Cyclic garbage of a
GUI test is collected in the GUI thread, as the app does (desktop_app/ui/garbage.py): collected by
a worker or db thread, a Qt object in a cycle would be destroyed outside its thread and crash.
"""
from __future__ import annotations

import pytest

from desktop_app.core import db


@pytest.fixture(autouse=True)
def gui_thread_garbage_collection(qapp):
    from desktop_app.ui.garbage import GuiThreadGarbageCollector

    collector = GuiThreadGarbageCollector().start()
    yield
    collector.stop()


@pytest.fixture
def engine_db():
    database = db.open_database()
    yield database
    db.close_database()


@pytest.fixture
def worker(engine_db):
    from desktop_app.sync.engine_process import EngineProcess
    from desktop_app.sync.jobs import JobWorker

    worker = JobWorker(engine=EngineProcess())  # as the app: cycles run in the engine process
    worker.start()
    yield worker
    assert worker.stop(timeout=30), "the job worker did not stop"


@pytest.fixture
def bridge(qtbot, worker):
    from desktop_app.ui.bridge import EngineBridge

    bridge = EngineBridge(worker)
    yield bridge
    bridge.close()


@pytest.fixture
def dashboard(qtbot, bridge):
    """The dashboard with its own SyncControl, shown."""
    from desktop_app.ui.dashboard import DashboardPage
    from desktop_app.ui.sync_control import SyncControl

    page = DashboardPage(bridge, SyncControl(bridge))
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    return page
