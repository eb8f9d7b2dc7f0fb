"""Schema versions and forward migrations of the local database.

`MIGRATIONS` is the ordered list of steps; the `schema_version` table holds how many have run.
Before an existing database is upgraded a timestamped copy of the file is made (`backup`), and each
step runs with its version update in one transaction, so an interrupted upgrade leaves the database
at the last whole step; a marker file tells the next start that it happened. A database written by a
newer ml-connector is refused rather than "upgraded" backwards.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import peewee as pw

from desktop_app.core import paths
from desktop_app.core.errors import DatabaseError
from desktop_app.core.models import (
    ApDocument,
    AuditEvent,
    BranchMapping,
    GlMapping,
    ItemMapping,
    JobRun,
    PricebookSku,
    Rehearsal,
    Setting,
    SourceInvoice,
    SyncCursor,
    SyncLink,
    VendorMapping,
    WarehouseMapping,
    WorklistRow,
)

log = logging.getLogger("desktop_app.db")

APP_ID = 0x4D4C4331  # "MLC1": SQLite application_id marks the file as ours


MODELS_V1 = [Setting, VendorMapping, ItemMapping, GlMapping, BranchMapping, WarehouseMapping,
             SyncCursor, SourceInvoice, ApDocument, AuditEvent, JobRun]


def _migration_1(db: pw.SqliteDatabase) -> None:
    db.create_tables(MODELS_V1)
    db.execute_sql(
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
    )
    db.execute_sql(
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
    )


def _migration_2(db: pw.SqliteDatabase) -> None:
    db.create_tables([SyncLink, WorklistRow])


def _migration_3(db: pw.SqliteDatabase) -> None:
    # SYSPRO knows an AP invoice by supplier and number: each new document checks it is not taken
    db.execute_sql("CREATE INDEX IF NOT EXISTS apdocument_supplier_syspro_invoice "
                   "ON ap_document (supplier, syspro_invoice)")


# Indexes no query filters or sorts by, which every write kept up to date: a document's updated_at
# changes with each of its state changes, an audit event's created_at with each event.
UNUSED_INDEXES = ("ap_document_updated_at", "audit_event_created_at")


def _migration_4(db: pw.SqliteDatabase) -> None:
    for name in UNUSED_INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


def _migration_5(db: pw.SqliteDatabase) -> None:
    db.create_tables([PricebookSku])


def _migration_6(db: pw.SqliteDatabase) -> None:
    # a database made by this version's _migration_1 has the columns already
    table = "ap_document"
    present = {column.name for column in db.get_columns(table)}
    if "credit_of" not in present:
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "credit_of" INTEGER')
    if "credit_against" not in present:
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "credit_against" VARCHAR(255) NOT NULL DEFAULT \'\'')
    db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_credit_of" ON "{table}" ("credit_of")')


def _migration_7(db: pw.SqliteDatabase) -> None:
    # a SYSPRO key may now belong to more than one link (vendors sharing a supplier)
    table = "sync_link"
    db.execute_sql("DROP INDEX IF EXISTS sync_link_flow_syspro_key")
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS sync_link_flow_syspro_key ON {table} (flow, syspro_key)")


def _migration_8(db: pw.SqliteDatabase) -> None:
    table = "ap_document"
    # a database made by _migration_1 from today's model has the column already
    columns = {row[1] for row in db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()}
    if "left_out" not in columns:
        db.execute_sql(f"ALTER TABLE \"{table}\" ADD COLUMN \"left_out\" TEXT NOT NULL DEFAULT '[]'")


def _migration_10(db: pw.SqliteDatabase) -> None:
    db.create_tables([Rehearsal])


# Ordered forward migrations; index + 1 is the schema version each one produces.
MIGRATIONS: list[Callable[[pw.SqliteDatabase], None]] = [_migration_1, _migration_2, _migration_3, _migration_4,
                                                         _migration_5, _migration_6, _migration_7, _migration_8,
                                                         _migration_10]


def latest_version() -> int:
    return len(MIGRATIONS)


def _current_version(db: pw.SqliteDatabase) -> int:
    db.execute_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def backup(path: Path, label: str) -> Path | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = paths.backups_dir() / f"{path.stem}-{label}-{stamp}{path.suffix}"
    source = sqlite3.connect(str(path))
    try:
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)  # consistent copy even with WAL content not yet checkpointed
        finally:
            dest.close()
    finally:
        source.close()
    return target


def _marker(path: Path) -> Path:
    """Present while an upgrade runs: a start that finds it knows the last one was stopped midway."""
    return path.with_name(path.name + ".upgrading")


def _restore_advice(path: Path, copy: str | None) -> str:
    if not copy:
        return ""
    return (f" A copy from before the upgrade is {copy}: to go back to it, quit ml-connector and copy it "
            f"over {path} (and install the version that used it).")


def interrupted_upgrade(db: pw.SqliteDatabase, path: Path) -> str | None:
    """What to tell a person when the previous start was stopped in the middle of an upgrade (it is
    logged as well), or None."""
    marker = _marker(path)
    if not marker.exists():
        return None
    try:
        note = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        note = {}
    notice = (
        f"The last start was stopped while it upgraded the database {path} from schema {note.get('from', '?')} "
        f"to {note.get('to', '?')}. Each step is all or nothing, so nothing was half-written: it is at schema "
        f"{_current_version(db)}, and the upgrade runs again now.{_restore_advice(path, note.get('backup'))}")
    log.warning("%s", notice)
    return notice


def migrate(db: pw.SqliteDatabase, path: Path) -> int:
    """Bring the database up to `latest_version()`; returns it."""
    version = _current_version(db)
    latest = latest_version()
    if version > latest:
        raise DatabaseError(
            f"This database was written by a newer ml-connector (schema {version}; this version "
            f"knows up to {latest}). Install the newer version again; the file was not changed."
        )
    if version == 0:
        # marked ours before the first table exists: a first start stopped midway leaves a file the
        # next start recognises and finishes, not "another program's database"
        db.execute_sql(f"PRAGMA application_id = {APP_ID}")
    copy = None
    if latest > version > 0:
        copy = backup(path, f"before-v{version + 1}")
    marker = _marker(path)
    if version < latest:
        marker.write_text(json.dumps({"from": version, "to": latest, "backup": str(copy) if copy else None}),
                          encoding="utf-8")
    for index in range(version, latest):
        try:
            with db.atomic():
                MIGRATIONS[index](db)
                db.execute_sql("DELETE FROM schema_version")
                db.execute_sql("INSERT INTO schema_version (version) VALUES (?)", (index + 1,))
        except Exception as exc:
            marker.unlink(missing_ok=True)  # reported now; the marker is for a start that was killed
            if isinstance(exc, pw.OperationalError) and "locked" in str(exc).lower():
                raise  # another program holds the file: open_database says so
            raise DatabaseError(
                f"Upgrading the database {path} to schema {index + 1} failed ({exc}). That step was undone, "
                f"so the database is at schema {index}; the next start tries again."
                f"{_restore_advice(path, str(copy) if copy else None)}"
            ) from exc
    db.execute_sql(f"PRAGMA application_id = {APP_ID}")
    marker.unlink(missing_ok=True)
    return latest


