"""Guards against Qt binding regressions that would crash an app that runs all day."""
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel


class Emitter(QObject):
    fired = Signal()


def test_signal_emit_and_void_calls_do_not_leak_references(qtbot):
    # PySide6-Essentials 6.12.0 on Python 3.11 dropped a reference to True on every emit and to
    # None on every void call; the process aborted after a few thousand (bool_dealloc/none_dealloc).
    emitter = Emitter()
    label = QLabel()
    qtbot.addWidget(label)
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for index in range(200):
        emitter.fired.emit()
        label.setText(str(index))
    assert abs(sys.getrefcount(True) - true_before) < 50
    assert abs(sys.getrefcount(None) - none_before) < 50
