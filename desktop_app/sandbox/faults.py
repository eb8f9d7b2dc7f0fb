"""Fault switches shared by both simulators.

A spec is a comma-separated list of `side.fault[=value]`, e.g.
`st.rate_limit_storm=20,syspro.drop_after_post=3`. The same names work on the command line
(`sandbox serve --faults`) and through each simulator's admin endpoint.
"""
from __future__ import annotations

import re
import threading

from desktop_app.core.errors import ConfigError

SIDES = ("st", "syspro")
_TARGET = re.compile(r"[a-z][a-z_-]*")


class FaultSpecError(ConfigError, ValueError):
    """A fault spec the simulators do not know; the message lists the known ones."""


def parse_fault_spec(spec: str | None) -> dict[str, dict[str, float | str]]:
    """`"st.http_500=3,syspro.slow=0.5"` → `{"st": {"http_500": 3.0}, "syspro": {"slow": 0.5}}`; a value that
    is a name (`st.stuck_feed=invoices`) stays text: the fault then applies to that one target."""
    result: dict[str, dict[str, float | str]] = {side: {} for side in SIDES}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, raw = part.partition("=")
        side, _, fault = name.strip().partition(".")
        if side not in SIDES or not fault:
            raise FaultSpecError(f"fault {part!r}: expected st.NAME[=N] or syspro.NAME[=N]")
        raw = raw.strip()
        try:
            value = float(raw) if raw else 1.0
        except ValueError:
            if not _TARGET.fullmatch(raw):
                raise FaultSpecError(f"fault {part!r}: {raw!r} is neither a number nor a feed name") from None
            value = raw  # a target, e.g. st.stuck_feed=invoices
        result[side][fault] = value
    return result


class FaultBoard:
    """Thread-safe counters: `take(name)` consumes one occurrence of a counted fault."""

    def __init__(self, known: set[str]):
        self._known = known
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()

    def set(self, faults: dict[str, float]) -> None:
        unknown = set(faults) - self._known
        if unknown:
            raise FaultSpecError(
                f"unknown fault(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(self._known))}"
            )
        with self._lock:
            self._values = {k: v for k, v in faults.items() if v}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def value(self, name: str) -> float:
        with self._lock:
            value = self._values.get(name, 0.0)
        return 0.0 if isinstance(value, str) else value

    def target(self, name: str) -> str | None:
        """For a fault aimed at one target: its name; "*" when set as a plain number; None when off."""
        with self._lock:
            value = self._values.get(name)
        if not value:
            return None
        return value if isinstance(value, str) else "*"

    def take(self, name: str) -> bool:
        """True if the fault fires now; counted faults fire N times then switch off."""
        with self._lock:
            remaining = self._values.get(name, 0.0)
            if isinstance(remaining, str):  # aimed at a target, not counted
                return True
            if remaining <= 0:
                return False
            remaining -= 1
            if remaining <= 0:
                self._values.pop(name, None)
            else:
                self._values[name] = remaining
            return True

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)
