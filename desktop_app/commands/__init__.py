"""The CLI's command handlers, one module per group of commands.

`COMMANDS` maps the name the parser gives a command (`set_defaults(handler=...)` in
`desktop_app/cli.py`) to the function that runs it. A handler takes the parsed arguments and returns
the exit code (`desktop_app/core/errors.py`). A handler imports the sync engine, the GUI or the
sandbox inside its body, so `--help` and the settings commands load none of them.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

from desktop_app.commands import (
    connection,
    invoices,
    launch,
    ledger_verbs,
    mappings,
    posting,
    reconcile,
    records,
    settings,
    status,
    sync,
    worklist,
)

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "gui": launch.cmd_gui,
    "demo": launch.cmd_demo,
    "sandbox.serve": launch.cmd_sandbox_serve,
    "config.set": settings.cmd_config_set,
    "config.show": settings.cmd_config_show,
    "secrets.set": settings.cmd_secrets_set,
    "secrets.status": settings.cmd_secrets_status,
    "test-connection": connection.cmd_test_connection,
    "mappings.import": mappings.cmd_mappings_import,
    "mappings.export": mappings.cmd_mappings_export,
    "mappings.suggest": mappings.cmd_mappings_suggest,
    "sync": sync.cmd_sync,
    "status": status.cmd_status,
    "posting.start": posting.cmd_posting_start,
    "posting.stop": posting.cmd_posting_stop,
    "invoices.list": ledger_verbs.cmd_invoices_list,
    "invoices.show": ledger_verbs.cmd_invoices_show,
    "invoices.credit": invoices.cmd_invoices_credit,
    "invoices.skip": invoices.cmd_invoices_skip,
    "replay": ledger_verbs.cmd_replay,
    "records.list": ledger_verbs.cmd_records_list,
    "records.show": ledger_verbs.cmd_records_show,
    "records.replay": ledger_verbs.cmd_records_replay,
    "records.approve": records.cmd_records_approve,
    "records.primary": records.cmd_records_primary,
    "records.resolve": records.cmd_records_resolve,
    "worklist.list": worklist.cmd_worklist_list,
    "worklist.export": worklist.cmd_worklist_export,
    "worklist.done": worklist.cmd_worklist_done,
    "reconcile": reconcile.cmd_reconcile,
}
