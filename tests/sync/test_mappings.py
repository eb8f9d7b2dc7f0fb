import pytest

from desktop_app.core import db
from desktop_app.sync import mappings


@pytest.fixture(autouse=True)
def database():
    db.open_database()
    yield
    db.close_database()


def write(tmp_path, text, name="map.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_import_valid_file_and_export_round_trip(tmp_path):
    path = write(tmp_path, "\ufeffst_vendor_id,st_vendor_name,syspro_supplier\n100,Ferguson's,FERG01\n"
                           "200,\"Johnstone Supply & Co\",JOHN01\n\n")
    assert mappings.import_csv("vendors", path) == 2
    assert db.VendorMapping.get(db.VendorMapping.st_vendor_id == 200).st_vendor_name == "Johnstone Supply & Co"
    out = tmp_path / "out.csv"
    assert mappings.export_csv("vendors", out) == 2
    db.VendorMapping.delete().execute()
    assert mappings.import_csv("vendors", out) == 2
    snapshot = mappings.load_mappings()
    assert snapshot.vendors == {100: "FERG01", 200: "JOHN01"}


def test_one_bad_row_imports_nothing_and_names_its_line(tmp_path):
    db.VendorMapping.create(st_vendor_id=1, syspro_supplier="KEEP")
    path = write(tmp_path, "st_vendor_id,syspro_supplier\n100,FERG01\n2x0,JOHN01\n300,\n400,WAYTOOLONGSUPPLIER1\n100,DUP\n")
    with pytest.raises(mappings.MappingImportError) as info:
        mappings.import_csv("vendors", path)
    problems = dict(info.value.problems)
    assert set(problems) == {3, 4, 5, 6}
    assert "whole number" in problems[3] and "blank" in problems[4]
    assert "at most 15" in problems[5] and "duplicate of line 2" in problems[6]
    assert [r.syspro_supplier for r in db.VendorMapping.select()] == ["KEEP"]
    assert "nothing was imported" in str(info.value)


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"),
    ("vendor,supplier\n1,A\n", "unknown column(s) vendor, supplier"),
    ("st_vendor_id\n1\n", "missing column(s) syspro_supplier"),
    ("st_vendor_id,syspro_supplier\n1,A,extra\n", "has 3 fields"),
])
def test_malformed_files_are_explained(tmp_path, text, fragment):
    with pytest.raises(mappings.MappingImportError) as info:
        mappings.import_csv("vendors", write(tmp_path, text))
    assert fragment in str(info.value)


def test_non_utf8_file_is_refused_with_line(tmp_path):
    path = write(tmp_path, "st_vendor_id,syspro_supplier\n1,MÜLLER\n", encoding="latin-1")
    with pytest.raises(mappings.MappingImportError, match="line 2.*UTF-8"):
        mappings.import_csv("vendors", path)


def test_items_by_code_and_gl_per_business_unit(tmp_path):
    mappings.import_csv("items", write(tmp_path, "st_sku_id,st_sku_code,syspro_stock_code,syspro_supplier\n"
                                                 ",CU-12,CU12,\n5,,FLT,SPECIAL\n"))
    mappings.import_csv("gl", write(tmp_path, "st_gl_account,st_business_unit_id,syspro_gl_code\n5000,,10-5000\n"
                                              "5000,10,20-5000\n", "gl.csv"))
    snapshot = mappings.load_mappings()
    assert snapshot.items_by_code["CU-12"] == ("CU12", "")
    assert snapshot.items_by_id[5] == ("FLT", "SPECIAL")
    assert snapshot.gl == {("5000", None): "10-5000", ("5000", 10): "20-5000"}
    # re-import updates in place rather than duplicating
    mappings.import_csv("gl", write(tmp_path, "st_gl_account,st_business_unit_id,syspro_gl_code\n5000,,11-5000\n", "gl2.csv"))
    assert db.GlMapping.select().count() == 2
    assert mappings.load_mappings().gl[("5000", None)] == "11-5000"


def test_items_need_an_id_or_a_code(tmp_path):
    with pytest.raises(mappings.MappingImportError, match="st_sku_id or st_sku_code"):
        mappings.import_csv("items", write(tmp_path, "st_sku_id,st_sku_code,syspro_stock_code\n,,X\n"))


def test_suggestions_by_code_then_name_never_applied():
    proposals = mappings.suggest(
        [(1, "FERG01", "Ferguson's"), (2, "", "Johnstone Supply & Co."), (3, "", "Nobody"), (4, "X", "Mapped")],
        [("FERG01", "Ferguson Enterprises"), ("JOHN01", "JOHNSTONE SUPPLY AND CO"), ("MAP", "Mapped")],
        already={4})
    assert [(p["st_id"], p["syspro_code"], p["reason"]) for p in proposals] == [
        (1, "FERG01", "same code"), (2, "JOHN01", "same name")]
    assert db.VendorMapping.select().count() == 0
