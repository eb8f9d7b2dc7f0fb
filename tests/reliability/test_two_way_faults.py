"""The fault matrix for the two-way flows: every fault ends where a fault-free run ends, once.

The sandbox company is deterministic per seed, so a run with a fault switched on for three cycles
and then two clean cycles must leave every vendor, purchase-order and adjustment link in the state
a fault-free run leaves it, with nothing written twice on either side.
"""
from __future__ import annotations

from collections import Counter

import pytest

from desktop_app.core.models import SyncLink
from desktop_app.sync.context import SyncContext
from desktop_app.sync.cycle import run_cycle
from desktop_app.sync.links import DEFAULT_APPLICATION_GUID
from desktop_app.sync.records import ATTENTION, IN_DOUBT, SKIPPED, SYNCING

TWO_WAY = ("vendors", "purchase-orders", "adjustments")


def run_flows(cycles: int) -> None:
    for _ in range(cycles):
        for flow in TWO_WAY:
            ctx = SyncContext.from_database(actor="scenario")
            try:
                run_cycle(ctx, flow)
            except Exception:  # noqa: BLE001 - a cycle may stop on a connection failure; the next one goes on
                pass
            finally:
                ctx.close()


def outcome(box) -> dict:
    st, sp = box.company.st, box.company.syspro
    links = list(SyncLink.select())
    return {
        "states": Counter((link.flow, link.state) for link in links),
        "pos_per_cpn": Counter(po["header"]["CustomerPoNumber"] for po in sp.purchase_orders.values()
                               if po["header"]["CustomerPoNumber"]),
        "vendors_per_supplier": Counter((v.get("externalData") or {}).get(DEFAULT_APPLICATION_GUID, {})
                                        .get("syspro.supplier") for v in st.vendors.values()),
        "st_pos_from_syspro": Counter(po.get("summary") for po in st.purchase_orders.values()
                                      if str(po.get("summary") or "").startswith("SYSPRO PO")),
        "movements": Counter((m["Reference"], m["Warehouse"], m["StockCode"], str(m["TrnQty"]))
                             for m in sp.movements),
        "suppliers": len(sp.suppliers),
    }


@pytest.fixture(scope="module")
def fault_free():
    """What a clean run of the same company ends with: filled by the no-fault case, which runs first."""
    return {}


FAULTS = [
    ("st", {"rate_limit_storm": 5}), ("st", {"http_500": 3}), ("st", {"token_expire": 1}),
    ("st", {"malformed": 1}), ("st", {"drop": 1}), ("st", {"maintenance_409": 2}),
    ("syspro", {"session_expire": 2}), ("syspro", {"drop_after_post": 2}), ("syspro", {"malformed": 2}),
    ("syspro", {"http_500": 1}), ("syspro", {"drop": 1}),
]


@pytest.mark.slow
@pytest.mark.parametrize("side,faults", [(None, None), *FAULTS],
                         ids=["no-fault", *(f"{side}.{next(iter(f))}" for side, f in FAULTS)])
def test_two_way_flows_end_as_without_the_fault_and_write_nothing_twice(sandbox, side, faults, fault_free):
    if side is not None:
        getattr(sandbox, side).set_faults(faults)
        run_flows(3)
        getattr(sandbox, side).set_faults({})
    run_flows(2)
    result = outcome(sandbox)
    assert not any(state in (SYNCING, IN_DOUBT) for _flow, state in result["states"])
    for link in SyncLink.select().where(SyncLink.state.in_(sorted(ATTENTION | {SKIPPED}))):
        assert link.reason, f"{link.flow} link {link.id} is {link.state} without a reason"
    assert all(n == 1 for n in result["pos_per_cpn"].values()), result["pos_per_cpn"]
    assert all(n == 1 for code, n in result["vendors_per_supplier"].items() if code), result["vendors_per_supplier"]
    assert all(n == 1 for n in result["st_pos_from_syspro"].values())
    assert all(n == 1 for n in result["movements"].values()), [k for k, n in result["movements"].items() if n > 1]
    if side is None:
        fault_free.update(result)
    elif fault_free:
        assert result == fault_free
