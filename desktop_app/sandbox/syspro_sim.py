"""A local SYSPRO: e.net REST (SYSPROWCFService/Rest) and read-only OData on 127.0.0.1.

It follows docs/syspro-contract.md: every application error is HTTP 200 with an `ERROR: ...` text
or an XmlOut document; sessions are 34 upper-hex characters plus two spaces, one per operator,
expiring after `session_idle_timeout_s` of inactivity on the injected clock.

Faults (see desktop_app.sandbox.faults; counted ones fire N times): http_500, slow (seconds),
drop, drop_after_post, slow_after_post (the post commits, the answer waits `slow_after_post_s`),
session_expire, malformed, reject_post (the next N invoices posted are refused),
odata_repeat_link (every OData next link points back at its own page).
Latency (not counted, stays on): latency_ms delays every e.net answer, latency_per_item_ms adds that
much per item (`<Item>`, `<Orders>`) of a Setup or Transaction document, as a real server takes
longer for a larger document.

The e.net service runs on HTTP.sys, which refuses a request line longer than its MaxFieldLength
(16,384 bytes by default) with 414 and a request line plus headers longer than MaxRequestBytes
(16,384 by default) with 400 "Request Too Long", before e.net sees anything.

What SYSPRO answers for an expired or evicted UserId is not published; `invalid_session_message`
switches the text so a client can be held to any `ERROR:` answer, not just ours.
docs/sandbox-fidelity.md lists which rule of the reference each part of this module enforces.
"""
from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from desktop_app.sandbox import syspro_odata, syspro_postings, syspro_queries
from desktop_app.sandbox.faults import FaultBoard, FaultSpecError, parse_fault_spec
from desktop_app.sandbox.http_server import REQUEST_HEAD_KEY, REQUEST_LINE_KEY, SOCKET_KEY, ServedSimulator
from desktop_app.sandbox.syspro_postings import BoException, Options
from desktop_app.sandbox.syspro_state import Session, SysproState
from desktop_app.sandbox.syspro_xml import E, XmlInError, el, parse_xml_in, xml_out

FAULTS = {"http_500", "slow", "drop", "drop_after_post", "slow_after_post", "session_expire", "malformed",
          "reject_post", "odata_repeat_link", "latency_ms", "latency_per_item_ms"}
ENET_ROOT = "/sysprowcfservice/rest/"
ODATA_ROOT = "/syspro8odata/sysproodata"
SECRET_PARAMS = {"operatorpassword", "companypassword"}
INVALID_SESSION = "ERROR: Invalid UserId"
ENET_VERSION = "8.0.0.0"
SERVER_HEADER = ("Server", "Microsoft-HTTPAPI/2.0")
# HTTP.sys's own answers to a request over its limits (its texts; IIS is not involved)
_HTTP_SYS_PAGE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
                  "<HTML><HEAD><TITLE>{title}</TITLE>\r\n"
                  '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
                  "<BODY><h2>{heading}</h2>\r\n<hr><p>{text}</p>\r\n</BODY></HTML>\r\n")
URL_TOO_LONG_PAGE = _HTTP_SYS_PAGE.format(title="Request URL Too Long", heading="Request URL Too Long",
                                          text="HTTP Error 414. The request URL is too long.")
REQUEST_TOO_LONG_PAGE = _HTTP_SYS_PAGE.format(title="Bad Request", heading="Bad Request - Request Too Long",
                                              text="HTTP Error 400. The size of the request headers is too long.")


class _DropConnection(ConnectionAbortedError):
    """Raised after shutting the socket down: the server hangs up without an answer."""


def _bo_error(message: str) -> str:
    return f"ERROR: e.net exception 100000: {message}"


