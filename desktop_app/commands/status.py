"""`status`: counts per state for every flow, the last and next cycle, cursors, what waits for approval."""
from __future__ import annotations

import datetime as dt

from desktop_app.commands import posting
from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import config
from desktop_app.core.errors import EXIT_OK


def cmd_status(args) -> int:
    from desktop_app.core.models import JobRun, SyncCursor
    from desktop_app.sync import ledger, records

    open_engine_db()
    settings = config.load_settings()
    last = (JobRun.select().where(JobRun.kind == "cycle").order_by(JobRun.id.desc()).first())
    last_good = (JobRun.select().where(JobRun.kind == "cycle", JobRun.state == "completed")
                 .order_by(JobRun.id.desc()).first())
    next_cycle = None
    if last is not None and not settings["sync.paused"]:
        next_cycle = last.started_at + dt.timedelta(minutes=settings["sync.interval_minutes"])
    data = {
        "counts": {"invoices": ledger.counts(), **{flow: records.counts(flow) for flow in records.FLOWS}},
        "last_cycle": None if last is None else {"started_at": last.started_at.isoformat(), "state": last.state,
                                                 "error": last.error or None,
                                                 "failed_flows": (last.summary or {}).get("errors") or {}},
        "last_good_cycle": last_good.finished_at.isoformat() if last_good and last_good.finished_at else None,
        "next_cycle": next_cycle.isoformat() if next_cycle else None,
        "paused": settings["sync.paused"],
        "cursors": {c.name: {"value": c.value, "updated_at": c.updated_at.isoformat()} for c in SyncCursor.select()},
        "waiting_for_approval": records.waiting_counts(),
        "posting": posting.posting_state(settings),
        "invoice_to_ap": None,
    }
    from desktop_app.sync.delay import invoice_to_ap

    delay = invoice_to_ap()
    if delay is not None:
        data["invoice_to_ap"] = {**delay.as_dict(), "sentence": delay.sentence()}
    if args.json:
        print_json(data)
    else:
        print(posting.posting_line(data["posting"]))
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
