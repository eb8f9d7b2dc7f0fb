"""Query-string handling shared by the simulator's list routes and export feeds.

List routes page by number (`page` from 1, `pageSize` default 50) and filter by `ids` (at most
50), `active` (True by default, Any, False) and created/modified windows; unknown parameters are
ignored like the live API does. Export feeds hand out records ordered by (modifiedOn, id) after
the position carried by the `from` token, or from a date when `from` is a date; records changed in
the last `export_delay` seconds (fault `st.export_delay`) wait, as ServiceTitan documents.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from werkzeug.datastructures import MultiDict

from desktop_app.sandbox.st_wire import decode_cursor, encode_cursor, parse_utc

T = TypeVar("T")
MAX_IDS = 50
MAX_PAGE_SIZE = 5000
_BEGINNING = (datetime(1970, 1, 1), -1)


class QueryInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("One or more validation errors occurred.")
        self.errors = errors


def parse_int(args: MultiDict, name: str, default: int | None = None) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryInvalid({name: [f"The value '{raw}' is not valid."]}) from None


def parse_bool(args: MultiDict, name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise QueryInvalid({name: [f"The value '{args.get(name)}' is not valid."]})


def parse_moment(args: MultiDict, name: str) -> datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return parse_utc(raw)
    except ValueError:
        raise QueryInvalid({name: [f"The value '{raw}' is not valid."]}) from None


def parse_ids(args: MultiDict, name: str = "ids") -> set[int] | None:
    """`ids=1,2,3` or repeated `ids=1&ids=2`; more than 50 is a 400 as on the live API."""
    parts = [part.strip() for raw in args.getlist(name) for part in raw.split(",") if part.strip()]
    if not parts:
        return None
    if len(parts) > MAX_IDS:
        return _too_many(name)
    try:
        return {int(part) for part in parts}
    except ValueError:
        raise QueryInvalid({name: [f"The value '{args.get(name)}' is not valid."]}) from None


def _too_many(name: str):
    raise QueryInvalid({_capital(name): [f"Simple IDs lookup should not contain more than {MAX_IDS} elements."]})


def _capital(name: str) -> str:
    return name[:1].upper() + name[1:]


def active_filter(args: MultiDict) -> Callable[[dict], bool]:
    raw = (args.get("active") or "True").strip().lower()
    if raw == "true":
        return lambda record: bool(record.get("active", True))
    if raw == "false":
        return lambda record: not record.get("active", True)
    if raw == "any":
        return lambda record: True
    raise QueryInvalid({"active": [f"The value '{args.get('active')}' is not valid. Use True, Any or False."]})


def active_state_filter(args: MultiDict) -> Callable[[dict], bool]:
    """Invoices: `activeState` ActiveOnly (default) | InactiveOnly | All."""
    raw = (args.get("activeState") or "ActiveOnly").strip().lower()
    if raw == "activeonly":
        return lambda record: bool(record.get("active", True))
    if raw == "inactiveonly":
        return lambda record: not record.get("active", True)
    if raw == "all":
        return lambda record: True
    raise QueryInvalid({"activeState": [f"The value '{args.get('activeState')}' is not valid."]})


def common_filters(args: MultiDict, *, active: str | None = "active") -> list[Callable[[dict], bool]]:
    filters: list[Callable[[dict], bool]] = []
    ids = parse_ids(args)
    if ids is not None:
        filters.append(lambda r: r["id"] in ids)
    if active == "active":
        filters.append(active_filter(args))
    elif active == "activeState":
        filters.append(active_state_filter(args))
    for name, field, inclusive_low in (
        ("modifiedOnOrAfter", "modifiedOn", True), ("modifiedBefore", "modifiedOn", False),
        ("createdOnOrAfter", "createdOn", True), ("createdBefore", "createdOn", False),
    ):
        moment = parse_moment(args, name)
        if moment is None:
            continue
        if inclusive_low:
            filters.append(lambda r, f=field, m=moment: r[f] >= m)
        else:
            filters.append(lambda r, f=field, m=moment: r[f] < m)
    return filters


_SORT_FIELDS = {"id": "id", "modifiedon": "modifiedOn", "createdon": "createdOn", "name": "name"}


def list_page(
    records: Iterable[dict],
    args: MultiDict,
    render: Callable[[dict], dict],
    *,
    active: str | None = "active",
    extra: Iterable[Callable[[dict], bool]] = (),
) -> dict:
    filters = common_filters(args, active=active) + list(extra)
    rows = [record for record in records if all(check(record) for check in filters)]
    sort = (args.get("sort") or "+Id").strip()
    descending = sort.startswith("-")
    field = _SORT_FIELDS.get(sort.lstrip("+- ").lower())
    if field is None:
        raise QueryInvalid({"sort": [f"Sorting by '{sort}' is not supported."]})
    rows.sort(key=lambda record: (record.get(field) is None, record.get(field), record["id"]), reverse=descending)
    page = parse_int(args, "page", 1)
    size = parse_int(args, "pageSize", 50)
    if page < 1 or size < 1:
        raise QueryInvalid({"page" if page < 1 else "pageSize": ["The value must be greater than 0."]})
    size = min(size, MAX_PAGE_SIZE)
    start = (page - 1) * size
    chunk = rows[start:start + size]
    return {
        "page": page,
        "pageSize": size,
        "hasMore": start + size < len(rows),
        "totalCount": len(rows) if parse_bool(args, "includeTotal") else None,
        "data": [render(record) for record in chunk],
    }


def sort_feed(
    entries: Iterable[T],
    key: Callable[[T], tuple[datetime, int]] = lambda r: (r["modifiedOn"], r["id"]),
) -> tuple[list[tuple[datetime, int]], list[T]]:
    """A feed's records in (modifiedOn, id) order, as parallel key and record lists."""
    keyed = sorted(((key(entry), entry) for entry in entries), key=lambda pair: pair[0])
    return [pair[0] for pair in keyed], [pair[1] for pair in keyed]


def export_page(
    feed: tuple[list[tuple[datetime, int]], list[T]],
    args: MultiDict,
    render: Callable[[T], dict],
    *,
    batch_size: int,
    settled_until: datetime | None = None,
) -> dict:
    """One call of an export feed: up to `batch_size` records after the `from` position.

    `settled_until` models the documented export latency: records modified after it are not in the
    feed yet, unless `includeRecentChanges=true`; then they are, but the last page's token stays
    before them, so the next call hands them out again (the documented "same results may appear
    multiple times on consecutive requests")."""
    keys, records = feed
    include_recent = parse_bool(args, "includeRecentChanges")
    raw = (args.get("from") or "").strip()
    if not raw:
        cursor = _BEGINNING
    else:
        cursor = decode_cursor(raw)
        if cursor is None:
            try:
                # A date (or date-time) means "modified on or after".
                cursor = (parse_utc(raw) - timedelta(microseconds=1), 2**63)
            except ValueError:
                raise QueryInvalid({"from": [f"'{raw}' is neither a continuation token nor a date."]}) from None
    start = bisect.bisect_right(keys, cursor)
    settled = len(records) if settled_until is None else bisect.bisect_right(keys, (settled_until, 2**63))
    visible = len(records) if include_recent else settled
    chunk = records[start:max(start, min(start + batch_size, visible))]
    last = keys[start + len(chunk) - 1] if chunk else cursor
    has_more = start + batch_size < visible
    if not has_more and start + len(chunk) > settled:
        # A token on a middle page must move on, or a client would be handed the same page forever.
        last = max(cursor, keys[settled - 1]) if settled else cursor
    return {
        "hasMore": has_more,
        "continueFrom": encode_cursor(*last),
        "data": [render(entry) for entry in chunk],
    }
