"""The Invoices page against a real ledger, a real bridge and real widgets (offscreen)."""
from __future__ import annotations

import datetime as dt
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from desktop_app.core.models import ApDocument, AuditEvent
from desktop_app.sync import ledger
from desktop_app.ui.invoice_model import ATTENTION, INVOICES, PAGE_SIZE
from desktop_app.ui.invoices_page import InvoicesPage
from desktop_app.ui.record_detail import pretty_xml
from desktop_app.ui.record_table import RecordTableModel
from desktop_app.ui.widgets import ID_ROLE, STATE_ROLE, format_money
from tests.ui.pages_data import demo_ledger, make_document


def open_page(qtbot, bridge) -> InvoicesPage:
    page = InvoicesPage(bridge)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    qtbot.waitUntil(lambda: page.model.ready, timeout=5000)
    return page


def shown_numbers(page: InvoicesPage) -> list[str]:
    return [page.model.index(row, 1).data() for row in range(page.model.rowCount())]


def select(qtbot, page: InvoicesPage, doc_id: int) -> None:
    assert page.select_document(doc_id)
    qtbot.waitUntil(lambda: page.detail_pane.detail is not None and page.detail_pane.detail.id == doc_id,
                    timeout=5000)


def test_model_passes_the_model_tester(qtbot, qtmodeltester, bridge):
    demo_ledger()
    model = RecordTableModel(bridge, INVOICES)
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.reload()
    assert model.rowCount() == 6
    qtmodeltester.check(model, force_py=True)
    assert model.flags(model.index(-1, -1)) == Qt.ItemFlag.NoItemFlags


def test_model_pages_rows_lazily(qtbot, bridge):
    for n in range(PAGE_SIZE + 30):
        ApDocument.create(doc_key=f"{n}:S", st_invoice_id=n, st_invoice_number=f"{n:05d}", state="POSTED",
                          supplier="S")
    model = RecordTableModel(bridge, INVOICES)
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.reload()
    assert model.rowCount() == PAGE_SIZE + 30
    assert model.row_at(PAGE_SIZE) is None  # second page not fetched yet
    with qtbot.waitSignal(model.pageLoaded, timeout=5000):
        assert model.index(PAGE_SIZE + 5, 1).data() == "…"
    assert model.index(PAGE_SIZE + 5, 1).data() not in (None, "…")


def test_page_shows_documents_with_badges_and_amounts(qtbot, bridge):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    assert page.count_label.text() == "6 documents"
    assert sorted(shown_numbers(page)) == ["1001", "1002", "1003", "1004", "1005", "1006"]
    row = page.model.row_of(docs["posted"].id)
    assert page.model.index(row, 0).data(STATE_ROLE) == "POSTED"
    assert page.model.index(row, 5).data() == "1,037.50"
    assert page.model.index(row, 5).data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    credit = page.model.row_of(docs["credit"].id)
    assert page.model.index(credit, 4).data() == "Credit note"
    assert page.model.index(credit, 5).data() == "-42.00"


def test_state_filter_and_search(qtbot, bridge):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.set_state_filter("FAILED")
    assert shown_numbers(page) == ["1003"]
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.set_state_filter(ATTENTION)
    assert sorted(shown_numbers(page)) == ["1003", "1004", "1006"]
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.set_state_filter(None)
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.search_box.setText("on hold")  # the reason is searched
    assert shown_numbers(page) == ["1003"]
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.search_box.setText("FERG")     # and the supplier
    assert sorted(shown_numbers(page)) == ["1002", "1006"]
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.search_box.setText("")
    qtbot.waitUntil(lambda: page.supplier_combo.count() > 1, timeout=5000)
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.supplier_combo.setCurrentIndex(page.supplier_combo.findData("WINS03"))
    assert shown_numbers(page) == ["1003"]
    assert docs["failed"].id == page.model.index(0, 0).data(ID_ROLE)


def test_sorting_by_header_is_done_by_the_database(qtbot, bridge):
    demo_ledger()
    page = open_page(qtbot, bridge)
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.table.horizontalHeader().setSortIndicator(5, Qt.SortOrder.AscendingOrder)
    amounts = [page.model.index(r, 5).data() for r in range(page.model.rowCount())]
    assert amounts == ["-42.00", "0.00", "88.20", "250.00", "310.00", "1,037.50"]


