import datetime as dt
from decimal import Decimal

import pytest

from desktop_app.sync.build import (
    BuildSettings,
    Mappings,
    Reference,
    Sku,
    accounting_date,
    build_documents,
    is_credit_reference,
    line_amount,
)

SETTINGS = BuildSettings(timezone="America/Chicago")


def reference():
    return Reference(
        skus={1: Sku(1, "CU-12", "Copper 1/2", vendor_id=100, vendor_name="Ferguson's"),
              2: Sku(2, "FLT-20", "Filter 20x25", vendor_id=200, vendor_name="Johnstone Supply & Co"),
              3: Sku(3, "NOV", "No-vendor part", vendor_id=None)},
        technicians={7: "José Muñoz"}, business_units={10: "Dallas HVAC"})


def mappings(**overrides):
    m = Mappings(vendors={100: "FERG01", 200: "JOHN01"},
                 items_by_id={1: ("CU12", ""), 2: ("FLT2025", "")},
                 gl={("5000", None): "10-5000", ("5100", 10): "20-5100"},
                 branches={10: ("DAL", "10")})
    for key, value in overrides.items():
        setattr(m, key, value)
    return m


def item(item_id, sku, qty, cost, type_="Material", gl="5000", **extra):
    return {"id": item_id, "skuId": sku, "type": type_, "quantity": qty, "cost": cost, "technicianId": 7,
            "generalLedgerAccount": {"number": gl, "name": "Materials"}, "description": f"item {item_id}", **extra}


def invoice(items, **extra):
    base = {"id": 555, "referenceNumber": "1001", "invoiceDate": "2026-03-08T00:00:00Z",
            "modifiedOn": "2026-03-08T15:00:00.1234567Z", "businessUnit": {"id": 10, "name": "Dallas HVAC"},
            "job": {"id": 9, "number": "J-77"}, "items": items, "active": True}
    base.update(extra)
    return base


@pytest.mark.parametrize("qty,cost,expected", [
    ("3", "19.995", Decimal("59.99")),    # 59.985 rounds half-up
    ("0.333", "10", Decimal("3.33")),
    ("1", "0.005", Decimal("0.01")),
    ("-2", "12.345", Decimal("-24.69")),  # -24.69 exactly
    ("2", "0.125", Decimal("0.25")),
    ("1", "2.675", Decimal("2.68")),      # a float would give 2.67
])
def test_line_amount_rounds_half_up_to_the_cent(qty, cost, expected):
    assert line_amount(qty, cost) == expected


def test_one_document_per_supplier_with_exact_sums():
    inv = invoice([item(1, 1, "3", "19.995"), item(2, 2, "2", "8.10"), item(3, 1, "1", "0.01"),
                   item(4, None, "1", "99", type_="Service")])
    result = build_documents(inv, mappings(), reference(), SETTINGS)
    assert not result.missing and not result.skip_reason
    by_supplier = {d.supplier: d for d in result.documents}
    assert set(by_supplier) == {"FERG01", "JOHN01"}
    assert by_supplier["FERG01"].amount == Decimal("60.00")
    assert by_supplier["JOHN01"].amount == Decimal("16.20")
    ferg = by_supplier["FERG01"]
    assert ferg.syspro_invoice == "ST1001" and ferg.transaction_code == "I"
    assert ferg.branch == "DAL" and ferg.technician == "José Muñoz" and ferg.job_number == "J-77"
    assert [line.ledger_code for line in ferg.lines] == ["10-5000", "10-5000"]
    assert {r["kind"] for r in ferg.mapping_rows} >= {"vendors", "items", "gl", "branches"}


def test_missing_mappings_are_named_exactly():
    inv = invoice([item(1, 1, "1", "5"), item(2, 2, "1", "5", gl="6000"), item(3, 99, "1", "5")])
    result = build_documents(inv, mappings(vendors={100: "FERG01"}, branches={}), reference(), SETTINGS)
    assert not result.documents
    kinds = {(m["kind"], str(m["key"])) for m in result.missing}
    assert ("vendors", "200") in kinds          # Johnstone has no supplier
    assert ("gl", "6000") in kinds              # GL 6000 unmapped
    assert ("items", "99") in kinds             # unknown SKU has no stock code
    assert ("branches", "10") in kinds          # business unit unmapped
    assert any("Johnstone Supply & Co" in m["reason"] for m in result.missing)


def test_item_override_beats_vendor_and_default_supplier_fills_gaps():
    m = mappings(items_by_id={1: ("CU12", "SPECIAL"), 2: ("FLT2025", ""), 3: ("NOV1", "")}, vendors={})
    settings = BuildSettings(default_supplier="DEFAULT", timezone="UTC")
    result = build_documents(invoice([item(1, 1, "1", "5"), item(2, 2, "1", "7"), item(3, 3, "1", "1")]), m,
                             reference(), settings)
    assert {d.supplier: d.amount for d in result.documents} == {"SPECIAL": Decimal("5.00"), "DEFAULT": Decimal("8.00")}


