"""The ServiceTitan v2 API client: one object per tenant, safe to share between threads.

Every request goes through `request()`, which in order: checks the read-only guard, waits for
the tenant's rate limiter, signs with a fresh-enough token and the app key, sends with connect
and read timeouts, and decides from the answer whether to retry. The endpoint methods the sync
flows use live in `resources.ServiceTitanResources`, which this class inherits.

Retry rules:
- GET: retried on connection errors, timeouts, 429, 5xx and 409 "maintenance".
- POST/PATCH/PUT/DELETE: retried only when the request surely never reached ServiceTitan (no
  connection could be made, or a 429). Anything else that leaves the outcome open raises
  `ServiceTitanOutcomeUnknown`, so the caller looks the record up before sending it again.
- 401: the token is refreshed once and the request re-signed; a second 401 is an error.
Retries are bounded by count and by total time slept.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from desktop_app.core import liveness, money_json
from desktop_app.core import secrets as secret_store
from desktop_app.core.config import ENVIRONMENT_URLS, Settings
from desktop_app.core.errors import ConfigError
from desktop_app.core.http import never_sent, session_from_environment
from desktop_app.core.origins import require_encrypted
from desktop_app.core.redact import register_secret
from desktop_app.servicetitan import jsonio
from desktop_app.servicetitan.auth import TokenManager
from desktop_app.servicetitan.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceTitanApiError,
    ServiceTitanAuthError,
    ServiceTitanOutcomeUnknown,
    ServiceTitanUnavailable,
)
from desktop_app.servicetitan.guard import check_request_allowed
from desktop_app.servicetitan.ratelimit import shared_limiter
from desktop_app.servicetitan.resources import ServiceTitanResources
from desktop_app.servicetitan.retry import RetryPolicy, retry_after_seconds, seconds_hint_in_body

log = logging.getLogger(__name__)

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class ClientStats:
    """Counters for the run summary and the benchmark. Updated under a lock."""

    requests: int = 0  # API requests sent (token requests not included)
    token_requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers received
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)


class ServiceTitanClient(ServiceTitanResources):
    def __init__(self, *, api_url: str, auth_url: str, tenant: str, client_id: str, client_secret: str,
                 app_key: str, page_size: int = 500, max_requests_per_second: int = 60,
                 connect_timeout: float = 10, read_timeout: float = 100,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, wall_clock: Callable[[], float] = time.time,
                 rng: Callable[[], float] = random.random, retry_policy: RetryPolicy | None = None,
                 refresh_margin: float = 60.0, allow_unencrypted: bool = False) -> None:
        if not str(tenant).strip().isdigit():
            raise ConfigError(f"servicetitan.tenant must be the numeric tenant id (got {tenant!r}).")
        # the sign-in carries the client secret, the API the access token and the app key
        require_encrypted(auth_url, setting="servicetitan.auth_url", service="ServiceTitan (the client secret)",
                          allow_unencrypted=allow_unencrypted)
        require_encrypted(api_url, setting="servicetitan.api_url", service="ServiceTitan (the access token and "
                          "app key)", allow_unencrypted=allow_unencrypted)
        register_secret(client_secret)
        register_secret(app_key)
        self.api_url = api_url.rstrip("/")
        self.tenant = str(tenant).strip()
        self.page_size = page_size
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.retry_policy = retry_policy or RetryPolicy()
        self.stats = ClientStats()
        self._app_key = app_key
        # our own session reads the proxy and CA-bundle settings of the environment once, for both hosts
        self._session = session if session is not None else session_from_environment(self.api_url, auth_url)
        self._owns_session = session is None
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng
        self._limiter = shared_limiter(self.api_url, self.tenant, max_requests_per_second,
                                       clock=clock, sleep=sleep)
        self.tokens = TokenManager(
            session=self._session, auth_url=auth_url, client_id=client_id, client_secret=client_secret,
            timeout=self.timeout, policy_source=lambda: self.retry_policy, clock=clock, sleep=sleep,
            wall_clock=wall_clock, refresh_margin=refresh_margin,
            on_request=lambda: self.stats.add("token_requests"),
            on_retry=lambda: self.stats.add("retries"),
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceTitanClient:
        """Build from stored settings and keyring secrets; ConfigError names whatever is missing."""
        environment = settings["servicetitan.environment"]
        auth_url, api_url = settings["servicetitan.auth_url"], settings["servicetitan.api_url"]
        if environment in ENVIRONMENT_URLS:
            # The environment chooses the URLs unless the user typed them in explicitly.
            env_auth, env_api = ENVIRONMENT_URLS[environment]
            auth_url = auth_url if settings.is_set("servicetitan.auth_url") else env_auth
            api_url = api_url if settings.is_set("servicetitan.api_url") else env_api
        try:
            client_secret = secret_store.get_secret("servicetitan.client_secret")
            app_key = secret_store.get_secret("servicetitan.app_key")
        except secret_store.SecretStoreError as exc:
            raise ConfigError(str(exc)) from None
        missing = [f"setting {key}" for key, value in (
            ("servicetitan.api_url", api_url), ("servicetitan.auth_url", auth_url),
            ("servicetitan.tenant", settings["servicetitan.tenant"]),
            ("servicetitan.client_id", settings["servicetitan.client_id"])) if not value]
        missing += [f"secret {name}" for name, value in (
            ("servicetitan.client_secret", client_secret), ("servicetitan.app_key", app_key)) if not value]
        if missing:
            raise ConfigError(
                "ServiceTitan is not fully set up; missing " + ", ".join(missing) + ". Set settings with "
                "`ml-connector config set KEY VALUE` and secrets with `ml-connector secrets set NAME`.")
        kwargs = dict(
            api_url=api_url, auth_url=auth_url, tenant=settings["servicetitan.tenant"],
            client_id=settings["servicetitan.client_id"], client_secret=client_secret, app_key=app_key,
            page_size=settings["servicetitan.page_size"],
            max_requests_per_second=settings["servicetitan.max_requests_per_second"],
            connect_timeout=settings["http.connect_timeout"], read_timeout=settings["http.read_timeout"],
            allow_unencrypted=bool(settings.get("syspro.allow_unencrypted")),
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ServiceTitanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ServiceTitanClient tenant={self.tenant} api={self.api_url}>"

    def url(self, module: str, path: str) -> str:
        return f"{self.api_url}/{module}/v2/tenant/{self.tenant}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ transport

    def request(self, method: str, module: str, path: str, *, params: dict | None = None,
                json_body: object = None) -> object:
        """Send one API request with all the rules above; returns the parsed JSON (or None)."""
        method = method.upper()
        check_request_allowed(method, module, path)
        url = self.url(module, path)
        where = f"{method} {module}/{path}"
        is_write = method not in _READ_METHODS
        data = jsonio.dumps(json_body).encode("utf-8") if json_body is not None else None
        policy = self.retry_policy
        attempt = 0  # retries made so far
        waited = 0.0
        reauthorized = False
        authorization: str | None = None
        while True:
            liveness.beat()
            self._limiter.acquire()
            if authorization is None:
                authorization = self.tokens.authorization()
            headers = {"Authorization": authorization, "ST-App-Key": self._app_key,
                       "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            self.stats.add("requests")
            try:
                response = self._session.request(method, url, params=params, data=data, headers=headers,
                                                 timeout=self.timeout)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema):
                raise ConfigError(f"servicetitan.api_url ({self.api_url}) is not a usable web address.") from None
            except requests.exceptions.SSLError:
                if is_write:
                    raise ServiceTitanOutcomeUnknown(
                        f"ServiceTitan {where}: the secure connection failed, so the change may or may not "
                        "have been applied. Look the record up in ServiceTitan before sending it again.") from None
                # A certificate or TLS failure does not go away by waiting: no retries.
                raise ServiceTitanUnavailable(
                    f"ServiceTitan {where}: the secure (TLS) connection to {urlsplit(self.api_url).netloc} failed. "
                    "A proxy or antivirus that inspects HTTPS, or a wrong servicetitan.api_url, usually "
                    "causes this.") from None
            except requests.RequestException as exc:
                not_sent = never_sent(exc)
                problem = _describe_exception(exc, urlsplit(self.api_url).netloc)
                if is_write and not not_sent:
                    raise ServiceTitanOutcomeUnknown(
                        f"ServiceTitan {where}: {problem} after the request was sent, so it may or may not "
                        "have been applied. Look the record up in ServiceTitan before sending it again."
                    ) from None
                delay = policy.backoff(attempt, self._rng)
                reason = problem
                error = ServiceTitanUnavailable(f"ServiceTitan {where} failed: {problem}.")
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return _parse_body(response, where)
                body = _json_or_text(response)
                problem_fields = _problem_fields(body)
                reason = f"HTTP {status}"
                if status == 401:
                    if reauthorized:
                        raise ServiceTitanAuthError(
                            f"ServiceTitan refused {where} with a freshly issued access token (HTTP 401). "
                            "The app key (secret servicetitan.app_key) may be wrong, or the app's access "
                            "to this tenant was revoked.", status=401, **problem_fields)
                    reauthorized = True
                    log.info("ServiceTitan %s: HTTP 401, refreshing the access token once", where)
                    authorization = self.tokens.refresh_after_rejection(authorization)
                    self.stats.add("retries")
                    continue  # re-sent at once with the new header; not counted against the budget
                if status == 429:
                    self.stats.add("rate_limited")
                    hinted = retry_after_seconds(response.headers.get("Retry-After"), self._wall_clock())
                    if hinted is None:
                        hinted = seconds_hint_in_body(body)
                    delay = policy.backoff(attempt, self._rng) if hinted is None else hinted
                    delay = min(delay, policy.max_retry_after)
                    self._limiter.pause_for(delay)  # other threads of this tenant hold back too
                    error = ServiceTitanUnavailable(
                        f"ServiceTitan kept answering {where} with 'too many requests' (HTTP 429).",
                        status=429, **problem_fields)
                elif status >= 500 or _is_maintenance(status, body):
                    if is_write:
                        raise ServiceTitanOutcomeUnknown(
                            f"ServiceTitan {where} answered HTTP {status}"
                            f"{': ' + problem_fields['title'] if problem_fields.get('title') else ''}; "
                            "the change may or may not have been applied. Look the record up in "
                            "ServiceTitan before sending it again.", status=status, **problem_fields)
                    delay = policy.backoff(attempt, self._rng)
                    error = ServiceTitanUnavailable(
                        f"ServiceTitan {where} kept failing (HTTP {status}).", status=status, **problem_fields)
                else:
                    raise _api_error(status, where, problem_fields)
            if attempt + 1 >= policy.max_attempts or waited + delay > policy.max_total_wait:
                log.warning("ServiceTitan %s: giving up after %d attempts", where, attempt + 1)
                raise error
            log.info("ServiceTitan %s: %s; retry %d in %.1f s", where, reason, attempt + 1, delay)
            self.stats.add("retries")
            self._sleep(delay)
            waited += delay
            attempt += 1
            authorization = None  # every attempt is signed anew with the current token


def _describe_exception(exc: requests.RequestException, host: str) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection to {host} within the connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.ConnectionError):
        if never_sent(exc):
            return f"could not connect to {host}"
        return "the connection broke"
    return f"the request failed ({type(exc).__name__})"


def _parse_body(response: requests.Response, where: str) -> object:
    if not response.content:
        return None
    try:
        return money_json.loads(response.content)
    except ValueError:
        raise ServiceTitanApiError(f"ServiceTitan {where} answered with something that is not JSON "
                                   f"(HTTP {response.status_code}).", status=response.status_code) from None


def _json_or_text(response: requests.Response) -> object:
    try:
        return money_json.loads(response.content) if response.content else None
    except ValueError:
        return response.text[:500]


def _problem_fields(body: object) -> dict:
    if not isinstance(body, dict):
        return {"title": None, "errors": None, "trace_id": None}
    errors = body.get("errors")
    if isinstance(errors, dict):
        errors = {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in errors.items()}
    else:
        errors = None
    title = body.get("title") or body.get("message")
    return {"title": str(title) if title else None, "errors": errors,
            "trace_id": str(body["traceId"]) if body.get("traceId") else None}


def _is_maintenance(status: int, body: object) -> bool:
    # "The service is suspended for maintenance. Please try again later."
    return status == 409 and "maintenance" in str(body).lower()


def _api_error(status: int, where: str, fields: dict) -> ServiceTitanApiError:
    cls = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}.get(status, ServiceTitanApiError)
    detail = f": {fields['title']}" if fields.get("title") else ""
    if fields.get("errors"):
        detail += " — " + "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in fields["errors"].items())
    trace = f" (traceId {fields['trace_id']})" if fields.get("trace_id") else ""
    return cls(f"ServiceTitan refused {where} (HTTP {status}){detail}{trace}", status=status, **fields)
