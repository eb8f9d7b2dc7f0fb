"""The four record pages (invoices, vendors, purchase orders, adjustments) are one page: the same grid
model, the same detail pane with the same History tab, each flow giving only what differs."""
from __future__ import annotations

import pathlib
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from desktop_app.core.models import SyncLink
from desktop_app.sync import ledger, records
from desktop_app.ui.adjustments_page import AdjustmentsPage
from desktop_app.ui.invoices_page import InvoicesPage
from desktop_app.ui.record_detail import HistoryTab, RecordDetailPane, XmlDialog
from desktop_app.ui.record_page import RecordListPage
from desktop_app.ui.record_table import RecordTableModel
from desktop_app.ui.records_page import PurchaseOrdersPage, VendorsPage
from desktop_app.ui.widgets import ID_ROLE, STATE_ROLE
from tests.ui.pages_data import demo_ledger

UI = pathlib.Path(__file__).resolve().parents[2] / "desktop_app" / "ui"
SENT = "<SetupApSupplier><Item><Key><Supplier>HAJOCA</Supplier></Key></Item></SetupApSupplier>"
RECEIVED = "<SetupApSupplier><Item><Error>Supplier HAJOCA has no address</Error></Item></SetupApSupplier>"


def record_pages(qtbot, bridge) -> tuple[dict[str, RecordListPage], AdjustmentsPage]:
    """Each flow's record page; the adjustments one is a tab of the AdjustmentsPage, kept alive with it."""
    adjustments = AdjustmentsPage(bridge)
    pages = {"invoices": InvoicesPage(bridge), "vendors": VendorsPage(bridge),
             "purchase-orders": PurchaseOrdersPage(bridge)}
    for page in (*pages.values(), adjustments):
        qtbot.addWidget(page)
    pages["adjustments"] = adjustments.records
    qtbot.waitUntil(lambda: all(page.ready for page in pages.values()) and adjustments.worklist.ready,
                    timeout=5000)
    return pages, adjustments


def test_one_model_one_detail_pane_and_one_history_tab_serve_all_four_pages(qtbot, bridge):
    pages, _adjustments = record_pages(qtbot, bridge)
    assert set(pages) == {"invoices", "vendors", "purchase-orders", "adjustments"}
    for flow, page in pages.items():
        assert isinstance(page, RecordListPage), flow
        assert type(page.model) is RecordTableModel, flow  # the same class, not a subclass per flow
        assert page.model.flow_view.key == flow and page.table.model() is page.model
        assert isinstance(page.detail_pane, RecordDetailPane)
        history = page.detail_pane.tabs.widget(page.detail_pane.tabs.count() - 1)
        assert type(history) is HistoryTab and page.detail_pane.tabs.tabText(page.detail_pane.tabs.count() - 1) \
            == "History"
        assert page.table.itemDelegateForColumn(0) is None  # every grid's badge is the model's icon
    # what differs is the flow's description: its columns
    assert pages["invoices"].model.headers[:3] == ["State", "ST invoice", "Supplier"]
    assert pages["vendors"].model.headers[1] == "Vendor" and pages["purchase-orders"].model.headers[1] == "PO number"


def test_the_shared_detail_pieces_have_no_twins():
    """XmlDialog, the history tab, its model, the read-only grid helper and the paged grid model are
    written once."""
    sources = {path.name: path.read_text(encoding="utf-8") for path in UI.glob("*.py")}
    for definition in (r"class XmlDialog\b", r"class HistoryTab\b", r"class TrailModel\b", r"def plain_table\b",
                       r"def pretty_xml\b", r"def _request_page\b", r"def _refresh_in_place\b"):
        where = [name for name, text in sources.items() if re.search(definition, text)]
        assert len(where) == 1, (definition, where)
    assert "QTableView(" not in "".join(text for name, text in sources.items()
                                         if name in ("invoices_page.py", "records_page.py", "adjustments_page.py"))


def click_row(qtbot, table: QTableView, row: int) -> None:
    index = table.model().index(row, 1)
    table.scrollTo(index)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())


def open_history_and_xml(qtbot, page: RecordListPage, record_id: int) -> XmlDialog:
    """As a person does: click the record's row, the History tab, the event with XML, View XML."""
    page.show()
    qtbot.waitExposed(page)
    row = page.model.row_of(record_id)
    click_row(qtbot, page.table, row)
    assert page.table.currentIndex().data(ID_ROLE) == record_id
    pane = page.detail_pane
    qtbot.waitUntil(lambda: pane.detail is not None and pane.detail.id == record_id, timeout=5000)
    bar = pane.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(pane.tabs.count() - 1).center())
    assert pane.tabs.currentWidget() is pane.history
    events = pane.trail_model.events
    with_xml = next(n for n, event in enumerate(events) if event.xml_sent)
    assert not pane.xml_button.isEnabled()
    click_row(qtbot, pane.trail_view, with_xml)
    assert pane.xml_button.isEnabled()
    qtbot.mouseClick(pane.xml_button, Qt.MouseButton.LeftButton)
    dialog = pane.xml_dialog
    assert isinstance(dialog, XmlDialog) and dialog.isVisible()
    return dialog


