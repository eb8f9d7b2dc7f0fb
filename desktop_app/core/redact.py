"""Removal of secrets from any text that may reach a log, the audit trail or an error message.

Secrets are found by the structure that carries them, by name, never by searching for their
value inside other text:

- URL queries and form bodies: the value of a parameter named OperatorPassword, CompanyPassword,
  PasswordForLedgerCode, Password, UserId (e.net's session id: a credential while the session
  lives), client_secret, access_token, refresh_token, app_key (any case), with `=` or its
  URL-encoded `%3D`, up to the next `&` (or `%26`), space, quote or `<`;
- XML elements whose name contains "password" (<OperatorPassword>, <CompanyPassword>,
  <PasswordForLedgerCode>, ...), raw, XML-escaped (&lt;OperatorPassword&gt;) or URL-encoded
  (%3COperatorPassword%3E): their text is masked, the tags stay;
- JSON members named client_secret, access_token, refresh_token, id_token, password, app_key
  (or any name containing "password" or "secret"), plain, JSON-escaped inside another string
  (\\"password\\": \\"...\\") or as a Python dict shows them ('password': '...');
- the Authorization, Proxy-Authorization and ST-App-Key headers (the credential after Basic,
  Bearer, ...: the base64 `user:password` of Basic goes whole);
- the password of `scheme://user:password@host`.

`redact_document` applies only these rules: an XML or JSON document kept in the audit trail is
otherwise left byte for byte as it was (a password "2024" does not touch `2024-05-01`).

`redact`, for free text (log lines, exception messages, tracebacks), adds a conservative net for
values this process has read or received (`register_secret`: passwords, the client secret, tokens,
session ids; 4 characters or more) in case one appears where no name announces it. Such a value,
as is or URL-, XML- or JSON-escaped, is masked only where it stands as a whole token: what comes
before it is the start of the text, white space, a quote, a bracket or one of `,;=&|`, and what
comes after it is the same or the end, optionally after one `.:!?` closing a sentence. So
"password 2024 refused" masks 2024, while 2024-05-01, INV-2024, 12024 and 2024.50 stay as they are.
"""
from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

MASK = "***"

_lock = threading.Lock()
_known_values: set[str] = set()

_PARAMETERS = (r"(?:Operator|Company)?Password|PasswordForLedgerCode|UserId|client_secret|access_token|"
               r"refresh_token|app_?key")
_JSON_NAMES = r"[\w-]*(?:password|secret)|access_token|refresh_token|id_token|app_?key"
_XML_NAME = r"(?:[\w.-]+:)?[\w.-]*password[\w.-]*"

_PATTERNS = [
    # URL queries and form bodies; %3D / %26 when the query is itself URL-encoded
    re.compile(rf"(?i)((?:(?<![\w.-])|(?<=%3F)|(?<=%26))(?:{_PARAMETERS})(?:=|%3D))((?:(?!%26)[^&\s'\"<>#])*)"),
    # XML elements, raw (content up to the next tag)
    re.compile(rf"(?i)(<{_XML_NAME}(?:\s[^<>]*)?>)([^<]*)"),
    # XML elements XML-escaped inside another document, and URL-encoded inside a query
    re.compile(rf"(?i)(&lt;{_XML_NAME}(?:\s(?:(?!&gt;)[^<>])*)?&gt;)((?:(?!&lt;)[^<])*)"),
    re.compile(rf"(?i)(%3C{_XML_NAME}%3E)((?:(?!%3C)[^&\s])*)"),
    # JSON members: plain, JSON-escaped in a string, and as a Python dict shows them
    re.compile(rf'(?i)("(?:{_JSON_NAMES})"\s*:\s*")((?:[^"\\]|\\.)*)'),
    re.compile(rf'(?i)(\\"(?:{_JSON_NAMES})\\"\s*:\s*\\")((?:(?!\\").)*)'),
    re.compile(rf"(?i)('(?:{_JSON_NAMES})'\s*:\s*')((?:[^'\\]|\\.)*)"),
    # HTTP headers: the credential after an optional scheme word
    re.compile(r"(?i)((?<![\w-])(?:Proxy-)?Authorization['\"]?\s*[:=]\s*['\"]?"
               r"(?:(?:Basic|Bearer|Digest|Token|NTLM|Negotiate)\s+)?)([^\s'\",}]+)"),
    re.compile(r"(?i)((?<![\w-])ST-App-Key['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)"),
    # user:password@ in URLs
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(?=@)"),
]

