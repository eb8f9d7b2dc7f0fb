"""CLI commands that drive the engine (registered into `cli.COMMANDS` on import)."""
from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.cli import _print_json, command, open_engine_db
from desktop_app.core import config, cycle_lock, errors
from desktop_app.core.errors import EXIT_CONNECT, EXIT_OK, EXIT_RECORDS_NEED_ATTENTION
from desktop_app.core.instance_lock import InstanceLock


def _exit_for(counts: dict[str, int]) -> int:
    from desktop_app.sync.ledger import FAILED, HELD, IN_DOUBT, NEEDS_MAPPING

    return (EXIT_RECORDS_NEED_ATTENTION if any(counts.get(s) for s in (FAILED, IN_DOUBT, NEEDS_MAPPING, HELD))
            else EXIT_OK)


@command("sync")
def cmd_sync(args) -> int:
    from desktop_app.sync import ledger
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle
    from desktop_app.sync.jobs import mark_interrupted_runs, recorded_run

    open_engine_db()
    with InstanceLock():
        mark_interrupted_runs()
        ctx = SyncContext.from_database(actor="cli", dry_run=args.dry_run)
        try:
            with recorded_run("dry-run" if args.dry_run else "cycle", "cli") as record:
                result = record.result = run_cycle(ctx, flow=args.flow)
        finally:
            ctx.close()
        summary = result.as_dict()
    counts = ledger.counts()
    if args.json:
        _print_json({"cycle": summary, "counts": counts})
    else:
        for flow, flow_summary in summary.items():
            if flow == "errors":
                for name, message in flow_summary.items():
                    print(f"{name}: FAILED — {message}")
                continue
            if flow == "error_kinds":
                continue
            shown = {k: v for k, v in flow_summary.items() if v and k not in ("dry_run_results", "problems")}
            print(f"{flow}: " + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shown.items()) or "nothing to do"))
            for problem in flow_summary.get("problems", []):
                print(f"  ! {problem}")
            for entry in flow_summary.get("dry_run_results", []):
                print("  dry run: " + json.dumps(entry, default=str))
        print("ledger: " + ", ".join(f"{state} {n}" for state, n in counts.items() if n))
    failed = result.exit_code()
    return failed if failed is not None else _exit_for(counts)


@command("status")
def cmd_status(args) -> int:
    from desktop_app.core.db import JobRun, SyncCursor
    from desktop_app.sync import ledger

    open_engine_db()
    settings = config.load_settings()
    last = (JobRun.select().where(JobRun.kind == "cycle").order_by(JobRun.id.desc()).first())
    last_good = (JobRun.select().where(JobRun.kind == "cycle", JobRun.state == "completed")
                 .order_by(JobRun.id.desc()).first())
    next_cycle = None
    if last is not None and not settings["sync.paused"]:
        next_cycle = last.started_at + dt.timedelta(minutes=settings["sync.interval_minutes"])
    data = {
        "counts": {"invoices": ledger.counts(), **two_way_counts()},
        "last_cycle": None if last is None else {"started_at": last.started_at.isoformat(), "state": last.state,
                                                 "error": last.error or None,
                                                 "failed_flows": (last.summary or {}).get("errors") or {}},
        "last_good_cycle": last_good.finished_at.isoformat() if last_good and last_good.finished_at else None,
        "next_cycle": next_cycle.isoformat() if next_cycle else None,
        "paused": settings["sync.paused"],
        "cursors": {c.name: {"value": c.value, "updated_at": c.updated_at.isoformat()} for c in SyncCursor.select()},
        "waiting_for_approval": waiting_for_approval(),
        "invoice_to_ap": None,
    }
    from desktop_app.sync.delay import invoice_to_ap

    delay = invoice_to_ap()
    if delay is not None:
        data["invoice_to_ap"] = {**delay.as_dict(), "sentence": delay.sentence()}
    if args.json:
        _print_json(data)
    else:
        print("Invoices: " + ", ".join(f"{k} {v}" for k, v in data["counts"]["invoices"].items()))
        if delay is not None:
            print(delay.sentence())
        for waiting in data["waiting_for_approval"]:
            print(f"{waiting['sentence']} (ml-connector records approve --flow {waiting['flow']} --all)")
        last_cycle = data["last_cycle"]
        if last_cycle is None:
            print("Last cycle: never")
        else:
            flows = last_cycle["failed_flows"]
            outcome = last_cycle["state"] + (" with errors" if flows and last_cycle["state"] == "completed" else "")
            print(f"Last cycle: {last_cycle['started_at']} {outcome}"
                  + (f": {last_cycle['error']}" if last_cycle["error"] else ""))
            for flow, message in flows.items():
                print(f"  {flow}: FAILED — {message}")
        planned = data["next_cycle"]
        if planned and last_cycle and last_cycle["state"] == "failed":
            planned += " while the app runs; it will fail the same way until the problem above is fixed"
        print(f"Next cycle: {planned or ('paused' if data['paused'] else 'when the app runs')}")
    return EXIT_OK


