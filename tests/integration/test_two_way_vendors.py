"""Vendors ↔ suppliers against the simulators."""
from __future__ import annotations

from desktop_app.core.models import AuditEvent, SyncLink, VendorMapping
from desktop_app.sync import records
from desktop_app.sync.context import SyncContext
from desktop_app.sync.links import DEFAULT_APPLICATION_GUID
from desktop_app.sync.records import CONFLICT, HELD, SKIPPED, SYNCED
from tests.integration.two_way_helpers import Writes, cycle, link, set_policy

FLOW = "vendors"


def st_vendor(box, name):
    return next(v for v in box.company.st.vendors.values() if v["name"] == name)


def test_first_cycle_links_creates_and_holds_then_a_second_cycle_writes_nothing(sandbox):
    summary = cycle(FLOW)[FLOW]
    sp = sandbox.company.syspro
    lsc = st_vendor(sandbox, "Lone Star Copper & Tube")
    created = link(FLOW, st_id=lsc["id"])
    assert created.state == SYNCED and created.syspro_key == "LONESTARCOPPERT"
    assert sp.suppliers["LONESTARCOPPERT"]["SupplierName"] == "Lone Star Copper & Tube"
    assert sp.suppliers["LONESTARCOPPERT"]["SupAddr1"] == lsc["address"]["street"]
    assert VendorMapping.get(VendorMapping.st_vendor_id == lsc["id"]).syspro_supplier == "LONESTARCOPPERT"
    assert lsc["externalData"][DEFAULT_APPLICATION_GUID]["syspro.supplier"] == "LONESTARCOPPERT"
    # look-alikes are held on both sides, never linked silently
    rbw = link(FLOW, st_id=st_vendor(sandbox, "R&B Wholesale Distributors")["id"])
    assert rbw.state == HELD and "RBWHOL" in rbw.reason
    assert link(FLOW, syspro_key="RBWHOL").state == HELD
    # ServiceTitan requires an address: the missing SYSPRO field is named
    grainger = link(FLOW, syspro_key="GRAING")
    assert grainger.state == HELD and "SupAddr1" in grainger.reason and "SupPostalCode" in grainger.reason
    assert link(FLOW, st_id=st_vendor(sandbox, "Old Town Supply (closed)")["id"]).state == SKIPPED
    assert summary.linked >= 7 and summary.to_syspro == 1
    assert AuditEvent.select().where(AuditEvent.flow == FLOW,
                                     AuditEvent.record_key == f"vendor:{lsc['id']}").count() >= 2

    writes = Writes(sandbox)
    again = cycle(FLOW)[FLOW]
    assert writes.all() == [] and again.to_syspro == again.to_servicetitan == 0


def test_servicetitan_edit_and_deactivation_reach_syspro_only_once(sandbox):
    cycle(FLOW)
    vendor = st_vendor(sandbox, "Johnstone Supply & Co")
    sandbox.company.st.update_vendor(vendor["id"], {"name": "Johnstone Supply Co.", "active": False})
    summary = cycle(FLOW)[FLOW]
    row = sandbox.company.syspro.suppliers["JOHNST"]
    assert summary.to_syspro == 1 and row["SupplierName"] == "Johnstone Supply Co." and row["OnHold"] == "Y"
    assert "JOHNST" in sandbox.company.syspro.suppliers  # deactivated, never deleted
    writes = Writes(sandbox)
    cycle(FLOW)
    assert writes.all() == []


def test_syspro_edit_and_on_hold_reach_servicetitan(sandbox):
    cycle(FLOW)
    sp = sandbox.company.syspro
    sp.suppliers["FERGUS"].update(Email="billing@fergus.example", OnHold="Y", SupAddr1="1 New Rd")
    summary = cycle(FLOW)[FLOW]
    vendor = st_vendor(sandbox, "Ferguson's Plumbing Supply")
    assert summary.to_servicetitan == 1
    assert vendor["contactInfo"]["email"] == "billing@fergus.example" and vendor["active"] is False
    assert vendor["address"]["street"] == "1 New Rd"
    writes = Writes(sandbox)
    cycle(FLOW)
    assert writes.all() == []


