"""Python's cyclic garbage collection, moved to the GUI thread.

The automatic collector runs in whichever thread happens to allocate when a generation fills up:
in this app, often the job worker or the database thread. A Qt object caught in a reference cycle
is then destroyed in that thread, while Qt allows a QObject (and its timers) to be destroyed only
in the thread it lives in; the result is a crash, at a moment unrelated to its cause. So while
the GUI runs, automatic collection is off and this timer, in the GUI thread, collects each
generation when the automatic collector would have (same thresholds), checked every
INTERVAL_MS. Reference counting still frees everything that is not in a cycle at once, in
any thread; only cycles wait for the timer. The same pattern is used by pyqtgraph
(`GarbageCollector`) and GitFourchette, among others.

A collection holds the GUI thread (and the GIL) for as long as it walks its generation. The
oldest one holds every module, class and function of PySide6, the GUI and the engine: a full
collection holds the GUI thread for a noticeable stall to find nothing, since none of those
objects is ever garbage. So once the app has started (`freeze_when`), what is alive then is
collected once and moved to the permanent generation (`gc.freeze()`, the standard-library way
for long-lived processes); later collections walk only younger objects.

The young generations have the same problem while a job runs on the worker thread: what they hold
then is mostly the job's working set, which a collection walks to find nothing (isolated jobs run
in the engine process, `sync/engine_process.py`, and leave nothing here). So while `defer_while()` says a job runs, a
generation waits until its count is BUSY_FACTOR times its threshold: garbage in cycles made
meanwhile still has a bound, and once the job has ended the next check collects as usual, after
the job's objects are gone.
"""
from __future__ import annotations

import gc
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot

INTERVAL_MS = 500
BUSY_FACTOR = 50  # while a job runs: youngest generation collected past 35,000 new objects, not 700


class GuiThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._freeze_when: Callable[[], bool] | None = None
        self._froze = False
        self._busy: Callable[[], bool] = lambda: False

    def start(self) -> GuiThreadGarbageCollector:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Collect once more here and hand collection back to Python."""
        self._timer.stop()
        self._freeze_when = None
        if self._froze:
            gc.unfreeze()
            self._froze = False
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def freeze_when(self, started: Callable[[], bool]) -> None:
        """At the first check at which `started()` is true (the app's modules imported, its window
        built), collect everything once and freeze what is alive: see the module's docstring."""
        self._freeze_when = started

    def defer_while(self, busy: Callable[[], bool]) -> None:
        """While `busy()` is true (a sync job runs), collect a generation only once its count is
        BUSY_FACTOR times its threshold: see the module's docstring."""
        self._busy = busy

    @property
    def frozen(self) -> bool:
        return self._froze

    @Slot()
    def check(self) -> int:
        """Collect the oldest generation whose count is over its threshold, as Python would; the
        number of objects found unreachable."""
        if self._freeze_when is not None and self._freeze_when():
            self._freeze_when = None
            found = gc.collect()  # garbage is collected, not frozen
            gc.freeze()
            self._froze = True
            return found
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        factor = BUSY_FACTOR if self._busy() else 1
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation] * factor:
                return gc.collect(generation)
        return 0
