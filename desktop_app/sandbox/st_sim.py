"""A local ServiceTitan: OAuth token endpoint plus the v2 routes ml-connector uses.

Serves `StState` on 127.0.0.1 in the shapes of ServiceTitan's OpenAPI documents, with the
behaviours a real integration must survive: tokens that expire, 401 without the app key, 404 for
another tenant, 60 requests per second per tenant (429 + Retry-After), RFC 7807 errors, and
switchable faults (`st.*` in `desktop_app.sandbox.faults`). AP bills are read-only here as they
are on ServiceTitan: there is no route that writes them.

`st.export_delay=900` (seconds, not counted) turns on the export feeds' documented 15-minute
latency. It is off by default because the demo and the tests make records on the wall clock and
expect the next cycle to see them; tests/integration/test_sandbox_fidelity.py runs the engine with it on.
"""
from __future__ import annotations

import base64
import collections
import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from desktop_app.core.redact import redact
from desktop_app.sandbox import st_shapes as shapes
from desktop_app.sandbox import st_validate as validate
from desktop_app.sandbox.faults import FaultBoard, FaultSpecError, parse_fault_spec
from desktop_app.sandbox.http_server import ServedSimulator
from desktop_app.sandbox.st_query import (
    QueryInvalid,
    export_page,
    list_page,
    parse_ids,
    parse_int,
    parse_moment,
    sort_feed,
)
from desktop_app.sandbox.st_state import StState, StStateError
from desktop_app.sandbox.st_wire import dumps, loads

FAULTS = {
    "rate_limit_storm", "rate_limit_storm_nohdr", "http_500", "slow", "drop", "malformed",
    "token_expire", "maintenance_409", "export_delay", "token_throttle", "stuck_feed",
}
SCOPES = (
    "tn.acc.invoices:r tn.acc.invoices:w tn.acc.invoiceitems:r tn.acc.apbills:r tn.acc.glaccounts:r "
    "tn.inv.vendors:r tn.inv.vendors:w tn.inv.purchaseorders:r tn.inv.purchaseorders:w tn.inv.receipts:r "
    "tn.inv.adjustments:r tn.inv.adjustments:w tn.inv.warehouses:r tn.inv.trucks:r tn.pb.materials:r "
    "tn.pb.equipment:r tn.pb.services:r tn.stt.businessunits:r tn.stt.technicians:r"
)
_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
}

# (method, module, path below /tenant/{tenant}/, handler name)
ROUTES = [
    ("GET", "accounting", "invoices", "invoices_list"),
    ("POST", "accounting", "invoices/markasexported", "invoices_mark_exported"),
    ("GET", "accounting", "export/invoices", "export_invoices"),
    ("GET", "accounting", "export/invoice-items", "export_invoice_items"),
    ("GET", "accounting", "gl-accounts", "gl_accounts_list"),
    ("GET", "accounting", "gl-accounts/<int:record_id>", "gl_account_get"),
    ("GET", "accounting", "ap-bills", "ap_bills_list"),
    ("GET", "accounting", "ap-bills/<int:record_id>", "ap_bill_get"),
    ("GET", "inventory", "vendors", "vendors_list"),
    ("POST", "inventory", "vendors", "vendor_create"),
    ("GET", "inventory", "vendors/<int:record_id>", "vendor_get"),
    ("PATCH", "inventory", "vendors/<int:record_id>", "vendor_update"),
    ("GET", "inventory", "purchase-orders", "purchase_orders_list"),
    ("POST", "inventory", "purchase-orders", "purchase_order_create"),
    ("GET", "inventory", "purchase-orders/<int:record_id>", "purchase_order_get"),
    ("PATCH", "inventory", "purchase-orders/<int:record_id>", "purchase_order_update"),
    ("GET", "inventory", "export/purchase-orders", "export_purchase_orders"),
    ("GET", "inventory", "receipts", "receipts_list"),
    ("GET", "inventory", "adjustments", "adjustments_list"),
    ("PATCH", "inventory", "adjustments/<int:record_id>", "adjustment_update"),
    ("GET", "inventory", "export/adjustments", "export_adjustments"),
    ("GET", "inventory", "warehouses", "warehouses_list"),
    ("GET", "inventory", "trucks", "trucks_list"),
    ("GET", "pricebook", "materials", "materials_list"),
    ("GET", "pricebook", "materials/<int:record_id>", "material_get"),
    ("GET", "pricebook", "equipment", "equipment_list"),
    ("GET", "pricebook", "equipment/<int:record_id>", "equipment_get"),
    ("GET", "pricebook", "services", "services_list"),
    ("GET", "pricebook", "services/<int:record_id>", "service_get"),
    ("GET", "pricebook", "export/materials", "export_materials"),
    ("GET", "pricebook", "export/equipment", "export_equipment"),
    ("GET", "pricebook", "export/services", "export_services"),
    ("GET", "settings", "business-units", "business_units_list"),
    ("GET", "settings", "business-units/<int:record_id>", "business_unit_get"),
    ("GET", "settings", "export/business-units", "export_business_units"),
    ("GET", "settings", "technicians", "technicians_list"),
    ("GET", "settings", "technicians/<int:record_id>", "technician_get"),
    ("GET", "settings", "export/technicians", "export_technicians"),
]


