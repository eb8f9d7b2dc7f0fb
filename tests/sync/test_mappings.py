import pytest

from desktop_app.core import db, models
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
    assert models.VendorMapping.get(models.VendorMapping.st_vendor_id == 200).st_vendor_name == "Johnstone Supply & Co"
    out = tmp_path / "out.csv"
    assert mappings.export_csv("vendors", out) == 2
    models.VendorMapping.delete().execute()
    assert mappings.import_csv("vendors", out) == 2
    snapshot = mappings.load_mappings()
    assert snapshot.vendors == {100: "FERG01", 200: "JOHN01"}


def test_one_bad_row_imports_nothing_and_names_its_line(tmp_path):
    models.VendorMapping.create(st_vendor_id=1, syspro_supplier="KEEP")
    path = write(tmp_path, "st_vendor_id,syspro_supplier\n"
                           "100,FERG01\n2x0,JOHN01\n300,\n400,WAYTOOLONGSUPPLIER1\n100,DUP\n")
    with pytest.raises(mappings.MappingImportError) as info:
        mappings.import_csv("vendors", path)
    problems = dict(info.value.problems)
    assert set(problems) == {3, 4, 5, 6}
    assert "whole number" in problems[3] and "blank" in problems[4]
    assert "at most 15" in problems[5] and "duplicate of line 2" in problems[6]
    assert [r.syspro_supplier for r in models.VendorMapping.select()] == ["KEEP"]
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
    mappings.import_csv("gl", write(tmp_path, "st_gl_account,st_business_unit_id,syspro_gl_code\n5000,,11-5000\n",
                                    "gl2.csv"))
    assert models.GlMapping.select().count() == 2
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
    assert models.VendorMapping.select().count() == 0


ITEMS_HEADER = "st_sku_id,st_sku_code,syspro_stock_code,syspro_supplier\n"


def test_item_import_refuses_duplicate_ids_and_codes_with_line_numbers(tmp_path):
    models.ItemMapping.create(st_sku_id=9, st_sku_code="KEEP", syspro_stock_code="K1")
    path = write(tmp_path, ITEMS_HEADER + "1,PIPE,P1,\n2,PIPE,P2,\n1,ELBOW,E1,\n,PIPE,P3,\n3,TEE,T1,\n")
    with pytest.raises(mappings.MappingImportError) as info:
        mappings.import_csv("items", path)
    problems = dict(info.value.problems)
    assert set(problems) == {3, 4, 5}
    assert "duplicate of line 2" in problems[3] and "PIPE" in problems[3]
    assert "duplicate of line 2" in problems[4] and "1" in problems[4]
    assert "duplicate of line 2" in problems[5]
    assert [(r.st_sku_id, r.st_sku_code) for r in models.ItemMapping.select()] == [(9, "KEEP")]


def test_a_code_only_row_does_not_wipe_the_sku_id_of_an_existing_mapping(tmp_path):
    models.ItemMapping.create(st_sku_id=5, st_sku_code="PIPE", syspro_stock_code="OLD")
    path = write(tmp_path, ITEMS_HEADER + "7,TEE,T1,\n,PIPE,NEW,\n")
    with pytest.raises(mappings.MappingImportError) as info:
        mappings.import_csv("items", path)
    assert list(dict(info.value.problems)) == [3]
    assert "give st_sku_id 5" in str(info.value)
    rows = [(r.st_sku_id, r.st_sku_code, r.syspro_stock_code) for r in models.ItemMapping.select()]
    assert rows == [(5, "PIPE", "OLD")]


def test_a_code_mapped_for_another_sku_id_is_refused_not_a_database_error(tmp_path):
    models.ItemMapping.create(st_sku_id=5, st_sku_code="PIPE", syspro_stock_code="OLD")
    with pytest.raises(mappings.MappingImportError, match=r"line 2: SKU code 'PIPE' is already mapped for SKU id 5"):
        mappings.import_csv("items", write(tmp_path, ITEMS_HEADER + "6,PIPE,NEW,\n"))


def test_a_code_only_mapping_gains_its_sku_id(tmp_path):
    models.ItemMapping.create(st_sku_id=None, st_sku_code="PIPE", syspro_stock_code="OLD")
    assert mappings.import_csv("items", write(tmp_path, ITEMS_HEADER + "5,PIPE,NEW,\n")) == 1
    rows = models.ItemMapping.select()
    assert [(r.st_sku_id, r.st_sku_code, r.syspro_stock_code) for r in rows] == [(5, "PIPE", "NEW")]


@pytest.mark.parametrize("kind,text,line", [
    ("vendors", "st_vendor_id,syspro_supplier\n1,A\n1,B\n", 3),
    ("gl", "st_gl_account,st_business_unit_id,syspro_gl_code\n4000,,X\n4000,,Y\n", 3),
    ("gl", "st_gl_account,st_business_unit_id,syspro_gl_code\n4000,7,X\n4000,7,Y\n", 3),
    ("branches", "st_business_unit_id,syspro_branch\n7,B1\n7,B2\n", 3),
    ("warehouses", "st_location_id,syspro_warehouse\n3,W1\n3,W2\n", 3),
])
def test_every_kind_refuses_duplicate_keys(tmp_path, kind, text, line):
    with pytest.raises(mappings.MappingImportError) as info:
        mappings.import_csv(kind, write(tmp_path, text))
    assert list(dict(info.value.problems)) == [line]
    assert kind_rows(kind) == 0


def kind_rows(kind):
    return mappings.kind_for(kind).model.select().count()


def test_a_row_joining_two_saved_item_mappings_is_refused(tmp_path):
    models.ItemMapping.create(st_sku_id=None, st_sku_code="PIPE", syspro_stock_code="BYCODE")
    models.ItemMapping.create(st_sku_id=5, st_sku_code="OLD", syspro_stock_code="BYID")
    with pytest.raises(mappings.MappingImportError, match="line 2: SKU code 'PIPE' has a mapping of its own"):
        mappings.import_csv("items", write(tmp_path, ITEMS_HEADER + "5,PIPE,NEW,\n"))
    assert models.ItemMapping.select().count() == 2
