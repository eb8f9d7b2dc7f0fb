"""Vendors sharing a supplier, mappings a sync never touches, creation waiting for approval, site
address layouts and the fallback business unit of POs from SYSPRO, against the simulators."""
from __future__ import annotations

import csv
import json

from desktop_app.cli import main
from desktop_app.core import config
from desktop_app.core.models import ApDocument, SyncLink, VendorMapping
from desktop_app.sync import records, vendors
from desktop_app.sync.mappings import export_rows, import_csv
from desktop_app.sync.records import SKIPPED, SYNCED, WAITING
from tests.integration.two_way_helpers import Writes, cycle, link

FLOW = "vendors"


def st_vendor(box, name):
    return next(v for v in box.company.st.vendors.values() if v["name"] == name)


def full_address(n: int) -> dict:
    return dict(SupAddr1=f"{n} Mill St", SupAddr2="Waco", SupAddr3="TX", SupAddr4="USA", SupPostalCode="76701")


def import_vendor_rows(tmp_path, rows: list[tuple[int, str, str]]) -> list[list[str]]:
    path = tmp_path / "vendors.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["st_vendor_id", "st_vendor_name", "syspro_supplier"])
        writer.writerows(rows)
    import_csv("vendors", path, actor="office")
    return [[str(i), name, code] for i, name, code in rows]


def exported(ids: set[int]) -> list[list[str]]:
    return [row for row in export_rows("vendors")[1] if int(row[0]) in ids]


def test_two_vendors_mapped_to_one_supplier_keep_the_persons_mapping_and_share_it(sandbox, tmp_path):
    st, sp = sandbox.company.st, sandbox.company.syspro
    primary = st_vendor(sandbox, "Ferguson's Plumbing Supply")
    branch_copy = st.create_vendor({"name": "Ferguson Plumbing - Austin branch", "active": True,
                                    "address": {"street": "5 Oak Rd", "city": "Austin", "state": "TX", "zip": "78701",
                                                "country": "USA"}})
    # half of Ferguson's items are bought through the branch's duplicate vendor record
    skus = [s for s in st.materials.values() if s["primaryVendor"]["vendorId"] == primary["id"]]
    assert len(skus) >= 2
    moved = {s["id"] for s in skus[::2]}
    for sku in skus[::2]:
        sku["primaryVendor"].update(vendorId=branch_copy, vendorName="Ferguson Plumbing - Austin branch")
    imported = import_vendor_rows(tmp_path, [(primary["id"], primary["name"], "FERGUS"),
                                             (branch_copy, "Ferguson Plumbing - Austin branch", "FERGUS")])
    suppliers, vendor_count = set(sp.suppliers), len(st.vendors)

    cycle()
    pair, alias = link(FLOW, st_id=primary["id"]), link(FLOW, st_id=branch_copy)
    assert pair.syspro_key == alias.syspro_key == "FERGUS"
    assert pair.state == SYNCED and "Alias" not in pair.reason
    assert alias.state == SYNCED and "Alias" in alias.reason and alias.data["alias_of"] == primary["id"]
    # edits on both sides, several cycles
    writes = Writes(sandbox)
    st.update_vendor(branch_copy, {"name": "Ferguson Austin (renamed)"})
    sp.suppliers["FERGUS"].update(Email="ap@fergus.example")
    cycle(FLOW)
    st.update_vendor(primary["id"], {"name": "Ferguson's Plumbing Supply Co"})
    cycle(FLOW)
    cycle(FLOW)
    assert sp.suppliers["FERGUS"]["SupplierName"] == "Ferguson's Plumbing Supply Co"  # the primary's edit
    assert st.vendors[primary["id"]]["contactInfo"]["email"] == "ap@fergus.example"  # SYSPRO's, to the primary
    assert (st.vendors[branch_copy].get("contactInfo") or {}).get("email") != "ap@fergus.example"
    assert st.vendors[branch_copy]["name"] == "Ferguson Austin (renamed)"  # the alias is left alone
    assert ("PATCH", f"/inventory/v2/tenant/{st.tenant}/vendors/{branch_copy}") not in writes.servicetitan()
    # the person's mapping is exactly as imported, and nothing was created for either vendor
    assert exported({primary["id"], branch_copy}) == imported
    assert {r.changed_by for r in VendorMapping.select().where(VendorMapping.syspro_supplier == "FERGUS")} == {"office"}
    assert set(sp.suppliers) - suppliers <= {"LONESTARCOPPERT"} and len(st.vendors) == vendor_count
    # invoices of both vendors post to the shared supplier
    posted = [d for d in ApDocument.select().where(ApDocument.supplier == "FERGUS")
              if d.state in ("POSTED", "CONFIRMED")]
    skus_posted = {line.get("sku_id") for d in posted for line in d.lines}
    assert skus_posted & moved and skus_posted - moved
    assert not [d for d in ApDocument.select() if any(m.get("key") in (branch_copy, str(branch_copy))
                                                     for m in d.missing or [])]

    # the alias is made the primary: from now on its fields are synced, the former primary's not
    vendors.set_primary(branch_copy, actor="office")
    cycle(FLOW)
    assert "Alias" in link(FLOW, st_id=primary["id"]).reason and "Alias" not in link(FLOW, st_id=branch_copy).reason
    st.update_vendor(branch_copy, {"name": "Ferguson Austin 2"})
    cycle(FLOW)
    assert sp.suppliers["FERGUS"]["SupplierName"] == "Ferguson Austin 2"
    assert exported({primary["id"], branch_copy}) == imported


