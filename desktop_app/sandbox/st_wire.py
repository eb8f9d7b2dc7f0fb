"""How the ServiceTitan simulator writes values on the wire.

ServiceTitan sends date-times as UTC with seven fractional digits and a `Z`, date-only values as
midnight UTC, accounting amounts as strings and inventory/pricebook amounts as JSON numbers.
The standard `json` module can only write a Decimal through float, which would change amounts,
so the encoder below writes Decimals digit for digit.
"""
from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring

UTC = UTC


def iso(moment: datetime) -> str:
    """`2021-07-19T20:35:38.2876000Z` — naive datetimes are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


def iso_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def money(value: Decimal | None) -> str | None:
    """Accounting module amounts: strings such as "12.50" (never exponent notation)."""
    return None if value is None else format(value, "f")


def parse_utc(text: str) -> datetime:
    """Query-string date-times ("2026-01-31", "...T10:00:00Z", 7 fractional digits) → naive UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def dumps(value: object) -> bytes:
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


class RawJson(str):
    """Text written into the JSON as it is, e.g. `NaN` or `1E+400`: what a broken record on the live
    API can carry, for the tests that check the engine holds such a record and goes on."""


def _encode(value: object, out: list[str]) -> None:
    if isinstance(value, RawJson):
        out.append(str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, float):
        out.append(repr(value))
    elif isinstance(value, datetime):
        out.append('"' + iso(value) + '"')
    elif isinstance(value, date):
        out.append('"' + iso_day(value) + '"')
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def loads(body: bytes | str) -> object:
    return json.loads(body, parse_float=Decimal)


# Export continuation tokens: opaque to clients, but they carry the (modifiedOn, id) of the
# last record handed out, so a stored token keeps working across simulator restarts.
def encode_cursor(modified_on: datetime, record_id: int) -> str:
    raw = json.dumps({"m": iso(modified_on), "i": record_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        return parse_utc(raw["m"]), int(raw["i"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
