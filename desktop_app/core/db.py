"""Opening and closing the local SQLite database.

One file per data directory, WAL mode, foreign keys on, every commit waiting for the disk. A file
that is not ours, is damaged, or was written by a newer schema is refused untouched; otherwise it is
brought up to date by `desktop_app.core.migrations.migrate`. The tables are in
`desktop_app.core.models`.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee as pw

from desktop_app.core import paths
from desktop_app.core.errors import DatabaseError
from desktop_app.core.migrations import APP_ID, interrupted_upgrade, migrate

# `database` is used here; the other names are re-exported for desktop_app/sync/*.py,
# desktop_app/ui/*.py, desktop_app/cli.py and desktop_app/commands.py, which import them from this
# module. They stay until those modules import them from desktop_app.core.models directly.
from desktop_app.core.models import (  # noqa: F401
    ApDocument,
    AuditEvent,
    BaseModel,
    BranchMapping,
    GlMapping,
    ItemMapping,
    JobRun,
    PricebookSku,
    SourceInvoice,
    SyncCursor,
    SyncLink,
    VendorMapping,
    WarehouseMapping,
    WorklistRow,
    database,
    set_cursor,
    utcnow,
)

BUSY_TIMEOUT_MS = 10_000  # how long to wait for another program's lock before saying so
# set by open_database when the previous start was stopped in the middle of an upgrade: what
# happened and how to go back, for the CLI and the GUI to show (it is logged as well)
upgrade_notice: str | None = None


def _read_only_uri(path: Path) -> str:
    """A `file:` URI SQLite opens read-only; `#`, `%`, `?` and spaces in the folder (legal in a
    Windows user name) are percent-encoded, or SQLite would take them for the URI's own syntax."""
    return Path(path).resolve().as_uri() + "?mode=ro"


# Every table a database of ours may hold (tests/core/test_db.py checks it against a new database).
OWN_TABLES = frozenset({
    "schema_version", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4",
    "setting", "vendor_mapping", "item_mapping", "gl_mapping", "branch_mapping", "warehouse_mapping",
    "sync_cursor", "source_invoice", "ap_document", "audit_event", "job_run", "sync_link", "worklist_row",
    "pricebook_sku", "rehearsal",
})


def _check_file(path: Path) -> None:
    """Refuse a file that is not a SQLite database of ours, without writing to it.

    Ours: marked with APP_ID, or (a first start stopped before the mark was written by an older
    version) unmarked with a schema_version table and only tables of ours.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"The database file {path} is damaged or is not a database ({exc}). It was left untouched. "
            f"Restore a copy from {path.parent / 'backups'}, or move the file away to start afresh."
        ) from None
    ours_unmarked = app_id == 0 and "schema_version" in tables and tables <= OWN_TABLES
    if app_id != APP_ID and (tables or app_id) and not ours_unmarked:
        raise DatabaseError(
            f"The file {path} is a SQLite database of another program, not of ml-connector. "
            "It was left untouched. Move it away or point ML_CONNECTOR_HOME at another folder."
        )


def open_database(path: Path | None = None) -> pw.SqliteDatabase:
    """Open (creating or migrating) the database of the current data directory."""
    global upgrade_notice
    path = path or paths.db_path()
    upgrade_notice = None
    _check_file(path)
    if not database.is_closed():
        database.close()
    database.init(
        str(path),
        pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            # an accounting ledger: a committed POSTING mark must survive power loss, so every
            # commit waits for the disk
            "synchronous": "full",
            "busy_timeout": BUSY_TIMEOUT_MS,
        },
        check_same_thread=False,
    )
    try:
        database.connect(reuse_if_open=True)
        upgrade_notice = interrupted_upgrade(database, path)
        migrate(database, path)
    except DatabaseError:
        database.close()
        raise
    except pw.OperationalError as exc:
        database.close()
        if "locked" in str(exc).lower():
            raise DatabaseError(
                f"The database {path} is locked by another program. Close it and try again."
            ) from None
        raise DatabaseError(f"The database {path} cannot be opened: {exc}") from None
    except pw.DatabaseError as exc:
        database.close()
        raise DatabaseError(f"The database {path} cannot be used: {exc}") from None
    if path.exists() and hasattr(path, "chmod"):
        try:
            path.chmod(0o600)
        except OSError:
            pass
    return database


def close_database() -> None:
    if not database.is_closed():
        database.close()
