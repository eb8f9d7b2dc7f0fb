"""`reconcile`: ServiceTitan cost against SYSPRO AP per day, supplier and branch."""
from __future__ import annotations

import datetime as dt

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import errors
from desktop_app.core.errors import EXIT_OK, EXIT_RECORDS_NEED_ATTENTION


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
        print_json([row.as_dict() for row in rows])
    else:
        print(f"{'DATE':<10}  {'SUPPLIER':<10} {'BRANCH':<8} {'ST COST':>12} {'SYSPRO AP':>12} {'DIFF':>10}  DOCS")
        for row in rows:
            d = row.as_dict()
            flag = "  ←" if row.difference else ""
            print(f"{d['date'] or '-':<10}  {d['supplier']:<10} {d['branch']:<8} {d['st_cost']:>12} "
                  f"{d['syspro_ap']:>12} {d['difference']:>10}  {d['documents']}{flag}")
    return EXIT_RECORDS_NEED_ATTENTION if any(row.difference for row in rows) else EXIT_OK
