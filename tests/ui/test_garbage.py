import gc
import threading

from PySide6.QtCore import QObject, QTimer

from desktop_app.ui.garbage import GuiThreadGarbageCollector


class CycleWithQtObject:
    """A reference cycle holding a QObject with a timer, as a page or the bridge may be."""

    freed_in: list[str] = []

    def __init__(self):
        self.me = self
        self.qobject = QObject()
        self.timer = QTimer(self.qobject)

    def __del__(self):
        CycleWithQtObject.freed_in.append(threading.current_thread().name)


def test_cycles_dropped_by_a_worker_thread_are_collected_in_the_gui_thread(qtbot):
    collector = GuiThreadGarbageCollector(interval_ms=20).start()
    CycleWithQtObject.freed_in = []
    kept = {}

    def worker():
        CycleWithQtObject()  # unreachable at once, but only the cycle collector can free it
        # enough new container objects that Python's automatic collection would run right here
        kept["junk"] = [[] for _ in range(gc.get_threshold()[0] * 20)]

    thread = threading.Thread(target=worker, name="not-the-gui-thread")
    thread.start()
    thread.join(10)
    assert CycleWithQtObject.freed_in == []  # no collection ran in the worker thread
    qtbot.waitUntil(lambda: CycleWithQtObject.freed_in != [], timeout=5000)
    assert CycleWithQtObject.freed_in == [threading.current_thread().name]
    collector.stop()


def test_stop_collects_and_gives_collection_back():
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        collector = GuiThreadGarbageCollector().start()
        assert not gc.isenabled()
        CycleWithQtObject.freed_in = []
        CycleWithQtObject()
        collector.stop()
        assert CycleWithQtObject.freed_in == [threading.current_thread().name]
        assert gc.isenabled()
    finally:
        if not was_enabled:
            gc.disable()


def assert_a_due_cycle_is_collected_by_check(collector):
    CycleWithQtObject.freed_in = []
    CycleWithQtObject()
    kept = [[] for _ in range(gc.get_threshold()[0] * 2)]  # the youngest generation is now due
    assert collector.check() >= 1 and CycleWithQtObject.freed_in
    del kept


def test_check_collects_only_a_generation_that_is_due():
    collector = GuiThreadGarbageCollector().start()
    try:
        gc.collect()
        assert collector.check() == 0  # nothing allocated since: no generation is over its threshold
        assert_a_due_cycle_is_collected_by_check(collector)
    finally:
        collector.stop()


def test_freeze_when_started_collects_then_freezes_and_stop_unfreezes():
    # Python 3.12 starts with a few hundred objects in the permanent generation already
    frozen_at_start = gc.get_freeze_count()
    collector = GuiThreadGarbageCollector().start()
    started = []
    try:
        collector.freeze_when(lambda: bool(started))
        collector.check()
        assert not collector.frozen and gc.get_freeze_count() == frozen_at_start  # not started yet: nothing frozen
        CycleWithQtObject.freed_in = []
        CycleWithQtObject()  # garbage at start-up: collected by the freeze, not kept forever
        long_lived = [[] for _ in range(100)]
        started.append(True)
        assert collector.check() >= 1
        assert collector.frozen and CycleWithQtObject.freed_in == [threading.current_thread().name]
        assert gc.get_freeze_count() >= frozen_at_start + len(long_lived)
        # a later full collection walks only what is younger than the freeze
        assert len(gc.get_objects()) < gc.get_freeze_count()
        assert_a_due_cycle_is_collected_by_check(collector)  # cycles made after the freeze too
    finally:
        collector.stop()
    assert gc.get_freeze_count() <= frozen_at_start and not collector.frozen


def test_while_a_job_runs_young_collections_wait_for_a_much_larger_count():
    from desktop_app.ui.garbage import BUSY_FACTOR

    collector = GuiThreadGarbageCollector().start()
    busy = [True]
    collector.defer_while(lambda: busy[0])
    try:
        gc.collect()
        CycleWithQtObject.freed_in = []
        CycleWithQtObject()
        kept = [[] for _ in range(gc.get_threshold()[0] * 2)]  # due, if no job were running
        assert collector.check() == 0 and CycleWithQtObject.freed_in == []
        more = [[] for _ in range(gc.get_threshold()[0] * BUSY_FACTOR)]  # past the bound: collected anyway
        assert collector.check() >= 1 and CycleWithQtObject.freed_in
        del kept, more
        busy[0] = False
        assert_a_due_cycle_is_collected_by_check(collector)  # the job has ended: as usual again
    finally:
        collector.stop()
