"""Reading JSON from ServiceTitan and SYSPRO OData: numbers as Decimal, never through float."""
from __future__ import annotations

import json
from decimal import Decimal


def _decimal(text: str) -> Decimal:
    # A Python function on purpose, not the Decimal type: json's C scanner never gives up the GIL,
    # so a whole export page would be parsed in one piece while the GUI thread waits. Each call of
    # a Python function lets the interpreter hand the GIL over at its switch interval.
    return Decimal(text)


def _constant(name: str) -> Decimal:
    # NaN, Infinity, -Infinity: read as the Decimals they name, so an amount check refuses them
    # like any other value that is not an amount, and no float enters
    return Decimal(name)


def loads(text: str | bytes) -> object:
    return json.loads(text, parse_float=_decimal, parse_constant=_constant)