# the offscreen platform warns when any dialog is shown
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_invoices_and_vendors_behave_the_same_through_real_clicks(qtbot, bridge):
    docs = demo_ledger()
    hajoca = records.new_link("vendors", state=records.SYNCED, kind="discovered", message="Hajoca Corp. found",
                              actor="test", label="Hajoca Corp.", st_id=7, syspro_key="HAJOCA", origin="servicetitan")
    held = records.new_link("vendors", state=records.HELD, kind="discovered", message="Grainger found",
                            actor="test", label="Grainger", syspro_key="GRAING", origin="syspro",
                            reason="Cannot be created in ServiceTitan: SupAddr1 is empty")
    records.record(held, "post_attempt", "Sent to SYSPRO", actor="scheduler", xml_sent=SENT, xml_received=RECEIVED)
    invoices_page, vendors_page = InvoicesPage(bridge), VendorsPage(bridge)
    for page in (invoices_page, vendors_page):
        qtbot.addWidget(page)
        page.resize(1200, 800)
    qtbot.waitUntil(lambda: invoices_page.ready and vendors_page.ready, timeout=5000)

    # the counts, and a search typed into the box, the same way on both pages
    assert invoices_page.count_label.text() == "6 documents"
    assert vendors_page.count_label.text().startswith("2 vendors")
    for page, term, expected in ((invoices_page, "WINS03", [docs["failed"].id]), (vendors_page, "GRAIN", [held.id])):
        with qtbot.waitSignal(page.loaded, timeout=5000):
            qtbot.keyClicks(page.search_box, term)
            qtbot.keyClick(page.search_box, Qt.Key.Key_Return)
        assert [page.model.index(r, 0).data(ID_ROLE) for r in range(page.model.rowCount())] == expected
        assert page.model.index(0, 0).data(STATE_ROLE) in (ledger.FAILED, records.HELD)

    # the history of the chosen record, and the XML of its post, in the same viewer
    dialog = open_history_and_xml(qtbot, invoices_page, docs["failed"].id)
    assert "  <Item>" in dialog.editors["Sent to SYSPRO"].toPlainText()
    dialog.close()
    dialog = open_history_and_xml(qtbot, vendors_page, held.id)
    assert "<Supplier>HAJOCA</Supplier>" in dialog.editors["Sent to SYSPRO"].toPlainText()
    assert "has no address" in dialog.editors["Received from SYSPRO"].toPlainText()
    dialog.close()

    # Retry is offered on both for what failed or is held, and the reason says why it waits
    for page in (invoices_page, vendors_page):
        assert page.detail_pane.action_buttons["retry"].isEnabled()
    assert "on hold" in invoices_page.detail_pane.reason.text()
    assert "SupAddr1" in vendors_page.detail_pane.reason.text()
    # the other vendor was only filtered out, not touched
    assert SyncLink.get_by_id(hajoca.id).state == records.SYNCED


def right_click_menu(qtbot, page: RecordListPage, record_id: int):
    """A right-click on the record's row: the menu opens once its detail is shown."""
    page.show()
    qtbot.waitExposed(page)
    index = page.model.index(page.model.row_of(record_id), 1)
    page.table.scrollTo(index)
    page.table.customContextMenuRequested.emit(page.table.visualRect(index).center())
    qtbot.waitUntil(lambda: page.context_menu is not None and page.context_menu.isVisible(), timeout=5000)
    assert page.detail_pane.detail.id == record_id
    return page.context_menu


# the offscreen platform warns when a popup menu opens
@pytest.mark.qt_log_ignore("propagateSizeHints", r"support raise\(\)", "grabbing the keyboard")
def test_a_right_click_offers_the_records_actions_on_both_kinds_of_page(qtbot, bridge, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from desktop_app.core.models import ApDocument

    docs = demo_ledger()
    held = records.new_link("vendors", state=records.HELD, kind="discovered", message="Grainger found",
                            actor="test", label="Grainger", syspro_key="GRAING", origin="syspro", reason="no address")
    synced = records.new_link("vendors", state=records.SYNCED, kind="discovered", message="Hajoca found",
                              actor="test", label="Hajoca Corp.", st_id=7, syspro_key="HAJOCA", origin="servicetitan")
    invoices_page, vendors_page = InvoicesPage(bridge), VendorsPage(bridge)
    for page in (invoices_page, vendors_page):
        qtbot.addWidget(page)
        page.resize(1200, 800)
    qtbot.waitUntil(lambda: invoices_page.ready and vendors_page.ready, timeout=5000)

    menu = right_click_menu(qtbot, invoices_page, docs["failed"].id)
    items = {item.text(): item for item in menu.actions()}
    assert set(items) == {"Retry", "Skip…"}  # Keep as posted and Credit against… are not for a failed invoice
    assert items["Retry"].isEnabled() and items["Skip…"].isEnabled()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Paid by card", True))
    items["Skip…"].trigger()
    qtbot.waitUntil(lambda: ApDocument.get_by_id(docs["failed"].id).state == ledger.SKIPPED, timeout=5000)
    menu.close()

    menu = right_click_menu(qtbot, vendors_page, synced.id)
    assert [(item.text(), item.isEnabled()) for item in menu.actions()] == [("Retry", False)]  # nothing failed
    menu.close()
    qtbot.waitUntil(lambda: vendors_page.context_menu is None, timeout=2000)
    menu = right_click_menu(qtbot, vendors_page, held.id)
    assert [(item.text(), item.isEnabled()) for item in menu.actions()] == [("Retry", True)]
    menu.close()


def test_every_state_badge_fits_its_column_on_all_four_pages(qtbot, bridge):
    from desktop_app.ui.widgets import state_badge_icon

    pages, _adjustments = record_pages(qtbot, bridge)
    for flow, page in pages.items():
        widest = max(state_badge_icon(state).availableSizes()[0].width() for state in page.STATES)
        assert page.table.columnWidth(0) >= widest + 6, (flow, page.table.columnWidth(0), widest)