def test_a_corrected_mapping_creates_nothing_for_the_supplier_it_left(sandbox, tmp_path):
    cycle(FLOW)
    vendor = st_vendor(sandbox, "Hajoca Corp.")
    assert link(FLOW, st_id=vendor["id"]).syspro_key == "HAJOCA"
    sandbox.company.syspro.add_supplier("HAJOCA2", SupplierName="Hajoca Supply North", **full_address(1))
    cycle(FLOW)
    import_vendor_rows(tmp_path, [(vendor["id"], vendor["name"], "HAJOCA2")])  # the person corrects X → Y
    count = len(sandbox.company.st.vendors)
    writes = Writes(sandbox)
    cycle(FLOW)
    cycle(FLOW)
    assert link(FLOW, st_id=vendor["id"]).syspro_key == "HAJOCA2"
    left = link(FLOW, syspro_key="HAJOCA")
    assert left.st_id is None and left.state == SKIPPED and "corrected" in left.reason
    assert len(sandbox.company.st.vendors) == count
    assert not [w for w in writes.servicetitan() if w[0] == "POST"]
    assert VendorMapping.get(VendorMapping.st_vendor_id == vendor["id"]).syspro_supplier == "HAJOCA2"


def test_fifty_new_suppliers_wait_for_approval_then_are_created_once(sandbox, capsys):
    sp, st = sandbox.company.syspro, sandbox.company.st
    for n in range(50):
        sp.add_supplier(f"BULK{n:03d}", SupplierName=f"Bulk Supplier {n:03d}", **full_address(n))
    before = len(st.vendors)
    cycle(FLOW)
    waiting = SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == WAITING)
    assert {row.syspro_key for row in waiting} >= {f"BULK{n:03d}" for n in range(50)}
    assert waiting.count() == 50
    assert len(st.vendors) == before
    assert records.waiting_counts(FLOW)[0]["sentence"] == ("50 suppliers from SYSPRO wait for your approval before "
                                                           "they are created in ServiceTitan")
    assert main(["records", "list", "--flow", FLOW, "--state", WAITING, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 50
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"][FLOW][WAITING] == 50
    cycle(FLOW)  # still waiting: nothing is created without a person
    assert len(st.vendors) == before

    assert main(["records", "approve", "--flow", FLOW, "--all"]) == 0
    capsys.readouterr()
    assert len(st.vendors) == before + 50
    assert SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == WAITING).count() == 0
    assert link(FLOW, syspro_key="BULK007").state == SYNCED
    writes = Writes(sandbox)
    cycle(FLOW)
    assert len(st.vendors) == before + 50 and writes.all() == []


def test_below_the_threshold_creation_stays_automatic(sandbox):
    config.save_setting("sync.max_auto_create", "3", actor="test")
    for n in range(3):
        sandbox.company.syspro.add_supplier(f"FEW{n}", SupplierName=f"Few Supplier {n}", **full_address(n))
    cycle(FLOW)
    assert all(link(FLOW, syspro_key=f"FEW{n}").state == SYNCED for n in range(3))


def test_approving_some_creates_only_those(sandbox):
    config.save_setting("sync.max_auto_create", "2", actor="test")
    for n in range(4):
        sandbox.company.syspro.add_supplier(f"SOME{n}", SupplierName=f"Some Supplier {n}", **full_address(n))
    cycle(FLOW)
    ids = [link(FLOW, syspro_key=f"SOME{n}").id for n in range(2)]
    assert main(["records", "approve", "--flow", FLOW, *map(str, ids)]) == 0
    assert [link(FLOW, syspro_key=f"SOME{n}").state for n in range(4)] == [SYNCED, SYNCED, WAITING, WAITING]
    assert main(["records", "approve", "--flow", FLOW, str(ids[0])]) == 2  # not waiting any more: said so


def test_a_non_default_address_layout_maps_both_ways(sandbox):
    config.save_setting("syspro.supplier_address_lines", "street, street2, city, state, -", actor="test")
    sp, st = sandbox.company.syspro, sandbox.company.st
    sp.add_supplier("LAYOUT", SupplierName="Layout Supply", SupAddr1="12 Elm St", SupAddr2="Suite 4",
                    SupAddr3="Temple", SupAddr4="TX", SupAddr5="keep me", SupPostalCode="76501")
    cycle(FLOW)
    vendor = st.vendors[link(FLOW, syspro_key="LAYOUT").st_id]
    assert vendor["address"]["street"] == "12 Elm St" and vendor["address"]["unit"] == "Suite 4"
    assert vendor["address"]["city"] == "Temple" and vendor["address"]["state"] == "TX"
    address = dict(vendor["address"], unit="Suite 9", city="Belton")
    st.update_vendor(vendor["id"], {"address": address})
    cycle(FLOW)
    row = sp.suppliers["LAYOUT"]
    assert (row["SupAddr1"], row["SupAddr2"], row["SupAddr3"], row["SupAddr4"], row["SupAddr5"]) == \
        ("12 Elm St", "Suite 9", "Belton", "TX", "keep me")
    # a vendor from ServiceTitan gets the same layout
    new = st.create_vendor({"name": "Brand New Layout Co", "active": True, "address": {
        "street": "1 Main", "unit": "Unit B", "city": "Waco", "state": "TX", "zip": "76701", "country": "USA"}})
    cycle(FLOW)
    code = link(FLOW, st_id=new).syspro_key
    row = sp.suppliers[code]
    assert (row["SupAddr1"], row["SupAddr2"], row["SupAddr3"], row["SupAddr4"]) == ("1 Main", "Unit B", "Waco", "TX")


def test_address_layout_setting_is_validated_with_a_clear_error():
    import pytest

    for bad, words in (("street,city", "exactly five"), ("street,city,state,country,planet", "unknown role"),
                       ("street,city,city,state,-", "more than one line")):
        with pytest.raises(config.SettingsError, match=words):
            config.parse_value("syspro.supplier_address_lines", bad)
    assert config.parse_value("syspro.supplier_address_lines", "street,-,-,city,state") == \
        ("street", "-", "-", "city", "state")
    assert config.Settings()["syspro.supplier_address_lines"] == ("street", "city", "state", "country", "-")
    assert config.parse_value("sync.po_business_unit", "") is None
    assert config.parse_value("sync.po_business_unit", " 1002 ") == 1002
    with pytest.raises(config.SettingsError, match="not a ServiceTitan id"):
        config.parse_value("sync.po_business_unit", "Dallas")


# ---------------------------------------------------------------- purchase orders from SYSPRO
def syspro_only_po(box, supplier: str) -> str:
    return next(n for n, po in box.company.syspro.purchase_orders.items() if po["header"]["Supplier"] == supplier
                and not po["header"]["CustomerPoNumber"])


def test_a_syspro_po_whose_branch_maps_to_nothing_gets_the_po_business_unit(sandbox):
    sp, st = sandbox.company.syspro, sandbox.company.st
    number = syspro_only_po(sandbox, "JOHNST")
    header = sp.purchase_orders[number]["header"]
    header["Branch"] = "ZZ"
    sp.warehouses[header["Warehouse"]]["Branch"] = "ZZ"
    cycle("vendors")
    cycle("purchase-orders")
    held = link("purchase-orders", syspro_key=number)
    assert held.state == "HELD" and "sync.po_business_unit" in held.reason and "branch ZZ" in held.reason
    unit = sorted(st.business_units)[-1]
    config.save_setting("sync.po_business_unit", str(unit), actor="test")
    cycle("purchase-orders")
    made = link("purchase-orders", syspro_key=number)
    assert made.state == SYNCED and st.purchase_orders[made.st_id]["businessUnitId"] == unit


def test_a_syspro_po_takes_its_warehouses_branch_when_its_own_maps_to_nothing(sandbox):
    from desktop_app.core.models import BranchMapping

    sp, st = sandbox.company.syspro, sandbox.company.st
    number = syspro_only_po(sandbox, "JOHNST")
    header = sp.purchase_orders[number]["header"]
    header["Branch"] = "ZZ"
    branch = sp.warehouses[header["Warehouse"]]["Branch"]
    cycle("vendors")
    cycle("purchase-orders")
    made = link("purchase-orders", syspro_key=number)
    unit = BranchMapping.get(BranchMapping.syspro_branch == branch).st_business_unit_id
    assert made.state == SYNCED and st.purchase_orders[made.st_id]["businessUnitId"] == unit


def test_a_syspro_po_of_a_shared_supplier_goes_to_the_primary_vendor(sandbox, tmp_path):
    st = sandbox.company.st
    johnstone = st_vendor(sandbox, "Johnstone Supply & Co")
    copy = st.create_vendor({"name": "Johnstone (Austin)", "active": True, "address": {
        "street": "1 Elm", "city": "Austin", "state": "TX", "zip": "78701", "country": "USA"}})
    import_vendor_rows(tmp_path, [(copy, "Johnstone (Austin)", "JOHNST")])
    number = syspro_only_po(sandbox, "JOHNST")
    cycle("vendors")
    cycle("purchase-orders")
    made = link("purchase-orders", syspro_key=number)
    assert made.state == SYNCED and st.purchase_orders[made.st_id]["vendorId"] == johnstone["id"]


def test_too_many_new_pos_wait_for_approval(sandbox):
    config.save_setting("sync.max_auto_create", "2", actor="test")
    sp = sandbox.company.syspro
    cycle("vendors")
    summary = cycle("purchase-orders")["purchase-orders"]
    waiting = list(SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.state == WAITING))
    assert waiting and summary.to_syspro == 0
    assert not any(po["header"]["CustomerPoNumber"] for po in sp.purchase_orders.values()
                   if po["header"]["CustomerPoNumber"].startswith("ST"))
    assert records.waiting_counts("purchase-orders")[0]["sentence"].endswith("before they are created in SYSPRO")
    assert main(["records", "approve", "--flow", "purchase-orders", "--all"]) == 0
    assert SyncLink.select().where(SyncLink.flow == "purchase-orders", SyncLink.state == WAITING).count() == 0
    made = [row for row in waiting if SyncLink.get_by_id(row.id).state == SYNCED]
    assert len(made) == len(waiting)
    writes = Writes(sandbox)
    cycle("purchase-orders")
    assert writes.all() == []


def test_too_many_first_postings_of_adjustments_wait_then_post_once_and_later_edits_do_not_wait(sandbox):
    config.save_setting("sync.max_auto_create", "1", actor="test")
    cycle("adjustments")
    waiting = list(SyncLink.select().where(SyncLink.flow == "adjustments", SyncLink.state == WAITING))
    assert len(waiting) > 1 and not [row for row in SyncLink.select().where(SyncLink.flow == "adjustments",
                                                                            SyncLink.state == SYNCED)]
    assert records.waiting_counts("adjustments")[0]["sentence"] == (
        f"{len(waiting)} inventory adjustments from ServiceTitan wait for your approval before they are posted to "
        "SYSPRO")
    assert main(["records", "approve", "--flow", "adjustments", "--all"]) == 0
    assert all(SyncLink.get_by_id(row.id).state == SYNCED for row in waiting)
    writes = Writes(sandbox)
    cycle("adjustments")
    assert writes.syspro() == []