# What each pattern's matches always contain, in lower case: any one of the first words, and every
# one of the second. Text is lowered the way re's IGNORECASE folds letters onto ASCII ones (besides
# A-Z, only these four letters match an ASCII letter), so a pattern whose words are absent cannot
# match and is not run: this runs for every log line and audit event.
_GUARDS = [
    (("password", "userid", "client_secret", "access_token", "refresh_token", "appkey", "app_key"), ()),
    (("password",), ("<",)),
    (("password",), ("&lt;",)),
    (("password",), ("%3c",)),
    (("password", "secret", "access_token", "refresh_token", "id_token", "appkey", "app_key"), ('"',)),
    (("password", "secret", "access_token", "refresh_token", "id_token", "appkey", "app_key"), ('\\"',)),
    (("password", "secret", "access_token", "refresh_token", "id_token", "appkey", "app_key"), ("'",)),
    (("authorization",), ()),
    (("st-app-key",), ()),
    (("://",), ("@",)),
]
_FOLD_TO_ASCII = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))

_GUARDED = tuple((pattern, any_of, all_of) for pattern, (any_of, all_of) in zip(_PATTERNS, _GUARDS, strict=True))

# the whole-token rule for known values (module docstring)
_DELIMITER = r"\s'\"`()\[\]{}<>,;=&|"
_BEFORE = rf"(?<![^{_DELIMITER}])"
_AFTER = rf"(?=[.:!?]?(?:[{_DELIMITER}]|$))"


def _patterns_that_may_match(text: str) -> list[re.Pattern]:
    if not text.isascii():
        for letter, ascii_letter in _FOLD_TO_ASCII:
            if letter in text:
                text = text.replace(letter, ascii_letter)
    folded = text.lower()
    # plain loops: generators cost more than the tests themselves here
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


def _forms(value: str) -> set[str]:
    """`value` as it may appear in free text: as is, URL-, XML- and JSON-escaped."""
    return {value, quote_plus(value, safe=""), quote(value, safe=""), escape(value),
            escape(value, {'"': "&quot;", "'": "&apos;"}), escape(value, {'"': "&quot;", "'": "&#x27;"}),
            json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}


def _value_pattern(values: set[str]) -> tuple[tuple[str, ...], re.Pattern | None]:
    forms = sorted({form for value in values for form in _forms(value)}, key=len, reverse=True)
    if not forms:
        return (), None
    # longest first: a secret that contains another is masked whole
    return tuple(forms), re.compile(_BEFORE + "(?:" + "|".join(map(re.escape, forms)) + ")" + _AFTER)


_known_forms: tuple[str, ...] = ()  # every form of every known value, kept in step with _known_values
_known_pattern: re.Pattern | None = None


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` masks it where it stands as a whole token."""
    global _known_forms, _known_pattern
    if value and len(value) >= 4:
        with _lock:
            if value not in _known_values:
                _known_values.add(value)
                _known_forms, _known_pattern = _value_pattern(_known_values)


def forget_all() -> None:
    global _known_forms, _known_pattern
    with _lock:
        _known_values.clear()
        _known_forms, _known_pattern = (), None


def _structural(text: str, *, prefilter: bool = True) -> str:
    for pattern in _patterns_that_may_match(text) if prefilter else _PATTERNS:
        text = pattern.sub(_masked, text)
    return text


def _masked(match: re.Match) -> str:
    return match.group(1) + (MASK if match.group(2) else "")


def redact_document(text: object) -> str:
    """An XML or JSON document (or URL) with the secrets its structure names masked, and nothing else
    changed."""
    return _structural(str(text))


def redact(text: object, *, prefilter: bool = True) -> str:
    """Free text with the secrets its structure names masked, and known secret values standing as
    whole tokens (module docstring)."""
    out = _structural(str(text), prefilter=prefilter)
    forms, pattern = _known_forms, _known_pattern
    if pattern is not None:
        for form in forms:
            if form in out:
                return pattern.sub(MASK, out)
    return out
