"""Go-live through the real app and the sandbox: after setup a scheduled sync posts nothing and
rehearses; the Go-live rehearsal page shows what the simulators answered; Start posting makes the
next scheduled sync post exactly the documents the rehearsal listed.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from desktop_app.core import config, logs
from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger, rehearsal
from desktop_app.ui import rehearsal_page

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (propagateSizeHints|raise)")

HELD_SUPPLIER = "FERGUS"


def sent_documents() -> set[str]:
    return {doc.doc_key for doc in ApDocument.select().where(ApDocument.state.in_(
        [ledger.POSTING, ledger.POSTED, ledger.CONFIRMED]))}


def test_after_setup_syncs_only_rehearse_until_start_posting_then_post_what_the_rehearsal_listed(
        qtbot, sandbox, monkeypatch):
    from desktop_app.ui.app import build_app_for_tests

    # A supplier on hold: SYSPRO's validation rejects its documents, and the page groups them.
    sandbox.company.syspro.suppliers[HELD_SUPPLIER].update(OnHold="Y")
    for key, value in rehearsal.posting_after_setup().items():  # what the wizard's Finish stores
        config.save_setting(key, value, actor="wizard")
    assert not rehearsal.posting_enabled()

    services = build_app_for_tests()
    ended = []
    services.bridge.jobEvent.connect(lambda event: ended.append(event)
                                     if event.job_kind == "cycle" and event.kind in ("finished", "failed") else None)
    try:
        with qtbot.waitSignal(services.ready, timeout=10000):
            services.start(first_run_wizard=False)
        window = services.window
        dashboard = window.pages["dashboard"]
        qtbot.waitUntil(lambda: dashboard.posting_banner.isVisibleTo(dashboard), timeout=5000)
        qtbot.mouseClick(dashboard.rehearsal_button, Qt.MouseButton.LeftButton)
        assert window.current_key() == "rehearsal"
        page = window.pages["rehearsal"]
        qtbot.waitUntil(lambda: page.loaded, timeout=5000)
        assert page.rehearsal is None and not page.start_button.isEnabled()

        # a scheduled sync with posting off: a rehearsal, nothing sent
        services.submit_scheduled("scheduler")
        qtbot.waitUntil(lambda: len(ended) == 1, timeout=180000)
        assert ended[0].kind == "finished", ended[0].message
        assert sent_documents() == set() and sandbox.company.syspro.ap_invoices == []
        stored = rehearsal.latest()
        assert stored is not None
        qtbot.waitUntil(lambda: page.rehearsal is not None and page.rehearsal.id == stored.id, timeout=5000)

        # the page shows the simulators' answer
        listed = {doc.key for doc in stored.would_post()}
        held = {doc.key for doc in stored.documents if doc.supplier == HELD_SUPPLIER}
        assert listed and held and not listed & held
        assert page.numbers["would_post"].count_label.text() == f"{len(listed):,}"
        assert page.numbers["amount"].count_label.text() == rehearsal_page.money(stored.total_amount())
        assert page.numbers["rejected"].count_label.text() == f"{len(held):,}"
        reasons = [label.text() for label in page.rejections_box.findChildren(QLabel, "rejectionReason")]
        assert f"Supplier is on hold — {len(held)} document{'s' if len(held) != 1 else ''}" in reasons
        assert page.supplier_table.item(page.supplier_table.rowCount() - 1, 2).text() == \
            rehearsal_page.money(stored.total_amount())
        assert page.start_button.text() == (f"Start posting — {len(listed)} documents, "
                                            f"{rehearsal_page.money(stored.total_amount())}")

        # Start posting, then the next scheduled sync posts what was listed, and only that
        monkeypatch.setattr(rehearsal_page, "confirm", lambda *a: True)
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.posting is True, timeout=5000)
        assert rehearsal.posting_enabled()
        qtbot.waitUntil(lambda: not dashboard.posting_banner.isVisibleTo(dashboard), timeout=5000)
        services.submit_scheduled("scheduler")
        qtbot.waitUntil(lambda: len(ended) == 2, timeout=180000)
        assert ended[1].kind == "finished", ended[1].message
        assert sent_documents() == listed
        assert {doc.doc_key for doc in ApDocument.select().where(ApDocument.state == ledger.FAILED)} == held
    finally:
        services.quit()
        services.shutdown()
        logs.reset_logging()


def test_run_rehearsal_again_runs_on_the_worker_and_shows_what_it_found(qtbot, sandbox, bridge):
    from desktop_app.ui.rehearsal_page import RehearsalPage

    page = RehearsalPage(bridge)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded, timeout=5000)
    assert page.rehearsal is None and page.run_button.text() == "Run rehearsal"
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert not page.run_button.isEnabled() and page.run_button.text() == "Rehearsing…"  # busy, the GUI not blocked
    qtbot.waitUntil(lambda: page.rehearsal is not None and not page.running, timeout=180000)
    stored = rehearsal.latest()
    assert page.rehearsal.id == stored.id
    assert page.numbers["would_post"].count_label.text() == f"{len(stored.would_post()):,}"
    assert page.documents_table.rowCount() == len(stored.documents)
    assert page.run_button.isEnabled() and page.run_button.text() == "Run rehearsal again"
    assert sent_documents() == set() and sandbox.company.syspro.ap_invoices == []
