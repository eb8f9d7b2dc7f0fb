"""`worklist list|export|done`: stock differences a person enters in ServiceTitan by hand."""
from __future__ import annotations

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core.errors import EXIT_OK, EXIT_RECORDS_NEED_ATTENTION


def cmd_worklist_list(args) -> int:
    from desktop_app.sync.adjustments import worklist_rows

    open_engine_db()
    rows = worklist_rows(include_done=args.all)
    if args.json:
        print_json(rows)
    else:
        print(f"{'ID':>5}  {'DATE':<10} {'WH':<6} {'ST LOCATION':<22} {'STOCK CODE':<16} {'ST SKU':<14} {'QTY':>8}  "
              f"{'SYSPRO REF':<18} {'JNL':<5} DONE")
        for r in rows:
            print(f"{r['id']:>5}  {r['entry_date']:<10} {r['warehouse']:<6} {r['st_location_name'][:22]:<22} "
                  f"{r['stock_code']:<16} {r['st_sku_code']:<14} {r['quantity']:>8}  {r['syspro_reference'][:18]:<18} "
                  f"{r['journal']:<5} {'yes ' + r['done_by'] if r['done'] else ''}")
    return EXIT_OK


def cmd_worklist_export(args) -> int:
    from desktop_app.sync.adjustments import export_worklist

    open_engine_db()
    count = export_worklist(args.file, include_done=args.all)
    print(f"{count} worklist row(s) written to {args.file}")
    return EXIT_OK


def cmd_worklist_done(args) -> int:
    from desktop_app.sync.adjustments import mark_done

    open_engine_db()
    count = mark_done(args.ids, actor="cli", done=not args.undo)
    print(f"{count} row(s) marked {'not done' if args.undo else 'done'}")
    return EXIT_OK if count == len(set(args.ids)) else EXIT_RECORDS_NEED_ATTENTION
