"""The posting gate in the GUI: Sync now while posting is off rehearses, says so, and posts nothing."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_app.core import config
from desktop_app.core.models import ApDocument, JobRun
from desktop_app.sync import rehearsal
from desktop_app.ui.sync_control import REHEARSAL_STARTED, SYNC_STARTED

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_sync_now_while_posting_is_off_rehearses_and_says_so(qtbot, sandbox, dashboard):
    config.save_setting("sync.posting", "off", actor="test")
    notices: list[str] = []
    dashboard.control.notice.connect(notices.append)
    with qtbot.waitSignal(dashboard.control.cycleEnded, timeout=120000) as ended:
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    kind, sentence, result = ended.args
    assert kind == "finished" and isinstance(result, rehearsal.Rehearsal)
    assert sentence.startswith("Rehearsal finished, nothing was posted") and result.headline() in sentence
    qtbot.waitUntil(lambda: REHEARSAL_STARTED in notices, timeout=5000)
    assert sandbox.company.syspro.ap_invoices == [] and ApDocument.select().count() == 0
    assert rehearsal.latest().id == result.id
    assert [run.kind for run in JobRun.select()] == ["rehearsal"]
    # posting started: the same button posts
    rehearsal.start_posting(result, actor="test")
    with qtbot.waitSignal(dashboard.control.cycleEnded, timeout=120000) as ended:
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: SYNC_STARTED in notices, timeout=5000)
    assert ended.args[2]["invoices"].posted == len(result.would_post())
