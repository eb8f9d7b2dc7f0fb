"""`posting start|stop` and `sync --once --dry-run`: the go-live rehearsal and the posting gate."""
from __future__ import annotations

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import errors
from desktop_app.core.errors import EXIT_OK, EXIT_RECORDS_NEED_ATTENTION
from desktop_app.core.instance_lock import InstanceLock


def rehearse(args) -> int:
    """`sync --once --dry-run`: a rehearsal of every flow; nothing is posted, stored or moved (the
    rehearsal itself is kept, for the Rehearsal page and `posting start`)."""
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.jobs import mark_interrupted_runs, recorded_run
    from desktop_app.sync.rehearsal import run_rehearsal

    open_engine_db()
    with InstanceLock():
        mark_interrupted_runs()
        ctx = SyncContext.from_database(actor="cli", dry_run=True)
        try:
            with recorded_run("dry-run", "cli") as record:
                rehearsal = record.result = run_rehearsal(ctx)
        finally:
            ctx.close()
    if args.json:
        print_json(rehearsal.as_dict())
    else:
        print(rehearsal.summary_text())
    attention = rehearsal.problems or len(rehearsal.would_post()) < len(rehearsal.documents)
    return EXIT_RECORDS_NEED_ATTENTION if attention else EXIT_OK


def posting_state(settings) -> dict:
    from desktop_app.sync.rehearsal import POSTING_KEY, latest

    last = latest()
    return {"on": settings[POSTING_KEY] == "on",
            "latest_rehearsal": None if last is None else {"id": last.id, "ran_at": last.ran_at.isoformat(),
                                                           "would_post": len(last.would_post()),
                                                           "total_amount": format(last.total_amount(), "f")}}


def posting_line(state: dict) -> str:
    if state["on"]:
        return "Posting: on"
    return "Posting: off — run a rehearsal and start posting"


def cmd_posting_start(args) -> int:
    from desktop_app.sync.rehearsal import latest, start_posting

    open_engine_db()
    rehearsal = latest()
    if rehearsal is None and not args.force:
        raise errors.ConfigError("No rehearsal has been run, so nobody has seen what would be posted. Run "
                                 "`ml-connector sync --once --dry-run` (or the Rehearsal page) first, or give --force.")
    start_posting(rehearsal, actor="cli")
    if args.json:
        print_json({"posting": "on", "rehearsal": None if rehearsal is None else rehearsal.as_dict()})
    elif rehearsal is None:
        print("Posting: on (started without a rehearsal). The next scheduled sync posts.")
    else:
        print(f"Posting: on. Rehearsal {rehearsal.id} of {rehearsal.ran_at:%Y-%m-%d %H:%M} UTC: "
              f"{rehearsal.headline()}. The next scheduled sync posts.")
    return EXIT_OK


def cmd_posting_stop(args) -> int:
    from desktop_app.sync.rehearsal import stop_posting

    open_engine_db()
    stop_posting(actor="cli")
    if args.json:
        print_json({"posting": "off"})
    else:
        print(posting_line({"on": False}) + ". Scheduled and GUI syncs rehearse; `sync --once` still posts.")
    return EXIT_OK
