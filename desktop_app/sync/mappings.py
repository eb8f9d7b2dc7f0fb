"""Mapping tables: CSV import/export, row validation shared with the GUI grids, suggestions.

Import is all or nothing: every row is checked first (unknown or missing columns, blanks, bad
numbers, duplicates, codes longer than SYSPRO allows) and either every row is applied in one
transaction or none is, with each bad row listed by its line number in the file. An item row is
known by its SKU id and by its SKU code: neither may repeat in a file, and a row may not take a code
another SKU id's mapping holds, or drop the id of the mapping its code belongs to.

Exports guard their cells against spreadsheet formulas and the import removes that guard again
(`core.csv_safe`), so an exported file imports back unchanged.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import peewee as pw

from desktop_app.core import csv_safe
from desktop_app.core.db import BranchMapping, GlMapping, ItemMapping, VendorMapping, WarehouseMapping, database, utcnow
from desktop_app.core.errors import ConfigError
from desktop_app.sync.build import Mappings

SYSPRO_MAX = {"supplier": 15, "stock_code": 30, "gl_code": 35, "branch": 10, "warehouse": 10}


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    kind: str  # int | text | supplier | stock_code | gl_code | branch | warehouse
    help: str


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[pw.Model]
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # columns that identify a row

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]


KINDS: dict[str, Kind] = {
    "vendors": Kind("vendors", VendorMapping, (
        Column("st_vendor_id", True, "int", "ServiceTitan vendor id"),
        Column("st_vendor_name", False, "text", "ServiceTitan vendor name (for reading only)"),
        Column("syspro_supplier", True, "supplier", "SYSPRO supplier code"),
    ), ("st_vendor_id",)),
    "items": Kind("items", ItemMapping, (
        Column("st_sku_id", False, "int", "ServiceTitan SKU id (or give the SKU code)"),
        Column("st_sku_code", False, "text", "ServiceTitan SKU code (or give the SKU id)"),
        Column("syspro_stock_code", True, "stock_code", "SYSPRO stock code"),
        Column("syspro_supplier", False, "supplier", "SYSPRO supplier that overrides the SKU's vendor"),
    ), ("st_sku_id", "st_sku_code")),
    "gl": Kind("gl", GlMapping, (
        Column("st_gl_account", True, "text", "ServiceTitan GL account number"),
        Column("st_business_unit_id", False, "int", "only for this business unit (blank: all)"),
        Column("syspro_gl_code", True, "gl_code",
               "SYSPRO ledger code; {segment} is replaced by the branch's GL segment"),
    ), ("st_gl_account", "st_business_unit_id")),
    "branches": Kind("branches", BranchMapping, (
        Column("st_business_unit_id", True, "int", "ServiceTitan business unit id"),
        Column("st_business_unit_name", False, "text", "business unit name (for reading only)"),
        Column("syspro_branch", True, "branch", "SYSPRO AP branch"),
        Column("gl_segment", False, "text", "GL segment for this branch (optional)"),
    ), ("st_business_unit_id",)),
    "warehouses": Kind("warehouses", WarehouseMapping, (
        Column("st_location_id", True, "int", "ServiceTitan warehouse or truck id"),
        Column("st_location_name", False, "text", "location name (for reading only)"),
        Column("syspro_warehouse", True, "warehouse", "SYSPRO warehouse"),
    ), ("st_location_id",)),
}


class MappingImportError(ConfigError):
    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.problems = problems
        listing = "\n".join(f"  line {line}: {message}" for line, message in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{path}: nothing was imported; {len(problems)} problem(s):\n{listing}{more}")


def kind_for(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"Unknown mapping kind {name!r}; choose from {', '.join(KINDS)}") from None


def validate_row(kind: Kind, row: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """Clean one row; returns (values, {column: problem}). Used by import and by the grids."""
    values: dict = {}
    problems: dict[str, str] = {}
    for column in kind.columns:
        raw = (row.get(column.name) or "").strip()
        if not raw:
            if column.required:
                problems[column.name] = f"{column.name} is blank ({column.help})"
            values[column.name] = None if column.kind == "int" else ""
            continue
        if column.kind == "int":
            if not re.fullmatch(r"\d{1,18}", raw):
                problems[column.name] = f"{column.name} must be a whole number, not {raw!r}"
                continue
            values[column.name] = int(raw)
        else:
            limit = SYSPRO_MAX.get(column.kind)
            if limit and len(raw) > limit:
                problems[column.name] = (f"{column.name} {raw!r} is {len(raw)} characters; "
                                         f"SYSPRO allows at most {limit}")
            values[column.name] = raw
    if kind.name == "items" and not problems and values["st_sku_id"] is None and not values["st_sku_code"]:
        problems["st_sku_id"] = "give st_sku_id or st_sku_code"
    return values, problems


def _row_keys(kind: Kind, values: dict) -> list[tuple]:
    """What no two rows of one file may share. An item row is known by its SKU id and by its SKU
    code, each on its own: two rows with one code and different ids would fight over that code."""
    if kind.name == "items":
        keys = []
        if values["st_sku_id"] is not None:
            keys.append(("st_sku_id", values["st_sku_id"]))
        if values["st_sku_code"]:
            keys.append(("st_sku_code", values["st_sku_code"]))
        return keys
    return [tuple(values[name] for name in kind.key)]


def _item_conflicts(lines: list[tuple[int, dict]]) -> list[tuple[int, str]]:
    """Rows that would undo or collide with an item mapping already saved.

    A row with only a SKU code whose code is mapped together with a SKU id would, saved by its
    code, wipe that id (the mapping would stop matching invoices by id); a row whose code is
    already mapped for another SKU id cannot be saved beside it (a code belongs to one SKU).
    """
    problems = []
    for line, values in lines:
        code, sku_id = values["st_sku_code"], values["st_sku_id"]
        if not code:
            continue
        holder = ItemMapping.get_or_none(ItemMapping.st_sku_code == code)
        if holder is None or holder.st_sku_id == sku_id:
            continue
        if holder.st_sku_id is None:
            if sku_id is not None and ItemMapping.select().where(ItemMapping.st_sku_id == sku_id).exists():
                problems.append((line, f"SKU code {code!r} has a mapping of its own (without a SKU id) and SKU id "
                                       f"{sku_id} has another; delete one of the two first"))
            continue
        if sku_id is None:
            problems.append((line, f"SKU code {code!r} is mapped for SKU id {holder.st_sku_id}; give st_sku_id "
                                   f"{holder.st_sku_id} on this line too (without it the import would remove "
                                   "the SKU id from that mapping)"))
        else:
            problems.append((line, f"SKU code {code!r} is already mapped for SKU id {holder.st_sku_id}, not "
                                   f"{sku_id}; correct the code or the id, or change that mapping first"))
    return problems


def parse_csv(kind: Kind, text: str, source: str = "CSV") -> list[dict]:
    """The file's rows, cleaned; MappingImportError lists every bad line (nothing is imported)."""
    return [values for _line, values in _parse_lines(kind, text, source)]


