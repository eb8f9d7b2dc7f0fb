"""`list`, `show` and `replay`: one implementation for every flow.

`invoices list|show|replay` and the top-level `replay` are `records list|show|replay --flow invoices`;
a `Book` holds what differs between the invoice ledger (`ApDocument`) and the two-way records (`SyncLink`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.commands.invoices import document_dict
from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import cycle_lock, errors
from desktop_app.core.errors import EXIT_OK, EXIT_RECORDS_NEED_ATTENTION
from desktop_app.core.instance_lock import InstanceLock


@dataclass(frozen=True)
class Book:
    """What differs between the invoice ledger and the two-way records for the shared verbs."""

    noun: str  # the JSON key of the record in `show`
    header: str
    line: Callable[[dict], str]
    rows: Callable[[str, str | None, int], list[dict]]  # (flow, state, limit)
    shown: Callable[[str, int], dict]  # {noun: ..., "audit": [...]}
    details: Callable[[dict], None]  # what `show` prints between the record and its trail
    replay: Callable[..., tuple[dict, str, bool]]  # (ctx, flow, ids, all_failed) → (summary, line, attention)


def _events(trail) -> list[dict]:
    return [{"at": e.created_at.isoformat(), "kind": e.kind, "actor": e.actor, "message": e.message,
             "data": e.data, "xml_sent": e.xml_sent, "xml_received": e.xml_received} for e in trail]


# ---------------------------------------------------------------- invoices: ApDocument
def _invoice_rows(flow: str, state: str | None, limit: int) -> list[dict]:
    from desktop_app.core.models import ApDocument
    from desktop_app.sync.ledger import STATES

    query = ApDocument.select().order_by(ApDocument.id.desc()).limit(limit)
    if state:
        if state.upper() not in STATES:
            raise ValueError(f"Unknown state {state!r}; states: {', '.join(STATES)}")
        query = query.where(ApDocument.state == state.upper())
    return [document_dict(doc) for doc in query]


def _invoice_shown(flow: str, doc_id: int) -> dict:
    from desktop_app.core.models import ApDocument
    from desktop_app.sync.ledger import trail

    doc = ApDocument.get_or_none(ApDocument.id == doc_id)
    if doc is None:
        raise LookupError(f"No AP document with id {doc_id}")
    return {"document": {**document_dict(doc), "lines": doc.lines, "left_out": doc.left_out},
            "audit": _events(trail(doc.id))}


def _invoice_details(doc: dict) -> None:
    print("\nLines:")
    for line in doc["lines"]:
        print(f"  {line['sku_code'] or line['sku_id']:<14} {line['stock_code']:<14} {line['ledger_code']:<12} "
              f"{line['quantity']} × {line['unit_cost']} = {line['amount']}")
    if doc["left_out"]:
        from desktop_app.sync.build import left_out_text

        print(f"\nLeft out of AP ({len(doc['left_out'])} line(s)):")
        print("\n".join(f"  {text}" for text in left_out_text(doc["left_out"]).splitlines()))


def _invoice_replay(ctx, flow: str, ids: list[int], all_failed: bool) -> tuple[dict, str, bool]:
    from desktop_app.sync import invoices

    if not ids and not all_failed:
        raise errors.ConfigError("Give document ids to retry, or --all-failed")
    summary = invoices.replay(ctx, ids, all_failed=all_failed)
    return (summary.as_dict(), f"posted {summary.posted}, failed {summary.failed}, in doubt {summary.in_doubt}, "
            f"need mapping {summary.needs_mapping}", bool(summary.failed or summary.needs_mapping or summary.in_doubt))


# ---------------------------------------------------------------- vendors, purchase orders, adjustments: SyncLink
def _record_rows(flow: str, state: str | None, limit: int) -> list[dict]:
    from desktop_app.sync import records

    return records.list_records(flow, state, limit)


def _record_shown(flow: str, link_id: int) -> dict:
    from desktop_app.sync import records

    shown = records.show_record(link_id)
    if shown["record"]["flow"] != flow:
        raise LookupError(f"Record {link_id} belongs to {shown['record']['flow']}, not {flow}")
    return shown


def _record_replay(ctx, flow: str, ids: list[int], all_failed: bool) -> tuple[dict, str, bool]:
    from desktop_app.sync import records

    if all_failed:
        ids = [r["id"] for r in records.list_records(flow, limit=100_000) if r["state"] in records.ATTENTION]
    if not ids:
        raise errors.ConfigError("Give record ids to retry, or --all-failed")
    data = records.replay(ctx, flow, ids).as_dict()
    line = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in data.items() if v and k != "problems") or "nothing to do"
    states = {r["state"] for r in records.list_records(flow, limit=100_000) if r["id"] in ids}
    return data, line, bool(states & records.ATTENTION)


INVOICES = Book(
    noun="document", header=f"{'ID':>6}  {'STATE':<18} {'ST INV':<10} {'SUPPLIER':<10} {'AMOUNT':>11}  REASON",
    line=lambda d: (f"{d['id']:>6}  {d['state']:<18} {d['st_invoice_number']:<10} {d['supplier']:<10} "
                    f"{d['amount']:>11}  {d['reason'][:60]}"),
    rows=_invoice_rows, shown=_invoice_shown, details=_invoice_details, replay=_invoice_replay)
RECORDS = Book(
    noun="record", header=f"{'ID':>6}  {'STATE':<16} {'SERVICETITAN':<12} {'SYSPRO':<16} {'LABEL':<28} REASON",
    line=lambda r: (f"{r['id']:>6}  {r['state']:<16} {str(r['st_id'] or ''):<12} {r['syspro_key'] or '':<16} "
                    f"{r['label'][:28]:<28} {r['reason'][:70]}"),
    rows=_record_rows, shown=_record_shown, details=lambda record: None, replay=_record_replay)


def book_for(flow: str) -> Book:
    return INVOICES if flow == "invoices" else RECORDS


# ---------------------------------------------------------------- the verbs
def ledger_list(args, flow: str) -> int:
    """`invoices list` and `records list --flow F`."""
    from desktop_app.sync import records

    open_engine_db()
    book = book_for(flow)
    try:
        rows = book.rows(flow, args.state, getattr(args, "limit", None) or 500)
    except ValueError as exc:
        raise errors.ConfigError(str(exc)) from None
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(book.header)
    for row in rows:
        print(book.line(row))
    if flow in records.FLOWS:
        for waiting in records.waiting_counts(flow):
            print(f"\n{waiting['sentence']}: ml-connector records approve --flow {flow} ID… (or --all)")
    return EXIT_OK


def ledger_show(args, flow: str) -> int:
    """`invoices show ID` and `records show --flow F ID`."""
    open_engine_db()
    book = book_for(flow)
    try:
        shown = book.shown(flow, args.id)
    except LookupError as exc:
        raise errors.ConfigError(str(exc)) from None
    if args.json:
        print_json(shown)
        return EXIT_OK
    record = shown[book.noun]
    for key, value in record.items():
        if key not in ("lines", "left_out"):
            print(f"{key:>18}: {value}")
    book.details(record)
    print("\nAudit trail:")
    for e in shown["audit"]:
        print(f"  {e['at']}  {e['kind']:<20} {e['actor']:<12} {e['message']}")
    return EXIT_OK


def ledger_replay(args, flow: str) -> int:
    """`replay` / `invoices replay` and `records replay --flow F`: Retry, as the pages' button."""
    from desktop_app.sync.context import SyncContext

    book = book_for(flow)
    if not args.ids and not getattr(args, "all_failed", False):
        book.replay(None, flow, [], False)  # says what to give
    open_engine_db()
    with InstanceLock(), cycle_lock.held():  # they post: not beside an engine still finishing
        ctx = SyncContext.from_database(actor="cli-replay")
        try:
            data, line, attention = book.replay(ctx, flow, list(args.ids), getattr(args, "all_failed", False))
        finally:
            ctx.close()
    if args.json:
        print_json(data)
    else:
        print(line)
    return EXIT_RECORDS_NEED_ATTENTION if attention else EXIT_OK


def cmd_invoices_list(args) -> int:
    return ledger_list(args, "invoices")


def cmd_invoices_show(args) -> int:
    return ledger_show(args, "invoices")


def cmd_replay(args) -> int:
    return ledger_replay(args, "invoices")


def cmd_records_list(args) -> int:
    return ledger_list(args, args.flow)


def cmd_records_show(args) -> int:
    return ledger_show(args, args.flow)


def cmd_records_replay(args) -> int:
    return ledger_replay(args, args.flow)
