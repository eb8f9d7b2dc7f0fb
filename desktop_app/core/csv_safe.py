"""CSV cells a spreadsheet opens as text, never as a formula (OWASP's CSV-injection rule).

Every CSV file the connector writes goes through `writer`/`guard`; the mapping import reads its
cells back through `unguard`, so an export followed by an import gives back exactly what was
exported.

The rule:
- A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a single
  quote in front (`'=1+2`): Excel, LibreOffice and Google Sheets show the rest as text.
- A cell that already starts with a single quote gets one more (`'abc` is written `''abc`), so the
  import can tell a guard from a quote that belongs to the value.
- A cell that is a plain number (`-12.50`, `+3`, `0.5`) is left as it is: a negative amount or
  quantity stays a number the spreadsheet can add up, and a number cannot start a formula.
- Reading back, one leading quote is dropped when what follows it starts with one of those
  characters or with another quote, which is exactly what the writer added; a quote before
  anything else (`'abc` typed by a person) is kept.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

QUOTE = "'"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def guard(value: Any) -> str:
    """The text to write for one cell (None is an empty cell)."""
    text = "" if value is None else str(value)
    if not text or PLAIN_NUMBER.fullmatch(text):
        return text
    if text.startswith(TRIGGERS) or text.startswith(QUOTE):
        return QUOTE + text
    return text


def unguard(text: str) -> str:
    """The value a cell written by `guard` stood for."""
    if text.startswith(QUOTE) and text[1:].startswith(TRIGGERS + (QUOTE,)):
        return text[1:]
    return text


def guard_row(values: Iterable[Any]) -> list[str]:
    return [guard(value) for value in values]


class GuardedWriter:
    """`csv.writer` whose every cell goes through `guard`."""

    def __init__(self, fh, **kwargs):
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow(guard_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(fh, **kwargs) -> GuardedWriter:
    return GuardedWriter(fh, **kwargs)


def write_dicts(fh, columns: list[str], rows: Iterable[dict]) -> None:
    """A header line, then each row's values for `columns` (a missing key is an empty cell)."""
    out = writer(fh)
    out.writerow(columns)
    for row in rows:
        out.writerow(row.get(column) for column in columns)
