"""Against a real local HTTP server: no log line carries the passwords or the session id."""
from __future__ import annotations

import pytest
import requests

from desktop_app.syspro.enet import EnetClient

from .conftest import COMPANY_PASSWORD, OPERATOR_PASSWORD

SESSION_ID = "3EA613166FE4BF47925DF1CEA14E910100"


def assert_no_secret(records) -> None:
    for record in records:
        message = record.getMessage()
        assert OPERATOR_PASSWORD not in message and COMPANY_PASSWORD not in message
        assert SESSION_ID not in message


def server_url(local_server) -> str:
    return f"http://127.0.0.1:{local_server.server_address[1]}/SYSPROWCFService/Rest"


@pytest.mark.parametrize("given", [False, True], ids=["own-session", "given-session"])
def test_urllib3_debug_lines_are_redacted(local_server, debug_logs, given):
    with requests.Session() as http:
        client = EnetClient(base_url=server_url(local_server), operator="ADMIN", operator_password=OPERATOR_PASSWORD,
                            company_id="L", company_password=COMPANY_PASSWORD, connect_timeout=5, read_timeout=5,
                            **({"session": http} if given else {}))
        with client.session():
            pass
    urllib3_lines = [r.getMessage() for r in debug_logs.records if r.name.startswith("urllib3")]
    assert any("/Logon?" in line for line in urllib3_lines)
    assert any("/Logon?" in r.getMessage() for r in debug_logs.records if r.name.startswith("desktop_app"))
    assert_no_secret(debug_logs.records)
