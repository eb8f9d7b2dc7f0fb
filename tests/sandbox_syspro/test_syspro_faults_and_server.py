"""Fault switches, the admin endpoints, request logging, and the server's lifecycle."""
from __future__ import annotations

import json
import logging
import socket
from urllib.parse import urlencode

import pytest
import requests
from lxml import etree

from desktop_app.sandbox.syspro_sim import SysproSimulator

from .conftest import (
    PASSWORD,
    apstin_doc,
    apstin_item,
    apstin_params,
    errors,
    items,
    parse,
    seeded_state,
)

COMFND = "<Query><TableName>GenMaster</TableName></Query>"


def set_faults(http, sim, spec: str) -> requests.Response:
    return http.post(f"{sim.base_url}/_admin/faults", data=json.dumps({"faults": spec}), timeout=5)


def test_admin_endpoint_sets_faults_and_reports_state(http, sim, enet):
    response = set_faults(http, sim, "syspro.http_500=2,st.http_500=9")
    assert response.status_code == 200
    assert response.json() == {"faults": {"http_500": 2.0}}
    assert set_faults(http, sim, "syspro.nonsense=1").status_code == 400
    assert set_faults(http, sim, "bogus").status_code == 400
    counts = http.get(f"{sim.base_url}/_admin/state", timeout=5).json()
    assert counts["suppliers"] == 3 and counts["ap_invoices"] == 0 and counts["open_sessions"] == 0


def test_http_500_counts_down(http, sim, enet):
    set_faults(http, sim, "syspro.http_500=2")
    url = f"{sim.enet_url}/GetVersion"
    assert [http.get(url, timeout=5).status_code for _ in range(3)] == [500, 500, 200]
    sim.set_faults({"http_500": 1})
    assert enet.odata("GenMaster").status_code == 500
    assert enet.odata("GenMaster").status_code == 200


def test_slow_delays_every_request_through_the_injected_sleep(http, sim, sleeps):
    sim.set_faults({"slow": 0.25})
    for _ in range(2):
        http.get(f"{sim.enet_url}/GetVersion", timeout=5)
    assert sleeps == [0.25, 0.25]


def test_drop_closes_the_connection_without_an_answer(http, sim):
    sim.set_faults({"drop": 1})
    with pytest.raises(requests.ConnectionError):
        http.get(f"{sim.enet_url}/GetVersion", timeout=5)
    assert http.get(f"{sim.enet_url}/GetVersion", timeout=5).status_code == 200
    assert [entry[3] for entry in sim.request_log] == [0, 200]


def test_drop_after_post_commits_then_drops(enet, sim, state, http):
    enet.logon()
    sim.set_faults({"drop_after_post": 1})
    with pytest.raises(requests.ConnectionError):
        enet.raw_post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    assert [r["Invoice"] for r in state.ap_invoices] == ["INV-1001"]
    rows = json.loads(enet.odata("ApInvoice", **{"$filter": "Invoice eq 'INV-1001'"}).text)["value"]
    assert len(rows) == 1
    # The in-doubt retry is answered with the duplicate error, as on a real server.
    retry = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    assert errors(items(retry)[0])["Invoice"][0] == "110402"
    assert len(state.ap_invoices) == 1


def test_session_expire_invalidates_the_session(enet, sim):
    user_id = enet.logon()
    sim.set_faults({"session_expire": 1})
    query = dict(UserId=user_id, BusinessObject="COMFND", XmlIn=COMFND)
    assert enet.get("Query/Query", **query).text == "ERROR: Invalid UserId"
    assert enet.get("Query/Query", **query).text == "ERROR: Invalid UserId"  # it stays dead
    assert sim.open_sessions() == 0
    fresh = enet.logon()
    assert parse(enet.get("Query/Query", **{**query, "UserId": fresh})).tag == "GenMaster"


def test_malformed_garbles_the_next_xml_out(enet, sim):
    enet.logon()
    sim.set_faults({"malformed": 1})
    garbled = enet.get("Query/Query", UserId=enet.user_id, BusinessObject="COMFND", XmlIn=COMFND)
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(garbled.content)
    assert enet.query("COMFND", COMFND).tag == "GenMaster"


def test_reject_post_fails_the_next_posts_but_not_validation(enet, sim, state):
    sim.set_faults({"reject_post": 1})
    validated = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params(validate="Y"))
    assert errors(items(validated)[0]) == {}
    rejected = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    assert errors(items(rejected)[0]) == {"Supplier": ("110401", "Supplier is on hold")}
    assert state.ap_invoices == []
    posted = enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    assert items(posted)[0].findtext("Journal") == "1"


def test_passwords_never_reach_the_request_log_or_logging(enet, sim, caplog):
    caplog.set_level(logging.DEBUG)
    enet.logon()
    enet.odata("GenMaster")
    method, path, params, status = sim.request_log[0]
    assert (method, path, status) == ("GET", "/SYSPROWCFService/Rest/Logon", 200)
    assert params["OperatorPassword"] == "***" and params["CompanyPassword"] == "***"
    assert PASSWORD not in repr(sim.request_log)
    # urllib3 (the client side) logs full URLs at DEBUG; the server must log nothing of them.
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith("urllib3")]
    assert not any(PASSWORD in m for m in server_side)


