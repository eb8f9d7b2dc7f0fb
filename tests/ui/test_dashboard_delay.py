"""The dashboard says how long the last invoices took from ServiceTitan to SYSPRO AP."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_app.sandbox.seed import advance
from desktop_app.sync import delay
from desktop_app.ui.dashboard import DashboardPage
from desktop_app.ui.sync_control import SyncControl
from tests.sync.test_invoice_to_ap import posted_invoice

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def dashboard(qtbot, bridge):
    control = SyncControl(bridge)
    page = DashboardPage(bridge, control)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_the_delay_of_the_last_posted_invoices_is_shown(qtbot, dashboard):
    qtbot.waitUntil(lambda: dashboard.snapshot is not None, timeout=5000)
    assert not dashboard.delay_label.isVisible()  # nothing posted yet: no figure
    for number in range(1, 11):
        posted_invoice(number, number / 2)  # 30 s … 5 min
    dashboard.refresh()
    qtbot.waitUntil(dashboard.delay_label.isVisible, timeout=5000)
    assert dashboard.delay_label.text() == "Invoice to AP: median 2 min, 95% within 5 min (last 10 posted)."


def test_after_sync_now_new_invoices_reached_ap_within_a_minute_and_the_label_says_so(qtbot, sandbox, dashboard):
    with qtbot.waitSignal(dashboard.control.cycleEnded, timeout=120000):
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    advance(sandbox.company, 8)  # created in ServiceTitan now
    qtbot.waitUntil(lambda: not dashboard.control.bridge.worker.has_pending("cycle"), timeout=10000)
    with qtbot.waitSignal(dashboard.control.cycleEnded, timeout=120000):
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    found = delay.invoice_to_ap(last=5)
    assert found is not None and found.p95.total_seconds() < 60
    # the label covers the last 50 posted: the new ones and the seeded company's older invoices
    expected = delay.invoice_to_ap().sentence() + "."
    qtbot.waitUntil(lambda: dashboard.delay_label.isVisible() and dashboard.delay_label.text() == expected,
                    timeout=5000)
