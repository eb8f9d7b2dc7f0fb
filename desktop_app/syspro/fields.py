"""Field rules applied before anything is sent to SYSPRO, each failure naming the field.

Amounts reach us already rounded by the engine, so more precision than SYSPRO stores is a bug
upstream: we refuse it rather than round silently. Text is escaped by lxml, never by hand.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from desktop_app.syspro.contract import MAX_LENGTH
from desktop_app.syspro.errors import ValidationError

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TWELVE_DIGITS = Decimal(10) ** 12


def text(field: str, value: str | None, *, limit: str | int | None = None, required: bool = False) -> str:
    """Trimmed text, checked against a maximum length (a MAX_LENGTH key or a number)."""
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ValidationError(field, "a value is required")
    max_len = MAX_LENGTH[limit] if isinstance(limit, str) else limit
    if max_len is not None and len(value) > max_len:
        raise ValidationError(field, f"{value!r} is {len(value)} characters long; SYSPRO allows at most {max_len}")
    return value


def date_text(field: str, value: dt.date | str | None, *, required: bool = False) -> str:
    """A date in SYSPRO's CCYY-MM-DD form."""
    if value is None or value == "":
        if required:
            raise ValidationError(field, "a date is required")
        return ""
    if isinstance(value, dt.datetime):
        raise ValidationError(field, f"expected a date, got a date and time ({value.isoformat()})")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValidationError(field, f"{value!r} is not a date in the form CCYY-MM-DD")


def _decimal(field: str, value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ValidationError(field, f"{value!r} must be a Decimal amount, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValidationError(field, f"{value} is not a number")
    return value


def _fixed(field: str, value, places: int, what: str) -> str:
    value = _decimal(field, value)
    quantum = Decimal(1).scaleb(-places)
    try:
        exact = value == value.quantize(quantum)
    except InvalidOperation:
        exact = False
    if not exact:
        raise ValidationError(field, f"{value} has more than {places} decimal places; SYSPRO {what} "
                                     f"take at most {places}")
    if abs(value) >= _TWELVE_DIGITS:
        raise ValidationError(field, f"{value} is too large for SYSPRO (at most 12 digits before the point)")
    return format(value.quantize(quantum), "f")


def amount_text(field: str, value) -> str:
    """Money: exactly 2 decimal places, e.g. '1150.00'."""
    return _fixed(field, value, 2, "amounts")


def price_text(field: str, value) -> str:
    """Unit prices: up to 5 decimal places (PORTOI '10 integer, 5 decimal')."""
    return _fixed(field, value, 5, "prices")


def quantity_text(field: str, value) -> str:
    """Quantities: up to 6 decimal places, written without padding ('-5', '2.5')."""
    value = _decimal(field, value)
    _fixed(field, value, 6, "quantities")
    return format(value, "f")


def yes_no(value: bool) -> str:
    return "Y" if value else "N"


def choice(field: str, value: str, allowed: str) -> str:
    if not isinstance(value, str) or len(value) != 1 or value not in allowed:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def tax_code(field: str, value: str | None) -> str:
    value = (value or "").strip()
    if value and not re.fullmatch(r"[A-Z]", value):
        raise ValidationError(field, f"{value!r} is not a SYSPRO tax code (one letter A-Z)")
    return value


# --- building documents -------------------------------------------------------------------------

def root(tag: str, schema: str | None = None) -> etree._Element:
    """The root of a business-object document, with the schema hint the real samples carry."""
    if schema is None:
        return etree.Element(tag)
    element = etree.Element(tag, nsmap={"xsd": XSI})
    element.set(f"{{{XSI}}}noNamespaceSchemaLocation", schema)
    return element


def add(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
    """Append <tag>value</tag>; the value is escaped by lxml."""
    child = etree.SubElement(parent, tag)
    if value:
        try:
            child.text = value
        except ValueError:
            raise ValidationError(tag, "contains control characters that XML cannot carry") from None
    return child


def serialize(element: etree._Element) -> str:
    """The document as text, without an XML declaration (as in recorded e.net traffic)."""
    return etree.tostring(element, encoding="unicode")