def test_binds_loopback_only_and_stops_cleanly(state, http):
    sim = SysproSimulator(state, max_lifetime_s=60)
    sim.start()
    assert sim._server.socket.getsockname()[0] == "127.0.0.1"
    assert sim.enet_url == f"http://127.0.0.1:{sim.port}/SYSPROWCFService/Rest"
    assert sim.odata_url == f"http://127.0.0.1:{sim.port}/SYSPRO8Odata/SYSPROOData"
    assert http.get(f"{sim.enet_url}/GetVersion", timeout=5).status_code == 200
    sim.stop()
    assert not sim.running
    with pytest.raises(requests.ConnectionError):
        http.get(f"{sim.enet_url}/GetVersion", timeout=5)
    sim.stop()  # idempotent


def test_stops_by_itself_after_its_lifetime(state, http):
    sim = SysproSimulator(state, max_lifetime_s=0.05)
    sim.start()
    port = sim.port
    sim._thread.join(timeout=10)
    assert not sim._thread.is_alive() and not sim.running
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _raw_get(sim, target: str, extra_headers: str = "") -> bytes:
    """One GET with exactly this request target, as bytes on the wire (requests would re-encode it)."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
        head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra_headers}\r\n"
        conn.sendall(head.encode("ascii"))
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _post_target(sim, user_id: str, xml_in: str) -> str:
    query = urlencode({"UserId": user_id, "BusinessObject": "APSTIN", "XmlParameters": apstin_params(),
                       "XmlIn": xml_in})
    return f"/SYSPROWCFService/Rest/Transaction/Post?{query}"


def _padded_to(sim, user_id: str, line_bytes: int) -> str:
    """A post's request target whose request line (`GET target HTTP/1.1`) is exactly `line_bytes` long."""
    base = _post_target(sim, user_id, apstin_doc(apstin_item(invoice="INV-EDGE", notation="")))
    pad = line_bytes - len(f"GET {base} HTTP/1.1")
    return _post_target(sim, user_id, apstin_doc(apstin_item(invoice="INV-EDGE", notation="x" * pad)))


def test_request_lines_beyond_the_http_sys_limit_are_refused(enet, state):
    user_id = enet.logon()
    huge = apstin_doc(*[apstin_item(invoice=f"INV-{n}") for n in range(60)])
    response = enet.http.get(f"{enet.sim.enet_url}/Transaction/Post", timeout=5, params=dict(
        UserId=user_id, BusinessObject="APSTIN", XmlParameters=apstin_params(), XmlIn=huge))
    # HTTP.sys answers by itself, with its own page, and SYSPRO never sees the request
    assert response.status_code == 414
    assert response.headers["Server"] == "Microsoft-HTTPAPI/2.0"
    assert response.headers["Content-Type"] == "text/html; charset=us-ascii"
    assert "<h2>Request URL Too Long</h2>" in response.text
    assert "HTTP Error 414. The request URL is too long." in response.text
    assert state.ap_invoices == [] and state.post_count == 0
    assert enet.sim.refused_too_long == 1


def test_the_limit_is_16384_bytes_of_request_line_exactly(enet, state):
    enet.sim.max_request_bytes = None  # the request line alone (its headers would pass MaxRequestBytes)
    user_id = enet.logon().strip()
    at_limit = _raw_get(enet.sim, _padded_to(enet.sim, user_id, 16384))
    assert at_limit.startswith(b"HTTP/1.1 200"), at_limit[:300]
    assert [i["Invoice"] for i in state.ap_invoices] == ["INV-EDGE"]
    over = _raw_get(enet.sim, _padded_to(enet.sim, user_id, 16385))
    assert over.startswith(b"HTTP/1.1 414"), over[:300]
    assert b"Server: Microsoft-HTTPAPI/2.0" in over and b"Connection: close" in over
    assert len(state.ap_invoices) == 1 and state.post_count == 1  # the refused one processed nothing


def test_request_line_and_headers_over_max_request_bytes_are_bad_request_too_long(enet, state):
    user_id = enet.logon().strip()
    target = _padded_to(enet.sim, user_id, 16000)
    answer = _raw_get(enet.sim, target, extra_headers=f"X-Padding: {'p' * 600}\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"<h2>Bad Request - Request Too Long</h2>" in answer
    assert b"HTTP Error 400. The size of the request headers is too long." in answer
    assert state.ap_invoices == [] and state.post_count == 0


def test_latency_per_call_and_per_item(http, sim, enet, sleeps):
    sim.set_faults({"latency_ms": 250, "latency_per_item_ms": 10})
    enet.logon()
    enet.post("APSTIN", apstin_doc(*[apstin_item(invoice=f"INV-L{n}") for n in range(7)]), apstin_params())
    enet.query("COMFND", COMFND)
    assert sleeps == pytest.approx([0.25, 0.25 + 7 * 0.01, 0.25])
    # latency stays on: it is not a counted fault
    assert sim.faults.snapshot() == {"latency_ms": 250, "latency_per_item_ms": 10}


def test_latency_is_accepted_by_the_fault_spec_of_sandbox_serve():
    from desktop_app.sandbox.faults import parse_fault_spec
    spec = parse_fault_spec("syspro.latency_ms=250,syspro.latency_per_item_ms=10")
    sim = SysproSimulator(seeded_state(), max_lifetime_s=1)
    sim.set_faults(spec["syspro"])
    assert sim.faults.value("latency_ms") == 250 and sim.faults.value("latency_per_item_ms") == 10


def test_the_demo_runs_against_a_realistic_syspro_latency():
    from desktop_app.sandbox import demo
    from desktop_app.sandbox.faults import parse_fault_spec

    assert parse_fault_spec(demo.DEMO_SYSPRO_LATENCY)["syspro"] == {"latency_ms": 250, "latency_per_item_ms": 10}
