"""The Mappings page: in-place edits checked by the engine's rules, undo, CSV import, suggestions."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QMessageBox

from desktop_app.core.models import ItemMapping, VendorMapping
from desktop_app.sync import code_lists, ledger, mappings
from desktop_app.ui.mapping_model import MappingTableModel, ProposalModel
from desktop_app.ui.mappings_page import MappingsPage, SuggestionsDialog
from desktop_app.ui.widgets import PROBLEM_BACKGROUND
from tests.ui.pages_data import MISSING_VENDOR, make_document

VENDORS = mappings.KINDS["vendors"]


def open_page(qtbot, bridge) -> MappingsPage:
    page = MappingsPage(bridge)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    qtbot.waitUntil(lambda: all(grid.loaded for grid in page.grids.values()), timeout=5000)
    return page


def seed_vendor(st_id=101, name="Ferguson", supplier="FERG02") -> VendorMapping:
    return VendorMapping.create(st_vendor_id=st_id, st_vendor_name=name, syspro_supplier=supplier)


def cell(grid, row, column_name):
    column = [c.name for c in grid.kind.columns].index(column_name)
    return grid.model.index(row, column)


def edit(qtbot, grid, row, column_name, text, *, saves=True):
    index = cell(grid, row, column_name)
    if saves:
        with qtbot.waitSignal(grid.bridge.dataChanged, timeout=5000):
            assert grid.model.setData(index, text)
    else:
        assert grid.model.setData(index, text)
        grid.bridge.wait_idle()


def test_models_pass_the_model_tester(qtmodeltester, engine_db):
    seed_vendor()
    model = MappingTableModel(VENDORS)
    model.load(mappings_rows("vendors"))
    model.add_row()
    qtmodeltester.check(model, force_py=True)
    assert model.flags(model.index(-1, -1)) == Qt.ItemFlag.NoItemFlags
    proposals = ProposalModel([{"st_id": 1, "st_code": "", "st_name": "A", "syspro_code": "A1", "reason": "same name"}])
    qtmodeltester.check(proposals, force_py=True)


def mappings_rows(kind_name):
    from desktop_app.ui.mapping_model import load_rows

    return load_rows(kind_name)[0]


def test_valid_edit_is_saved(qtbot, bridge):
    seed_vendor()
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    assert grid.model.rowCount() == 1
    edit(qtbot, grid, 0, "syspro_supplier", "FERG99")
    assert VendorMapping.get(st_vendor_id=101).syspro_supplier == "FERG99"
    assert VendorMapping.get(st_vendor_id=101).changed_by == "user"
    assert "Saved" in page.status.text()


def test_invalid_edit_is_highlighted_explained_and_not_saved(qtbot, bridge):
    seed_vendor()
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    edit(qtbot, grid, 0, "syspro_supplier", "A-SUPPLIER-CODE-THAT-IS-TOO-LONG", saves=False)
    index = cell(grid, 0, "syspro_supplier")
    assert index.data(Qt.ItemDataRole.BackgroundRole) == PROBLEM_BACKGROUND
    assert "SYSPRO allows at most 15" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert cell(grid, 0, "st_vendor_id").data(Qt.ItemDataRole.BackgroundRole) is None
    assert VendorMapping.get(st_vendor_id=101).syspro_supplier == "FERG02"
    # a bad id too: a whole number is needed
    edit(qtbot, grid, 0, "st_vendor_id", "12x", saves=False)
    assert "whole number" in cell(grid, 0, "st_vendor_id").data(Qt.ItemDataRole.ToolTipRole)
    assert VendorMapping.select().count() == 1


def test_new_row_is_saved_only_when_whole(qtbot, bridge):
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    row = grid.add_row()
    assert cell(grid, row, "syspro_supplier").data(Qt.ItemDataRole.BackgroundRole) is None  # quiet until edited
    edit(qtbot, grid, row, "st_vendor_id", "555", saves=False)
    assert cell(grid, row, "syspro_supplier").data(Qt.ItemDataRole.BackgroundRole) == PROBLEM_BACKGROUND
    assert VendorMapping.select().count() == 0
    edit(qtbot, grid, row, "syspro_supplier", "JOHN01")
    assert VendorMapping.get(st_vendor_id=555).syspro_supplier == "JOHN01"


def test_duplicate_key_is_refused(qtbot, bridge):
    seed_vendor()
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    row = grid.add_row({"st_vendor_id": "101"})
    edit(qtbot, grid, row, "syspro_supplier", "OTHER", saves=False)
    assert "already maps" in cell(grid, row, "st_vendor_id").data(Qt.ItemDataRole.ToolTipRole)
    assert VendorMapping.get(st_vendor_id=101).syspro_supplier == "FERG02"


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_undo_restores_the_previous_values(qtbot, bridge):
    seed_vendor()
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    edit(qtbot, grid, 0, "syspro_supplier", "FERG99")
    assert VendorMapping.get(st_vendor_id=101).syspro_supplier == "FERG99"
    page.show()
    page.activateWindow()
    qtbot.waitUntil(lambda: page.isActiveWindow(), timeout=2000)
    grid.view.setFocus()
    with qtbot.waitSignal(bridge.dataChanged, timeout=5000):
        qtbot.keyClick(grid.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert cell(grid, 0, "syspro_supplier").data() == "FERG02"
    assert VendorMapping.get(st_vendor_id=101).syspro_supplier == "FERG02"
    assert "Undid" in page.status.text()


def test_undo_after_a_key_change_puts_the_old_record_back(qtbot, bridge):
    seed_vendor()
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    edit(qtbot, grid, 0, "st_vendor_id", "202")
    assert [v.st_vendor_id for v in VendorMapping.select()] == [202]
    with qtbot.waitSignal(bridge.dataChanged, timeout=5000):
        page.undo()
    assert [v.st_vendor_id for v in VendorMapping.select()] == [101]


def test_delete_asks_and_undo_recreates_the_row(qtbot, bridge, monkeypatch):
    seed_vendor()
    seed_vendor(102, "Winsupply", "WINS03")
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    grid.view.selectRow(1)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    grid.delete_button.click()
    assert VendorMapping.select().count() == 2
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(bridge.dataChanged, timeout=5000):
        grid.delete_button.click()
    assert [v.st_vendor_id for v in VendorMapping.select()] == [101]
    assert grid.model.rowCount() == 1
    with qtbot.waitSignal(bridge.dataChanged, timeout=5000):
        grid.undo_button.click()
    assert VendorMapping.get(st_vendor_id=102).syspro_supplier == "WINS03"
    assert grid.model.rowCount() == 2


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_import_with_a_bad_row_shows_its_line_and_imports_nothing(qtbot, bridge, tmp_path, monkeypatch):
    seed_vendor()
    csv_file = tmp_path / "vendors.csv"
    csv_file.write_text("st_vendor_id,st_vendor_name,syspro_supplier\n"
                        "301,Johnstone,JOHN01\n"
                        "302,Too long,THIS-SUPPLIER-CODE-IS-TOO-LONG\n"
                        "303,Carrier,CARR01\n", encoding="utf-8")
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(csv_file), "CSV files (*.csv)"))
    grid.import_button.click()
    qtbot.waitUntil(lambda: grid.last_message is not None, timeout=5000)
    box = grid.last_message
    assert "Nothing was imported" in box.text()
    assert "Line 3:" in box.informativeText() and "at most 15" in box.informativeText()
    assert "Line 2" not in box.informativeText()
    box.close()
    assert [v.st_vendor_id for v in VendorMapping.select()] == [101]
    # the same file without the bad row goes in whole
    csv_file.write_text("st_vendor_id,st_vendor_name,syspro_supplier\n301,Johnstone,JOHN01\n303,Carrier,CARR01\n",
                        encoding="utf-8")
    with qtbot.waitSignal(grid.model.modelReset, timeout=5000):
        grid.import_button.click()
    assert sorted(v.st_vendor_id for v in VendorMapping.select()) == [101, 301, 303]
    assert grid.model.rowCount() == 3
    assert "Imported 2 rows" in page.status.text()


def test_export_writes_the_rows(qtbot, bridge, tmp_path, monkeypatch):
    seed_vendor()
    target = tmp_path / "out.csv"
    page = open_page(qtbot, bridge)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV files (*.csv)"))
    page.grids["vendors"].export_button.click()
    qtbot.waitUntil(lambda: "Exported" in page.status.text(), timeout=5000)
    assert "101,Ferguson,FERG02" in target.read_text(encoding="utf-8-sig")


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_suggestions_dialog_saves_only_the_ticked_ones(qtbot, bridge):
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    proposals = [
        {"st_id": 401, "st_code": "", "st_name": "Johnstone Supply", "syspro_code": "JOHN01", "reason": "same name"},
        {"st_id": 402, "st_code": "", "st_name": "Carrier Enterprise", "syspro_code": "CARR01", "reason": "same name"},
    ]
    dialog = grid.show_suggestions(proposals)
    assert isinstance(dialog, SuggestionsDialog) and dialog.isVisible()
    assert dialog.accepted_proposals() == []  # nothing is applied without a tick
    dialog.model.setData(dialog.model.index(0, 0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    with qtbot.waitSignal(grid.model.modelReset, timeout=5000):
        dialog.save_button.click()
    assert [(v.st_vendor_id, v.syspro_supplier) for v in VendorMapping.select()] == [(401, "JOHN01")]
    assert "Saved 1 suggested mapping" in page.status.text()


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_rejecting_suggestions_saves_nothing(qtbot, bridge):
    page = open_page(qtbot, bridge)
    grid = page.grids["items"]
    dialog = grid.show_suggestions([{"st_id": 9, "st_code": "CU-12", "st_name": "Copper", "syspro_code": "CU12",
                                     "reason": "same code"}])
    dialog.check_all.click()
    dialog.reject_button.click()
    bridge.wait_idle()
    assert ItemMapping.select().count() == 0
    assert "No suggestions were saved" in page.status.text()


def test_missing_keys_are_listed_with_blocked_counts_and_can_be_added(qtbot, bridge):
    make_document("1004", ledger.NEEDS_MAPPING, supplier="", missing=MISSING_VENDOR)
    make_document("1007", ledger.NEEDS_MAPPING, supplier="", missing=MISSING_VENDOR)
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    assert grid.missing_model.rowCount() == 1
    assert grid.missing_model.index(0, 2).data() == "2"
    assert "holding back 2 invoices" in grid.missing_label.text()
    assert page.tabs.tabText(0) == "Vendors (1 missing)"
    page.tabs.setCurrentIndex(2)
    page.show_missing("vendors", 4242)
    assert page.tabs.currentWidget() is grid
    row = grid.model.find_key(4242)
    assert row == 0 and grid.model.rows[row].values["st_vendor_name"] == "Johnstone Supply"
    edit(qtbot, grid, row, "syspro_supplier", "JOHN01")
    assert VendorMapping.get(st_vendor_id=4242).syspro_supplier == "JOHN01"
    # asking again selects the existing row instead of adding another
    page.show_missing("vendors", 4242)
    assert grid.model.rowCount() == 1


def test_code_cells_edit_with_a_completing_combo(qtbot, bridge):
    code_lists.save({"supplier": [["FERG02", "Ferguson"], ["JOHN01", "Johnstone Supply"]]})
    seed_vendor()
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    qtbot.waitUntil(lambda: bool(grid.delegate.codes), timeout=5000)
    index = grid.proxy.mapFromSource(cell(grid, 0, "syspro_supplier"))
    editor = grid.delegate.createEditor(grid.view.viewport(), None, index)
    assert isinstance(editor, QComboBox) and editor.isEditable()
    assert [editor.itemText(i) for i in range(editor.count())] == ["FERG02", "JOHN01"]
    editor.setEditText("JOHN01")
    with qtbot.waitSignal(bridge.dataChanged, timeout=5000):
        grid.delegate.setModelData(editor, grid.proxy, index)
    assert VendorMapping.get(st_vendor_id=101).syspro_supplier == "JOHN01"
    editor.deleteLater()


@pytest.mark.qt_log_ignore("propagateSizeHints")
@pytest.mark.parametrize("sandbox", [{"mappings": False}], indirect=True)
def test_suggest_matches_runs_against_the_simulators(qtbot, sandbox, bridge):
    """The real suggestions job reads both simulators; only the ticked proposal is saved."""
    page = open_page(qtbot, bridge)
    grid = page.grids["vendors"]
    assert VendorMapping.select().count() == 0
    grid.suggest_button.click()
    assert "Looking for matches" in page.status.text()
    qtbot.waitUntil(lambda: grid.suggestions_dialog is not None, timeout=60000)
    dialog = grid.suggestions_dialog
    assert dialog.model.rowCount() > 0
    first = dialog.model.proposals[0]
    dialog.model.setData(dialog.model.index(0, 0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    with qtbot.waitSignal(grid.model.modelReset, timeout=5000):
        dialog.save_button.click()
    saved = list(VendorMapping.select())
    assert [(v.st_vendor_id, v.syspro_supplier) for v in saved] == [(int(first["st_id"]), first["syspro_code"])]
    assert grid.model.rowCount() == 1
