"""Command-line interface (docs/architecture.md §4): the same engine as the GUI, for automation and support.

This module parses the command line and dispatches; the handlers are in `desktop_app/commands/`,
found by name in `desktop_app.commands.COMMANDS`. Exit codes: 0 all good; 1 some records failed or
need mapping; 2 bad usage or configuration; 3 could not connect or authenticate.
"""
from __future__ import annotations

import argparse
import sys
import threading
import traceback
from collections.abc import Sequence

from desktop_app import __version__
from desktop_app.commands import COMMANDS
from desktop_app.core import secrets
from desktop_app.core.errors import ConnectorError
from desktop_app.core.redact import redact


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml-connector",
        description="Keeps ServiceTitan and SYSPRO in agreement: AP invoices, vendors, purchase orders, inventory.",
        epilog="Exit codes: 0 ok, 1 records failed or need mapping, 2 bad usage/configuration, 3 cannot connect.",
    )
    parser.add_argument("--version", action="version", version=f"ml-connector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--minimized", action="store_true", help="start in the tray")
    gui.add_argument("--quit-after-start", action="store_true", help=argparse.SUPPRESS)  # packaging smoke test
    gui.set_defaults(handler="gui")

    demo = sub.add_parser("demo", help="run against the built-in sandbox with a demo company")
    demo.add_argument("--headless", action="store_true", help="run one cycle, print the summary, exit")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--invoices", type=int, default=120, help="invoices in the demo company")
    demo.set_defaults(handler="demo")

    sandbox = sub.add_parser("sandbox", help="the ServiceTitan and SYSPRO simulators")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sandbox_sub.add_parser("serve", help="run the simulators until interrupted")
    serve.add_argument("--st-port", type=int, default=0)
    serve.add_argument("--syspro-port", type=int, default=0)
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--invoices", type=int, default=120)
    serve.add_argument("--faults", default="",
                       help="e.g. st.rate_limit_storm=20,syspro.drop_after_post=1; a real site's speed: "
                            "syspro.latency_ms=250,syspro.latency_per_item_ms=10")
    serve.add_argument("--minutes", type=float, default=240, help="stop by itself after this long")
    serve.add_argument("--odata-drop", default="", help="columns the SYSPRO OData site lacks, e.g. ApSupplier.Email")
    serve.set_defaults(handler="sandbox.serve")

    cfg = sub.add_parser("config", help="non-secret settings")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cfg_set = cfg_sub.add_parser("set", help="set KEY to VALUE")
    cfg_set.add_argument("key")
    cfg_set.add_argument("value")
    cfg_set.set_defaults(handler="config.set")
    cfg_show = cfg_sub.add_parser("show", help="show all settings")
    cfg_show.add_argument("--json", action="store_true")
    cfg_show.set_defaults(handler="config.show")

    sec = sub.add_parser("secrets", help="passwords and keys in the OS keyring")
    sec_sub = sec.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    sec_set = sec_sub.add_parser("set", help="read NAME's value from standard input into the keyring")
    sec_set.add_argument("name", help=", ".join(secrets.SECRET_NAMES))
    sec_set.set_defaults(handler="secrets.set")
    sec_status = sec_sub.add_parser("status", help="which secrets are set (never their values)")
    sec_status.add_argument("--json", action="store_true")
    sec_status.set_defaults(handler="secrets.status")

    tc = sub.add_parser("test-connection", help="log on to ServiceTitan and/or SYSPRO and report")
    tc.add_argument("--servicetitan", action="store_true")
    tc.add_argument("--syspro", action="store_true")
    tc.set_defaults(handler="test-connection")

    maps = sub.add_parser("mappings", help="vendor, item, GL, branch and warehouse mappings")
    maps_sub = maps.add_subparsers(dest="mappings_command", metavar="ACTION", required=True)
    for action in ("import", "export"):
        p = maps_sub.add_parser(action, help=f"{action} a mapping CSV (import is all-or-nothing)")
        p.add_argument("kind", choices=["vendors", "items", "gl", "branches", "warehouses"])
        p.add_argument("file")
        p.set_defaults(handler=f"mappings.{action}")
    suggest = maps_sub.add_parser("suggest", help="propose matches by code or name (nothing is applied)")
    suggest.add_argument("kind", choices=["vendors", "items"])
    suggest.add_argument("--json", action="store_true")
    suggest.set_defaults(handler="mappings.suggest")

    sync = sub.add_parser("sync", help="run a sync cycle")
    sync.add_argument("--once", action="store_true", required=True, help="one cycle, then exit")
    sync.add_argument("--flow", choices=["invoices", "vendors", "purchase-orders", "adjustments"])
    sync.add_argument("--dry-run", action="store_true",
                      help="rehearse: every flow, SYSPRO validates each document, nothing is posted or stored")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(handler="sync")

    status = sub.add_parser("status", help="counts per state, last and next cycle, cursors")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler="status")

    posting = sub.add_parser("posting", help="the posting gate: whether scheduled and GUI syncs post")
    posting_sub = posting.add_subparsers(dest="posting_command", metavar="ACTION", required=True)
    posting_start = posting_sub.add_parser("start", help="turn posting on after reading the latest rehearsal")
    posting_start.add_argument("--force", action="store_true", help="start posting with no stored rehearsal")
    posting_start.add_argument("--json", action="store_true")
    posting_start.set_defaults(handler="posting.start")
    posting_stop = posting_sub.add_parser("stop", help="turn posting off: scheduled and GUI syncs only rehearse")
    posting_stop.add_argument("--json", action="store_true")
    posting_stop.set_defaults(handler="posting.stop")

    inv = sub.add_parser("invoices", help="the AP document ledger")
    inv_sub = inv.add_subparsers(dest="invoices_command", metavar="ACTION", required=True)
    inv_list = inv_sub.add_parser("list", help="list AP documents")
    inv_list.add_argument("--state")
    inv_list.add_argument("--limit", type=int, default=200)
    inv_list.add_argument("--json", action="store_true")
    inv_list.set_defaults(handler="invoices.list")
    inv_show = inv_sub.add_parser("show", help="one AP document with its audit trail")
    inv_show.add_argument("id", type=int)
    inv_show.add_argument("--json", action="store_true")
    inv_show.set_defaults(handler="invoices.show")
    inv_credit = inv_sub.add_parser("credit", help="apply a held credit note (a return) to a SYSPRO invoice")
    inv_credit.add_argument("id", type=int, help="the credit note's document id (invoices list --state HELD)")
    inv_credit.add_argument("--against", required=True, metavar="INVOICE",
                            help="the SYSPRO invoice number of the document's supplier to credit")
    inv_credit.add_argument("--json", action="store_true")
    inv_credit.set_defaults(handler="invoices.credit")
    inv_skip = inv_sub.add_parser("skip", help="never post an AP document; the reason is kept in its history")
    inv_skip.add_argument("id", type=int)
    inv_skip.add_argument("--reason", required=True)
    inv_skip.add_argument("--json", action="store_true")
    inv_skip.set_defaults(handler="invoices.skip")
    # `replay` and `invoices replay` are one verb (the same as `records replay --flow invoices`)
    for parent, name in ((sub, "replay"), (inv_sub, "replay")):
        replay = parent.add_parser(name, help="retry failed / in-doubt AP documents")
        replay.add_argument("ids", nargs="*", type=int)
        replay.add_argument("--all-failed", action="store_true")
        replay.add_argument("--json", action="store_true")
        replay.set_defaults(handler="replay")

    records_cmd = sub.add_parser("records", help="vendors, purchase orders and adjustments: states and audit")
    records_sub = records_cmd.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    flows = ["vendors", "purchase-orders", "adjustments"]
    # list, show and replay are the ledger's verbs for every flow (invoices too: the `invoices` spellings)
    every_flow = ["invoices", *flows]
    rec_list = records_sub.add_parser("list", help="records of a flow with state and reason")
    rec_list.add_argument("--flow", choices=every_flow, required=True)
    rec_list.add_argument("--state")
    rec_list.add_argument("--json", action="store_true")
    rec_list.set_defaults(handler="records.list")
    rec_show = records_sub.add_parser("show", help="one record with its audit trail")
    rec_show.add_argument("--flow", choices=every_flow, required=True)
    rec_show.add_argument("id", type=int)
    rec_show.add_argument("--json", action="store_true")
    rec_show.set_defaults(handler="records.show")
    rec_replay = records_sub.add_parser("replay", help="retry failed, held or in-doubt records")
    rec_replay.add_argument("--flow", choices=every_flow, required=True)
    rec_replay.add_argument("ids", nargs="*", type=int)
    rec_replay.add_argument("--all-failed", action="store_true", help="every record of the flow that needs a look")
    rec_replay.add_argument("--json", action="store_true")
    rec_replay.set_defaults(handler="records.replay")
    rec_approve = records_sub.add_parser(
        "approve", help="create records that wait for approval (more than sync.max_auto_create in one cycle)")
    rec_approve.add_argument("--flow", choices=flows, required=True)
    rec_approve.add_argument("ids", nargs="*", type=int, help="record ids (records list --state WAITING_APPROVAL)")
    rec_approve.add_argument("--all", action="store_true", help="every record of the flow that waits")
    rec_approve.add_argument("--json", action="store_true")
    rec_approve.set_defaults(handler="records.approve")
    rec_primary = records_sub.add_parser(
        "primary", help="make a ServiceTitan vendor the primary of the SYSPRO supplier it shares with others")
    rec_primary.add_argument("st_vendor_id", type=int)
    rec_primary.set_defaults(handler="records.primary")
    rec_resolve = records_sub.add_parser("resolve", help="decide a conflict: which side wins")
    rec_resolve.add_argument("id", type=int)
    rec_resolve.add_argument("--winner", choices=["servicetitan", "syspro"], required=True)
    rec_resolve.set_defaults(handler="records.resolve")

    work = sub.add_parser("worklist", help="stock differences to enter in ServiceTitan by hand")
    work_sub = work.add_subparsers(dest="worklist_command", metavar="ACTION", required=True)
    work_list = work_sub.add_parser("list", help="rows of the worklist")
    work_list.add_argument("--all", action="store_true", help="include rows already done")
    work_list.add_argument("--json", action="store_true")
    work_list.set_defaults(handler="worklist.list")
    work_export = work_sub.add_parser("export", help="write the open rows (or --all) to a CSV file")
    work_export.add_argument("file")
    work_export.add_argument("--all", action="store_true")
    work_export.set_defaults(handler="worklist.export")
    work_done = work_sub.add_parser("done", help="tick rows off (done in ServiceTitan)")
    work_done.add_argument("ids", nargs="+", type=int)
    work_done.add_argument("--undo", action="store_true")
    work_done.set_defaults(handler="worklist.done")

    rec = sub.add_parser("reconcile", help="ServiceTitan cost vs SYSPRO AP per day, supplier and branch")
    rec.add_argument("--date", help="YYYY-MM-DD (default: all days with documents)")
    rec.add_argument("--json", action="store_true")
    rec.set_defaults(handler="reconcile")
    return parser


def _print_redacted_traceback(exc_type, exc, tb) -> None:
    """An unexpected error's traceback as Python prints it, with every secret masked (its message
    and the values in it may carry a URL with a password, a header, a token)."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    print(redact(text), end="" if text.endswith("\n") else "\n", file=sys.stderr)


def _print_redacted_thread_traceback(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    print(f"Exception in thread {args.thread.name if args.thread else '?'}:", file=sys.stderr)
    _print_redacted_traceback(args.exc_type, args.exc_value, args.exc_traceback)


def install_redacting_excepthooks() -> None:
    """Tracebacks of errors nothing caught go to stderr redacted (the process still ends with 1)."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _print_redacted_traceback
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _print_redacted_thread_traceback


def main(argv: Sequence[str] | None = None) -> int:
    install_redacting_excepthooks()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[getattr(args, "handler", None) or "gui"]
    try:
        return handler(args)
    except ConnectorError as exc:
        print(f"ml-connector: {redact(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ml-connector: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
