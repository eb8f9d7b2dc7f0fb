"""Commands that start the app or the sandbox: `gui` (the default), `demo` and `sandbox serve`."""
from __future__ import annotations

import sys


def cmd_gui(args) -> int:
    from desktop_app.ui.app import run_gui

    return run_gui(minimized=getattr(args, "minimized", False),
                   quit_after_start=getattr(args, "quit_after_start", False))


def cmd_demo(args) -> int:
    from desktop_app.sandbox.demo import run_demo

    return run_demo(headless=args.headless, seed=args.seed, invoices=args.invoices)


def cmd_sandbox_serve(args) -> int:
    from desktop_app.sandbox.runner import serve_forever

    return serve_forever(st_port=args.st_port, syspro_port=args.syspro_port, seed=args.seed,
                         invoices=args.invoices, faults=args.faults, minutes=args.minutes, out=sys.stdout,
                         odata_drop=args.odata_drop)
