"""Vendors, Purchase orders and Adjustments pages: the two-way flows' records, conflicts and the worklist."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QFileDialog

from desktop_app.core.models import SyncLink, WorklistRow
from desktop_app.sync import records
from desktop_app.ui.adjustments_page import AdjustmentsPage
from desktop_app.ui.main_window import external_page
from desktop_app.ui.record_table import RecordTableModel
from desktop_app.ui.records_model import (
    ATTENTION,
    COL_LABEL,
    ConflictModel,
    WorklistModel,
    conflict_rows,
    load_worklist,
    record_view,
)
from desktop_app.ui.records_page import PurchaseOrdersPage, RecordsPage, VendorsPage
from desktop_app.ui.widgets import DIFFERENCE_BACKGROUND

PO_CONFLICT = {
    "servicetitan": {"vendor": 7, "location": 3, "cancelled": False,
                     "lines": [{"item": 91, "sku": 11, "qty": "5", "cost": "2.50"}]},
    "syspro": {"supplier": "FERGUS", "warehouse": "DAL", "cancelled": False,
               "lines": [{"line": 1, "stock": "CU12", "qty": "4", "price": "2.75"}]},
    "last_synced": {"servicetitan": {"vendor": 7, "location": 3, "cancelled": False,
                                     "lines": [{"item": 91, "sku": 11, "qty": "4", "cost": "2.50"}]},
                    "syspro": {"supplier": "FERGUS", "warehouse": "DAL", "cancelled": False,
                               "lines": [{"line": 1, "stock": "CU12", "qty": "4", "price": "2.50"}]}},
}


def seed_records() -> dict[str, SyncLink]:
    def make(state, label, **fields):
        return records.new_link("purchase-orders", state=state, kind="discovered", message=f"{label} found",
                                actor="test", label=label, **fields)

    links = {"synced": make(records.SYNCED, "10551-PO", st_id=10551, syspro_key="000020", origin="servicetitan"),
             "held": make(records.HELD, "000002", syspro_key="000002", origin="syspro",
                          reason="Cannot be created in ServiceTitan: supplier FASTEN has no ServiceTitan vendor"),
             "failed": make(records.FAILED, "10600-PO", st_id=10600, origin="servicetitan",
                            reason="SYSPRO refused it: warehouse XX is not valid")}
    conflict = make(records.SYNCED, "10605-PO", st_id=10605, syspro_key="000003", origin="syspro")
    records.transition(conflict, records.CONFLICT, "conflict", "Changed on both sides", actor="test",
                       conflict=PO_CONFLICT, reason="Changed in ServiceTitan and in SYSPRO since the last sync")
    links["conflict"] = conflict
    return links


def seed_worklist() -> list[WorklistRow]:
    return [WorklistRow.create(movement_key=f"3/{n}/DAL/CAP355/2026-11-1{n}", warehouse="DAL", stock_code="CAP355",
                               quantity=Decimal(qty), st_location_id=10002, st_location_name="Dallas Warehouse",
                               st_sku_id=10058, st_sku_code="CAP-35-5", syspro_reference=f"CYCLE COUNT {n}",
                               journal="3", entry_date=dt.date(2026, 11, 10 + n))
            for n, qty in ((1, "-1"), (2, "2.5"))]


def texts(model, row: int) -> list:
    return [model.index(row, c).data() for c in range(model.columnCount())]


def run_cycle_job(qtbot, bridge) -> None:
    from desktop_app.sync.cycle import run_cycle

    results = []
    bridge.run_job("cycle", run_cycle, actor="sync-now", on_done=results.append, on_error=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=60000)
    assert not isinstance(results[0], str) and not results[0].errors, results


def open_page(qtbot, page):
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.ready, timeout=5000)
    return page


def select(qtbot, page: RecordsPage, record_id: int) -> None:
    assert page.select_record(record_id)
    qtbot.waitUntil(lambda: page.detail_pane.detail is not None and page.detail_pane.detail.id == record_id,
                    timeout=5000)


# ---------------------------------------------------------------- models, on seeded records
def test_models_pass_the_model_tester(qtbot, qtmodeltester, bridge):
    seed_records()
    seed_worklist()
    model = RecordTableModel(bridge, record_view("purchase-orders"))
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.reload()
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 4
    conflicts = ConflictModel()
    conflicts.set_conflict(PO_CONFLICT)
    qtmodeltester.check(conflicts, force_py=True)
    worklist = WorklistModel()
    worklist.set_rows(load_worklist(True)[0])
    qtmodeltester.check(worklist, force_py=True)
    assert worklist.flags(worklist.index(0, 0)) & Qt.ItemFlag.ItemIsUserCheckable
    assert texts(worklist, 0)[1:9] == ["2026-11-11", "DAL", "Dallas Warehouse", "CAP355", "CAP-35-5", "-1",
                                       "CYCLE COUNT 1", "3"]
    assert worklist.index(1, 6).data() == "+2.5"  # signed, so a count up is not read as a count down
    assert worklist.index(0, 6).data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight


def test_a_po_conflict_lists_only_changed_fields_and_marks_the_side_that_changed():
    rows = {row.field: row for row in conflict_rows(PO_CONFLICT)}
    assert set(rows) == {"Line 1 quantity", "Line 1 price"}  # line ids and unchanged fields are left out
    quantity, price = rows["Line 1 quantity"], rows["Line 1 price"]
    assert (quantity.servicetitan, quantity.syspro, quantity.last_synced) == ("5", "4", "4")
    assert quantity.st_changed and not quantity.syspro_changed
    assert (price.servicetitan, price.syspro, price.last_synced) == ("2.5", "2.75", "2.5")
    assert price.syspro_changed and not price.st_changed
    model = ConflictModel()
    model.set_conflict(PO_CONFLICT)
    row = [r.field for r in model.rows].index("Line 1 quantity")
    assert model.index(row, 1).data(Qt.ItemDataRole.BackgroundRole) == DIFFERENCE_BACKGROUND
    assert model.index(row, 2).data(Qt.ItemDataRole.BackgroundRole) is None


def test_page_counts_filters_and_detail(qtbot, bridge):
    links = seed_records()
    page = open_page(qtbot, PurchaseOrdersPage(bridge))
    assert page.model.rowCount() == 4
    assert page.count_label.text().startswith("4 purchase orders")
    assert "1 conflict" in page.count_label.text() and "1 held" in page.count_label.text()
    assert "cannot change a PO's status" in page.explanation.text()
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.set_state_filter(ATTENTION)
    assert {page.model.rows[r]["label"] for r in range(page.model.rowCount())} == {"000002", "10600-PO", "10605-PO"}
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.search_box.setText("warehouse XX")
        page.search_box.returnPressed.emit()
    assert [row["label"] for row in page.model.rows] == ["10600-PO"]
    select(qtbot, page, links["failed"].id)
    pane = page.detail_pane
    assert pane.retry_button.isEnabled() and not pane.conflict_box.isVisibleTo(pane)
    assert pane.reason.text() == "SYSPRO refused it: warehouse XX is not valid"
    assert [e.kind for e in pane.trail_model.events] == ["discovered"]
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.search_box.clear()
        page.search_box.returnPressed.emit()
    select(qtbot, page, links["conflict"].id)
    assert pane.conflict_box.isVisibleTo(pane) and pane.keep_syspro_button.isEnabled()
    assert not pane.retry_button.isVisibleTo(pane)
    assert pane.conflict_model.rowCount() == 2


def test_pages_are_wired_into_the_main_window(qtbot, bridge):
    window = SimpleNamespace(bridge=bridge)
    for module, name, cls in (("records_page", "VendorsPage", VendorsPage),
                              ("records_page", "PurchaseOrdersPage", PurchaseOrdersPage),
                              ("adjustments_page", "AdjustmentsPage", AdjustmentsPage)):
        page = external_page(module, name, name)(window)
        qtbot.addWidget(page)
        assert isinstance(page, cls)
    bridge.wait_idle()


def test_export_csv_writes_the_open_rows(qtbot, bridge, tmp_path, monkeypatch):
    rows = seed_worklist()
    WorklistRow.update(done=True, done_by="dana").where(WorklistRow.id == rows[1].id).execute()
    page = AdjustmentsPage(bridge)
    qtbot.addWidget(page)
    panel = page.worklist
    qtbot.waitUntil(lambda: panel.ready, timeout=5000)
    assert panel.model.rowCount() == 1 and page.tabs.tabText(1) == "Stock-difference worklist (1)"
    target = tmp_path / "worklist.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV files (*.csv)"))
    panel.export_button.click()
    qtbot.waitUntil(lambda: "Exported" in panel.status.text(), timeout=5000)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("id,warehouse,st_location_id") and len(lines) == 2 and "CYCLE COUNT 1" in lines[1]
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.show_done.setChecked(True)
    assert panel.model.rowCount() == 2
    panel.export_button.click()
    qtbot.waitUntil(lambda: "Exported 2 rows" in panel.status.text(), timeout=5000)
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 3


# ---------------------------------------------------------------- the real engine against the simulators
def test_a_cycle_fills_the_pages_and_a_worklist_row_can_be_ticked_off(qtbot, sandbox, bridge):
    vendors, pos, adjustments_page = VendorsPage(bridge), PurchaseOrdersPage(bridge), AdjustmentsPage(bridge)
    for page in (vendors, pos, adjustments_page):
        qtbot.addWidget(page)
    qtbot.waitUntil(lambda: vendors.ready and pos.ready and adjustments_page.worklist.ready, timeout=5000)
    assert vendors.model.rowCount() == 0 and adjustments_page.worklist.model.rowCount() == 0

    run_cycle_job(qtbot, bridge)  # the pages refresh on the bridge's dataChanged
    expected = {flow: SyncLink.select().where(SyncLink.flow == flow).count() for flow in records.FLOWS}
    assert all(expected.values()), expected
    panel = adjustments_page.worklist
    qtbot.waitUntil(lambda: vendors.model.rowCount() == expected["vendors"]
                    and pos.model.rowCount() == expected["purchase-orders"]
                    and adjustments_page.records.model.rowCount() == expected["adjustments"]
                    and panel.model.rowCount() == WorklistRow.select().count() > 0, timeout=10000)
    lone_star = next(r for r in vendors.model.rows if r["label"] == "Lone Star Copper & Tube")
    assert lone_star["state"] == records.SYNCED and lone_star["syspro_key"] == "LONESTARCOPPERT"
    assert f"{expected['vendors']} vendors" in vendors.count_label.text()

    # tick the first row, as a click on its check box does
    first = panel.model.rows[0]["id"]
    assert panel.model.setData(panel.model.index(0, 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    qtbot.waitUntil(lambda: "marked done" in panel.status.text(), timeout=5000)
    row = WorklistRow.get_by_id(first)
    assert row.done and row.done_by == "user" and row.done_at is not None
    qtbot.waitUntil(lambda: first not in [r["id"] for r in panel.model.rows], timeout=5000)  # done rows hidden
    # and undo it: show done rows, select it, "Not done"
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.show_done.setChecked(True)
    panel.table.selectRow([r["id"] for r in panel.model.rows].index(first))
    assert panel.undo_button.isEnabled()
    panel.undo_button.click()
    qtbot.waitUntil(lambda: not WorklistRow.get_by_id(first).done, timeout=5000)


def test_conflict_shown_side_by_side_and_keep_syspro(qtbot, sandbox, bridge):
    run_cycle_job(qtbot, bridge)
    vendor = next(v for v in sandbox.company.st.vendors.values() if v["name"] == "Hajoca Corp.")
    sandbox.company.st.update_vendor(vendor["id"], {"name": "Hajoca (ST edit)"})
    sandbox.company.syspro.suppliers["HAJOCA"]["SupplierName"] = "Hajoca (SYSPRO edit)"
    run_cycle_job(qtbot, bridge)
    link = SyncLink.get(SyncLink.flow == "vendors", SyncLink.syspro_key == "HAJOCA")
    assert link.state == records.CONFLICT

    page = open_page(qtbot, VendorsPage(bridge))
    assert "1 conflict" in page.count_label.text()
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.set_state_filter(records.CONFLICT)
    assert [row["id"] for row in page.model.rows] == [link.id]
    select(qtbot, page, link.id)
    pane = page.detail_pane
    assert pane.conflict_box.isVisibleTo(pane)
    assert texts(pane.conflict_model, 0) == ["Name", "Hajoca (ST edit)", "Hajoca (SYSPRO edit)", "Hajoca Corp."]
    assert pane.conflict_model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole) == DIFFERENCE_BACKGROUND
    assert pane.conflict_model.index(0, 2).data(Qt.ItemDataRole.BackgroundRole) == DIFFERENCE_BACKGROUND

    pane.keep_syspro_button.click()
    assert not pane.keep_syspro_button.isEnabled()  # busy while the job runs
    qtbot.waitUntil(lambda: "was kept" in page.status.text(), timeout=30000)
    assert SyncLink.get_by_id(link.id).state == records.SYNCED
    assert sandbox.company.st.vendors[vendor["id"]]["name"] == "Hajoca (SYSPRO edit)"
    assert "it is now synced" in page.status.text()
    qtbot.waitUntil(lambda: page.detail_pane.detail.state == records.SYNCED, timeout=5000)
    assert not pane.conflict_box.isVisibleTo(pane)
    assert "conflict_decided" in {e.kind for e in pane.trail_model.events}


def test_retry_sends_a_held_supplier_once_its_address_is_complete(qtbot, sandbox, bridge):
    run_cycle_job(qtbot, bridge)
    held = SyncLink.get(SyncLink.flow == "vendors", SyncLink.syspro_key == "GRAING")
    assert held.state == records.HELD
    page = open_page(qtbot, VendorsPage(bridge))
    select(qtbot, page, held.id)
    assert page.detail_pane.retry_button.isEnabled() and "SupAddr1" in page.detail_pane.reason.text()
    sandbox.company.syspro.suppliers["GRAING"].update(SupAddr1="100 Grainger Pkwy", SupPostalCode="60045")
    page.detail_pane.retry_button.click()
    qtbot.waitUntil(lambda: "Retry of" in page.status.text() and "finished" in page.status.text(), timeout=30000)
    assert SyncLink.get_by_id(held.id).state == records.SYNCED
    assert "user-retry" in {e.actor for e in page.detail_pane.trail_model.events}


def test_create_selected_on_the_vendors_page_creates_only_the_chosen_waiting_suppliers(qtbot, sandbox, bridge):
    from desktop_app.core import config

    config.save_setting("sync.max_auto_create", "2", actor="test")
    for n in range(3):
        sandbox.company.syspro.add_supplier(f"WAIT{n}", SupplierName=f"Waiting Supplier {n}", SupAddr1=f"{n} Main",
                                            SupAddr2="Waco", SupAddr3="TX", SupAddr4="USA", SupPostalCode="76701")
    vendors_before = len(sandbox.company.st.vendors)
    run_cycle_job(qtbot, bridge)
    waiting = {row.syspro_key: row.id for row in SyncLink.select().where(SyncLink.flow == "vendors",
                                                                   SyncLink.state == records.WAITING)}
    assert set(waiting) == {"WAIT0", "WAIT1", "WAIT2"} and len(sandbox.company.st.vendors) == vendors_before

    page = open_page(qtbot, VendorsPage(bridge))
    assert page.approval_banner.isVisibleTo(page)
    assert page.approval_label.text() == ("3 suppliers from SYSPRO wait for your approval before they are created "
                                          "in ServiceTitan.")
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.set_state_filter(records.WAITING)
    rows = {row["syspro_key"]: n for n, row in enumerate(page.model.rows)}
    selection = page.table.selectionModel()
    for code in ("WAIT0", "WAIT2"):
        selection.select(page.model.index(rows[code], 0), QItemSelectionModel.SelectionFlag.Select
                         | QItemSelectionModel.SelectionFlag.Rows)
    page.create_selected_button.click()
    assert not page.create_selected_button.isEnabled()  # busy while the job runs
    qtbot.waitUntil(lambda: "approved" in page.status.text(), timeout=30000)
    assert "2 vendors approved; 2 created" in page.status.text()
    assert [SyncLink.get_by_id(waiting[c]).state for c in ("WAIT0", "WAIT1", "WAIT2")] == \
        [records.SYNCED, records.WAITING, records.SYNCED]
    assert len(sandbox.company.st.vendors) == vendors_before + 2
    qtbot.waitUntil(lambda: page.approval_label.text().startswith("1 supplier from SYSPRO waits"), timeout=5000)


def test_an_alias_is_shown_as_such_and_can_be_made_the_primary_vendor(qtbot, sandbox, bridge, tmp_path):
    from desktop_app.sync.mappings import import_csv

    st = sandbox.company.st
    primary = next(v for v in st.vendors.values() if v["name"] == "Hajoca Corp.")
    copy = st.create_vendor({"name": "Hajoca (Waco)", "active": True, "address": {
        "street": "1 Elm", "city": "Waco", "state": "TX", "zip": "76701", "country": "USA"}})
    csv_file = tmp_path / "v.csv"
    csv_file.write_text(f"st_vendor_id,syspro_supplier\n{copy},HAJOCA\n")
    import_csv("vendors", csv_file)
    run_cycle_job(qtbot, bridge)
    alias = SyncLink.get(SyncLink.flow == "vendors", SyncLink.st_id == copy)

    page = open_page(qtbot, VendorsPage(bridge))
    row = page.model.row_of(alias.id)
    assert page.model.index(row, COL_LABEL).data() == f"Hajoca (Waco) (alias of vendor {primary['id']})"
    select(qtbot, page, alias.id)
    pane = page.detail_pane
    assert pane.primary_button.isVisibleTo(pane) and "Alias" in pane.reason.text()
    pane.primary_button.click()
    qtbot.waitUntil(lambda: "is now the primary vendor" in page.status.text(), timeout=5000)
    run_cycle_job(qtbot, bridge)
    assert not (SyncLink.get_by_id(alias.id).data or {}).get("alias_of")
    assert (SyncLink.get(SyncLink.flow == "vendors", SyncLink.st_id == primary["id"]).data or {})["alias_of"] == copy
    st.update_vendor(copy, {"name": "Hajoca Waco Branch"})
    run_cycle_job(qtbot, bridge)
    assert sandbox.company.syspro.suppliers["HAJOCA"]["SupplierName"] == "Hajoca Waco Branch"
