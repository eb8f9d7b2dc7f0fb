"""`test-connection`: log on to ServiceTitan and/or SYSPRO and say what works."""
from __future__ import annotations

from desktop_app.commands.output import open_engine_db
from desktop_app.core import config, errors
from desktop_app.core.errors import EXIT_CONNECT, EXIT_OK


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