def _doc_dict(doc) -> dict:
    return {"id": doc.id, "state": doc.state, "st_invoice_id": doc.st_invoice_id,
            "st_invoice_number": doc.st_invoice_number, "supplier": doc.supplier,
            "syspro_invoice": doc.syspro_invoice, "type": "credit note" if doc.transaction_code == "C" else "invoice",
            "amount": format(doc.amount, "f"),
            "invoice_date": doc.invoice_date.isoformat() if doc.invoice_date else None,
            "branch": doc.branch, "journal": doc.journal, "reason": doc.reason, "missing": doc.missing,
            "attempts": doc.attempts, "write_back": doc.write_back,
            # a credit note: the ServiceTitan invoice it returns, and the SYSPRO invoice a person chose for it
            "credit_of": doc.credit_of, "credit_against": doc.credit_against or None}


def _document_action(args, action) -> int:
    from desktop_app.core.db import database

    open_engine_db()
    try:
        with database.atomic():
            doc = action()
    except ValueError as exc:
        raise errors.ConfigError(str(exc)) from None
    if args.json:
        _print_json(_doc_dict(doc))
    else:
        print(f"Document {doc.id} is now {doc.state}"
              + (f": {doc.transaction_code} against SYSPRO invoice {doc.syspro_invoice}" if doc.syspro_invoice else "")
              + ". It is sent on the next sync." * (doc.state == "READY"))
    return EXIT_OK


@command("invoices.credit")
def cmd_invoices_credit(args) -> int:
    from desktop_app.sync import invoices

    return _document_action(args, lambda: invoices.pick_credit_target(args.id, args.against, actor="cli"))


@command("invoices.skip")
def cmd_invoices_skip(args) -> int:
    from desktop_app.core.db import ApDocument
    from desktop_app.sync import invoices, ledger

    def skip():
        reason = " ".join(args.reason.split())
        if not reason:
            raise ValueError("Give a reason (--reason): it is kept in the document's history.")
        doc = ApDocument.get_or_none(ApDocument.id == args.id)
        if doc is None:
            raise ValueError(f"There is no AP document {args.id}.")
        if ledger.SKIPPED not in ledger.ALLOWED.get(doc.state, ()):
            raise ValueError(f"Document {args.id} is {doc.state}: SYSPRO may hold it, so it cannot be skipped.")
        return invoices.skip(args.id, reason, actor="cli")

    return _document_action(args, skip)


@command("reconcile")
def cmd_reconcile(args) -> int:
    from desktop_app.sync.reconcile import reconcile

    open_engine_db()
    day = None
    if args.date:
        try:
            day = dt.date.fromisoformat(args.date)
        except ValueError:
            raise errors.ConfigError(f"--date {args.date!r} is not YYYY-MM-DD") from None
    rows = reconcile(day)
    if args.json:
        _print_json([row.as_dict() for row in rows])
    else:
        print(f"{'DATE':<10}  {'SUPPLIER':<10} {'BRANCH':<8} {'ST COST':>12} {'SYSPRO AP':>12} {'DIFF':>10}  DOCS")
        for row in rows:
            d = row.as_dict()
            flag = "  ←" if row.difference else ""
            print(f"{d['date'] or '-':<10}  {d['supplier']:<10} {d['branch']:<8} {d['st_cost']:>12} "
                  f"{d['syspro_ap']:>12} {d['difference']:>10}  {d['documents']}{flag}")
    return EXIT_RECORDS_NEED_ATTENTION if any(row.difference for row in rows) else EXIT_OK


@command("mappings.import")
def cmd_mappings_import(args) -> int:
    from desktop_app.sync.mappings import import_csv

    open_engine_db()
    count = import_csv(args.kind, args.file, actor="cli")
    print(f"{count} {args.kind} mapping row(s) imported from {args.file}")
    return EXIT_OK


@command("mappings.export")
def cmd_mappings_export(args) -> int:
    from desktop_app.sync.mappings import export_csv

    open_engine_db()
    count = export_csv(args.kind, args.file)
    print(f"{count} {args.kind} mapping row(s) written to {args.file}")
    return EXIT_OK


@command("mappings.suggest")
def cmd_mappings_suggest(args) -> int:
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.suggestions import suggestions_for

    open_engine_db()
    ctx = SyncContext.from_database(actor="cli")
    try:
        proposals = suggestions_for(ctx, args.kind)
    finally:
        ctx.close()
    if args.json:
        _print_json(proposals)
    else:
        if not proposals:
            print("No suggestions: everything that matches is already mapped.")
        for p in proposals:
            print(f"{p['st_id']:>10}  {p['st_code'] or '':<14} {p['st_name'][:34]:<34} "
                  f"→ {p['syspro_code']:<14} ({p['reason']})")
        print("\nNothing was applied. Import the ones you accept with 'ml-connector mappings import'.")
    return EXIT_OK