class SysproSimulator(ServedSimulator):
    thread_name = "syspro-sim"

    def __init__(
        self,
        state: SysproState,
        *,
        session_idle_timeout_s: float = 1200,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 1000,
        json_quoted: bool = False,
        max_lifetime_s: float | None = 3600,
        sleep: Callable[[float], None] = time.sleep,
        max_url_bytes: int | None = 16384,
        max_request_bytes: int | None = 16384,
        port: int = 0,
        invalid_session_message: str = INVALID_SESSION,
        slow_after_post_s: float = 130,
        odata_drop: str = "",
    ):
        self.state = state
        # columns this site's OData does not expose, e.g. "ApSupplier.Email" (syspro_odata.parse_drop_spec)
        self.odata_hidden = syspro_odata.parse_drop_spec(odata_drop)
        self._serve_on(port, max_lifetime_s)
        self.session_idle_timeout_s = session_idle_timeout_s
        if not invalid_session_message.startswith("ERROR"):
            raise ValueError("invalid_session_message must start with 'ERROR', as every e.net error text does")
        self.invalid_session_message = invalid_session_message
        # longer than a client's usual read timeout: the post is in SYSPRO, the client never hears so
        self.slow_after_post_s = slow_after_post_s
        self.clock = clock
        self.page_size = page_size
        self.json_quoted = json_quoted
        self.sleep = sleep
        # HTTP.sys's MaxFieldLength (the request line) and MaxRequestBytes (request line and headers)
        self.max_url_bytes = max_url_bytes
        self.max_request_bytes = max_request_bytes
        self.refused_too_long = 0
        self.faults = FaultBoard(FAULTS)
        self.request_log: list[tuple[str, str, dict[str, str], int]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def enet_url(self) -> str:
        return f"{self.base_url}/SYSPROWCFService/Rest"

    @property
    def odata_url(self) -> str:
        return f"{self.base_url}/SYSPRO8Odata/SYSPROOData"

    def set_faults(self, faults: dict[str, float]) -> None:
        self.faults.set(faults)

    def open_sessions(self) -> int:
        with self.state.lock:
            self._expire_idle_sessions()
            return self.state.open_sessions()

    # -- WSGI ------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        params = {k: v for k, v in request.values.items()}
        masked = {k: ("***" if k.lower() in SECRET_PARAMS else v) for k, v in params.items()}
        path = request.path
        # logged by _drop before the socket closes: the client may send its next request at once
        environ["mlc.log_entry"] = (request.method, path, masked, 0)
        response = self._dispatch(request, {k.lower(): v for k, v in params.items()}, environ)
        self.request_log.append((request.method, path, masked, response.status_code))
        return response(environ, start_response)

    def _drop(self, environ) -> None:
        self.request_log.append(environ["mlc.log_entry"])
        sock = environ.get(SOCKET_KEY)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise _DropConnection("fault: connection dropped")

    def _dispatch(self, request: Request, params: dict[str, str], environ) -> Response:
        lower = request.path.lower()
        if lower.startswith("/_admin/"):
            return self._admin(request, lower)
        refused = self._http_sys_refusal(environ)
        if refused is not None:
            return refused
        delay = self.faults.value("slow")
        if delay > 0:
            self.sleep(delay)
        if self.faults.take("drop"):
            self._drop(environ)
        if self.faults.take("http_500"):
            return Response("Internal Server Error", status=500, content_type="text/plain")
        if lower.startswith(ENET_ROOT):
            return self._enet(lower[len(ENET_ROOT):].strip("/"), params, environ)
        if lower == ODATA_ROOT or lower.startswith(ODATA_ROOT + "/"):
            rest = request.path[len(ODATA_ROOT):]
            return syspro_odata.handle(self.state, request, self.odata_url, rest, self.page_size, self.odata_hidden,
                                      repeat_next_link=self.faults.value("odata_repeat_link") > 0)
        return Response("Not Found", status=404, content_type="text/plain")

    def _http_sys_refusal(self, environ) -> Response | None:
        """HTTP.sys's answer to a request over its limits (nothing reaches e.net), or None."""
        line = environ.get(REQUEST_LINE_KEY, 0)
        head = environ.get(REQUEST_HEAD_KEY, 0)
        if self.max_url_bytes is not None and line > self.max_url_bytes:
            status, page = "414 Request-URI Too Long", URL_TOO_LONG_PAGE
        elif self.max_request_bytes is not None and head > self.max_request_bytes:
            status, page = "400 Bad Request", REQUEST_TOO_LONG_PAGE
        else:
            return None
        self.refused_too_long += 1
        return Response(page, status=status, content_type="text/html; charset=us-ascii",
                        headers=[SERVER_HEADER, ("Connection", "close")])

    def _latency(self, op: str, params: dict[str, str]) -> None:
        delay = self.faults.value("latency_ms") / 1000
        per_item = self.faults.value("latency_per_item_ms") / 1000
        if per_item and op.startswith(("setup/", "transaction/")):
            try:
                root = parse_xml_in(params.get("xmlin"))
            except XmlInError:
                root = None
            delay += per_item * (len(root) if root is not None else 0)
        if delay > 0:
            self.sleep(delay)

    # -- admin -----------------------------------------------------------------------------

    def _admin(self, request: Request, lower: str) -> Response:
        if lower == "/_admin/faults" and request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
                self.set_faults(parse_fault_spec(body.get("faults", ""))["syspro"])
            except (ValueError, AttributeError, FaultSpecError) as exc:
                return Response(json.dumps({"error": str(exc)}), status=400, content_type="application/json")
            return Response(json.dumps({"faults": self.faults.snapshot()}), content_type="application/json")
        if lower == "/_admin/faults":
            return Response(json.dumps({"faults": self.faults.snapshot()}), content_type="application/json")
        if lower == "/_admin/state":
            with self.state.lock:
                self._expire_idle_sessions()
                counts = self.state.counts()
            return Response(json.dumps(counts), content_type="application/json")
        return Response("Not Found", status=404, content_type="text/plain")

    # -- e.net -----------------------------------------------------------------------------

    def _answer(self, body: str | bytes) -> Response:
        if self.json_quoted:
            text = body.decode("cp1252") if isinstance(body, bytes) else body
            body = json.dumps(text).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("cp1252", "replace")
        return Response(body, status=200, content_type="application/octet-stream", headers=[SERVER_HEADER])

    def _enet(self, op: str, params: dict[str, str], environ) -> Response:
        self._latency(op, params)
        if op in ("logon", "utilities/logon"):
            return self._answer(self._logon(params))
        if op == "getversion":
            return self._answer(ENET_VERSION)
        with self.state.lock:
            session_or_error = self._session(params)
            if isinstance(session_or_error, str):
                return self._answer(session_or_error)
            if op == "logoff":
                self.state.sessions.pop(params["userid"].strip().upper(), None)
                return self._answer("0")
            if op == "getlogonprofile":
                return self._answer(self._logon_profile(session_or_error))
            if op not in ("query/query", "query/browse", "query/fetch", "setup/add", "setup/update",
                          "setup/delete", "transaction/post"):
                return self._answer(_bo_error(f"The method '{op}' is not supported by this server"))
            # Browse and Fetch take a COMBRW/COMFCH document and no BusinessObject.
            required = ["XmlIn"] if op in ("query/browse", "query/fetch") else ["BusinessObject", "XmlIn"]
            if op.startswith(("setup/", "transaction/")):
                required.append("XmlParameters")
            missing = [name for name in required if name.lower() not in params]
            if missing:
                return self._answer(f"ERROR: Parameter '{missing[0]}' is missing")
            body = self._business_object(op, params)
        if op == "transaction/post" and self.faults.take("drop_after_post"):
            self._drop(environ)
        if op == "transaction/post" and self.faults.take("slow_after_post"):
            self.sleep(self.slow_after_post_s)
        if isinstance(body, bytes) and self.faults.take("malformed"):
            body = body[: len(body) // 2] + b"\x00<<garbled"
        return self._answer(body)

    def _logon(self, params: dict[str, str]) -> str:
        for name in ("Operator", "OperatorPassword", "CompanyId", "CompanyPassword"):
            if name.lower() not in params:
                return f"ERROR: Parameter '{name}' is missing"
        operator = params["operator"].strip()
        with self.state.lock:
            if params["companyid"].strip().upper() != self.state.company_id.upper():
                return f"ERROR: Invalid company '{params['companyid'].strip()}'"
            if params["companypassword"] != self.state.company_password:
                return "ERROR: Invalid company password"
            if operator not in self.state.operators:
                return f"ERROR: Operator '{operator}' not found"
            if params["operatorpassword"] != self.state.operators[operator]:
                return "ERROR: Invalid operator password"
            # One live session per operator: the newest logon evicts the older one.
            for user_id in [u for u, s in self.state.sessions.items() if s.operator == operator]:
                del self.state.sessions[user_id]
            user_id = secrets.token_hex(17).upper()
            self.state.sessions[user_id] = Session(operator, self.clock())
        return user_id + "  "

    def _expire_idle_sessions(self) -> None:
        now = self.clock()
        for user_id in [u for u, s in self.state.sessions.items()
                        if now - s.last_used > self.session_idle_timeout_s]:
            del self.state.sessions[user_id]

    def _session(self, params: dict[str, str]) -> Session | str:
        if "userid" not in params:
            return "ERROR: Parameter 'UserId' is missing"
        user_id = params["userid"].strip().upper()
        self._expire_idle_sessions()
        if self.faults.take("session_expire"):
            self.state.sessions.pop(user_id, None)
            return self.invalid_session_message
        session = self.state.sessions.get(user_id)
        if session is None:
            return self.invalid_session_message
        session.last_used = self.clock()
        return session

    def _logon_profile(self, session: Session) -> bytes:
        today = self.state.today()
        return xml_out(E("LogonProfile").add(
            el("CompanyName", self.state.company_name),
            el("OperatorCode", session.operator),
            el("CompanyDate", today),
            el("DefaultApBranch", min(self.state.ap_branches, default="")),
            el("LocalCurrencyCode", "$"),
            el("DateFormat", "CCYY-MM-DD"),
            el("SysproVersion", "8.0.000"),
            el("EnetVersion", ENET_VERSION),
        ))

    def _business_object(self, op: str, params: dict[str, str]) -> bytes | str:
        bo = params.get("businessobject", "").strip().upper()
        try:
            xml_in = parse_xml_in(params.get("xmlin"))
            xml_params = parse_xml_in(params.get("xmlparameters")) if not op.startswith("query/") else None
        except XmlInError as exc:
            return _bo_error(f"The XML document is not well-formed: {exc}")
        state = self.state
        try:
            if op == "query/browse":
                return syspro_queries.combrw(state, xml_in)
            if op == "query/fetch":
                return syspro_queries.comfch(state, xml_in)
            if op == "query/query":
                handler = {"COMFND": syspro_queries.comfnd, "INVQRY": syspro_queries.invqry,
                           "PORQRY": syspro_queries.porqry, "APSQRY": syspro_queries.apsqry}.get(bo)
                if handler is not None:
                    return handler(state, xml_in)
            elif op in ("setup/add", "setup/update", "setup/delete") and bo == "APSSSP":
                return syspro_postings.setup_supplier(state, op.split("/")[1], xml_params, xml_in)
            elif op == "transaction/post" and bo == "APSTIN":
                posting = not Options(xml_params).yes("ValidateOnly", False)
                # counted per item: in a post of several invoices, the next N of them are refused
                return syspro_postings.post_ap_invoice(
                    state, xml_params, xml_in, reject_item=lambda: posting and self.faults.take("reject_post"))
            elif op == "transaction/post" and bo == "PORTOI":
                return syspro_postings.post_purchase_orders(state, xml_params, xml_in)
            elif op == "transaction/post" and bo == "INVTMA":
                return syspro_postings.post_inventory_adjustments(state, xml_params, xml_in)
        except BoException as exc:
            return _bo_error(str(exc))
        return _bo_error(f"Business object '{bo}' is not available for {op.replace('/', '.')}")
