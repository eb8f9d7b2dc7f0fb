"""ServiceTitan and SYSPRO text in message boxes and labels is shown as text, never as HTML."""
from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from desktop_app.ui.dashboard import Connection, DashboardPage, Snapshot
from desktop_app.ui.messages import error_box
from desktop_app.ui.sync_control import SYSTEMS, SyncControl
from desktop_app.ui.widgets import StatusLine, show_message

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

HOSTILE = "SYSPRO said: <a href='http://evil.example'>click</a> <img src=x> <b>bold</b>"


def labels_showing(widget, text):
    return [label for label in widget.findChildren(QLabel) if text in label.text()]


def test_error_boxes_show_outside_text_as_plain_text(qtbot):
    box = error_box(None, HOSTILE, details="trace")
    qtbot.addWidget(box)
    assert box.textFormat() == Qt.TextFormat.PlainText
    (label,) = labels_showing(box, "<a href=")
    assert label.textFormat() == Qt.TextFormat.PlainText


def test_message_boxes_with_informative_text_are_plain_text(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    box = show_message(parent, "Import", HOSTILE, informative="line 2: <i>" + HOSTILE)
    try:
        shown = labels_showing(box, "<a href=")
        assert len(shown) == 2 and all(label.textFormat() == Qt.TextFormat.PlainText for label in shown)
    finally:
        box.close()


def test_status_line_is_plain_text(qtbot):
    status = StatusLine()
    qtbot.addWidget(status)
    status.failed(HOSTILE)
    assert status.label.textFormat() == Qt.TextFormat.PlainText and status.label.text() == HOSTILE


def test_the_dashboard_shows_a_reason_from_outside_as_text(qtbot, bridge):
    control = SyncControl(bridge)
    page = DashboardPage(bridge, control)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.snapshot is not None, timeout=5000)
    cycle = {"state": "failed", "actor": "scheduler", "started_at": dt.datetime(2024, 5, 1, 12),
             "finished_at": dt.datetime(2024, 5, 1, 12, 1), "error": HOSTILE, "summary": {}}
    snapshot = Snapshot(counts={}, last_cycle=cycle,
                        connections={system: Connection("failed", HOSTILE, None) for system in SYSTEMS})
    page._show(snapshot)
    shown = labels_showing(page, "<a href=")
    assert page.last_label in shown and len(shown) >= 1 + len(SYSTEMS)
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in shown)
    for _dot, text in page.connection_labels.values():
        assert "&lt;a href=" in text.toolTip()
    page.progress_label.setText(HOSTILE)
    assert page.progress_label.textFormat() == Qt.TextFormat.PlainText


def test_detail_panes_show_reasons_as_text(qtbot):
    from desktop_app.ui.invoices_page import InvoiceDetailPane
    from desktop_app.ui.records_page import LinkDetailPane

    for pane in (InvoiceDetailPane(), LinkDetailPane("vendors")):
        qtbot.addWidget(pane)
        labels = [pane.title, pane.reason, *pane.fact_labels.values()]
        assert all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)