def test_cost_of_sale_account_is_used_before_the_income_account():
    line = item(1, 1, "1", "5", gl="4200")
    line["costOfSaleAccount"] = {"number": "5000", "name": "Cost of materials"}
    result = build_documents(invoice([line]), mappings(), reference(), SETTINGS)
    assert result.documents[0].lines[0].ledger_code == "10-5000"


def test_gl_mapping_per_business_unit_wins_over_general():
    result = build_documents(invoice([item(1, 1, "1", "5", gl="5100")]),
                             mappings(gl={("5100", 10): "20-5100", ("5100", None): "99-5100"}), reference(), SETTINGS)
    assert result.documents[0].lines[0].ledger_code == "20-5100"


def test_segment_placeholder_uses_branch_segment():
    result = build_documents(invoice([item(1, 1, "1", "5")]), mappings(gl={("5000", None): "{segment}-5000"}),
                             reference(), SETTINGS)
    assert result.documents[0].lines[0].ledger_code == "10-5000"


def test_service_only_and_zero_cost_invoices_are_skipped_with_a_reason():
    service_only = build_documents(invoice([item(1, None, "1", "50", type_="Service")]), mappings(), reference(),
                                   SETTINGS)
    assert "No material or equipment cost" in service_only.skip_reason
    zero = build_documents(invoice([item(1, 1, "2", "0.00"), item(2, 2, "0", "12")]), mappings(), reference(), SETTINGS)
    assert zero.skip_reason and not zero.documents


def test_negative_group_of_an_adjustment_is_a_credit_of_the_original_traceable_to_the_adjustment():
    adj = invoice([item(1, 1, "-2", "12.345")], adjustmentToId=444, referenceNumber="1001-ADJ")
    doc = build_documents(adj, mappings(), reference(), SETTINGS).documents[0]
    assert doc.transaction_code == "C" and doc.amount == Decimal("-24.69")
    # the SYSPRO invoice it credits is the original's (found by the evaluation), never its own number
    assert doc.credit_of == 444
    assert is_credit_reference(doc.reference, 555) and "1001-ADJ" in doc.reference
    assert "1001-ADJ" in doc.journal_notation and "555" in doc.journal_notation


def test_positive_group_of_an_adjustment_is_a_new_invoice_of_its_own():
    adj = invoice([item(1, 1, "-1", "10"), item(2, 2, "3", "5")], adjustmentToId=444, referenceNumber="1001-ADJ")
    docs = {d.supplier: d for d in build_documents(adj, mappings(), reference(), SETTINGS).documents}
    assert (docs["FERG01"].transaction_code, docs["FERG01"].credit_of) == ("C", 444)
    assert (docs["JOHN01"].transaction_code, docs["JOHN01"].syspro_invoice, docs["JOHN01"].credit_of) == \
        ("I", "ST1001-ADJ", None)


def test_negative_invoice_that_is_no_adjustment_is_a_credit_of_nothing_known():
    doc = build_documents(invoice([item(1, 1, "-1", "10")]), mappings(), reference(), SETTINGS).documents[0]
    assert doc.transaction_code == "C" and doc.credit_of is None


def test_credit_reference_is_recognised_by_the_adjustments_id_only():
    assert is_credit_reference("ST credit id 555 inv 1001-ADJ", 555)
    assert is_credit_reference("ST credit id 555", 555)
    assert not is_credit_reference("ST credit id 5555 inv 1", 555)
    assert not is_credit_reference("ST inv 555", 555)


def test_inactive_invoice_is_skipped():
    assert build_documents(invoice([item(1, 1, "1", "5")], active=False), mappings(), reference(), SETTINGS).skip_reason


def test_equipment_counts_and_cost_types_follow_settings():
    inv = invoice([item(1, 1, "1", "5", type_="Equipment")])
    assert build_documents(inv, mappings(), reference(), SETTINGS).documents
    only_material = BuildSettings(cost_types=("Material",), timezone="UTC")
    assert build_documents(inv, mappings(), reference(), only_material).skip_reason


def test_content_hash_ignores_non_cost_changes_but_sees_cost_changes():
    base = build_documents(invoice([item(1, 1, "1", "5")]), mappings(), reference(), SETTINGS).documents[0]
    noted = build_documents(invoice([item(1, 1, "1", "5")], summary="customer paid"), mappings(), reference(),
                            SETTINGS).documents[0]
    changed = build_documents(invoice([item(1, 1, "2", "5")]), mappings(), reference(), SETTINGS).documents[0]
    assert base.content_hash == noted.content_hash != changed.content_hash