def test_new_syspro_supplier_becomes_a_vendor_and_a_killed_create_is_not_repeated(sandbox):
    sp = sandbox.company.syspro
    sp.add_supplier("ACMEPIPE", SupplierName="Acme Pipe & Valve", SupAddr1="9 Mill St", SupAddr2="Waco",
                    SupAddr3="TX", SupAddr4="USA", SupPostalCode="76701", Telephone="254-555-0100")
    cycle(FLOW)
    new = link(FLOW, syspro_key="ACMEPIPE")
    assert new.state == SYNCED
    vendor = sandbox.company.st.vendors[new.st_id]
    assert vendor["name"] == "Acme Pipe & Valve" and vendor["address"]["zip"] == "76701"
    assert vendor["externalData"][DEFAULT_APPLICATION_GUID]["syspro.supplier"] == "ACMEPIPE"
    count = len(sandbox.company.st.vendors)
    # the process died after ServiceTitan created the vendor, before the link kept its id
    VendorMapping.delete().where(VendorMapping.syspro_supplier == "ACMEPIPE").execute()
    new.state, new.st_id, new.st_synced = "SYNCING", None, None
    new.save()
    writes = Writes(sandbox)
    summary = cycle(FLOW)[FLOW]
    assert len(sandbox.company.st.vendors) == count
    assert ("POST", f"/inventory/v2/tenant/{sandbox.company.st.tenant}/vendors") not in writes.servicetitan()
    again = SyncLink.get_by_id(new.id)
    assert again.state == SYNCED and again.st_id == vendor["id"] and summary.settled == 1


def test_killed_supplier_create_is_looked_up_not_repeated(sandbox):
    cycle(FLOW)
    created = link(FLOW, syspro_key="LONESTARCOPPERT")
    VendorMapping.delete().where(VendorMapping.syspro_supplier == "LONESTARCOPPERT").execute()
    created.state, created.syspro_key, created.syspro_synced = "SYNCING", None, None
    created.save()
    suppliers = len(sandbox.company.syspro.suppliers)
    writes = Writes(sandbox)
    cycle(FLOW)
    assert writes.syspro() == [] and len(sandbox.company.syspro.suppliers) == suppliers
    assert SyncLink.get_by_id(created.id).state == SYNCED
    assert SyncLink.get_by_id(created.id).syspro_key == "LONESTARCOPPERT"


def test_change_on_both_sides_is_a_conflict_until_the_policy_or_a_person_decides(sandbox):
    cycle(FLOW)
    vendor = st_vendor(sandbox, "Hajoca Corp.")
    sandbox.company.st.update_vendor(vendor["id"], {"name": "Hajoca (ST edit)"})
    sandbox.company.syspro.suppliers["HAJOCA"]["SupplierName"] = "Hajoca (SYSPRO edit)"
    writes = Writes(sandbox)
    cycle(FLOW)
    pair = link(FLOW, syspro_key="HAJOCA")
    assert pair.state == CONFLICT and writes.all() == []
    assert pair.conflict["servicetitan"]["name"] == "Hajoca (ST edit)"
    assert pair.conflict["syspro"]["name"] == "Hajoca (SYSPRO edit)"
    assert pair.conflict["last_synced"]["servicetitan"]["name"] == "Hajoca Corp."
    assert records.conflicts(FLOW)[0]["id"] == pair.id
    cycle(FLOW)
    assert link(FLOW, syspro_key="HAJOCA").state == CONFLICT and writes.all() == []

    set_policy("syspro")
    cycle(FLOW)
    assert vendor["name"] == "Hajoca (SYSPRO edit)" and link(FLOW, syspro_key="HAJOCA").state == SYNCED

    # with "ask", a person decides
    set_policy("ask")
    sandbox.company.st.update_vendor(vendor["id"], {"name": "Hajoca ST 2"})
    sandbox.company.syspro.suppliers["HAJOCA"]["SupplierName"] = "Hajoca SP 2"
    cycle(FLOW)
    pair = link(FLOW, syspro_key="HAJOCA")
    ctx = SyncContext.from_database(actor="user")
    try:
        records.resolve_conflict(ctx, pair.id, "servicetitan")
    finally:
        ctx.close()
    assert sandbox.company.syspro.suppliers["HAJOCA"]["SupplierName"] == "Hajoca ST 2"
    assert link(FLOW, syspro_key="HAJOCA").state == SYNCED


def test_a_mapping_links_held_look_alikes(sandbox, tmp_path):
    from desktop_app.sync.mappings import import_csv

    cycle(FLOW)
    rbw = st_vendor(sandbox, "R&B Wholesale Distributors")
    csv_file = tmp_path / "v.csv"
    csv_file.write_text(f"st_vendor_id,syspro_supplier\n{rbw['id']},RBWHOL\n")
    import_csv("vendors", csv_file)
    writes = Writes(sandbox)
    cycle(FLOW)
    linked = link(FLOW, st_id=rbw["id"])
    assert linked.state == SYNCED and linked.syspro_key == "RBWHOL"
    assert SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.syspro_key == "RBWHOL").count() == 1
    assert writes.syspro() == []  # nothing created: only the supplier code written to externalData
