"""Fault switches shared by both simulators.

A spec is a comma-separated list of `side.fault[=value]`, e.g.
`st.rate_limit_storm=20,syspro.drop_after_post=3`. The same names work on the command line
(`sandbox serve --faults`) and through each simulator's admin endpoint.
"""
from __future__ import annotations

import threading

from desktop_app.core.errors import ConfigError

SIDES = ("st", "syspro")


class FaultSpecError(ConfigError, ValueError):
    """A fault spec the simulators do not know; the message lists the known ones."""


def parse_fault_spec(spec: str | None) -> dict[str, dict[str, float]]:
    """`"st.http_500=3,syspro.slow=0.5"` → `{"st": {"http_500": 3.0}, "syspro": {"slow": 0.5}}`."""
    result: dict[str, dict[str, float]] = {side: {} for side in SIDES}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, raw = part.partition("=")
        side, _, fault = name.strip().partition(".")
        if side not in SIDES or not fault:
            raise FaultSpecError(f"fault {part!r}: expected st.NAME[=N] or syspro.NAME[=N]")
        try:
            value = float(raw) if raw.strip() else 1.0
        except ValueError:
            raise FaultSpecError(f"fault {part!r}: {raw!r} is not a number") from None
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
            return self._values.get(name, 0.0)

    def take(self, name: str) -> bool:
        """True if the fault fires now; counted faults fire N times then switch off."""
        with self._lock:
            remaining = self._values.get(name, 0.0)
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
