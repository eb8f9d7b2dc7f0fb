"""The Go-live rehearsal page: real widgets and the real bridge, a rehearsal built here.

The numbers a rehearsal of the sandbox company shows are checked end to end in
test_rehearsal_flow.py; here the page is fed a rehearsal whose every number is known.
"""
from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel

from desktop_app.sync import rehearsal as engine
from desktop_app.sync.rehearsal import Creation, MappingNeed, Rehearsal, RehearsalDocument, RejectionGroup
from desktop_app.ui import rehearsal_page
from desktop_app.ui.rehearsal_page import RehearsalPage

# the offscreen platform says it cannot resize a shown top-level widget; that is the test platform talking
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ON_HOLD = "Supplier is on hold"
CLOSED = "AP period is closed"


def doc(n: int, supplier: str, branch: str, amount: str, *problems: str) -> RehearsalDocument:
    return RehearsalDocument(key=f"{n}:{supplier}", st_invoice_id=n, st_invoice_number=f"INV{n}", supplier=supplier,
                             branch=branch, transaction_code="I", amount=Decimal(amount),
                             invoice_date=dt.date(2026, 1, 5), problems=problems)


def sample() -> Rehearsal:
    documents = [doc(1, "ACME", "DAL", "100.10"), doc(2, "ACME", "HOU", "200.20"), doc(3, "BOLT", "DAL", "0.33"),
                 doc(4, "HOLD1", "DAL", "50.00", ON_HOLD), doc(5, "HOLD1", "HOU", "60.00", ON_HOLD),
                 doc(6, "BOLT", "DAL", "70.00", CLOSED)]
    return Rehearsal(
        id=1, ran_at=dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC), go_live=dt.date(2026, 1, 1),
        documents=documents,
        rejections=[RejectionGroup(CLOSED, "Open the AP period in SYSPRO", ("6:BOLT",)),
                    RejectionGroup(ON_HOLD, "Take the supplier off hold in SYSPRO", ("4:HOLD1", "5:HOLD1"))],
        needs_mapping=[MappingNeed("vendor", "Lone Star Copper", "Map the vendor to a SYSPRO supplier", 2, key="501")],
        creations=[Creation("SYSPRO", "vendors", "Pecos Supply", False),
                   Creation("ServiceTitan", "vendors", "Alamo Supply", True)])


@pytest.fixture
def stored(monkeypatch):
    """The engine's storage, as the page reads it: the latest rehearsal and the posting switch."""
    state = {"rehearsal": sample(), "posting": False, "started_with": None}
    monkeypatch.setattr(engine, "latest", lambda: state["rehearsal"])
    monkeypatch.setattr(engine, "posting_enabled", lambda: state["posting"])

    def start(rehearsal, *, actor):
        state.update(posting=True, started_with=rehearsal)

    def stop(*, actor):
        state["posting"] = False

    monkeypatch.setattr(engine, "start_posting", start)
    monkeypatch.setattr(engine, "stop_posting", stop)
    return state


def open_page(qtbot, bridge) -> RehearsalPage:
    page = RehearsalPage(bridge)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    qtbot.waitUntil(lambda: page.loaded, timeout=5000)
    return page


def cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_the_page_shows_the_numbers_totals_and_rejections_by_reason(qtbot, bridge, stored):
    page = open_page(qtbot, bridge)
    assert page.numbers["would_post"].count_label.text() == "3"
    assert page.numbers["amount"].count_label.text() == "$300.63"
    assert page.numbers["rejected"].count_label.text() == "3"
    assert page.numbers["mapping"].count_label.text() == "1"
    assert page.numbers["create"].count_label.text() == "2"
    assert page.numbers["rejected"].property("hot") is True
    assert cells(page.supplier_table) == [["ACME", "2", "$300.30"], ["BOLT", "1", "$0.33"], ["Total", "3", "$300.63"]]
    assert cells(page.branch_table) == [["DAL", "2", "$100.43"], ["HOU", "1", "$200.20"], ["Total", "3", "$300.63"]]
    # grouped by reason, the biggest group first, each with its fix and its documents by invoice number
    reasons = [label.text() for label in page.rejections_box.findChildren(QLabel, "rejectionReason")]
    assert reasons == [f"{ON_HOLD} — 2 documents", f"{CLOSED} — 1 document"]
    fixes = [label.text() for label in page.rejections_box.findChildren(QLabel, "rejectionFix")]
    assert fixes == ["How to fix: Take the supplier off hold in SYSPRO", "How to fix: Open the AP period in SYSPRO"]
    documents = page.rejections_box.findChildren(QLabel, "rejectionDocuments")
    assert [label.property("documents") for label in documents] == [["INV4", "INV5"], ["INV6"]]
    assert "Rehearsed" in page.header_label.text() and "01 Jan 2026" in page.header_label.text()
    assert "posting is off" in page.header_label.text()
    # what would be created, those that wait for approval first and marked
    assert cells(page.creations_table)[0] == ["ServiceTitan", "Vendors", "Alamo Supply", "Waits for your approval"]
    assert cells(page.creations_table)[1][3] == "Created by the sync"
    assert page.documents_table.rowCount() == 6


