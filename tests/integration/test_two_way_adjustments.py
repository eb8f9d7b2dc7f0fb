"""Inventory adjustments: ServiceTitan → SYSPRO INVTMA, SYSPRO → a stock-difference worklist."""
from __future__ import annotations

from decimal import Decimal

from desktop_app.cli import main
from desktop_app.core.models import SyncLink, WorklistRow
from desktop_app.sync.adjustments import movement_key, worklist_rows
from desktop_app.sync.links import DEFAULT_APPLICATION_GUID
from desktop_app.sync.records import HELD, SKIPPED, SYNCED
from desktop_app.syspro.records import InventoryMovementRecord
from tests.integration.two_way_helpers import Writes, cycle, link

FLOW = "adjustments"


def ours(box, number):
    return [m for m in box.company.syspro.movements if m["Reference"].startswith(f"ST-ADJ-{number}")]


def test_adjustments_posted_once_written_back_and_syspro_only_ones_become_the_worklist(sandbox):
    initial = list(sandbox.company.syspro.movements)
    summary = cycle(FLOW)[FLOW]
    st = sandbox.company.st
    posted = list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == SYNCED))
    assert summary.to_syspro >= 6
    for row in posted:
        adjustment = st.adjustments[row.st_id]
        journals = st.adjustments[row.st_id]["externalData"][DEFAULT_APPLICATION_GUID]["syspro.journal"]
        mine = ours(sandbox, adjustment["number"])
        hand = [m for m in initial if m["Reference"] == adjustment["number"]]
        # every item is in SYSPRO exactly once: posted by us, or entered there by hand and matched
        assert sorted(m["TrnQty"] for m in mine + hand) == sorted(Decimal(i["quantity"]) for i in adjustment["items"])
        assert journals and all(str(m["Journal"]) in journals for m in mine + hand)
    held = link(FLOW, state=HELD)
    assert "Needs mapping" in held.reason and ours(sandbox, st.adjustments[held.st_id]["number"]) == []
    assert link(FLOW, state=SKIPPED).reason.startswith("Cancelled")
    # the worklist is exactly what SYSPRO adjusted that ServiceTitan does not have
    numbers = {a["number"] for a in st.adjustments.values()}
    expected = {movement_key(InventoryMovementRecord.from_row(m)) for m in sandbox.company.syspro.movements
                if m["TrnType"] == "A" and not m["Reference"].startswith("ST-ADJ-") and m["Reference"] not in numbers}
    assert {r.movement_key for r in WorklistRow.select()} == expected and len(expected) == 2
    row = worklist_rows()[0]
    assert row["st_location_id"] and row["st_sku_id"] and row["quantity"] and row["journal"]

    writes = Writes(sandbox)
    again = cycle(FLOW)[FLOW]
    assert writes.all() == [] and again.to_syspro == 0 and again.worklist_added == 0
    assert WorklistRow.select().count() == 2


def test_edit_and_cancellation_in_servicetitan_post_only_the_difference(sandbox):
    cycle(FLOW)
    row = next(r for r in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == SYNCED)
               if ours(sandbox, sandbox.company.st.adjustments[r.st_id]["number"]))
    adjustment = sandbox.company.st.adjustments[row.st_id]
    first = adjustment["items"][0]
    first["quantity"] = Decimal(first["quantity"]) + 5
    adjustment["modifiedOn"] = sandbox.company.st.stamp()
    cycle(FLOW)
    delta = [m for m in ours(sandbox, adjustment["number"]) if m["Reference"].endswith("-2")]
    assert [m["TrnQty"] for m in delta] == [Decimal(5)]
    adjustment["active"] = False
    adjustment["modifiedOn"] = sandbox.company.st.stamp()
    cycle(FLOW)
    assert sum(m["TrnQty"] for m in ours(sandbox, adjustment["number"])) == 0  # fully reversed
    writes = Writes(sandbox)
    cycle(FLOW)
    assert writes.all() == []


def test_killed_after_posting_is_found_by_reference_not_posted_again(sandbox):
    cycle(FLOW)
    row = next(r for r in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.state == SYNCED)
               if (r.data or {}).get("postings"))
    posting = row.data["postings"][0]
    row.state = "SYNCING"
    row.data = {**row.data, "posted": {}, "postings": [], "written_back": None,
                "pending": {"reference": posting["reference"], "groups": posting["groups"]}}
    row.save()
    movements = len(sandbox.company.syspro.movements)
    writes = Writes(sandbox)
    summary = cycle(FLOW)[FLOW]
    assert writes.syspro() == [] and len(sandbox.company.syspro.movements) == movements
    assert SyncLink.get_by_id(row.id).state == SYNCED and summary.settled == 1


def test_worklist_cli_export_and_tick_off(sandbox, tmp_path, capsys):
    cycle(FLOW)
    out = tmp_path / "worklist.csv"
    assert main(["worklist", "export", str(out)]) == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("id,warehouse") and len(lines) == 3
    first = WorklistRow.select().first()
    assert main(["worklist", "done", str(first.id)]) == 0
    assert WorklistRow.get_by_id(first.id).done and WorklistRow.get_by_id(first.id).done_by == "cli"
    assert main(["worklist", "export", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 2
    assert main(["records", "list", "--flow", "adjustments", "--state", "HELD", "--json"]) == 0
    assert main(["status", "--json"]) == 0
    assert '"adjustments"' in capsys.readouterr().out