@command("test-connection")
def cmd_test_connection(args) -> int:
    from desktop_app.sync.connection import test_connections

    open_engine_db()
    both = not args.servicetitan and not args.syspro
    results = test_connections(config.load_settings(), servicetitan=both or args.servicetitan,
                               syspro=both or args.syspro)
    for result in results:
        print(f"{result.system}: {'OK' if result.ok else 'FAILED'} — {result.message}")
        for detail in result.details:
            print(f"    {detail}")
    failed = [r for r in results if not r.ok]
    if not failed:
        return EXIT_OK
    # a missing setting comes first: until it is set, whether the other system answers says little
    return errors.EXIT_USAGE if any(r.configuration_only for r in failed) else EXIT_CONNECT


@command("gui")
def cmd_gui(args) -> int:
    from desktop_app.ui.app import run_gui

    return run_gui(minimized=getattr(args, "minimized", False),
                   quit_after_start=getattr(args, "quit_after_start", False))


@command("demo")
def cmd_demo(args) -> int:
    from desktop_app.sandbox.demo import run_demo

    return run_demo(headless=args.headless, seed=args.seed, invoices=args.invoices)


@command("sandbox.serve")
def cmd_sandbox_serve(args) -> int:
    from desktop_app.sandbox.runner import serve_forever

    return serve_forever(st_port=args.st_port, syspro_port=args.syspro_port, seed=args.seed,
                         invoices=args.invoices, faults=args.faults, minutes=args.minutes, out=sys.stdout,
                         odata_drop=args.odata_drop)


# ---------------------------------------------------------------- two-way flows (vendors, POs, adjustments)
def two_way_counts() -> dict:
    from desktop_app.sync import records

    return {flow: records.counts(flow) for flow in records.FLOWS}


def waiting_for_approval() -> list[dict]:
    from desktop_app.sync import records

    return records.waiting_counts()


# ---------------------------------------------------------------- the ledger verbs: one implementation, every flow
@dataclass(frozen=True)
class _Book:
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


def _invoice_rows(flow: str, state: str | None, limit: int) -> list[dict]:
    from desktop_app.core.db import ApDocument
    from desktop_app.sync.ledger import STATES

    query = ApDocument.select().order_by(ApDocument.id.desc()).limit(limit)
    if state:
        if state.upper() not in STATES:
            raise ValueError(f"Unknown state {state!r}; states: {', '.join(STATES)}")
        query = query.where(ApDocument.state == state.upper())
    return [_doc_dict(doc) for doc in query]


def _invoice_shown(flow: str, doc_id: int) -> dict:
    from desktop_app.core.db import ApDocument
    from desktop_app.sync.ledger import trail

    doc = ApDocument.get_or_none(ApDocument.id == doc_id)
    if doc is None:
        raise LookupError(f"No AP document with id {doc_id}")
    return {"document": {**_doc_dict(doc), "lines": doc.lines, "left_out": doc.left_out},
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


_INVOICES = _Book(
    noun="document", header=f"{'ID':>6}  {'STATE':<18} {'ST INV':<10} {'SUPPLIER':<10} {'AMOUNT':>11}  REASON",
    line=lambda d: (f"{d['id']:>6}  {d['state']:<18} {d['st_invoice_number']:<10} {d['supplier']:<10} "
                    f"{d['amount']:>11}  {d['reason'][:60]}"),
    rows=_invoice_rows, shown=_invoice_shown, details=_invoice_details, replay=_invoice_replay)
_RECORDS = _Book(
    noun="record", header=f"{'ID':>6}  {'STATE':<16} {'SERVICETITAN':<12} {'SYSPRO':<16} {'LABEL':<28} REASON",
    line=lambda r: (f"{r['id']:>6}  {r['state']:<16} {str(r['st_id'] or ''):<12} {r['syspro_key'] or '':<16} "
                    f"{r['label'][:28]:<28} {r['reason'][:70]}"),
    rows=_record_rows, shown=_record_shown, details=lambda record: None, replay=_record_replay)


def _book(flow: str) -> _Book:
    return _INVOICES if flow == "invoices" else _RECORDS


def ledger_list(args, flow: str) -> int:
    """`invoices list` and `records list --flow F`."""
    from desktop_app.sync import records

    open_engine_db()
    book = _book(flow)
    try:
        rows = book.rows(flow, args.state, getattr(args, "limit", None) or 500)
    except ValueError as exc:
        raise errors.ConfigError(str(exc)) from None
    if args.json:
        _print_json(rows)
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
    book = _book(flow)
    try:
        shown = book.shown(flow, args.id)
    except LookupError as exc:
        raise errors.ConfigError(str(exc)) from None
    if args.json:
        _print_json(shown)
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

    book = _book(flow)
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
        _print_json(data)
    else:
        print(line)
    return EXIT_RECORDS_NEED_ATTENTION if attention else EXIT_OK


@command("invoices.list")
def cmd_invoices_list(args) -> int:
    return ledger_list(args, "invoices")


@command("invoices.show")
def cmd_invoices_show(args) -> int:
    return ledger_show(args, "invoices")


@command("replay")
def cmd_replay(args) -> int:
    return ledger_replay(args, "invoices")


@command("records.list")
def cmd_records_list(args) -> int:
    return ledger_list(args, args.flow)


@command("records.show")
def cmd_records_show(args) -> int:
    return ledger_show(args, args.flow)


@command("records.replay")
def cmd_records_replay(args) -> int:
    return ledger_replay(args, args.flow)


@command("records.approve")
def cmd_records_approve(args) -> int:
    from desktop_app.sync import records
    from desktop_app.sync.context import SyncContext

    if bool(args.ids) == bool(args.all):
        raise errors.ConfigError("records approve: give the ids of the records to create, or --all (not both)")
    open_engine_db()
    with InstanceLock(), cycle_lock.held():  # they post: not beside an engine still finishing
        ctx = SyncContext.from_database(actor="cli-approve")
        try:
            approved, summary = records.approve(ctx, args.flow, None if args.all else args.ids)
        except ValueError as exc:
            raise errors.ConfigError(str(exc)) from None
        finally:
            ctx.close()
    if args.json:
        _print_json({"approved": approved, **summary.as_dict()})
    else:
        print(f"approved {approved}; " + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.as_dict().items()
                                                   if v and k != "problems") or "nothing else to do"))
        for problem in summary.problems:
            print(f"  {problem}")
    left = records.counts(args.flow)
    return EXIT_RECORDS_NEED_ATTENTION if left[records.FAILED] or left[records.IN_DOUBT] else EXIT_OK


