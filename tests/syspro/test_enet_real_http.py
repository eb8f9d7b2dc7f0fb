"""Against a real local HTTP server: urllib3's own DEBUG request lines must not carry the passwords."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from desktop_app.syspro.enet import EnetClient

from .conftest import COMPANY_PASSWORD, OPERATOR_PASSWORD


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        body = b"0" if "/Logoff" in self.path else b"3EA613166FE4BF47925DF1CEA14E910100  "
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/SYSPROWCFService/Rest"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_urllib3_debug_lines_are_redacted(server, debug_logs):
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
