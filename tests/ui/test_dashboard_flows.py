"""The dashboard says which flow of the last sync failed and why, while the others ran."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_app.core.models import ApDocument
from desktop_app.sync import ledger
from desktop_app.ui.dashboard import flow_lines, summary_sentence

# The offscreen platform cannot resize real windows and says so when a shown window's minimum size
# changes (the failed-flow lines appearing); that is the test platform talking, not the app.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.mark.parametrize("sandbox", [{"syspro_options": {"odata_drop": "ApSupplier.SupplierName"}}], indirect=True)
def test_sync_now_with_vendors_failing_on_a_column_shows_that_flow_and_why(qtbot, sandbox, dashboard):
    with qtbot.waitSignal(dashboard.control.cycleEnded, timeout=120000) as ended:
        qtbot.mouseClick(dashboard.sync_button, Qt.MouseButton.LeftButton)
    kind, sentence, result = ended.args
    assert kind == "failed" and "ApSupplier lacks required column SupplierName" in sentence
    assert set(result.errors) == {"vendors"} and result["invoices"].posted > 5  # invoices still posted
    qtbot.waitUntil(lambda: dashboard.snapshot is not None and dashboard.snapshot.last_cycle is not None
                    and dashboard.flows_label.isVisible(), timeout=5000)
    lines = dashboard.flows_label.text().splitlines()
    assert lines[0].startswith("Vendors: failed — SYSPRO OData: ApSupplier lacks required column SupplierName: "
                               "the vendor sync cannot run.")
    assert lines[1:] == ["Invoices: ran.", "Purchase orders: ran.", "Inventory adjustments: ran."]
    assert "did not complete: SYSPRO OData: ApSupplier lacks required column SupplierName" \
        in dashboard.last_label.text()
    assert dashboard.last_label.text().endswith("(Vendors failed.)")
    posted = ApDocument.select().where(ApDocument.state.in_([ledger.POSTED, ledger.CONFIRMED])).count()
    assert dashboard.tiles[ledger.CONFIRMED].count + dashboard.tiles[ledger.POSTED].count == posted > 5


def test_a_cycle_without_failures_shows_no_flow_lines(qtbot, dashboard):
    qtbot.waitUntil(lambda: dashboard.snapshot is not None, timeout=5000)
    assert not dashboard.flows_label.isVisible()
    cycle = {"state": "completed", "error": "", "summary": {"vendors": {}, "invoices": {"posted": 2}}}
    assert [ran for _, ran, _ in flow_lines(cycle)] == [True, True]
    assert summary_sentence(cycle) == "It finished: 2 posted."


def test_one_reason_shared_by_every_flow_is_said_once():
    reason = "ServiceTitan is not fully set up: servicetitan.tenant is empty."
    cycle = {"state": "completed", "error": "",
             "summary": {"errors": {f: reason for f in ("vendors", "invoices", "purchase-orders", "adjustments")}}}
    assert summary_sentence(cycle) == f"It did not complete: {reason}"
    assert [line for _, _, line in flow_lines(cycle)][2] == f"Purchase orders: failed — {reason}"


def test_reasons_are_grouped_with_the_flows_they_stopped():
    cycle = {"state": "completed", "error": "",
             "summary": {"errors": {"adjustments": "ServiceTitan is not set up.",
                                    "invoices": "ServiceTitan is not set up.",
                                    "vendors": "The SYSPRO e.net address is not set."}}}
    assert summary_sentence(cycle) == ("It did not complete: ServiceTitan is not set up. (Invoices and Inventory "
                                       "adjustments failed.) The SYSPRO e.net address is not set. (Vendors failed.)")