def test_the_mapping_button_opens_the_mapping_to_add(qtbot, bridge, stored):
    page = open_page(qtbot, bridge)
    assert len(page.mapping_buttons) == 1
    with qtbot.waitSignal(page.openMapping) as opened:
        qtbot.mouseClick(page.mapping_buttons[0], Qt.MouseButton.LeftButton)
    assert opened.args == ["vendors", "501"]


def test_start_posting_asks_with_the_numbers_then_turns_posting_on(qtbot, bridge, stored, monkeypatch):
    page = open_page(qtbot, bridge)
    assert page.start_button.text() == "Start posting — 3 documents, $300.63"
    assert page.start_button.isEnabled() and not page.stop_button.isVisible()
    asked = []
    monkeypatch.setattr(rehearsal_page, "confirm", lambda parent, title, text, informative, yes:
                        asked.append((text, informative)) or False)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert asked and "3 documents, $300.63" in asked[0][0]
    assert "3 documents SYSPRO would reject" in asked[0][1]
    bridge.wait_idle()
    qtbot.wait(50)
    assert stored["posting"] is False  # Cancel changes nothing

    monkeypatch.setattr(rehearsal_page, "confirm", lambda *a: True)
    with qtbot.waitSignal(bridge.dataChanged, check_params_cb=lambda what: what == "settings", timeout=5000):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert stored["posting"] is True
    assert stored["started_with"] is page.rehearsal
    assert page.start_button.text() == "Posting is on" and not page.start_button.isEnabled()
    assert page.stop_button.isVisible()

    with qtbot.waitSignal(bridge.dataChanged, timeout=5000):
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    assert stored["posting"] is False
    assert page.start_button.text().startswith("Start posting — 3 documents")


def test_export_csv_writes_the_rows(qtbot, bridge, stored, tmp_path, monkeypatch):
    page = open_page(qtbot, bridge)
    target = tmp_path / "rehearsal.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV files (*.csv)"))
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exported" in page.status.text(), timeout=5000)
    text = target.read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    for n in range(1, 7):
        assert any(f"INV{n}" in row for row in rows), f"INV{n} is not in the CSV"
    assert ON_HOLD in text and "100.10" in text


def test_the_summary_saves_as_a_pdf(qtbot, bridge, stored, tmp_path, monkeypatch):
    page = open_page(qtbot, bridge)
    target = tmp_path / "summary"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PDF files (*.pdf)"))
    qtbot.mouseClick(page.pdf_button, Qt.MouseButton.LeftButton)
    pdf = tmp_path / "summary.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "Saved the summary" in page.status.text()


def test_no_rehearsal_yet_says_so_and_offers_to_run_one(qtbot, bridge, stored):
    stored["rehearsal"] = None
    page = open_page(qtbot, bridge)
    assert page.empty_label.isVisible() and not page.content.isVisible()
    assert page.run_button.text() == "Run rehearsal" and page.run_button.isEnabled()
    assert not page.export_button.isEnabled() and not page.start_button.isEnabled()


def test_in_the_window_add_mapping_opens_the_mappings_page_on_that_vendor(qtbot, bridge, stored):
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.sync_control import SyncControl

    window = MainWindow(bridge, SyncControl(bridge))
    qtbot.addWidget(window)
    window.show()
    page = window.show_page("rehearsal")
    qtbot.waitUntil(lambda: page.loaded, timeout=5000)
    shown = []
    mappings = window.page("mappings")
    mappings.show_missing = lambda kind, key: shown.append((kind, key))
    qtbot.mouseClick(page.mapping_buttons[0], Qt.MouseButton.LeftButton)
    assert window.current_key() == "mappings"
    assert shown == [("vendors", "501")]
    window.quitting = True