# the offscreen platform warns when any dialog is shown
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_selecting_a_row_shows_lines_total_and_trail(qtbot, bridge):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["failed"].id)
    pane = page.detail_pane
    assert pane.title.text() == "ST invoice 1003"
    assert pane.badge.text() == "Failed"
    assert pane.lines_model.rowCount() == 2
    assert pane.lines_model.index(0, 0).data() == "CU12-COPPER"
    assert pane.lines_model.index(0, 2).data() == "5100-100"
    assert pane.lines_model.index(1, 4).data() == "1,000.00"
    assert pane.total_label.text() == "Total  1,037.50"
    assert [e.kind for e in pane.trail_model.events] == ["discovered", "post_attempt"]
    assert pane.trail_model.index(1, 4).data() == "View"
    assert "on hold" in pane.reason.text()
    assert pane.retry_button.isEnabled() and pane.skip_button.isEnabled()
    # the XML of the post attempt opens indented, in a monospaced viewer
    pane.trail_view.setCurrentIndex(pane.trail_model.index(1, 0))
    assert pane.xml_button.isEnabled()
    pane.xml_button.click()
    dialog = pane.xml_dialog
    assert dialog is not None and dialog.isVisible()
    assert "  <Item>" in dialog.editors["Sent to SYSPRO"].toPlainText()
    dialog.close()


def test_retry_is_offered_only_where_it_can_help(qtbot, bridge):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["posted"].id)
    assert not page.detail_pane.retry_button.isEnabled()
    assert not page.detail_pane.skip_button.isEnabled()
    select(qtbot, page, docs["changed"].id)
    assert page.detail_pane.keep_button.isEnabled()


def test_skip_with_a_reason_moves_the_document_to_skipped(qtbot, bridge, monkeypatch):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["failed"].id)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Supplier billed us directly", True))
    page.detail_pane.skip_button.click()
    qtbot.waitUntil(lambda: page.detail_pane.detail.state == ledger.SKIPPED, timeout=5000)
    doc = ApDocument.get_by_id(docs["failed"].id)
    assert doc.state == ledger.SKIPPED
    assert "Supplier billed us directly" in doc.reason
    assert AuditEvent.select().where(AuditEvent.document_id == doc.id, AuditEvent.kind == "skipped").count() == 1
    assert "is skipped" in page.status.text()
    # the grid follows, and the selection stays on the document
    qtbot.waitUntil(lambda: page.model.index(page.model.row_of(doc.id), 0).data(STATE_ROLE) == "SKIPPED",
                    timeout=5000)
    assert page.table.currentIndex().data(ID_ROLE) == doc.id


def test_skip_without_a_reason_changes_nothing(qtbot, bridge, monkeypatch):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["failed"].id)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("  ", True))
    page.detail_pane.skip_button.click()
    assert "reason is needed" in page.status.text()
    bridge.wait_idle()
    assert ApDocument.get_by_id(docs["failed"].id).state == ledger.FAILED


def test_keep_as_posted(qtbot, bridge):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["changed"].id)
    page.detail_pane.keep_button.click()
    qtbot.waitUntil(lambda: page.detail_pane.detail.state == ledger.POSTED, timeout=5000)
    assert ApDocument.get_by_id(docs["changed"].id).state == ledger.POSTED


def test_needs_mapping_shows_what_blocks_it_with_an_add_button(qtbot, bridge):
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["needs"].id)
    pane = page.detail_pane
    assert pane.missing_box.isVisibleTo(page)
    assert len(pane.missing_buttons) == 1
    with qtbot.waitSignal(page.openMapping, timeout=2000) as blocker:
        pane.missing_buttons[0].click()
    assert blocker.args == ["vendors", 4242]


def test_refreshes_when_the_ledger_changes(qtbot, bridge):
    demo_ledger()
    page = open_page(qtbot, bridge)
    make_document("2001", ledger.FAILED)
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        bridge.dataChanged.emit("invoices")
    assert "2001" in shown_numbers(page)
    assert page.count_label.text() == "7 documents"


def test_pretty_xml_leaves_non_xml_alone():
    assert pretty_xml("ERROR: session expired") == "ERROR: session expired"
    assert format_money(None) == ""


def test_retry_in_the_page_posts_a_rejected_document(qtbot, sandbox, bridge):
    """Real engine against the simulators: SYSPRO rejects one post, the user clicks Retry, it posts."""
    from desktop_app.sync.cycle import run_cycle

    sandbox.syspro.set_faults({"reject_post": 1})
    results = []
    with qtbot.waitSignal(bridge.dataChanged, timeout=120000):
        bridge.run_job("cycle", run_cycle, actor="sync-now", on_done=results.append, on_error=results.append)
    assert results and not isinstance(results[0], str), results
    failed = ApDocument.get(ApDocument.state == ledger.FAILED)

    page = open_page(qtbot, bridge)
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        page.set_state_filter("FAILED")
    assert shown_numbers(page) == [failed.st_invoice_number]
    select(qtbot, page, failed.id)
    assert page.detail_pane.retry_button.isEnabled()
    assert page.detail_pane.reason.text() == failed.reason != ""
    page.detail_pane.retry_button.click()
    assert not page.detail_pane.retry_button.isEnabled()  # busy while the job runs
    qtbot.waitUntil(lambda: page.detail_pane.detail.state in (ledger.POSTED, ledger.CONFIRMED), timeout=60000)
    assert ApDocument.get_by_id(failed.id).state in (ledger.POSTED, ledger.CONFIRMED)
    assert "is now posted" in page.status.text()
    assert "user-retry" in {e.actor for e in page.detail_pane.trail_model.events}
    assert not page.detail_pane.retry_button.isEnabled()


