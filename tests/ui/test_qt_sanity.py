"""Guards against Qt binding reference-count regressions that would crash or bloat an app that runs all day.

Every value that crosses a signal, a slot or a property is converted by the binding. A conversion that
drops a reference frees a live object hours later (a crash in the middle of a sync); one that keeps a
reference holds every emitted object forever (memory that grows with each cycle). Both are checked on
objects these tests create, which are ordinary mortal objects on every supported Python: True and None
are immortal from 3.12 on, so their reference counts can only say something on 3.11.
"""
import gc
import sys
import weakref

import pytest
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel

EMITS = 200


class Payload:
    """A plain object the binding has never seen, so nothing but these tests holds it."""


class Emitter(QObject):
    fired = Signal()
    carried = Signal(object)


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    @Slot(object)
    def take(self, payload: object) -> None:
        self.calls += 1


def _connected_pair() -> tuple[Emitter, Receiver]:
    emitter, receiver = Emitter(), Receiver()
    emitter.carried.connect(receiver.take)
    # a Python callable as well as a declared slot: the binding converts arguments on both paths
    emitter.carried.connect(lambda payload: None)
    return emitter, receiver


def test_objects_carried_by_signals_and_properties_are_released():
    emitter, receiver = _connected_pair()
    alive = []
    for _ in range(EMITS):
        payload = Payload()
        alive.append(weakref.ref(payload))
        emitter.carried.emit(payload)
        emitter.setProperty("last", payload)
        emitter.property("last")
    del payload
    emitter.setProperty("last", None)
    gc.collect()

    assert receiver.calls == EMITS
    still_alive = sum(ref() is not None for ref in alive)
    assert still_alive == 0, f"{still_alive} of {EMITS} emitted objects are still referenced after the emits"


def test_objects_carried_by_signals_and_properties_keep_their_references():
    emitter, receiver = _connected_pair()
    payload = Payload()
    emitter.setProperty("payload", payload)
    before = sys.getrefcount(payload)
    for _ in range(EMITS):
        emitter.carried.emit(payload)
        emitter.property("payload")

    assert receiver.calls == EMITS
    moved = sys.getrefcount(payload) - before
    assert moved == 0, f"the reference count of an emitted object moved by {moved} over {EMITS} emits"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True and None are immortal: a dropped reference is harmless")
def test_signal_emit_and_void_calls_keep_their_references_to_true_and_none(qtbot):
    # PySide6-Essentials 6.12.0 on Python 3.11 dropped a reference to True on every emit and to
    # None on every void call; the process aborted after a few thousand (bool_dealloc/none_dealloc).
    emitter = Emitter()
    label = QLabel()
    qtbot.addWidget(label)
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for index in range(EMITS):
        emitter.fired.emit()
        label.setText(str(index))
    assert abs(sys.getrefcount(True) - true_before) < EMITS // 4
    assert abs(sys.getrefcount(None) - none_before) < EMITS // 4
