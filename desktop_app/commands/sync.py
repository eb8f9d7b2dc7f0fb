"""`sync --once`: one cycle from the command line, as the scheduler runs it."""
from __future__ import annotations

import json

from desktop_app.commands import posting
from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core.errors import EXIT_OK, EXIT_RECORDS_NEED_ATTENTION
from desktop_app.core.instance_lock import InstanceLock


def exit_code_for(counts: dict[str, int]) -> int:
    """1 while any invoice document needs a person (failed, in doubt, or in a state that waits for
    one: unmapped, held, changed in ServiceTitan, unreadable), else 0."""
    from desktop_app.sync.ledger import FAILED, IN_DOUBT, LEDGER

    attention = (FAILED, IN_DOUBT, *LEDGER.waits)
    return EXIT_RECORDS_NEED_ATTENTION if any(counts.get(state) for state in attention) else EXIT_OK


def cmd_sync(args) -> int:
    from desktop_app.sync import ledger
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle
    from desktop_app.sync.jobs import mark_interrupted_runs, recorded_run

    if args.dry_run:
        return posting.rehearse(args)
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
        print_json({"cycle": summary, "counts": counts})
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
    return failed if failed is not None else exit_code_for(counts)
