"""The error for a field of a record a service sent that cannot be read: where, the value, what is wrong.

Shared by the readers of ServiceTitan and SYSPRO records and the flows that hold such a record on its
own (`sync.readable`), so that the message a person reads names the field and the value."""
from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
_VALUE_SHOWN = 60


class Unreadable(ValueError):
    """A field of a record that cannot be read: `path` (items[2].cost), the value, what is wrong."""

    def __init__(self, path: str, value, what: str):
        self.path, self.value, self.what = path, value, what
        super().__init__(f"{path} {shown(value)} {what}")

    def within(self, prefix: str) -> Unreadable:
        """The same error one level down: cost → items[2].cost."""
        return Unreadable(f"{prefix}.{self.path}" if self.path else prefix, self.value, self.what)


def shown(value) -> str:
    """A value as a person reads it in a message: short, quoted, with unprintable characters escaped."""
    text = ascii(value) if isinstance(value, str) and _SURROGATE.search(value) else repr(value)
    return text if len(text) <= _VALUE_SHOWN else text[:_VALUE_SHOWN - 1] + "…"
