"""Read-only OData 4.0 over the simulator's tables, as docs/syspro-contract.md assumes it.

`$filter` accepts exactly the contract's grammar (eq ne ge gt le lt, and/or, parentheses,
'quoted strings' with '' escaping, numbers, unquoted dates) through a small tokenizer and
recursive-descent parser; anything else is a 400, as a strict server would answer.

Sites expose different columns: a simulator given `odata_drop` (e.g. `ApSupplier.Email`) serves a
site without them, everywhere a real one would show it: $metadata does not list them, rows do not
carry them, and $select, $filter or $orderby naming one is a 400.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from desktop_app.sandbox.syspro_state import SysproState
from desktop_app.sandbox.syspro_tables import DATE, DEC, INT, STR, TABLES, Table, table_rows

EDM = {STR: "Edm.String", DEC: "Edm.Decimal", INT: "Edm.Int32", DATE: "Edm.Date"}
OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,  # type: ignore[operator]
    "ge": lambda a, b: a >= b,  # type: ignore[operator]
    "lt": lambda a, b: a < b,  # type: ignore[operator]
    "le": lambda a, b: a <= b,  # type: ignore[operator]
}
OPERATOR_KIND = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
                 "lt": "LessThan", "le": "LessThanOrEqual"}
SUPPORTED_OPTIONS = {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$format"}
_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<string>'(?:[^']|'')*')|(?P<date>\d{4}-\d{2}-\d{2})(?![\w.:-])"
    r"|(?P<number>-?\d+(?:\.\d+)?)(?![\w.:-])|(?P<word>[A-Za-z_]\w*))"
)


Hidden = Mapping[str, frozenset[str]]  # entity set → the columns this site does not expose


def parse_drop_spec(spec: str | None) -> dict[str, frozenset[str]]:
    """`"ApSupplier.Email,ApInvoice.Notation"` → `{"ApSupplier": {"Email"}, "ApInvoice": {"Notation"}}`."""
    hidden: dict[str, set[str]] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        entity, _, column = part.partition(".")
        table = TABLES.get(entity)
        if table is None or column not in table.columns:
            raise ValueError(f"odata_drop {part!r}: expected ENTITY.COLUMN of the simulator's tables "
                             f"(entity sets: {', '.join(TABLES)})")
        hidden.setdefault(entity, set()).add(column)
    for entity, columns in hidden.items():
        if set(TABLES[entity].key) <= columns:
            raise ValueError(f"odata_drop: {entity} needs at least one of its key columns")
    return {entity: frozenset(columns) for entity, columns in hidden.items()}


def site_table(table: Table, hidden: Hidden | None) -> Table:
    """The table as this site's OData shows it: without the columns it does not expose."""
    gone = (hidden or {}).get(table.name)
    if not gone:
        return table
    return replace(table, key=tuple(k for k in table.key if k not in gone),
                   columns={c: t for c, t in table.columns.items() if c not in gone})


class ODataError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- JSON ------------------------------------------------------------------------------------


