"""The Reconciliation page: rows and totals follow the ledger."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger
from desktop_app.ui.reconcile_page import ReconciliationPage, ReconModel
from desktop_app.ui.widgets import DIFFERENCE_BACKGROUND, PROBLEM_BACKGROUND
from tests.ui.pages_data import make_document

DAY1, DAY2 = dt.date(2024, 5, 2), dt.date(2024, 5, 3)


def seed() -> None:
    make_document("1", ledger.CONFIRMED, supplier="ACME01", amount="100.00", day=DAY1)
    make_document("2", ledger.CONFIRMED, supplier="ACME01", amount="50.25", day=DAY1)
    make_document("3", ledger.POSTED, supplier="FERG02", amount="1200.00", day=DAY1)   # not yet seen in SYSPRO
    make_document("4", ledger.CONFIRMED, supplier="FERG02", amount="10.00", day=DAY2)
    make_document("5", ledger.SKIPPED, supplier="FERG02", amount="999.00", day=DAY2)   # not owed: left out
    ApDocument.update(syspro_amount=Decimal("100.00")).where(ApDocument.st_invoice_number == "1").execute()
    ApDocument.update(syspro_amount=Decimal("50.25")).where(ApDocument.st_invoice_number == "2").execute()
    ApDocument.update(syspro_amount=Decimal("9.00")).where(ApDocument.st_invoice_number == "4").execute()


def open_page(qtbot, bridge) -> ReconciliationPage:
    page = ReconciliationPage(bridge)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.ready, timeout=5000)
    return page


def texts(model: ReconModel, row: int) -> list[str]:
    return [model.index(row, c).data() for c in range(model.columnCount())]


def test_rows_and_totals_match_the_documents(qtbot, qtmodeltester, bridge):
    seed()
    page = open_page(qtbot, bridge)
    model = page.model
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 4  # three groups and the totals row
    assert texts(model, 0) == ["2024-05-02", "ACME01", "DAL", "150.25", "150.25", "0.00", "2", "0"]
    assert texts(model, 1) == ["2024-05-02", "FERG02", "DAL", "1,200.00", "0.00", "1,200.00", "1", "1"]
    assert texts(model, 2) == ["2024-05-03", "FERG02", "DAL", "10.00", "9.00", "1.00", "1", "0"]
    assert texts(model, 3) == ["Total", "", "", "1,360.25", "159.25", "1,201.00", "4", "1"]
    assert model.index(0, 5).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(1, 5).data(Qt.ItemDataRole.BackgroundRole) == DIFFERENCE_BACKGROUND  # awaiting read-back
    assert model.index(2, 5).data(Qt.ItemDataRole.BackgroundRole) == PROBLEM_BACKGROUND     # confirmed mismatch
    assert model.index(3, 3).data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert page.summary.text() == ("1 line differs from SYSPRO AP; 1 line still waits for SYSPRO to confirm. "
                                   "Total difference 1,201.00.")


def test_date_filter(qtbot, bridge):
    seed()
    page = open_page(qtbot, bridge)
    with qtbot.waitSignal(page.model.modelReset, timeout=5000):
        page.set_day(DAY2)
    assert page.model.rowCount() == 2
    assert texts(page.model, 1)[3:6] == ["10.00", "9.00", "1.00"]
    with qtbot.waitSignal(page.model.modelReset, timeout=5000):
        page.all_button.click()
    assert page.model.rowCount() == 4


def test_export_csv_has_rows_and_totals(qtbot, bridge, tmp_path, monkeypatch):
    seed()
    page = open_page(qtbot, bridge)
    target = tmp_path / "recon.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV files (*.csv)"))
    page.export_button.click()
    qtbot.waitUntil(lambda: "Exported" in page.status.text(), timeout=5000)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("date,supplier,branch,st_cost")
    assert lines[2] == "2024-05-02,FERG02,DAL,1200.00,0.00,1200.00,1,1"
    assert lines[-1] == "TOTAL,,,1360.25,159.25,1201.00,4,1"
