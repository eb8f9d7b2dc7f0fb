"""Removal of secrets from any text that may reach a log, the audit trail or an error message.

Two nets: the exact values of secrets this process has read or stored, and patterns for
credential-bearing fragments (query parameters, form fields, headers) whose values we may
never have seen, e.g. a token returned by a server.
"""
from __future__ import annotations

import re
import threading

MASK = "***"

_known_values: set[str] = set()
_lock = threading.Lock()

_PATTERNS = [
    # URL query strings and form bodies: OperatorPassword=..., CompanyPassword=..., client_secret=...
    re.compile(
        r"(?i)\b((?:(?:Operator|Company)?Password|client_secret|access_token|UserId|app_?key|"
        r"PasswordForLedgerCode)=)([^&\s'\"<]*)"
    ),
    # JSON fields
    re.compile(r'(?i)("(?:client_secret|access_token|password|app_key)"\s*:\s*")([^"]*)'),
    # XML elements carrying passwords
    re.compile(r"(?i)(<(?:\w*Password\w*)>)([^<]*)"),
    # HTTP headers
    re.compile(r"(?i)(Authorization['\"]?\s*[:=]\s*['\"]?(?:Bearer\s+)?)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(?i)(ST-App-Key['\"]?\s*[:=]\s*['\"]?)([A-Za-z0-9._~+/=-]+)"),
    # user:password@ in URLs
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(?=@)"),
]

# Every match of a pattern above contains one of these words (same case rule: re's IGNORECASE),
# so text without any of them is left as it is without running the six patterns.
_PREFILTER = re.compile(
    r"(?i)password|client_secret|access_token|userid|app_?key|authorization|st-app-key|://"
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it appears later."""
    if value and len(value) >= 4:
        with _lock:
            _known_values.add(value)


def forget_all() -> None:
    with _lock:
        _known_values.clear()


def redact(text: object) -> str:
    out = str(text)
    with _lock:
        values = sorted(_known_values, key=len, reverse=True)
    for value in values:
        if value in out:
            out = out.replace(value, MASK)
    if _PREFILTER.search(out) is None:
        return out
    for pattern in _PATTERNS:
        out = pattern.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), out)
    return out