def _parse_lines(kind: Kind, text: str, source: str) -> list[tuple[int, dict]]:
    problems: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise MappingImportError(
            source, [(1, "the file is empty; expected a header line: " + ",".join(kind.header))]) from None
    except csv.Error as exc:
        raise MappingImportError(source, [(1, f"not a readable CSV file ({exc})")]) from None
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in kind.header]
    absent = [column.name for column in kind.columns if column.required and column.name not in header]
    if kind.name == "items" and "st_sku_id" not in header and "st_sku_code" not in header:
        absent.append("st_sku_id or st_sku_code")
    if unknown or absent:
        parts = []
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        if absent:
            parts.append(f"missing column(s) {', '.join(absent)}")
        raise MappingImportError(source, [(1, "; ".join(parts) + f". Expected: {','.join(kind.header)}")])
    rows: list[tuple[int, dict]] = []
    seen: dict[tuple, int] = {}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            fields = [csv_safe.unguard(field) for field in fields]
            if len(fields) != len(header):
                problems.append((line, f"has {len(fields)} fields, the header has {len(header)}"))
                continue
            values, row_problems = validate_row(kind, dict(zip(header, fields, strict=True)))
            for message in row_problems.values():
                problems.append((line, message))
            if row_problems:
                continue
            duplicate = False
            for key in _row_keys(kind, values):
                if key in seen:
                    problems.append((line, f"duplicate of line {seen[key]} "
                                           f"({', '.join(str(k) for k in key if k is not None)})"))
                    duplicate = True
                else:
                    seen[key] = line
            if not duplicate:
                rows.append((line, values))
    except csv.Error as exc:
        problems.append((reader.line_num, f"not readable as CSV ({exc})"))
    if problems:
        raise MappingImportError(source, problems)
    return rows


