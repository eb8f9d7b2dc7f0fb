"""Shared fakes for the ServiceTitan client tests (imported by conftest and the tests)."""
from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import responses

API_URL = "https://api.st.example"
AUTH_URL = "https://auth.st.example/connect/token"
TENANT = "1234"
CLIENT_ID = "cid.test-client"
CLIENT_SECRET = "cs2.SuperSecretClientValue"
APP_KEY = "ak1.SecretAppKeyValue"



class FakeTime:
    """Monotonic clock + sleep that only moves when slept on (thread-safe)."""

    def __init__(self, start: float = 10_000.0, epoch: float = 1_767_225_600.0):
        self.now = start
        self.epoch_offset = epoch - start  # wall clock = now + offset (2026-01-01T00:00:00Z at start)
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def wall(self) -> float:
        with self._lock:
            return self.now + self.epoch_offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


# ---------------------------------------------------------------- OpenAPI request checking

class SpecChecker:
    def __init__(self, openapi_dir: Path):
        self._dir = openapi_dir
        self._specs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def spec(self, module: str) -> dict:
        with self._lock:
            if module not in self._specs:
                path = self._dir / f"{module}-v2.json"
                if not path.exists():
                    raise AssertionError(f"no OpenAPI document for module {module!r} in {self._dir}")
                self._specs[module] = json.loads(path.read_text(encoding="utf-8"))
            return self._specs[module]

    def check(self, method: str, url: str, body: bytes | str | None) -> str:
        """Raise AssertionError if the request is not what the spec declares. Returns the template."""
        parts = urlsplit(url)
        match = re.match(r"^/([a-z-]+)/v2(/tenant/.*)$", parts.path)
        assert match, f"not a ServiceTitan v2 URL: {parts.path}"
        module, rest = match.groups()
        spec = self.spec(module)
        candidates = []
        for template, item in spec["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, rest):
                candidates.append((template.count("{"), template, item))
        assert candidates, f"{method} {rest}: no such path in {module}-v2.json"
        _, template, item = min(candidates, key=lambda c: c[0])
        operation = item.get(method.lower())
        allowed = sorted(k for k in item if k != "parameters")
        assert operation, f"{method} not allowed on {module} {template} (allowed: {allowed})"
        declared = {p["name"]: p for p in item.get("parameters", []) + operation.get("parameters", [])
                    if p.get("in") == "query"}
        sent = parse_qsl(parts.query, keep_blank_values=True)
        names = {name for name, _ in sent}
        unknown = names - set(declared)
        assert not unknown, f"{method} {module} {template}: undeclared query parameter(s) {sorted(unknown)}"
        missing = {n for n, p in declared.items() if p.get("required")} - names
        assert not missing, f"{method} {module} {template}: required query parameter(s) missing {sorted(missing)}"
        for name, value in sent:
            self._check_value(spec, module, template, declared[name], value)
        if body:
            self._check_body(spec, operation, template, body)
        return f"{method} {module} {template}"

    def _check_value(self, spec, module, template, param, value):
        schema = param.get("schema") or {}
        enum = self._enum(spec, schema)
        if enum is not None:
            assert value in enum, f"{module} {template}: {param['name']}={value!r} not one of {enum}"
        kind = schema.get("type")
        if kind == "array" and (schema.get("items") or {}).get("type") == "integer" or kind == "integer":
            assert re.fullmatch(r"-?\d+", value), f"{module} {template}: {param['name']}={value!r} is not an integer"
        if kind == "boolean":
            assert value in ("true", "false"), f"{module} {template}: {param['name']}={value!r} is not a boolean"
        if param["name"] == "ids" and kind == "string":
            assert len(value.split(",")) <= 50, f"{module} {template}: more than 50 ids in one request"

    def _enum(self, spec, schema):
        if "enum" in schema:
            return schema["enum"]
        for option in schema.get("oneOf", []) + ([schema] if "$ref" in schema else []):
            ref = option.get("$ref")
            if ref:
                target = spec["components"]["schemas"][ref.split("/")[-1]]
                if "enum" in target:
                    return target["enum"]
        return None

    def _check_body(self, spec, operation, template, body):
        content = (operation.get("requestBody") or {}).get("content", {})
        schema = (content.get("application/json") or {}).get("schema")
        assert schema is not None, f"{template}: sends a JSON body but the operation takes none"
        instance = json.loads(body, parse_float=Decimal)
        root = {"components": spec["components"], **schema}
        validator = jsonschema.Draft202012Validator(root)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{template}: body does not match the spec: {errors[0].message} at {list(errors[0].path)}"


class TokenServer:
    """A token endpoint that issues tok-1, tok-2, ... and counts requests."""

    def __init__(self, rsps, expires_in: int = 900):
        self.count = 0
        self.expires_in = expires_in
        self.forms: list[dict] = []
        rsps.add_callback(responses.POST, AUTH_URL, callback=self._issue)

    @property
    def current(self) -> str:
        return f"tok-{self.count}"

    def _issue(self, request):
        self.count += 1
        self.forms.append(dict(parse_qsl(request.body)))
        body = {"access_token": f"tok-{self.count}", "expires_in": self.expires_in, "token_type": "Bearer"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def api(module: str, path: str) -> str:
    return f"{API_URL}/{module}/v2/tenant/{TENANT}/{path}"


def page(data, has_more=False, page_number=1, page_size=500):
    return {"page": page_number, "pageSize": page_size, "hasMore": has_more, "totalCount": None, "data": data}
