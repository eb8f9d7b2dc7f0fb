"""OAuth client-credentials token for one ServiceTitan tenant, cached and refreshed in time.

Tokens last 900 s and ServiceTitan throttles token requests, so one token is reused
until `refresh_margin` seconds before it expires; the margin means no request leaves with a token
that could expire before the server reads it. One lock makes concurrent callers share a single
refresh. A token is remembered by `redact` the moment it arrives.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from desktop_app.core import money_json
from desktop_app.core.redact import redact, register_secret
from desktop_app.servicetitan.errors import ServiceTitanAuthError, ServiceTitanUnavailable
from desktop_app.servicetitan.retry import RetryPolicy, retry_after_seconds

log = logging.getLogger(__name__)

DEFAULT_REFRESH_MARGIN = 60.0


@dataclass
class _Token:
    value: str
    expires_in: float
    refresh_at: float  # on the injected clock


# Tokens outlive the job that fetched them: a scheduled cycle every minute reuses the last cycle's
# token instead of asking for one each time. Kept in memory only, per auth URL, client and secret,
# and only for managers on the real monotonic clock (one with a test clock keeps its own).
_shared_tokens: dict[tuple[str, str, str], _Token] = {}
_shared_lock = threading.Lock()


def forget_shared_tokens() -> None:
    """Drop every token kept between jobs (the next request of each client fetches a new one)."""
    with _shared_lock:
        _shared_tokens.clear()


class TokenManager:
    def __init__(self, *, session: requests.Session, auth_url: str, client_id: str,
                 client_secret: str, timeout: tuple[float, float], policy_source,
                 clock=time.monotonic, sleep=time.sleep, wall_clock=time.time,
                 refresh_margin: float = DEFAULT_REFRESH_MARGIN, on_request=lambda: None,
                 on_retry=lambda: None):
        self._session = session
        self.auth_url = auth_url
        self._client_id = client_id
        self._client_secret = client_secret
        register_secret(client_secret)
        self._timeout = timeout
        self._policy_source = policy_source  # callable -> RetryPolicy (the client's current one)
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._margin = refresh_margin
        self._on_request = on_request
        self._on_retry = on_retry
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._shared_key = ((auth_url, client_id, hashlib.sha256(client_secret.encode()).hexdigest())
                            if clock is time.monotonic else None)

    @property
    def expires_in(self) -> float | None:
        return self._token.expires_in if self._token else None

    def authorization(self) -> str:
        """The `Authorization` header value, refreshing the token first if it is due."""
        with self._lock:
            if self._token is None and self._shared_key is not None:
                with _shared_lock:
                    self._token = _shared_tokens.get(self._shared_key)
                if self._token is not None:
                    register_secret(self._token.value)
            if self._token is None or self._clock() >= self._token.refresh_at:
                self._token = self._fetch()
                self._share()
            return "Bearer " + self._token.value

    def _share(self) -> None:
        if self._shared_key is not None and self._token is not None:
            with _shared_lock:
                _shared_tokens[self._shared_key] = self._token

    def refresh_after_rejection(self, rejected_authorization: str) -> str:
        """The API answered 401 to `rejected_authorization`: get a new token unless another
        thread already did, and return the header to re-send with."""
        with self._lock:
            if self._token is None or "Bearer " + self._token.value == rejected_authorization:
                self._token = self._fetch()
                self._share()
            return "Bearer " + self._token.value

    def _fetch(self) -> _Token:
        policy: RetryPolicy = self._policy_source()
        host = urlsplit(self.auth_url).netloc or self.auth_url
        waited = 0.0
        attempt = 0
        while True:
            started = self._clock()  # expiry counts from before the request: conservative
            self._on_request()
            problem: str
            delay: float | None = None
            try:
                response = self._session.post(
                    self.auth_url,
                    data={"grant_type": "client_credentials", "client_id": self._client_id,
                          "client_secret": self._client_secret},
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                    requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as exc:
                raise ServiceTitanUnavailable(
                    f"Signing in to ServiceTitan failed: no secure connection to {host} could be made "
                    f"({type(exc).__name__}). Check servicetitan.auth_url and any HTTPS-inspecting proxy.") from None
            except requests.RequestException as exc:
                problem = f"could not reach the ServiceTitan sign-in server {host} ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 200:
                    return self._accept(response, started)
                body = _json_or_none(response)
                if status in (400, 401, 403):
                    raise ServiceTitanAuthError(_refusal_message(status, body, host), status=status,
                                                title=_error_text(body))
                problem = f"the ServiceTitan sign-in server {host} answered HTTP {status}"
                if status == 429:
                    delay = retry_after_seconds(response.headers.get("Retry-After"), self._wall_clock())
                elif status < 500:
                    raise ServiceTitanAuthError(f"Signing in to ServiceTitan failed: {problem}.",
                                                status=status, title=_error_text(body))
            if delay is None:
                delay = policy.backoff(attempt)
            delay = min(delay, policy.max_retry_after)
            attempt += 1
            if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait:
                raise ServiceTitanUnavailable(f"Signing in to ServiceTitan failed: {problem}. "
                                              "Check the internet connection and servicetitan.auth_url.")
            log.warning("ServiceTitan sign-in: %s; retrying in %.1f s", redact(problem), delay)
            self._on_retry()
            self._sleep(delay)
            waited += delay

    def _accept(self, response: requests.Response, started: float) -> _Token:
        body = _json_or_none(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token or not isinstance(token, str):
            raise ServiceTitanAuthError("The ServiceTitan sign-in server answered without an access token; "
                                        "check servicetitan.auth_url points at …/connect/token.")
        register_secret(token)
        try:
            expires_in = float(body.get("expires_in") or 900)
        except (TypeError, ValueError):
            expires_in = 900.0
        # A short-lived token (a test server's) still gets half its life before refresh.
        margin = min(self._margin, expires_in / 2)
        log.info("ServiceTitan access token obtained (valid %d s)", int(expires_in))
        return _Token(token, expires_in, started + expires_in - margin)


def _json_or_none(response: requests.Response):
    try:
        return money_json.loads(response.content) if response.content else None
    except ValueError:
        return None


def _error_text(body) -> str | None:
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "error_description", "title") if body.get(k)]
        return redact(": ".join(parts)) if parts else None
    return None


def _refusal_message(status: int, body, host: str) -> str:
    code = body.get("error") if isinstance(body, dict) else None
    if code == "invalid_client" or status == 401:
        return (f"ServiceTitan ({host}) refused the client id or client secret "
                f"(HTTP {status}{', invalid_client' if code == 'invalid_client' else ''}). "
                "Check servicetitan.client_id and the secret servicetitan.client_secret, and that they "
                "belong to this environment (production and integration have different credentials).")
    detail = _error_text(body) or f"HTTP {status}"
    return (f"ServiceTitan ({host}) refused to issue an access token ({detail}). "
            "Check servicetitan.client_id, the client secret and servicetitan.auth_url.")