def save_row(kind: Kind, values: dict, *, actor: str) -> pw.Model:
    """Insert or update one mapping row by its key."""
    model = kind.model
    if kind.name == "items":
        query = (model.st_sku_id == values["st_sku_id"]) if values["st_sku_id"] is not None \
            else (model.st_sku_code == values["st_sku_code"])
        if values["st_sku_id"] is not None and values["st_sku_code"] and model.get_or_none(query) is None:
            # a mapping kept by code alone gains its SKU id rather than a twin that repeats the code
            query = (model.st_sku_code == values["st_sku_code"]) & model.st_sku_id.is_null()
    elif kind.name == "gl":
        bu = values["st_business_unit_id"]
        query = (model.st_gl_account == values["st_gl_account"]) & (
            model.st_business_unit_id.is_null() if bu is None else model.st_business_unit_id == bu)
    else:
        name = kind.key[0]
        query = getattr(model, name) == values[name]
    existing = model.get_or_none(query)
    if existing is None:
        return model.create(**values, changed_by=actor, changed_at=utcnow())
    for name, value in values.items():
        setattr(existing, name, value)
    existing.changed_by = actor
    existing.changed_at = utcnow()
    existing.save()
    return existing


def import_csv(kind_name: str, path: str | Path, *, actor: str = "user") -> int:
    kind = kind_for(kind_name)
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise MappingImportError(
            str(path), [(text_line(path, exc.start), "is not UTF-8 text (save the CSV as UTF-8)")]) from None
    lines = _parse_lines(kind, text, str(path))
    with database.atomic():
        if kind.name == "items":
            conflicts = _item_conflicts(lines)
            if conflicts:
                raise MappingImportError(str(path), conflicts)
        for _line, values in lines:
            save_row(kind, values, actor=actor)
    return len(lines)


def text_line(path: Path, offset: int) -> int:
    return path.read_bytes()[:offset].count(b"\n") + 1


def export_rows(kind_name: str) -> tuple[list[str], list[list[str]]]:
    kind = kind_for(kind_name)
    rows = []
    for record in kind.model.select().order_by(kind.model.id):
        rows.append(["" if getattr(record, name) is None else str(getattr(record, name)) for name in kind.header])
    return kind.header, rows


def export_csv(kind_name: str, path: str | Path) -> int:
    header, rows = export_rows(kind_name)
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv_safe.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def load_mappings() -> Mappings:
    snapshot = Mappings()
    for row in VendorMapping.select():
        snapshot.vendors[row.st_vendor_id] = row.syspro_supplier
    for row in ItemMapping.select():
        value = (row.syspro_stock_code, row.syspro_supplier or "")
        if row.st_sku_id is not None:
            snapshot.items_by_id[row.st_sku_id] = value
        if row.st_sku_code:
            snapshot.items_by_code[row.st_sku_code] = value
    for row in GlMapping.select():
        snapshot.gl[(row.st_gl_account, row.st_business_unit_id)] = row.syspro_gl_code
    for row in BranchMapping.select():
        snapshot.branches[row.st_business_unit_id] = (row.syspro_branch, row.gl_segment or "")
    return snapshot


def normalise(name: str) -> str:
    """Compare names the way a person would: accents, case, punctuation and company suffixes ignored."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    words = [w for w in text.split() if w not in {"inc", "llc", "ltd", "co", "corp", "company", "the", "and"}]
    return " ".join(words)


def suggest(st_records: list[tuple[int, str, str]], syspro_records: list[tuple[str, str]],
            already: set[int]) -> list[dict]:
    """Proposals (never applied): same code first, then same normalised name.

    st_records: (id, code, name); syspro_records: (code, name); `already` ST ids that have a mapping.
    """
    by_code = {code.upper(): code for code, _ in syspro_records}
    by_name: dict[str, list[str]] = {}
    for code, name in syspro_records:
        by_name.setdefault(normalise(name), []).append(code)
    proposals = []
    for st_id, code, name in st_records:
        if st_id in already:
            continue
        if code and code.upper() in by_code:
            proposals.append({"st_id": st_id, "st_code": code, "st_name": name,
                              "syspro_code": by_code[code.upper()], "reason": "same code"})
            continue
        matches = by_name.get(normalise(name), []) if normalise(name) else []
        if len(matches) == 1:
            proposals.append({"st_id": st_id, "st_code": code, "st_name": name,
                              "syspro_code": matches[0], "reason": "same name"})
    return proposals


def blocked_counts(kind_name: str) -> dict[str, dict]:
    """For each missing mapping of a kind: how many held documents it blocks, and its label."""
    from desktop_app.core.db import ApDocument

    result: dict[str, dict] = {}
    for (missing,) in ApDocument.select(ApDocument.missing).where(ApDocument.state == "NEEDS_MAPPING").tuples():
        for entry in missing or []:
            if entry.get("kind") != kind_name:
                continue
            key = str(entry.get("key"))
            slot = result.setdefault(key, {"key": entry.get("key"), "label": entry.get("label", ""),
                                           "reason": entry.get("reason", ""), "blocked": 0,
                                           "business_unit_id": entry.get("business_unit_id")})
            slot["blocked"] += 1
    return result