@command("records.primary")
def cmd_records_primary(args) -> int:
    from desktop_app.sync import vendors

    open_engine_db()
    try:
        link = vendors.set_primary(args.st_vendor_id, actor="cli")
    except ValueError as exc:
        raise errors.ConfigError(str(exc)) from None
    print(f"ServiceTitan vendor {args.st_vendor_id} is now the primary vendor of supplier {link.syspro_key}; "
          "the next sync takes its fields as the starting point")
    return EXIT_OK


@command("records.resolve")
def cmd_records_resolve(args) -> int:
    from desktop_app.sync import records
    from desktop_app.sync.context import SyncContext

    open_engine_db()
    with InstanceLock():
        ctx = SyncContext.from_database(actor="cli")
        try:
            link = records.resolve_conflict(ctx, args.id, args.winner)
        except ValueError as exc:
            raise errors.ConfigError(str(exc)) from None
        finally:
            ctx.close()
    print(f"record {link.id}: {link.state} {link.reason}".rstrip())
    return EXIT_OK if link.state == records.SYNCED else EXIT_RECORDS_NEED_ATTENTION


@command("worklist.list")
def cmd_worklist_list(args) -> int:
    from desktop_app.sync.adjustments import worklist_rows

    open_engine_db()
    rows = worklist_rows(include_done=args.all)
    if args.json:
        _print_json(rows)
    else:
        print(f"{'ID':>5}  {'DATE':<10} {'WH':<6} {'ST LOCATION':<22} {'STOCK CODE':<16} {'ST SKU':<14} {'QTY':>8}  "
              f"{'SYSPRO REF':<18} {'JNL':<5} DONE")
        for r in rows:
            print(f"{r['id']:>5}  {r['entry_date']:<10} {r['warehouse']:<6} {r['st_location_name'][:22]:<22} "
                  f"{r['stock_code']:<16} {r['st_sku_code']:<14} {r['quantity']:>8}  {r['syspro_reference'][:18]:<18} "
                  f"{r['journal']:<5} {'yes ' + r['done_by'] if r['done'] else ''}")
    return EXIT_OK


@command("worklist.export")
def cmd_worklist_export(args) -> int:
    from desktop_app.sync.adjustments import export_worklist

    open_engine_db()
    count = export_worklist(args.file, include_done=args.all)
    print(f"{count} worklist row(s) written to {args.file}")
    return EXIT_OK


@command("worklist.done")
def cmd_worklist_done(args) -> int:
    from desktop_app.sync.adjustments import mark_done

    open_engine_db()
    count = mark_done(args.ids, actor="cli", done=not args.undo)
    print(f"{count} row(s) marked {'not done' if args.undo else 'done'}")
    return EXIT_OK if count == len(set(args.ids)) else EXIT_RECORDS_NEED_ATTENTION
