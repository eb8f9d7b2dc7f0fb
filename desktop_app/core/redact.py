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

# What each pattern's matches always contain, in lower case: any one of the first words, and every
# one of the second. Text is lowered the way re's IGNORECASE folds letters onto ASCII ones (besides
# A-Z, only these four letters match an ASCII letter), so a pattern whose words are absent cannot
# match and is not run: on a 2 kB XML document a run of the six patterns, or one case-insensitive
# search for all their words, costs 0.1-0.4 ms, a few `in` tests a few microseconds.
_GUARDS = [
    (("password", "client_secret", "access_token", "userid", "appkey", "app_key"), ("=",)),
    (("client_secret", "access_token", "password", "app_key"), ('"',)),
    (("password",), ("<",)),
    (("authorization",), ()),
    (("st-app-key",), ()),
    (("://",), ("@",)),
]
# (str.translate with a mapping costs ~50 us per kB of non-ASCII text; four replace() calls do not)
_FOLD_TO_ASCII = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))


_GUARDED = tuple((pattern, any_of, all_of) for pattern, (any_of, all_of) in zip(_PATTERNS, _GUARDS))


def _patterns_that_may_match(text: str) -> list[re.Pattern]:
    if not text.isascii():
        for letter, ascii_letter in _FOLD_TO_ASCII:
            if letter in text:
                text = text.replace(letter, ascii_letter)
    folded = text.lower()
    # plain loops: this runs for every audit event and log line, where generators cost more than the tests
    found = []
    for pattern, any_of, all_of in _GUARDED:
        for word in any_of:
            if word in folded:
                break
        else:
            continue
        for word in all_of:
            if word not in folded:
                break
        else:
            found.append(pattern)
    return found


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it appears later."""
    global _longest_first
    if value and len(value) >= 4:
        with _lock:
            _known_values.add(value)
            _longest_first = _by_length(_known_values)


def forget_all() -> None:
    global _longest_first
    with _lock:
        _known_values.clear()
        _longest_first = ()


def _by_length(values: set[str]) -> tuple[str, ...]:
    # longest first: a secret that contains another is masked whole
    return tuple(sorted(values, key=len, reverse=True))


_longest_first: tuple[str, ...] = ()  # _known_values as redact() tries them, kept in step by the two above


def redact(text: object) -> str:
    out = str(text)
    for value in _longest_first:
        if value in out:
            out = out.replace(value, MASK)
    for pattern in _patterns_that_may_match(out):
        out = pattern.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), out)
    return out