def test_retry_all_failed_posts_every_rejected_document_in_the_engine_process(qtbot, sandbox, bridge, monkeypatch):
    from desktop_app.sync import invoices
    from desktop_app.sync.cycle import run_cycle

    sandbox.syspro.set_faults({"reject_post": 2})
    with qtbot.waitSignal(bridge.dataChanged, timeout=120000):
        bridge.run_job("cycle", run_cycle, actor="sync-now")
    failed = [doc.id for doc in ApDocument.select().where(ApDocument.state == ledger.FAILED)]
    assert len(failed) == 2

    # Retry all goes to the engine process: this process must not post
    monkeypatch.setattr(invoices, "post_documents", lambda *a, **k: pytest.fail("posted in the GUI process"))
    page = open_page(qtbot, bridge)
    page.retry_all_button.click()
    assert not page.retry_all_button.isEnabled()  # busy while the job runs
    qtbot.waitUntil(lambda: page.retry_all_button.isEnabled(), timeout=60000)
    assert page.status.text().startswith("Retry finished: 2 documents posted"), page.status.text()
    assert {ApDocument.get_by_id(doc_id).state for doc_id in failed} <= {ledger.POSTED, ledger.CONFIRMED}


def test_refresh_updates_changed_rows_in_place(qtbot, bridge):
    """A refresh of the same query announces only what changed: no model reset (a reset makes the
    view ask for every visible cell again, which stalls the GUI while a sync holds the GIL)."""
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    model = page.model
    resets, changes, inserted = [], [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda first, last, _roles=(): changes.append((first.row(), last.row())))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))

    with qtbot.waitSignal(model.loaded, timeout=5000):
        page.refresh()
    assert (resets, changes, inserted) == ([], [], [])  # nothing changed: nothing to repaint

    doc = docs["posted"]
    ApDocument.update(state=ledger.SKIPPED, reason="not ours").where(ApDocument.id == doc.id).execute()
    make_document("2002", ledger.FAILED, day=dt.date(2020, 1, 1))  # oldest: the last row
    with qtbot.waitSignal(model.loaded, timeout=5000):
        page.refresh()
    assert resets == []
    row = model.row_of(doc.id)
    assert changes == [(row, row)]
    assert inserted == [(6, 6)] and model.rowCount() == 7
    assert model.index(row, 0).data(STATE_ROLE) == ledger.SKIPPED
    assert model.index(6, 1).data() == "2002"

    with qtbot.waitSignal(model.loaded, timeout=5000):
        page.search_box.setText("2002")
        page.search_box.returnPressed.emit()
    assert resets == [1]  # a new query still resets
    assert shown_numbers(page) == ["2002"]


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_repainting_the_grid_enters_python_once_per_cell(qtbot, bridge):
    """During a sync every entry of the GUI thread into Python waits for the GIL: a repaint asks each
    cell's roles in one multiData call (not one data call per role) and the state badge is an icon
    that Qt's own delegate paints (no Python delegate)."""
    from PySide6.QtGui import QIcon

    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    page.show()
    qtbot.waitExposed(page)
    assert page.table.itemDelegateForColumn(0) is None
    row = page.model.row_of(docs["posted"].id)
    badge = page.model.index(row, 0)
    assert badge.data() is None
    assert badge.data(Qt.ItemDataRole.AccessibleTextRole) == "Posted"
    icon = badge.data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert icon.availableSizes()[0].width() > icon.availableSizes()[0].height() > 10  # a pill, not a dot

    calls = {"data": 0, "multiData": 0}
    codes = {RecordTableModel.data.__code__: "data", RecordTableModel.multiData.__code__: "multiData"}

    def profile(frame, event, _arg):
        if event == "call" and frame.f_code in codes:
            calls[codes[frame.f_code]] += 1
    qtbot.wait(50)  # the first paint and the header's layout happen
    sys.setprofile(profile)
    try:
        page.table.viewport().repaint()
    finally:
        sys.setprofile(None)
    cells = page.model.rowCount() * page.model.columnCount()
    assert calls == {"data": 0, "multiData": cells}


