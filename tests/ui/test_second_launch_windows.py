"""A second launch on Windows, where the first copy's lock answers PermissionError: it says
"already running" and asks the first copy to show its window, instead of crashing."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.errors import EXIT_OK
from desktop_app.core.instance_lock import InstanceLock
from desktop_app.ui import app as app_module
from desktop_app.ui.single_instance import InstanceServer
from tests.core.windows_lock import simulate_held_windows_lock


def test_second_launch_on_windows_brings_the_first_window_forward(qtbot, monkeypatch, capsys):
    first = InstanceServer()  # the running copy, listening for "show"
    assert first.listen()
    requests = []
    first.showRequested.connect(lambda: requests.append(True))
    try:
        simulate_held_windows_lock(monkeypatch)
        monkeypatch.setattr(app_module, "make_application", QApplication.instance)
        monkeypatch.setattr(app_module, "show_error", lambda *a, **k: pytest.fail(f"an error box: {a}"))
        monkeypatch.setattr(app_module, "ConnectorApp", lambda *a, **k: pytest.fail("a second app was started"))
        assert app_module.run_gui() == EXIT_OK
        assert "already running" in capsys.readouterr().out
        qtbot.waitUntil(lambda: bool(requests), timeout=3000)
    finally:
        first.close()


def test_the_real_lock_is_left_alone_by_the_simulation(monkeypatch):
    # the helper must not leak: once undone, the lock works as usual
    simulate_held_windows_lock(monkeypatch)
    monkeypatch.undo()
    InstanceLock().acquire().release()
