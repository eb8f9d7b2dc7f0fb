"""Against a real local HTTP server: urllib3's own DEBUG request lines must not carry the passwords."""
from __future__ import annotations

from desktop_app.syspro.enet import EnetClient

from .conftest import COMPANY_PASSWORD, OPERATOR_PASSWORD


def test_urllib3_debug_lines_are_redacted(local_server, debug_logs):
    server = f"http://127.0.0.1:{local_server.server_address[1]}/SYSPROWCFService/Rest"
    client = EnetClient(base_url=server, operator="ADMIN", operator_password=OPERATOR_PASSWORD, company_id="L",
                        company_password=COMPANY_PASSWORD, connect_timeout=5, read_timeout=5)
    with client.session():
        pass
    urllib3_lines = [r.getMessage() for r in debug_logs.records if r.name.startswith("urllib3")]
    assert any("/Logon?" in line for line in urllib3_lines)
    for record in debug_logs.records:
        message = record.getMessage()
        assert OPERATOR_PASSWORD not in message and COMPANY_PASSWORD not in message
        assert "3EA613166FE4BF47925DF1CEA14E910100" not in message