@pytest.mark.parametrize("value,zone,expected", [
    ("2026-03-08T00:00:00Z", "America/Chicago", dt.date(2026, 3, 8)),       # a calendar date stays put
    ("2026-03-08T05:30:00Z", "America/Chicago", dt.date(2026, 3, 7)),       # 23:30 CST the day before
    ("2026-03-08T08:30:00Z", "America/Chicago", dt.date(2026, 3, 8)),       # DST starts that night
    ("2026-10-31T23:59:59.9999999Z", "Europe/Berlin", dt.date(2026, 11, 1)),
    ("2026-01-01T05:59:59Z", "America/Chicago", dt.date(2025, 12, 31)),     # period boundary
    (None, "UTC", None),
])
def test_accounting_date_in_the_accounting_time_zone(value, zone, expected):
    assert accounting_date(value, zone) == expected


def test_long_and_non_ascii_texts_are_clipped_not_broken():
    long_name = "Ünïcödé & 'quotes' " * 10
    inv = invoice([item(1, 1, "1", "5", description=long_name)], businessUnit={"id": 10, "name": long_name})
    doc = build_documents(inv, mappings(), reference(), SETTINGS).documents[0]
    assert len(doc.notation) <= 50 and len(doc.lines[0].description) <= 50
    assert doc.notation.startswith("Ünïcödé & 'quotes'")


# ---------------------------------------------------------------------------- go-live date, stock lines
def test_an_invoice_dated_before_the_go_live_date_is_skipped_with_the_reason():
    settings = BuildSettings(timezone="America/Chicago", start_date=dt.date(2026, 4, 1))
    old = invoice([item(1, 1, "1", "10")], invoiceDate="2026-03-28T00:00:00Z", modifiedOn="2026-04-15T10:00:00Z")
    result = build_documents(old, mappings(), reference(), settings)
    assert result.before_start and not result.documents and not result.missing
    assert result.skip_reason == "Dated 2026-03-28, before the go-live date 2026-04-01: not the connector's to post."
    # checked before the mappings: an old invoice never asks for one
    unmapped = invoice([item(1, 3, "1", "10")], invoiceDate="2026-03-31T00:00:00Z")
    assert build_documents(unmapped, mappings(), reference(), settings).before_start
    on_the_day = invoice([item(1, 1, "1", "10")], invoiceDate="2026-04-01T00:00:00Z")
    assert build_documents(on_the_day, mappings(), reference(), settings).documents


def stock_item(item_id, sku, qty, cost, location=(31, "Truck 12 - José"), **extra):
    return item(item_id, sku, qty, cost, inventory=True, inventoryLocationId=location[0],
                inventoryLocation=location[1], **extra)


def test_non_stock_leaves_lines_from_own_stock_out_and_names_them():
    inv = invoice([stock_item(1, 1, "2", "5.50"), item(2, 1, "1", "7", inventory=True),  # bought for the job
                   item(3, 2, "1", "9", inventory=False), stock_item(4, 2, "3", "1.10")])
    everything = build_documents(inv, mappings(), reference(), SETTINGS)
    assert sum(len(d.lines) for d in everything.documents) == 4 and not everything.left_out

    result = build_documents(inv, mappings(), reference(), BuildSettings(timezone="America/Chicago",
                                                                         ap_lines="non_stock"))
    by_supplier = {d.supplier: d for d in result.documents}
    assert [line.st_item_id for line in by_supplier["FERG01"].lines] == [2]
    assert [line.st_item_id for line in by_supplier["JOHN01"].lines] == [3]
    assert by_supplier["FERG01"].amount == Decimal("7.00") and by_supplier["JOHN01"].amount == Decimal("9.00")
    assert [line["st_item_id"] for line in result.left_out] == [1, 4]
    first = result.left_out[0]
    assert (first["sku_code"], first["quantity"]) == ("CU-12", "2")
    assert (first["unit_cost"], first["amount"]) == ("5.50", "11.00")
    assert first["location"] == "Truck 12 - José" and "own stock (Truck 12 - José)" in first["why"]
    assert all(doc.left_out == result.left_out for doc in result.documents)


def test_an_invoice_of_stock_lines_only_is_skipped_under_non_stock():
    inv = invoice([stock_item(1, 1, "2", "5.50"), stock_item(2, 2, "1", "9", location=(40, "Dallas warehouse"))])
    result = build_documents(inv, mappings(), reference(), BuildSettings(timezone="America/Chicago",
                                                                         ap_lines="non_stock"))
    assert not result.documents and len(result.left_out) == 2
    assert result.skip_reason.startswith("Every material and equipment line on this invoice (2) was used from your "
                                         "own stock (Dallas warehouse, Truck 12 - José)")


def test_evening_in_chicago_on_the_31st_is_the_31st():
    # 8 pm CDT on 31 March is 01:00 UTC on 1 April; 8 pm CST on 31 December is 02:00 UTC on 1 January
    assert accounting_date("2026-04-01T01:00:00Z", "America/Chicago") == dt.date(2026, 3, 31)
    assert accounting_date("2027-01-01T02:00:00Z", "America/Chicago") == dt.date(2026, 12, 31)
