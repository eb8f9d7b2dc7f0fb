"""JSON in and out without ever passing money through float.

ServiceTitan's inventory and pricebook modules send amounts as JSON numbers (`12.345`); reading
them as Decimal (`core.money_json.loads`) keeps every digit. Writing a Decimal as a JSON *number* is not
something the standard encoder can do, so `dumps` writes them digit for digit itself.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring


def dumps(value: object) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to ServiceTitan")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise TypeError("floats are not allowed in ServiceTitan payloads; use Decimal for amounts")
    elif isinstance(value, datetime | date):
        out.append(encode_basestring(value.isoformat()))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(encode_basestring(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")