class ApiError(Exception):
    def __init__(self, status: int, title: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(title)
        self.status, self.title, self.errors, self.headers = status, title, errors or {}, headers or {}


class _Dropped(ConnectionError):
    """Raised by the app to make the server hang up without answering (fault `st.drop`)."""


class ServiceTitanSimulator(ServedSimulator):
    thread_name = "st-simulator"

    def __init__(
        self,
        state: StState,
        *,
        token_lifetime_s: float = 900,
        clock: Callable[[], float] = time.time,
        rate_limit_per_second: int = 60,
        export_batch_size: int = 500,
        max_lifetime_s: float | None = 3600,
        sleep: Callable[[float], None] = time.sleep,
        port: int = 0,
    ):
        self.state = state
        self._serve_on(port, max_lifetime_s)
        self.token_lifetime_s = token_lifetime_s
        self.clock = clock
        self.rate_limit_per_second = rate_limit_per_second
        self.export_batch_size = export_batch_size
        self.faults = FaultBoard(FAULTS)
        self.request_log: collections.deque[dict] = collections.deque(maxlen=20_000)
        self._sleep = sleep
        self._tokens: dict[str, float] = {}
        self._calls: collections.deque[float] = collections.deque()
        self._token_calls: collections.deque[float] = collections.deque()
        self._guard = threading.Lock()
        self._feeds: dict[str, tuple[tuple, tuple]] = {}
        self._routes = Map(
            [Rule(f"/{module}/v2/tenant/<tenant>/{path}", endpoint=name, methods=[method])
             for method, module, path, name in ROUTES],
            strict_slashes=False,
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.api_url}/connect/token"

    def set_faults(self, faults: dict[str, float]) -> None:
        self.faults.set({name.removeprefix("st."): value for name, value in faults.items()})

    # --- WSGI --------------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        entry = {"method": request.method, "path": request.path,
                 "query": redact(request.query_string.decode("latin-1")), "status": None}
        self.request_log.append(entry)
        try:
            response = self._dispatch(request)
        except _Dropped:
            entry["status"] = "dropped"
            raise
        entry["status"] = response.status_code
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/connect/token":
            return self._token(request)
        if request.path.startswith("/_admin/"):
            return self._admin(request)
        try:
            return self._api(request)
        except ApiError as error:
            return self._problem(error.status, error.title, error.errors, error.headers)

    # --- token endpoint ----------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return _json({"error": "invalid_request"}, 405)
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        if not (secrets.compare_digest(form.get("client_id", ""), self.state.client_id)
                and secrets.compare_digest(form.get("client_secret", ""), self.state.client_secret)):
            return _json({"error": "invalid_client"}, 400)
        now = self.clock()
        throttled = self._token_throttled(now)
        if throttled:
            response = _json({"error": "too_many_requests"}, 429)
            response.headers["Retry-After"] = str(throttled)
            return response
        token = self._issue_token(now)
        with self._guard:
            self._tokens[token] = now + self.token_lifetime_s
        return _json({"access_token": token, "expires_in": int(self.token_lifetime_s), "token_type": "Bearer",
                      "scope": SCOPES}, 200, cache=False)

    def _token_throttled(self, now: float) -> int:
        """Seconds to wait when `st.token_throttle=N` tokens were issued in the last minute, else 0.

        ServiceTitan says it throttles requests for new tokens but not at what rate: the limit is a
        switch, so a test can prove a client reuses its token instead of asking for one per call."""
        limit = int(self.faults.value("token_throttle"))
        if limit <= 0:
            return 0
        with self._guard:
            while self._token_calls and self._token_calls[0] <= now - 60.0:
                self._token_calls.popleft()
            if len(self._token_calls) >= limit:
                return max(1, math.ceil(self._token_calls[0] + 60.0 - now))
            self._token_calls.append(now)
        return 0

    def _issue_token(self, now: float) -> str:
        def part(obj: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        claims = {"nbf": int(now), "exp": int(now + self.token_lifetime_s), "iss": "st-simulator",
                  "client_id": self.state.client_id, "tenant": str(self.state.tenant),
                  "jti": secrets.token_hex(16).upper(), "iat": int(now), "scope": SCOPES.split()}
        return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(32)}"

    # --- admin (demo and tests; no auth, never faulted) --------------------------------------
    def _admin(self, request: Request) -> Response:
        name = request.path.removeprefix("/_admin/").strip("/")
        try:
            if name == "faults" and request.method == "POST":
                spec = (request.get_json(silent=True) or {}).get("faults", "")
                self.set_faults(parse_fault_spec(spec)["st"])
                return _json({"faults": self.faults.snapshot()}, 200)
            if name == "advance" and request.method == "POST":
                body = request.get_json(silent=True) or {}
                created = self.state.advance(int(body.get("invoices", 1)))
                edited = [self.state.edit_invoice(int(i))["id"] for i in body.get("edit", [])]
                return _json({"created": created, "edited": edited}, 200)
            if name == "state" and request.method == "GET":
                with self._guard:
                    tokens = len(self._tokens)
                return _json({"tenant": self.state.tenant, "company": self.state.company_name,
                              "counts": self.state.summary(), "faults": self.faults.snapshot(),
                              "live_tokens": tokens, "requests": len(self.request_log)}, 200)
        except (FaultSpecError, StStateError, ValueError, TypeError) as error:
            return _json({"error": str(error)}, 400)
        return _json({"error": f"unknown admin call {request.method} {request.path}"}, 404)

    # --- the API -----------------------------------------------------------------------------
    def _api(self, request: Request) -> Response:
        delay = self.faults.value("slow")
        if delay > 0:
            self._sleep(delay)
        if self.faults.take("drop"):
            raise _Dropped("fault st.drop")
        if self.faults.take("http_500"):
            raise ApiError(500, "An unexpected error occurred. Please try again later.")
        if self.faults.take("maintenance_409"):
            raise ApiError(409, "The service is suspended for maintenance. Please try again later.")
        if self.faults.take("rate_limit_storm"):
            raise _rate_limited(1, header=True)
        if self.faults.take("rate_limit_storm_nohdr"):
            raise _rate_limited(1, header=False)
        self._authenticate(request)

        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, params = adapter.match()
        except MethodNotAllowed:
            raise ApiError(405, "The requested method is not allowed for this resource.") from None
        except (NotFound, HTTPException):
            raise ApiError(404, "The requested resource was not found.") from None
        tenant = params.pop("tenant")
        if tenant != str(self.state.tenant):
            raise ApiError(404, f"Tenant {tenant} was not found.")
        self._count_call()

        handler = getattr(self, "_" + endpoint)
        try:
            with self.state.lock:
                status, body = handler(request, **params)
        except QueryInvalid as error:
            raise ApiError(400, "One or more validation errors occurred.", error.errors) from None
        except validate.BodyInvalid as error:
            raise ApiError(400, "One or more validation errors occurred.", error.errors) from None
        except StStateError as error:
            raise ApiError(error.status, error.title, error.errors) from None
        body = self._stuck(endpoint, request, body)
        payload = dumps(body)
        if self.faults.take("malformed"):
            payload = payload[: max(1, len(payload) // 2)]
        return Response(payload, status, content_type="application/json; charset=utf-8")

    def _stuck(self, endpoint: str, request: Request, body):
        """Fault `st.stuck_feed[=FEED]`: an export feed (FEED as in its path, e.g. invoices or
        purchase-orders; every feed without a name) says it has more but hands back the token it was
        given, so it never moves on."""
        target = self.faults.target("stuck_feed")
        if target is None or not endpoint.startswith("export_") or not isinstance(body, dict):
            return body
        if target != "*" and endpoint != "export_" + target.replace("-", "_"):
            return body
        return {**body, "hasMore": True, "continueFrom": request.args.get("from") or body.get("continueFrom")}

    def _authenticate(self, request: Request) -> None:
        if self.faults.take("token_expire"):
            with self._guard:
                self._tokens.clear()
        app_key = request.headers.get("ST-App-Key", "")
        if not app_key or not secrets.compare_digest(app_key, self.state.app_key):
            raise ApiError(401, "Unauthorized: the ST-App-Key header is missing or not valid.",
                           headers={"WWW-Authenticate": "Bearer"})
        raw = request.headers.get("Authorization", "").strip()
        token = raw[7:].strip() if raw.lower().startswith("bearer ") else raw
        now = self.clock()
        with self._guard:
            expires = self._tokens.get(token)
            if expires is not None and expires <= now:
                del self._tokens[token]
                expires = None
        if not token or expires is None:
            raise ApiError(401, "Unauthorized: the access token is missing, invalid or expired.",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _count_call(self) -> None:
        """Rolling one-second window per tenant (one tenant per simulator)."""
        now = self.clock()
        with self._guard:
            while self._calls and self._calls[0] <= now - 1.0:
                self._calls.popleft()
            if len(self._calls) >= self.rate_limit_per_second:
                wait = max(1, math.ceil(self._calls[0] + 1.0 - now))
                raise _rate_limited(wait, header=True)
            self._calls.append(now)

    def _problem(self, status: int, title: str, errors: dict, headers: dict) -> Response:
        body = {"type": _PROBLEM_TYPES.get(status, "about:blank"), "title": title, "status": status,
                "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00", "errors": errors, "data": {}}
        response = Response(dumps(body), status, content_type="application/problem+json; charset=utf-8")
        for name, value in headers.items():
            response.headers[name] = value
        return response

    # --- handlers: accounting ----------------------------------------------------------------
    def _body(self, request: Request) -> object:
        try:
            return loads(request.get_data() or b"null")
        except ValueError:
            raise validate.BodyInvalid({"request": ["The request body is not valid JSON."]}) from None

    def _on_wire(self, kind: str, shape):
        """`shape`, then whatever change a test asked for on the record's wire form (`wire_patches`)."""
        def shaped(record):
            out = shape(record)
            change = self.state.wire_patches.get(kind, {}).get(record.get("id"))
            if change is not None:
                change(out)
            return out
        return shaped

    def _invoices_list(self, request):
        args = request.args
        extra = []
        for name, getter in (("businessUnitId", lambda r: (r.get("businessUnit") or {}).get("id")),
                             ("adjustmentToId", lambda r: r.get("adjustmentToId")),
                             ("jobId", lambda r: (r.get("job") or {}).get("id"))):
            value = parse_int(args, name)
            if value is not None:
                extra.append(lambda r, g=getter, v=value: g(r) == v)
        for name, getter in (("number", lambda r: r.get("referenceNumber")),
                             ("jobNumber", lambda r: (r.get("job") or {}).get("number"))):
            wanted = args.get(name)
            if wanted:
                extra.append(lambda r, g=getter, v=wanted: g(r) == v)
        statuses = [s for raw in args.getlist("statuses") for s in raw.split(",") if s]
        if statuses:
            extra.append(lambda r: r.get("syncStatus", "Pending") in statuses)
        low, high = parse_moment(args, "invoicedOnOrAfter"), parse_moment(args, "invoicedOnBefore")
        if low is not None:
            extra.append(lambda r: _as_datetime(r.get("invoiceDate")) >= low)
        if high is not None:
            extra.append(lambda r: _as_datetime(r.get("invoiceDate")) < high)
        return 200, list_page(self.state.invoices.values(), args, self._on_wire("invoices", shapes.invoice),
                              active="activeState", extra=extra)

    def _invoices_mark_exported(self, request):
        rows = validate.check_list(self._body(request), validate.MARK_INVOICE_EXPORTED)
        return 200, self.state.mark_invoices_exported(rows)

    def _export_invoices(self, request):
        return 200, export_page(self._feed("invoices"), request.args, self._on_wire("invoices", shapes.invoice),
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _export_invoice_items(self, request):
        return 200, export_page(self._feed("invoice_items"), request.args,
                                lambda p: shapes.invoice_item(p[0], p[1], export=True),
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _gl_accounts_list(self, request):
        extra = []
        numbers = [n for raw in request.args.getlist("numbers") for n in raw.split(",") if n]
        if numbers:
            extra.append(lambda r: r["number"] in numbers)
        return 200, list_page(self.state.gl_accounts.values(), request.args, shapes.gl_account, extra=extra)

    def _gl_account_get(self, request, record_id):
        return 200, shapes.gl_account(self._find(self.state.gl_accounts, record_id, "GL account"))

    def _ap_bills_list(self, request):
        return 200, list_page(self.state.ap_bills.values(), request.args, shapes.ap_bill, active=None)

    def _ap_bill_get(self, request, record_id):
        return 200, shapes.ap_bill(self._find(self.state.ap_bills, record_id, "AP bill"))

    # --- handlers: inventory -----------------------------------------------------------------
    def _external_filter(self, args) -> tuple[str | None, list]:
        guid = args.get("externalDataApplicationGuid")
        extra = []
        key = args.get("externalDataKey")
        if guid and key:
            values = parse_ids_as_text(args.get("externalDataValues"))
            store_key = guid.lower()

            def match(record, k=key, vs=values):
                pairs = (record.get("externalData") or {}).get(store_key, {})
                return k in pairs and (not vs or pairs[k] in vs)

            extra.append(match)
        return guid, extra

    def _vendors_list(self, request):
        guid, extra = self._external_filter(request.args)
        return 200, list_page(self.state.vendors.values(), request.args,
                              self._on_wire("vendors", lambda v: shapes.vendor(v, guid)), extra=extra)

    def _vendor_get(self, request, record_id):
        return 200, shapes.vendor(self._find(self.state.vendors, record_id, "Vendor"))

    def _vendor_create(self, request):
        body = validate.check(self._body(request), validate.CREATE_VENDOR)
        return 200, {"id": self.state.create_vendor(body)}

    def _vendor_update(self, request, record_id):
        self._find(self.state.vendors, record_id, "Vendor")
        body = validate.check(self._body(request), validate.UPDATE_VENDOR)
        return 200, {"id": self.state.update_vendor(record_id, body)}

    def _purchase_orders_list(self, request):
        args = request.args
        extra = []
        status, number = args.get("status"), args.get("number")
        if status:
            extra.append(lambda r, s=status: r["status"] == s)
        if number:
            extra.append(lambda r, n=number: r["number"] == n)
        return 200, list_page(self.state.purchase_orders.values(), args,
                              self._on_wire("purchase_orders", shapes.purchase_order), active=None,
                              extra=extra)

    def _purchase_order_get(self, request, record_id):
        return 200, shapes.purchase_order(self._find(self.state.purchase_orders, record_id, "Purchase order"))

    def _purchase_order_create(self, request):
        body = validate.check(self._body(request), validate.CREATE_PURCHASE_ORDER)
        return 200, {"id": self.state.create_purchase_order(body)}

    def _purchase_order_update(self, request, record_id):
        self._find(self.state.purchase_orders, record_id, "Purchase order")
        body = validate.check(self._body(request), validate.UPDATE_PURCHASE_ORDER)
        return 200, {"id": self.state.update_purchase_order(record_id, body)}

    def _export_purchase_orders(self, request):
        return 200, export_page(self._feed("purchase_orders"), request.args,
                                self._on_wire("purchase_orders", shapes.purchase_order),
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _receipts_list(self, request):
        extra = []
        po_ids = parse_ids(request.args, "purchaseOrderIds")
        if po_ids is not None:
            extra.append(lambda r: r["purchaseOrderId"] in po_ids)
        return 200, list_page(self.state.receipts.values(), request.args, shapes.receipt, extra=extra)

    def _adjustments_list(self, request):
        guid, extra = self._external_filter(request.args)
        return 200, list_page(self.state.adjustments.values(), request.args,
                              self._on_wire("adjustments", lambda a: shapes.adjustment(a, guid)),
                              extra=extra)

    def _adjustment_update(self, request, record_id):
        self._find(self.state.adjustments, record_id, "Adjustment")
        body = validate.check(self._body(request), validate.UPDATE_ADJUSTMENT)
        if body.get("externalData") is None:
            return 200, {"id": record_id}
        return 200, {"id": self.state.update_adjustment_external_data(record_id, body["externalData"])}

    def _export_adjustments(self, request):
        return 200, export_page(self._feed("adjustments"), request.args,
                                self._on_wire("adjustments", shapes.adjustment),
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _warehouses_list(self, request):
        guid, extra = self._external_filter(request.args)
        return 200, list_page(self.state.warehouses.values(), request.args, lambda w: shapes.warehouse(w, guid),
                              extra=extra)

    def _trucks_list(self, request):
        guid, extra = self._external_filter(request.args)
        return 200, list_page(self.state.trucks.values(), request.args, lambda t: shapes.truck(t, guid), extra=extra)

    # --- handlers: pricebook -----------------------------------------------------------------
    def _materials_list(self, request):
        return 200, list_page(self.state.materials.values(), request.args, shapes.material)

    def _material_get(self, request, record_id):
        return 200, shapes.material(self._find(self.state.materials, record_id, "Material"))

    def _equipment_list(self, request):
        return 200, list_page(self.state.equipment.values(), request.args, shapes.equipment)

    def _equipment_get(self, request, record_id):
        return 200, shapes.equipment(self._find(self.state.equipment, record_id, "Equipment"))

    def _services_list(self, request):
        return 200, list_page(self.state.services.values(), request.args, shapes.service)

    def _service_get(self, request, record_id):
        return 200, shapes.service(self._find(self.state.services, record_id, "Service"))

    def _export_materials(self, request):
        return 200, export_page(self._feed("materials"), request.args, shapes.material,
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _export_equipment(self, request):
        return 200, export_page(self._feed("equipment"), request.args, shapes.equipment,
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _export_services(self, request):
        return 200, export_page(self._feed("services"), request.args,
                                lambda s: shapes.service(s, export=True), batch_size=self.export_batch_size,
                                settled_until=self._settled_until())

    # --- handlers: settings ------------------------------------------------------------------
    def _tenant_ref(self) -> dict:
        return {"id": self.state.tenant, "name": self.state.company_name, "accountCode": None,
                "franchiseId": None, "conceptCode": None, "modifiedOn": "2020-01-01T00:00:00.0000000Z"}

    def _business_units_list(self, request):
        tenant = self._tenant_ref()
        return 200, list_page(self.state.business_units.values(), request.args,
                              lambda b: shapes.business_unit(b, tenant))

    def _business_unit_get(self, request, record_id):
        return 200, shapes.business_unit(self._find(self.state.business_units, record_id, "Business unit"),
                                         self._tenant_ref())

    def _export_business_units(self, request):
        tenant = self._tenant_ref()
        return 200, export_page(self._feed("business_units"), request.args,
                                lambda b: shapes.business_unit(b, tenant), batch_size=self.export_batch_size,
                                settled_until=self._settled_until())

    def _technicians_list(self, request):
        return 200, list_page(self.state.technicians.values(), request.args, shapes.technician)

    def _technician_get(self, request, record_id):
        return 200, shapes.technician(self._find(self.state.technicians, record_id, "Technician"))

    def _export_technicians(self, request):
        return 200, export_page(self._feed("technicians"), request.args, shapes.technician,
                                batch_size=self.export_batch_size, settled_until=self._settled_until())

    def _settled_until(self) -> datetime | None:
        """Export feeds show a change only `export_delay` seconds after it (ServiceTitan: 15 minutes)."""
        delay = self.faults.value("export_delay")
        if delay <= 0:
            return None
        now = self.state.clock()
        if now.tzinfo is not None:
            now = now.astimezone(UTC).replace(tzinfo=None)
        return now - timedelta(seconds=delay)

    def _feed(self, name: str):
        """Sorted once per change: re-sorting 20,000 invoices on every call would dominate a full export."""
        table = self.state.invoices if name == "invoice_items" else getattr(self.state, name)
        version = (len(table), self.state.last_stamp)
        cached = self._feeds.get(name)
        if cached is None or cached[0] != version:
            if name == "invoice_items":
                pairs = [(item, invoice) for invoice in table.values() for item in invoice.get("items", [])]
                feed = sort_feed(pairs, key=lambda p: (p[0]["modifiedOn"], p[0]["id"]))
            else:
                feed = sort_feed(table.values())
            cached = self._feeds[name] = (version, feed)
        return cached[1]

    @staticmethod
    def _find(table: dict, record_id: int, what: str) -> dict:
        record = table.get(record_id)
        if record is None:
            raise ApiError(404, f"{what} with id {record_id} was not found.", {"id": [f"{what} not found."]})
        return record


def parse_ids_as_text(raw: str | None) -> set[str]:
    return {part.strip() for part in (raw or "").split(",") if part.strip()}


def _as_datetime(value):
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.min


def _rate_limited(seconds: int, *, header: bool) -> ApiError:
    headers = {"Retry-After": str(seconds)} if header else {}
    return ApiError(429, f"Rate limit is exceeded. Try again in {seconds} seconds.", headers=headers)


def _json(body: object, status: int, *, cache: bool = True) -> Response:
    response = Response(dumps(body), status, content_type="application/json; charset=utf-8")
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response
