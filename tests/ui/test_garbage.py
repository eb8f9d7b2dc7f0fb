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


def test_check_collects_only_a_generation_that_is_due():
    collector = GuiThreadGarbageCollector().start()
    try:
        gc.collect()
        assert collector.check() == 0  # nothing allocated since: no generation is over its threshold
        CycleWithQtObject.freed_in = []
        CycleWithQtObject()
        kept = [[] for _ in range(gc.get_threshold()[0] + 10)]
        assert collector.check() >= 1 and CycleWithQtObject.freed_in
        del kept
    finally:
        collector.stop()
