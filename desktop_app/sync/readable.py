"""Reading a record a service sent, field by field, with errors that name the field and the value.

A record the engine cannot read (an amount that is not a number, a date that is not a date, a
business unit that is not an object, text SYSPRO cannot store) is held on its own with the
sentence these errors make; the rest of its page goes on. The rules for amounts:

- an amount or quantity is a decimal number, as a string ("12.50", "-3", "1E+2") or a JSON number;
  empty or null reads as 0 (the schema allows it). "abc", "1,5", "1_000", NaN, Infinity, true are
  not amounts.
- SYSPRO keeps 12 digits before the decimal point: an amount or quantity with more is not read.
- more than 2 decimals are fine: a line's amount is rounded half-up to the cent (quantity × cost),
  and a document's amount is the sum of its rounded lines.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from desktop_app.core.unreadable import Unreadable, shown  # noqa: F401 - the flows' one import

# SYSPRO's amount columns: 12 digits before the point (fields._TWELVE_DIGITS)
TWELVE_DIGITS = Decimal("1E12")
_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def amount(value, path: str) -> Decimal:
    """A money amount or quantity, exactly (never through float); None and "" are 0."""
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool) or isinstance(value, float):
        # a float only comes from a JSON reader without parse_float=Decimal, or NaN / Infinity
        raise Unreadable(path, value, "is not an amount")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and _NUMBER.fullmatch(value):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise Unreadable(path, value, "is not an amount") from None
    else:
        raise Unreadable(path, value, "is not an amount")
    if not number.is_finite():
        raise Unreadable(path, value, "is not an amount")
    if abs(number) >= TWELVE_DIGITS:
        raise Unreadable(path, value, "is too large: SYSPRO takes at most 12 digits before the decimal point")
    return number


def record_id(value, path: str = "id") -> int:
    """A record's id: a whole number (a JSON integer, or its text)."""
    if isinstance(value, bool):
        raise Unreadable(path, value, "is not a record id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise Unreadable(path, value, "is not a record id")


def optional_id(value, path: str) -> int | None:
    return None if value is None or value == "" else record_id(value, path)


def obj(value, path: str) -> dict:
    """A nested object (businessUnit, job): null reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unreadable(path, value, f"is not an object (a {type(value).__name__})")
    return value


def objects(value, path: str) -> list[dict]:
    """A list of objects (items): null reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(path, value, f"is not a list (a {type(value).__name__})")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise Unreadable(f"{path}[{index}]", item, "is not an object")
    return value


def date(value, path: str, read) -> dt.date:
    """A required date, read by `read` (e.g. dates.accounting_date with the office's time zone)."""
    if value is None or value == "":
        raise Unreadable(path, value, "is missing: the document needs a date")
    if not isinstance(value, str | dt.date):
        raise Unreadable(path, value, "is not a date")
    try:
        day = read(value)
    except (TypeError, ValueError, OverflowError):
        raise Unreadable(path, value, "is not a date") from None
    if day is None:
        raise Unreadable(path, value, "is not a date")
    return day


def check_texts(record, path: str = "") -> None:
    """Every string in the record can be stored and sent (no lone surrogate half of a character)."""
    if isinstance(record, str):
        if _SURROGATE.search(record):
            raise Unreadable(path or "text", record, "has a broken character (a lone surrogate)")
    elif isinstance(record, dict):
        for key, value in record.items():
            check_texts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(record, list):
        for index, value in enumerate(record):
            check_texts(value, f"{path}[{index}]")


def sentence(kind: str, key, error: Exception) -> str:
    """'ServiceTitan invoice 43008: items[2].cost 'abc' is not an amount' and how to go on."""
    return f"{kind} {key}: {error}. Correct it there; it is read again when it changes, or on Retry."


def plain(value) -> str:
    """A value as text that can be stored: a lone surrogate is written as its escape."""
    text = str(value)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _SURROGATE.search(text) else text
