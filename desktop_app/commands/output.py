"""What every command shares: JSON output and the database it works on."""
from __future__ import annotations

import json
import sys
from typing import Any


def print_json(data: Any) -> None:
    """`--json` output: indented and key-sorted so it diffs well; dates, Decimals and the rest as text."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def open_engine_db():
    """Start logging and open the data directory's database for a command. The notice that the
    previous start stopped in the middle of an upgrade goes to stderr, so `--json` output stays parseable."""
    from desktop_app.core import db, logs

    logs.setup_logging()
    database = db.open_database()
    if db.upgrade_notice:
        print(db.upgrade_notice, file=sys.stderr)
    return database