def to_json(value: object) -> str:
    """json.dumps that writes Decimal as an exact JSON number and dates as YYYY-MM-DD."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = to_json({"error": {"code": "", "message": message}})
    return Response(body, status=status, headers=headers, content_type="application/json; charset=utf-8")


# -- $filter ---------------------------------------------------------------------------------


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ODataError(400, f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def parse_filter(text: str, table: Table) -> Callable[[dict], bool]:
    tokens = _tokenize(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise ODataError(400, f"Unexpected end of $filter expression '{text}'.")
        pos += 1
        return tokens[pos - 1]

    def disjunction() -> Callable[[dict], bool]:
        parts = [conjunction()]
        while peek() == ("word", "or"):
            take()
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def conjunction() -> Callable[[dict], bool]:
        parts = [primary()]
        while peek() == ("word", "and"):
            take()
            parts.append(primary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def primary() -> Callable[[dict], bool]:
        kind, value = take()
        if (kind, value) == ("paren", "("):
            inner = disjunction()
            if take() != ("paren", ")"):
                raise ODataError(400, f"')' expected in $filter expression '{text}'.")
            return inner
        if kind != "word" or value in OPERATORS or value in ("and", "or"):
            raise ODataError(400, f"Syntax error near '{value}' in $filter expression '{text}'.")
        return comparison(value)

    def comparison(prop: str) -> Callable[[dict], bool]:
        if prop not in table.columns:
            raise ODataError(400, f"Could not find a property named '{prop}' on type 'SYSPRO.{table.name}'.")
        kind, op = take()
        if kind != "word" or op not in OPERATORS:
            raise ODataError(400, f"Unsupported operator '{op}' in $filter expression '{text}'.")
        literal_kind, raw = take()
        column_type = table.columns[prop]
        literal: object
        if literal_kind == "string" and column_type == STR:
            literal = raw[1:-1].replace("''", "'")
        elif literal_kind == "number" and column_type in (DEC, INT):
            literal = Decimal(raw)
        elif literal_kind == "date" and column_type == DATE:
            try:
                literal = date.fromisoformat(raw)
            except ValueError:
                raise ODataError(400, f"'{raw}' is not a valid Edm.Date literal.") from None
        else:
            found = {"string": "Edm.String", "number": "Edm.Decimal", "date": "Edm.Date"}.get(literal_kind)
            if found is None:
                raise ODataError(400, f"Syntax error near '{raw}' in $filter expression '{text}'.")
            raise ODataError(
                400,
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{EDM[column_type]}' and '{found}' for operator kind '{OPERATOR_KIND[op]}'.",
            )
        compare = OPERATORS[op]

        def test(row: dict) -> bool:
            cell = row[prop]
            if cell is None:
                return op == "ne"
            return compare(cell, literal)

        return test

    if not tokens:
        raise ODataError(400, "The $filter expression is empty.")
    predicate = disjunction()
    if pos != len(tokens):
        raise ODataError(400, f"Syntax error near '{tokens[pos][1]}' in $filter expression '{text}'.")
    return predicate


# -- request handling ------------------------------------------------------------------------


def authorized(state: SysproState, request: Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    with state.lock:
        return bool(sep) and user in state.operators and state.operators[user] == password


def handle(state: SysproState, request: Request, odata_url: str, rest: str, page_size: int,
           hidden: Hidden | None = None, *, repeat_next_link: bool = False) -> Response:
    """`rest` is the path below the OData root, e.g. `EDU1/ApInvoice`; `hidden` the columns this
    site does not expose; `repeat_next_link` (fault) makes every next link point at the page it is on."""
    if not authorized(state, request):
        return error_response(401, "Authorization has been denied for this request.",
                              {"WWW-Authenticate": 'Basic realm="SYSPRO OData"'})
    company, _, entity = rest.strip("/").partition("/")
    if company.upper() != state.company_id.upper():
        return error_response(404, f"Company '{company}' not found.")
    base = f"{odata_url}/{company}"
    if entity == "$metadata":
        return Response(metadata(hidden), content_type="application/xml; charset=utf-8",
                        headers={"OData-Version": "4.0"})
    if entity == "":
        sets = [{"name": n, "kind": "EntitySet", "url": n} for n in TABLES]
        return _json({"@odata.context": f"{base}/$metadata", "value": sets})
    table = TABLES.get(entity)
    if table is None:
        return error_response(404, f"Resource not found for the segment '{entity}'.")
    table = site_table(table, hidden)
    try:
        return _json(query(state, table, request.args, f"{base}/{entity}", f"{base}/$metadata", page_size,
                           repeat_next_link=repeat_next_link))
    except ODataError as exc:
        return error_response(exc.status, exc.message)


def _json(payload: dict) -> Response:
    return Response(to_json(payload), content_type="application/json; odata.metadata=minimal; charset=utf-8",
                    headers={"OData-Version": "4.0"})


def _non_negative(args, name: str) -> int | None:
    raw = args.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise ODataError(400, f"Invalid value '{raw}' for {name}: a non-negative integer is required.")
    return int(raw)


def query(state: SysproState, table: Table, args, url: str, metadata_url: str, page_size: int, *,
          repeat_next_link: bool = False) -> dict:
    unsupported = [k for k in args if k.startswith("$") and k not in SUPPORTED_OPTIONS]
    if unsupported:
        raise ODataError(400, f"The query parameter '{unsupported[0]}' is not supported.")
    rows = table_rows(state, table.name)
    if args.get("$filter") is not None:
        predicate = parse_filter(args["$filter"], table)
        rows = [r for r in rows if predicate(r)]
    for prop, descending in reversed(_order_by(args.get("$orderby"), table)):
        rows.sort(key=lambda r, p=prop: (r[p] is not None, r[p]), reverse=descending)
    select = _select(args.get("$select"), table)
    count = args.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise ODataError(400, f"Invalid value '{args['$count']}' for $count.")
    top, skip = _non_negative(args, "$top"), _non_negative(args, "$skip") or 0
    end = len(rows) if top is None else min(len(rows), skip + top)
    page_end = min(end, skip + page_size)
    page = rows[skip:page_end]

    context = f"{metadata_url}#{table.name}" + (f"({','.join(select)})" if select != list(table.columns) else "")
    payload: dict = {"@odata.context": context}
    if count == "true":
        payload["@odata.count"] = len(rows)
    payload["value"] = [{c: row[c] for c in select} for row in page]
    if page_end < end:
        params = {k: v for k, v in args.items() if k not in ("$skip", "$top")}
        params["$skip"] = str(skip if repeat_next_link else page_end)
        if top is not None:
            params["$top"] = str(end - (skip if repeat_next_link else page_end))
        payload["@odata.nextLink"] = f"{url}?{urlencode(params)}"
    return payload


def _order_by(raw: str | None, table: Table) -> list[tuple[str, bool]]:
    if raw is None:
        return []
    result = []
    for part in raw.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(400, f"Invalid $orderby clause '{part.strip()}'.")
        if words[0] not in table.columns:
            raise ODataError(400, f"Could not find a property named '{words[0]}' on type 'SYSPRO.{table.name}'.")
        result.append((words[0], len(words) == 2 and words[1] == "desc"))
    return result


def _select(raw: str | None, table: Table) -> list[str]:
    if raw is None or raw.strip() in ("", "*"):
        return list(table.columns)
    names = [n.strip() for n in raw.split(",")]
    for name in names:
        if name not in table.columns:
            raise ODataError(400, f"Could not find a property named '{name}' on type 'SYSPRO.{table.name}'.")
    return names


def metadata(hidden: Hidden | None = None) -> str:
    """The service's CSDL (OData 4.0 XML): one EntityType per table, key properties not nullable,
    decimals with a variable scale (money and quantities keep their digits), one EntitySet each."""
    types, sets = [], []
    for table in (site_table(t, hidden) for t in TABLES.values()):
        keys = "".join(f'<PropertyRef Name="{k}"/>' for k in table.key)
        props = "".join(
            f'<Property Name="{c}" Type="{EDM[t]}"' + (' Nullable="false"' if c in table.key else "")
            + (' Scale="variable"' if t == DEC else "") + "/>"
            for c, t in table.columns.items()
        )
        types.append(f'<EntityType Name="{table.name}"><Key>{keys}</Key>{props}</EntityType>')
        sets.append(f'<EntitySet Name="{table.name}" EntityType="SYSPRO.{table.name}"/>')
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
        '<Schema Namespace="SYSPRO" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + "".join(types)
        + '<EntityContainer Name="SYSPROContainer">' + "".join(sets) + "</EntityContainer>"
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )
