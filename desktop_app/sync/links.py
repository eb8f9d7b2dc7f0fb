"""Link-table helpers shared by the two-way flows: finding links, comparing versions, policy.

A version of a record is compared as a *view*: a small dict of the fields both systems hold, in
the form both can store (Windows-1252 text cut to SYSPRO's lengths). Comparing views rather than
raw records is what keeps a field that one side cannot hold from looking like a change forever.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from desktop_app.core.db import SyncLink
from desktop_app.syspro import queries

# Used to scope our externalData on ServiceTitan records when servicetitan.application_guid is
# blank. Fixed, so that every install finds what an earlier run wrote.
DEFAULT_APPLICATION_GUID = "5b1e3c0a-6d2f-4c8e-9a57-31c0ffee8d42"


def application_guid(settings) -> str:
    return (settings.get("servicetitan.application_guid") or "").strip() or DEFAULT_APPLICATION_GUID


def clean(value, limit: int | None = None) -> str:
    """Text as a SYSPRO Windows-1252 column keeps it: other characters become '?', cut to `limit`."""
    text = "" if value is None else str(value).strip()
    text = text.encode("cp1252", "replace").decode("cp1252")
    return text[:limit].rstrip() if limit else text


def number(value) -> str:
    """A quantity or price in a canonical text form (Decimal('5.000') == Decimal('5'))."""
    if value is None or value == "":
        return "0"
    normal = Decimal(str(value)).normalize()
    return format(normal if normal != 0 else Decimal(0), "f")


def view_hash(view) -> str:
    if view is None:
        return ""
    return hashlib.sha256(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()[:32]


def changed_fields(current: dict | None, synced: dict | None) -> list[str]:
    if current is None or synced is None:
        return []
    return sorted(key for key in set(current) | set(synced) if current.get(key) != synced.get(key))


def by_st(flow: str, st_id: int) -> SyncLink | None:
    return SyncLink.get_or_none(SyncLink.flow == flow, SyncLink.st_id == st_id)


def by_syspro(flow: str, key: str) -> SyncLink | None:
    return SyncLink.get_or_none(SyncLink.flow == flow, SyncLink.syspro_key == key)


def policy(settings) -> str:
    return settings.get("sync.conflict_policy") or "ask"


def winner_for(link: SyncLink, settings, *, st_time=None, syspro_time=None) -> str | None:
    """Who wins a conflict: a person's decision first, then the policy. None means: ask.

    "newer" needs a change time on both sides; SYSPRO keeps none for suppliers and PO headers, so
    unless the caller has one the conflict is left for a person, with that reason."""
    decided = (link.data or {}).get("winner")
    if decided:
        return decided
    chosen = policy(settings)
    if chosen in ("servicetitan", "syspro"):
        return chosen
    if chosen == "newer" and st_time is not None and syspro_time is not None:
        return "servicetitan" if st_time >= syspro_time else "syspro"
    return None


def syspro_rows(ctx, session, entity: str, columns, where: list[tuple[str, str]], *, limit: int = 1000) -> list[dict]:
    """Rows of a SYSPRO table matching column = value pairs: OData when configured, else COMFND."""
    if ctx.odata is not None:
        from desktop_app.syspro.odata import literal

        filter_ = " and ".join(f"{column} eq {literal(value)}" for column, value in where) or None
        return list(ctx.odata.rows(entity, filter=filter_, select=list(columns), limit=limit))
    return queries.comfnd(session.get(), entity, list(columns),
                          where=[queries.Where(column, value) for column, value in where], return_rows=limit)
