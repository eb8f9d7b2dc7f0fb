"""The verbs only the two-way flows have: `records approve`, `records primary`, `records resolve`."""
from __future__ import annotations

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import cycle_lock, errors
from desktop_app.core.errors import EXIT_OK, EXIT_RECORDS_NEED_ATTENTION
from desktop_app.core.instance_lock import InstanceLock


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
        print_json({"approved": approved, **summary.as_dict()})
    else:
        print(f"approved {approved}; " + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.as_dict().items()
                                                   if v and k != "problems") or "nothing else to do"))
        for problem in summary.problems:
            print(f"  {problem}")
    left = records.counts(args.flow)
    return EXIT_RECORDS_NEED_ATTENTION if left[records.FAILED] or left[records.IN_DOUBT] else EXIT_OK


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
