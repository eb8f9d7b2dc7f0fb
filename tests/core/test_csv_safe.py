"""CSV exports open in a spreadsheet as text, never as formulas; the mapping import reads them back."""
import csv
import datetime as dt
from decimal import Decimal

import pytest

from desktop_app.core import csv_safe, db, models
from desktop_app.sync import adjustments, mappings

NASTY = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "'quoted", "''=x",
         "'=x", "'", "plain", "", "a=b", "-", "+", "=", "-12.50x"]


@pytest.mark.parametrize("value", NASTY + ["-12.50", "+3", "0.5", "12", "'-12.50", "'12"])
def test_guard_then_unguard_is_the_identity(value):
    written = csv_safe.guard(value)
    assert not written.startswith(csv_safe.TRIGGERS) or csv_safe.PLAIN_NUMBER.fullmatch(written)
    assert csv_safe.unguard(written) == value


@pytest.mark.parametrize("value", ["-12.50", "-3", "+3", "0.5", "-0.125"])
def test_plain_numbers_stay_numbers(value):
    assert csv_safe.guard(value) == value


def test_a_quote_a_person_typed_is_kept_on_import():
    assert csv_safe.unguard("'abc") == "'abc"
    assert csv_safe.unguard("'12") == "'12"


@pytest.fixture
def database():
    db.open_database()
    yield
    db.close_database()


def cells(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_mapping_export_is_guarded_and_imports_back_unchanged(database, tmp_path):
    for number, name in enumerate(NASTY, start=1):
        models.VendorMapping.create(st_vendor_id=number, st_vendor_name=name, syspro_supplier=f"S{number}")
    out = tmp_path / "vendors.csv"
    mappings.export_csv("vendors", out)
    assert not [cell for cell in cells(out) if cell.startswith(csv_safe.TRIGGERS)]
    before = {row.st_vendor_id: row.st_vendor_name for row in models.VendorMapping.select()}
    models.VendorMapping.delete().execute()
    mappings.import_csv("vendors", out)
    after = {row.st_vendor_id: row.st_vendor_name for row in models.VendorMapping.select()}
    # the import strips surrounding blanks, as it always did: compare what survives that
    assert after == {key: value.strip() for key, value in before.items()}


def test_worklist_export_guards_text_and_keeps_negative_quantities(database, tmp_path):
    models.WorklistRow.create(movement_key="k1", warehouse="=cmd|' /C calc'!A0", stock_code="@SUM(1)",
                          st_location_name="-2+3", quantity=Decimal("-12.50"), note="+note",
                          entry_date=dt.date(2024, 5, 1))
    out = tmp_path / "worklist.csv"
    adjustments.export_worklist(out, include_done=True)
    with open(out, newline="", encoding="utf-8-sig") as fh:
        row = next(csv.DictReader(fh))
    assert row["warehouse"] == "'=cmd|' /C calc'!A0" and row["stock_code"] == "'@SUM(1)"
    assert row["st_location_name"] == "'-2+3"
    assert row["quantity"] == "-12.50"


def test_reconciliation_export_guards_text_and_keeps_negative_amounts(tmp_path):
    pytest.importorskip("PySide6")
    from desktop_app.sync.reconcile import ReconRow
    from desktop_app.ui.reconcile_page import write_csv

    row = ReconRow(dt.date(2024, 5, 1), "=EVIL()", "@BR")
    row.st_cost, row.syspro_ap = Decimal("-12.50"), Decimal("0.00")
    out = tmp_path / "recon.csv"
    write_csv(str(out), [row])
    with open(out, newline="", encoding="utf-8-sig") as fh:
        first = list(csv.DictReader(fh))[0]
    assert first["supplier"] == "'=EVIL()" and first["branch"] == "'@BR"
    assert first["st_cost"] == "-12.50" and first["difference"].startswith("-")
