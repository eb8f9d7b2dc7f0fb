"""The engine against simulators switched to behaviours the reference documents but the default sandbox
leaves off (docs/sandbox-fidelity.md): nothing is lost or posted twice when they are on."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desktop_app.core.models import ApDocument, AuditEvent
from desktop_app.sandbox.syspro_sim import SysproSimulator
from desktop_app.syspro.enet import EnetClient

from .test_invoice_sync import assert_exactly_once, cycle


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.mark.parametrize("sandbox", [{"faults": "st.export_delay=900"}], indirect=True)
def test_st_export_latency_delays_a_new_invoice_but_never_loses_it(sandbox):
    """ServiceTitan's export feeds show a change 15 minutes after it: an invoice closed just now is not in
    this cycle's feed, and the feed position stored by the cycle must not skip it once it settles."""
    first = cycle(flow="invoices")["invoices"]
    assert first.discovered > 0
    fresh = set(sandbox.company.st.advance(6))
    cycle(flow="invoices")
    assert not ApDocument.select().where(ApDocument.st_invoice_id.in_(fresh)).exists()

    sandbox.company.st.clock = lambda: utcnow() + timedelta(minutes=16)
    cycle(flow="invoices")
    seen = {d.st_invoice_id for d in ApDocument.select().where(ApDocument.st_invoice_id.in_(fresh))}
    with_costs = {i for i in fresh if any(item["type"] in ("Material", "Equipment")
                                          for item in sandbox.company.st.invoices[i]["items"])}
    assert with_costs and with_costs <= seen
    assert_exactly_once(sandbox)


def test_engine_logs_on_again_whatever_text_syspro_gives_an_expired_session(sandbox):
    """SYSPRO does not publish its answer for an expired UserId: a query on a session that another text
    calls expired is repeated on a new session, not failed."""
    c = sandbox.company.credentials
    with SysproSimulator(sandbox.company.syspro, max_lifetime_s=60,
                         invalid_session_message="ERROR: The session has timed out. Please log on again") as sim:
        client = EnetClient(base_url=sim.enet_url, operator=c["syspro_operator"],
                            operator_password=c["syspro_operator_password"], company_id=c["syspro_company"],
                            company_password="", connect_timeout=5, read_timeout=5)
        try:
            with client.session() as session:
                sim.set_faults({"session_expire": 1})
                answer = session.query("COMFND", "<Query><TableName>ApSupplier</TableName>"
                                                 "<ReturnRows>1</ReturnRows></Query>")
                assert "<ApSupplier" in answer
                assert session.stats.relogons == 1
        finally:
            client.close()


@pytest.mark.parametrize("sandbox", [{"faults": "st.token_throttle=1"}], indirect=True)
def test_a_whole_cycle_signs_in_to_servicetitan_once(sandbox):
    """ServiceTitan throttles token requests: every flow of a cycle reuses one token."""
    result = cycle()
    assert not result.errors, result.errors
    tokens = [e for e in sandbox.st.request_log if e["path"] == "/connect/token"]
    assert [e["status"] for e in tokens] == [200]


@pytest.mark.parametrize("sandbox", [{"faults": "syspro.slow_after_post=1",
                                      "syspro_options": {"slow_after_post_s": 2.5}}], indirect=True)
def test_a_post_answered_after_the_read_timeout_is_posted_exactly_once(sandbox):
    """SYSPRO commits a post whose answer the engine stops waiting for: the engine must find it, not
    post it again."""
    from desktop_app.core import config
    from desktop_app.sync import ledger

    config.save_setting("http.read_timeout", "1", actor="test")
    cycle(flow="invoices")
    cycle(flow="invoices")
    assert_exactly_once(sandbox)
    assert ApDocument.select().where(ApDocument.state.in_([ledger.POSTING, ledger.IN_DOUBT])).count() == 0
    assert "found_in_syspro" in {e.kind for e in AuditEvent.select()}  # the late post was looked up


@pytest.mark.parametrize("sandbox", [{"syspro_options": {"json_quoted": True}}], indirect=True)
def test_a_syspro_8_server_that_json_quotes_every_answer_is_synced_all_the_same(sandbox):
    """Some SYSPRO 8 e.net versions answer every body as a JSON-quoted string."""
    result = cycle()
    assert not result.errors, result.errors
    assert len(sandbox.company.syspro.ap_invoices) > 20
    assert_exactly_once(sandbox)


def test_an_adjustment_of_a_lot_traceable_item_fails_with_syspros_reason(sandbox):
    """INVTMA needs a lot for a lot-traceable item, which a ServiceTitan adjustment cannot name: the
    adjustment fails with SYSPRO's reason for a person, and its other items are not half-posted."""
    from desktop_app.core.models import SyncLink
    from desktop_app.sync.records import FAILED

    from .two_way_helpers import cycle as flow_cycle

    syspro = sandbox.company.syspro
    stock_codes = {m["StockCode"] for m in syspro.movements}
    for code in set(syspro.stock_codes) - stock_codes:
        syspro.stock_codes[code]["TraceableType"] = "T"
    before = len(syspro.movements)
    flow_cycle("adjustments")
    failed = list(SyncLink.select().where(SyncLink.flow == "adjustments", SyncLink.state == FAILED))
    assert failed and all("lot" in link.reason.lower() for link in failed), [f.reason for f in failed]
    posted_refs = {m["Reference"] for m in syspro.movements[before:]}
    assert not any(link.label in ref for link in failed for ref in posted_refs)