def test_the_detail_names_the_stock_lines_left_out_and_why(qtbot, sandbox, bridge):
    from desktop_app.core import config
    from tests.integration.two_way_helpers import cycle

    config.save_setting("sync.ap_lines", "non_stock", actor="test")
    cycle("invoices")
    posted = next(d for d in ApDocument.select().where(ApDocument.state == ledger.CONFIRMED) if d.left_out)
    skipped = next(d for d in ApDocument.select().where(ApDocument.state == ledger.SKIPPED) if d.left_out)
    page = open_page(qtbot, bridge)
    select(qtbot, page, posted.id)
    pane = page.detail_pane
    assert pane.left_out_label.isVisibleTo(pane)
    text = pane.left_out_label.text()
    assert text.startswith(f"Left out of AP ({len(posted.left_out)} line(s))")
    for line in posted.left_out:
        assert line["sku_code"] in text and f"used from your own stock ({line['location']})" in text
    assert pane.lines_model.rowCount() == len(posted.lines)  # the AP lines are the others
    assert any("Left out" in event.message for event in pane.trail_model.events)

    select(qtbot, page, skipped.id)
    assert pane.reason.isVisibleTo(pane) and "own stock" in pane.reason.text()
    assert pane.left_out_label.isVisibleTo(pane) and pane.total_label.text() == "No cost lines."

    select(qtbot, page, next(d.id for d in ApDocument.select() if not d.left_out))
    assert not pane.left_out_label.isVisibleTo(pane)


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_a_held_credit_is_applied_to_the_syspro_invoice_the_person_types(qtbot, bridge):
    held = make_document("2001", ledger.HELD, supplier="FERG02", amount="-42.00", code="C",
                         reason="Return 2001 credits nothing known: pick the SYSPRO invoice to credit, or skip it.")
    held.syspro_invoice, held.credit_of = "", 1001
    held.save()
    docs = demo_ledger()
    page = open_page(qtbot, bridge)
    select(qtbot, page, docs["posted"].id)
    assert page.detail_pane.credit_button.isHidden()  # an invoice credits nothing
    page.set_state_filter(ledger.HELD)
    qtbot.waitUntil(lambda: shown_numbers(page) == ["2001"], timeout=5000)
    select(qtbot, page, held.id)
    pane = page.detail_pane
    assert not pane.credit_button.isHidden() and pane.credit_button.isEnabled()
    assert "pick the SYSPRO invoice" in pane.reason.text()
    assert pane.fact_labels["Type"].text() == "Credit note (returns ST invoice 1001)"

    qtbot.mouseClick(pane.credit_button, Qt.MouseButton.LeftButton)
    dialog = page.credit_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.invoice_edit, "INV-88012")
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ApDocument.get_by_id(held.id).state == ledger.READY, timeout=5000)
    doc = ApDocument.get_by_id(held.id)
    assert (doc.syspro_invoice, doc.credit_against) == ("INV-88012", "INV-88012")
    (event,) = AuditEvent.select().where(AuditEvent.document_id == held.id, AuditEvent.kind == "credit_target_picked")
    assert event.actor == "user" and "INV-88012" in event.message
    qtbot.waitUntil(lambda: "INV-88012" in page.status.text(), timeout=5000)


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_cancelling_the_credit_dialog_changes_nothing(qtbot, bridge):
    held = make_document("2002", ledger.HELD, supplier="FERG02", amount="-42.00", code="C", reason="held")
    page = open_page(qtbot, bridge)
    select(qtbot, page, held.id)
    page.detail_pane.credit_button.click()
    dialog = page.credit_dialog
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    bridge.wait_idle()
    assert ApDocument.get_by_id(held.id).state == ledger.HELD


def test_an_unreadable_invoice_is_listed_as_cannot_be_read_with_retry(qtbot, bridge):
    reason = "ServiceTitan invoice 43008: items[2].cost 'abc' is not an amount. Nothing of it is posted"
    doc = make_document("43008", ledger.UNREADABLE, supplier="", reason=reason)
    page = open_page(qtbot, bridge)
    combo = page.state_combo
    index = combo.findData(ledger.UNREADABLE)
    assert index >= 0 and combo.itemText(index) == "Cannot be read"
    combo.setCurrentIndex(index)
    qtbot.waitUntil(lambda: shown_numbers(page) == ["43008"], timeout=5000)
    select(qtbot, page, doc.id)
    assert page.detail_pane.retry_button.isEnabled()
    # "Needs attention" lists it too
    with qtbot.waitSignal(page.model.loaded, timeout=5000):
        combo.setCurrentIndex(combo.findText("Needs attention"))
    qtbot.waitUntil(lambda: page.model.ready and "43008" in shown_numbers(page), timeout=5000)
