"""`mappings import|export|suggest`: the mapping CSVs and proposals from live data."""
from __future__ import annotations

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core.errors import EXIT_OK


def cmd_mappings_import(args) -> int:
    from desktop_app.sync.mappings import import_csv

    open_engine_db()
    count = import_csv(args.kind, args.file, actor="cli")
    print(f"{count} {args.kind} mapping row(s) imported from {args.file}")
    return EXIT_OK


def cmd_mappings_export(args) -> int:
    from desktop_app.sync.mappings import export_csv

    open_engine_db()
    count = export_csv(args.kind, args.file)
    print(f"{count} {args.kind} mapping row(s) written to {args.file}")
    return EXIT_OK


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
        print_json(proposals)
    else:
        if not proposals:
            print("No suggestions: everything that matches is already mapped.")
        for p in proposals:
            print(f"{p['st_id']:>10}  {p['st_code'] or '':<14} {p['st_name'][:34]:<34} "
                  f"→ {p['syspro_code']:<14} ({p['reason']})")
        print("\nNothing was applied. Import the ones you accept with 'ml-connector mappings import'.")
    return EXIT_OK
