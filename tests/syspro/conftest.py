"""Fixtures for the SYSPRO client tests: reference samples and a scripted e.net behind `responses`."""
from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from desktop_app.syspro.enet import EnetClient
from tests.reference_docs import SYSPRO_FIELD_REFERENCE, SYSPRO_SAMPLES
from tests.serving import serving

ENET_URL = "http://127.0.0.1:9/SYSPROWCFService/Rest"
ODATA_URL = "http://127.0.0.1:9/SYSPRO8Odata/SYSPROOData"
OPERATOR_PASSWORD = "Op-Secret-4711"
COMPANY_PASSWORD = "Co-Secret-0815"
USER_IDS = ["3EA613166FE4BF47925DF1CEA14E910100  ", "8769428E37B2BF4AA353D1440BA1834600  ",
            "1BB5B3050954BB459A5D034DB5CC386980  "]



@pytest.fixture(scope="session")
def samples() -> Path:
    return SYSPRO_SAMPLES


@pytest.fixture(scope="session")
def field_reference() -> str:
    return SYSPRO_FIELD_REFERENCE.read_text(encoding="utf-8")


def xml_out(root: str, body: str) -> str:
    """An XmlOut document as e.net sends it (declaration, operator attributes on the root)."""
    return (f'<?xml version="1.0" encoding="Windows-1252"?>\n<{root} Language=\'05\' Language2=\'EN\' CssStyle=\'\' '
            f"DecFormat='1' DateFormat='01' Role='01' Version='8.0.000' OperatorPrimaryRole='   '>\n"
            f"{body}\n</{root}>")


class Call:
    def __init__(self, request):
        parts = urlsplit(request.url)
        self.url = request.url
        self.path = parts.path.split("/Rest/", 1)[1]
        self.params = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}


class FakeEnet:
    """Scripted e.net: each operation answers from its queue (last answer repeats); calls are kept.

    An answer is a str/bytes body, an int HTTP status, or an exception instance to raise.
    """

    def __init__(self, rsps: responses.RequestsMock):
        self.calls: list[Call] = []
        self.answers: dict[str, deque] = {}
        self.user_ids = deque(USER_IDS)
        self.answer("Logon", *[uid for uid in USER_IDS])
        self.answer("Logoff", "0")
        rsps.add_callback(responses.GET, re.compile(re.escape(ENET_URL) + r"/.*"), callback=self._handle)

    def answer(self, path: str, *answers) -> None:
        self.answers[path] = deque(answers)

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    def calls_to(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    def _handle(self, request):
        call = Call(request)
        self.calls.append(call)
        queue = self.answers.get(call.path)
        if not queue:
            return 404, {}, b"not scripted"
        answer = queue[0] if len(queue) == 1 else queue.popleft()
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, int):
            return answer, {}, b"server error"
        body = answer.encode("cp1252") if isinstance(answer, str) else answer
        return 200, {"Content-Type": "application/octet-stream"}, body


@pytest.fixture
def rsps(monkeypatch):
    """requests mocked (real sockets: test_enet_transport.py)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def enet(rsps) -> FakeEnet:
    return FakeEnet(rsps)


@pytest.fixture
def client() -> EnetClient:
    http = requests.Session()
    yield EnetClient(base_url=ENET_URL, operator="ADMIN", operator_password=OPERATOR_PASSWORD, company_id="L",
                     company_password=COMPANY_PASSWORD, session=http)
    http.close()


@pytest.fixture
def debug_logs(caplog):
    """Capture DEBUG from everything, even if another test configured the app's loggers to INFO."""
    import logging

    caplog.set_level(logging.DEBUG)
    for name in ("desktop_app", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


# --- a real e.net over a socket -------------------------------------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    """Answers like e.net; as a forward proxy it receives absolute URIs in the request line."""

    seen: list[str]

    def do_GET(self):  # noqa: N802 - http.server API
        self.server.seen.append(self.path)
        send_answer(self, b"0" if "/Logoff" in self.path else USER_IDS[0].encode() if "/Logon" in self.path
                    else b"<Ok/>")

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def running_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """`handler` serving on a free port of 127.0.0.1 until the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    with serving(httpd):
        yield httpd


def send_answer(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200, headers: dict | None = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {"Content-Type": "application/octet-stream"}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def local_server():
    """A real HTTP server on 127.0.0.1 answering like e.net; `.seen` lists the request targets."""
    with running_server(_Recorder) as httpd:
        httpd.seen = []
        yield httpd
