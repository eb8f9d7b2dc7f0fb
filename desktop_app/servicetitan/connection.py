"""`test-connection --servicetitan`: sign in, read one business unit, say what was found.

Each failure gets a reason a user can act on: bad client id/secret (token endpoint refuses),
wrong app key (API answers 401/403 to a fresh token), wrong tenant (404/403), unreachable host.
Uses a short retry budget so a dead network is reported in seconds, not minutes.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from desktop_app.core.errors import ConnectionResult, ConnectorError
from desktop_app.core.redact import redact
from desktop_app.servicetitan.errors import (
    Forbidden,
    NotFound,
    ServiceTitanApiError,
    ServiceTitanAuthError,
    ServiceTitanUnavailable,
)
from desktop_app.servicetitan.retry import QUICK

SYSTEM = "ServiceTitan"


def check_connection(client) -> ConnectionResult:
    auth_host = urlsplit(client.tokens.auth_url).netloc
    api_host = urlsplit(client.api_url).netloc
    details: list[str] = [f"Token URL: {client.tokens.auth_url}", f"API: {client.api_url}",
                          f"Tenant: {client.tenant}"]
    saved_policy = client.retry_policy
    client.retry_policy = QUICK
    try:
        try:
            client.tokens.authorization()
        except ServiceTitanAuthError as exc:
            return _fail(str(exc), details)
        except ServiceTitanUnavailable as exc:
            return _fail(f"Could not reach the ServiceTitan sign-in server {auth_host}. Check the internet "
                         f"connection, proxy/firewall, and servicetitan.auth_url. ({exc})", details)
        minutes = int((client.tokens.expires_in or 0) // 60)
        details.append(f"Signed in at {auth_host}; access token valid for {minutes} minutes")
        try:
            body = client.request("GET", "settings", "business-units",
                                  params={"active": "Any", "page": 1, "pageSize": 1, "includeTotal": "true"}) or {}
        except ServiceTitanAuthError as exc:
            return _fail("ServiceTitan issued a token but the API refused it (HTTP 401). The app key "
                         "(secret servicetitan.app_key) is probably wrong or belongs to another app.",
                         details, exc)
        except Forbidden as exc:
            return _fail(f"ServiceTitan refused access to tenant {client.tenant} (HTTP 403). Check the app key "
                         "(secret servicetitan.app_key), that servicetitan.tenant is the tenant these client "
                         "credentials were issued for, and that the tenant admin granted the app's scopes "
                         "(e.g. tn.stt.businessunits:r).", details, exc)
        except NotFound as exc:
            return _fail(f"ServiceTitan does not know tenant {client.tenant} at {api_host} (HTTP 404). Check "
                         "servicetitan.tenant and that servicetitan.api_url matches the environment.",
                         details, exc)
        except ServiceTitanUnavailable as exc:
            return _fail(f"Could not reach the ServiceTitan API at {api_host}. Check the internet connection, "
                         f"proxy/firewall, and servicetitan.api_url. ({exc})", details)
        except ServiceTitanApiError as exc:
            return _fail(f"ServiceTitan answered the test request with an error: {exc}", details, exc)
        except ConnectorError as exc:
            return _fail(str(exc), details)
    finally:
        client.retry_policy = saved_policy
    data = body.get("data") or []
    total = body.get("totalCount")
    if data:
        first = data[0]
        found = f"first business unit: {first.get('name')!s} (id {first.get('id')})"
        details.append(f"Business units: {total if total is not None else 'at least 1'}; {found}")
    else:
        details.append("Business units: none found (the tenant has none, or the app cannot see them)")
    return ConnectionResult(SYSTEM, True, redact(f"Connected to ServiceTitan tenant {client.tenant} at {api_host}."),
                            [redact(d) for d in details])


def _fail(message: str, details: list[str], exc: Exception | None = None) -> ConnectionResult:
    trace_id = getattr(exc, "trace_id", None)
    if trace_id:
        details.append(f"ServiceTitan traceId: {trace_id}")
    return ConnectionResult(SYSTEM, False, redact(message), [redact(d) for d in details])
