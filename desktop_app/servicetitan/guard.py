"""The one place that decides whether a request may be sent at all.

AP bills are read-only for this app (docs/architecture.md §1): ServiceTitan itself offers no create/update,
and we also leave mark-as-exported and custom fields on AP bills to the accounting team. The
legacy `inventory-bills` endpoints are the same bills under their older name, so the same rule
applies. Checked before rate limiting, token or network: a refused write costs nothing.
"""
from __future__ import annotations

from desktop_app.servicetitan.errors import ReadOnlyViolation

_READ_ONLY = {
    ("accounting", "ap-bills"): "AP bills",
    ("accounting", "inventory-bills"): "AP bills (inventory bills)",
}


def check_request_allowed(method: str, module: str, path: str) -> None:
    method = method.upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return
    first_segment = path.strip("/").split("/", 1)[0].split("?", 1)[0].lower()
    what = _READ_ONLY.get((module.lower(), first_segment))
    if what:
        raise ReadOnlyViolation(
            f"Refused to send {method} {module}/{path}: {what} are read-only for ml-connector. "
            "Change the purchase order in ServiceTitan instead; a new bill follows from it."
        )
