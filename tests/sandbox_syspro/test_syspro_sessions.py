"""e.net Logon/Logoff and session rules of the simulator."""
from __future__ import annotations

import json
import re

from lxml import etree

from desktop_app.sandbox.syspro_sim import SysproSimulator

from .conftest import COMPANY, COMPANY_PASSWORD, OPERATOR, PASSWORD, parse

COMFND = "<Query><TableName>ApSupplier</TableName><Columns><Column>Supplier</Column></Columns></Query>"


def logon_params(**overrides: str) -> dict[str, str]:
    params = dict(Operator=OPERATOR, OperatorPassword=PASSWORD, CompanyId=COMPANY, CompanyPassword=COMPANY_PASSWORD)
    params.update(overrides)
    return params


def test_logon_returns_34_hex_and_two_spaces_and_logoff_returns_0(enet, sim):
    user_id = enet.get("Logon", **logon_params()).text
    assert re.fullmatch(r"[0-9A-F]{34}  ", user_id)
    assert sim.open_sessions() == 1
    assert enet.get("Logoff", UserId=user_id).text == "0"
    assert sim.open_sessions() == 0
    assert enet.get("Logoff", UserId=user_id).text == "ERROR: Invalid UserId"


def test_user_id_is_accepted_with_or_without_trailing_spaces(enet):
    user_id = enet.logon()
    for variant in (user_id, user_id.strip()):
        root = parse(enet.get("Query/Query", UserId=variant, BusinessObject="COMFND", XmlIn=COMFND))
        assert root.tag == "ApSupplier"


def test_wrong_credentials_and_missing_parameters(enet, sim):
    assert enet.get("Logon", **logon_params(OperatorPassword="nope")).text == "ERROR: Invalid operator password"
    assert enet.get("Logon", **logon_params(CompanyPassword="nope")).text == "ERROR: Invalid company password"
    assert enet.get("Logon", **logon_params(CompanyId="ZZZ")).text.startswith("ERROR: Invalid company")
    assert enet.get("Logon", **logon_params(Operator="GHOST")).text.startswith("ERROR")
    params = logon_params()
    del params["CompanyPassword"]
    assert enet.get("Logon", **params).text == "ERROR: Parameter 'CompanyPassword' is missing"
    assert sim.open_sessions() == 0


def test_blank_company_password_is_valid_when_the_company_has_none(enet, state):
    state.company_password = ""
    assert not enet.get("Logon", **logon_params(CompanyPassword="")).text.startswith("ERROR")


def test_paths_are_case_insensitive_and_utilities_logon_works(enet, http, sim):
    user_id = http.get(f"{sim.base_url}/sysprowcfservice/rest/LOGON", params=logon_params(), timeout=5).text
    assert re.fullmatch(r"[0-9A-F]{34}  ", user_id)
    other = enet.get("Utilities/Logon", **logon_params(Operator="CLERK", OperatorPassword="clerk-pw")).text
    assert re.fullmatch(r"[0-9A-F]{34}  ", other)
    assert http.get(f"{sim.base_url}/SysproWcfService/REST/logoff", params={"UserId": user_id}, timeout=5).text == "0"
    assert enet.get("getversion").text.startswith("8.")


def test_second_logon_of_the_same_operator_evicts_the_first(enet, sim):
    first = enet.logon()
    second = enet.logon()
    assert first != second
    assert sim.open_sessions() == 1
    answer = enet.get("Query/Query", UserId=first, BusinessObject="COMFND", XmlIn=COMFND).text
    assert answer == "ERROR: Invalid UserId"
    assert parse(enet.get("Query/Query", UserId=second, BusinessObject="COMFND", XmlIn=COMFND)).tag == "ApSupplier"


def test_other_operators_keep_their_sessions(enet, sim):
    clerk = enet.get("Logon", **logon_params(Operator="CLERK", OperatorPassword="clerk-pw")).text
    enet.logon()
    assert sim.open_sessions() == 2
    assert parse(enet.get("Query/Query", UserId=clerk, BusinessObject="COMFND", XmlIn=COMFND)).tag == "ApSupplier"


def test_idle_session_expires_on_the_injected_clock_and_use_keeps_it_alive(enet, clock, sim):
    user_id = enet.logon()
    clock.advance(500)
    assert parse(enet.get("Query/Query", UserId=user_id, BusinessObject="COMFND", XmlIn=COMFND)).tag == "ApSupplier"
    clock.advance(500)  # 500 s since the last call: still inside the 600 s timeout
    assert parse(enet.get("Query/Query", UserId=user_id, BusinessObject="COMFND", XmlIn=COMFND)).tag == "ApSupplier"
    clock.advance(601)
    expired = enet.get("Query/Query", UserId=user_id, BusinessObject="COMFND", XmlIn=COMFND)
    assert expired.text == "ERROR: Invalid UserId"
    assert sim.open_sessions() == 0


def test_unknown_and_missing_user_id(enet):
    unknown = enet.get("Query/Query", UserId="0" * 34, BusinessObject="COMFND", XmlIn=COMFND)
    assert unknown.text == "ERROR: Invalid UserId"
    assert enet.get("Query/Query", BusinessObject="COMFND", XmlIn=COMFND).text.startswith("ERROR")


def test_logon_profile_names_operator_and_company_date(enet):
    root = parse(enet.get("GetLogonProfile", UserId=enet.logon()))
    assert root.findtext("OperatorCode") == OPERATOR
    assert root.findtext("CompanyDate") == "2026-03-15"
    assert root.get("Language") == "05"


def test_json_quoted_mode_quotes_every_body(state, http):
    with SysproSimulator(state, json_quoted=True, max_lifetime_s=60) as sim:
        raw = http.get(f"{sim.enet_url}/Logon", params=logon_params(), timeout=5).text
        user_id = json.loads(raw)
        assert re.fullmatch(r"[0-9A-F]{34}  ", user_id)
        body = http.get(f"{sim.enet_url}/Query/Query",
                        params={"UserId": user_id, "BusinessObject": "COMFND", "XmlIn": COMFND}, timeout=5).text
        document = json.loads(body)
        assert document.startswith('<?xml version="1.0" encoding="Windows-1252"?>')
        assert etree.fromstring(document.split("?>", 1)[1].encode()).tag == "ApSupplier"
