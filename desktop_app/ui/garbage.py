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
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot

INTERVAL_MS = 500


class GuiThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> GuiThreadGarbageCollector:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Collect once more here and hand collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    @Slot()
    def check(self) -> int:
        """Collect the oldest generation whose count is over its threshold, as Python would; the
        number of objects found unreachable."""
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0
