"""The local SQLite database: Peewee models, schema versions and forward migrations.

One file per data directory, WAL mode, foreign keys on. The schema version lives in its own
table; each migration runs in a transaction after a timestamped copy of the file has been made,
so an interrupted migration can be undone by restoring that copy. A database written by a newer
ml-connector is refused rather than "upgraded" backwards.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import peewee as pw

from desktop_app.core import paths
from desktop_app.core.errors import ConfigError

database = pw.SqliteDatabase(None)
log = logging.getLogger("desktop_app.db")

APP_ID = 0x4D4C4331  # "MLC1": SQLite application_id marks the file as ours
BUSY_TIMEOUT_MS = 10_000  # how long to wait for another program's lock before saying so
# set by open_database when the previous start was stopped in the middle of an upgrade: what
# happened and how to go back, for the CLI and the GUI to show (it is logged as well)
upgrade_notice: str | None = None


class DatabaseError(ConfigError):
    """The database file cannot be used; the message says why and what to do."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class MoneyField(pw.TextField):
    """Decimal stored as text: SQLite's NUMERIC affinity would turn 12.50 into a float."""

    field_type = "TEXT"

    def db_value(self, value):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"{self.name}: money must be Decimal, got {type(value).__name__}")
        return format(value, "f")

    def python_value(self, value):
        return None if value is None else Decimal(value)


class _WritesIsoText:
    """A peewee date/time field that writes a date or datetime as ISO text itself: sqlite3's default
    adapters are deprecated since Python 3.12, so the text stored does not hang on which module
    registered which adapter. Peewee reads that text back with its own formats."""

    def db_value(self, value):
        value = super().db_value(value)
        if isinstance(value, dt.datetime):
            return value.isoformat(" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value


class DateTimeField(_WritesIsoText, pw.DateTimeField):
    """`str(datetime)`: "2024-05-01 12:30:45" or "2024-05-01 12:30:45.123456"."""


class DateField(_WritesIsoText, pw.DateField):
    """"2024-05-01"."""


class JSONField(pw.TextField):
    """JSON text: what json.dumps(value, default=_json_default, sort_keys=True) returns, so that equal
    values give equal text. `keys_as_given`: the keys in the value's own order instead, for a record
    kept as a service sent it (a person reading it sees the service's order)."""

    def __init__(self, *args, keys_as_given: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._encode = (_JSON_ENCODER_KEYS_AS_GIVEN if keys_as_given else _JSON_ENCODER).encode

    def db_value(self, value):
        return None if value is None else self._encode(value)

    def python_value(self, value):
        return None if value is None else json.loads(value)


def _json_default(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_JSON_ENCODER = json.JSONEncoder(default=_json_default, sort_keys=True)
_JSON_ENCODER_KEYS_AS_GIVEN = json.JSONEncoder(default=_json_default)


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Setting(BaseModel):
    key = pw.CharField(primary_key=True)
    value = pw.TextField()
    changed_by = pw.CharField(default="user")
    changed_at = DateTimeField(default=utcnow)


class MappingModel(BaseModel):
    changed_by = pw.CharField(default="user")
    changed_at = DateTimeField(default=utcnow)


class VendorMapping(MappingModel):
    st_vendor_id = pw.BigIntegerField(unique=True)
    st_vendor_name = pw.CharField(default="")
    syspro_supplier = pw.CharField()


class ItemMapping(MappingModel):
    st_sku_id = pw.BigIntegerField(null=True, unique=True)
    st_sku_code = pw.CharField(null=True, unique=True)
    syspro_stock_code = pw.CharField(default="")
    syspro_supplier = pw.CharField(default="")  # optional override of the SKU's vendor


class GlMapping(MappingModel):
    st_gl_account = pw.CharField()
    st_business_unit_id = pw.BigIntegerField(null=True)  # None: any business unit
    syspro_gl_code = pw.CharField()

    class Meta:
        indexes = ((("st_gl_account", "st_business_unit_id"), True),)


class BranchMapping(MappingModel):
    st_business_unit_id = pw.BigIntegerField(unique=True)
    st_business_unit_name = pw.CharField(default="")
    syspro_branch = pw.CharField()
    gl_segment = pw.CharField(default="")


class WarehouseMapping(MappingModel):
    st_location_id = pw.BigIntegerField(unique=True)
    st_location_name = pw.CharField(default="")
    syspro_warehouse = pw.CharField()


class SyncCursor(BaseModel):
    name = pw.CharField(primary_key=True)
    value = pw.TextField()
    updated_at = DateTimeField(default=utcnow)


def set_cursor(name: str, value: str) -> None:
    """Store a sync cursor (a feed token, a watermark, a digest) whole, stamped now."""
    SyncCursor.replace(name=name, value=value, updated_at=utcnow()).execute()


class SourceInvoice(BaseModel):
    """The latest ServiceTitan version of an invoice, kept so a replay re-maps without refetching."""

    st_invoice_id = pw.BigIntegerField(primary_key=True)
    number = pw.CharField(default="")
    modified_on = pw.CharField(default="")
    payload = JSONField(keys_as_given=True)  # the invoice as the feed sent it
    first_seen = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)


class ApDocument(BaseModel):
    """One AP document: the cost of one ST invoice owed to one SYSPRO supplier."""

    doc_key = pw.CharField(unique=True)  # "<st invoice id>:<supplier or unresolved vendor key>"
    st_invoice_id = pw.BigIntegerField(index=True)
    st_invoice_number = pw.CharField(default="", index=True)
    state = pw.CharField(index=True)
    supplier = pw.CharField(default="", index=True)
    syspro_invoice = pw.CharField(default="")
    transaction_code = pw.CharField(default="I")
    amount = MoneyField(default=Decimal("0.00"))
    invoice_date = DateField(null=True, index=True)
    branch = pw.CharField(default="", index=True)
    business_unit = pw.CharField(default="")
    technician = pw.CharField(default="")
    job_number = pw.CharField(default="")
    lines = JSONField(default=list)
    missing = JSONField(default=list)  # what blocks a NEEDS_MAPPING document
    left_out = JSONField(default=list)  # the invoice's stock lines kept out of AP (sync.ap_lines), with why
    reason = pw.TextField(default="")  # why it is FAILED / SKIPPED / IN_DOUBT / CHANGED_IN_SOURCE
    content_hash = pw.CharField(default="")
    source_modified_on = pw.CharField(default="")
    journal = pw.CharField(default="")
    syspro_amount = MoneyField(null=True)
    attempts = pw.IntegerField(default=0)
    write_back = pw.CharField(default="")  # "", PENDING, DONE, FAILED
    # a credit note: the ST invoice it returns (adjustmentToId), and the SYSPRO invoice a person chose
    # to apply it to (their data: a sync never changes it)
    credit_of = pw.BigIntegerField(null=True, index=True)
    credit_against = pw.CharField(default="")
    posted_at = DateTimeField(null=True)
    confirmed_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class AuditEvent(BaseModel):
    """Append-only: triggers in the schema refuse UPDATE and DELETE."""

    created_at = DateTimeField(default=utcnow)
    flow = pw.CharField(default="invoices")
    record_key = pw.CharField(index=True)  # ApDocument.doc_key or a flow's record key
    document_id = pw.IntegerField(null=True, index=True)
    kind = pw.CharField()
    actor = pw.CharField(default="scheduler")
    message = pw.TextField(default="")
    data = JSONField(null=True)
    xml_sent = pw.TextField(null=True)
    xml_received = pw.TextField(null=True)


class JobRun(BaseModel):
    """Run history of the job worker (Vorta's event log): what ran, when, and how it ended."""

    kind = pw.CharField()
    actor = pw.CharField(default="scheduler")
    state = pw.CharField(default="running")  # running, completed, failed, interrupted, cancelled
    started_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)
    summary = JSONField(null=True)
    error = pw.TextField(default="")


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


class SyncLink(BaseModel):
    """One record of a two-way flow (vendors, purchase-orders, adjustments): the ServiceTitan id,
    the SYSPRO key, and what each side looked like when the two last agreed. A side whose current
    version equals its `*_synced` snapshot has not changed since — which is how a change we wrote
    is not echoed back, and how a change on both sides is recognised as a conflict."""

    flow = pw.CharField(index=True)
    st_id = pw.BigIntegerField(null=True)
    syspro_key = pw.CharField(null=True)
    label = pw.CharField(default="")  # vendor name, PO number, adjustment number: for people
    origin = pw.CharField(default="")  # servicetitan | syspro | mapping: where the record started
    state = pw.CharField(index=True)
    reason = pw.TextField(default="")
    st_hash = pw.CharField(default="")
    syspro_hash = pw.CharField(default="")
    st_version = pw.CharField(default="")  # ServiceTitan modifiedOn of the synced version
    st_synced = JSONField(null=True)
    syspro_synced = JSONField(null=True)
    st_current = JSONField(null=True)  # latest ServiceTitan record seen, so a replay needs no refetch
    syspro_current = JSONField(null=True)
    conflict = JSONField(null=True)
    data = JSONField(null=True)  # flow-specific: line numbers, postings, planned key
    attempts = pw.IntegerField(default=0)
    last_attempt_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        # several ServiceTitan vendors may share one SYSPRO supplier (one primary, the others aliases)
        indexes = ((("flow", "st_id"), True), (("flow", "syspro_key"), False))


class WorklistRow(BaseModel):
    """A stock difference to make in ServiceTitan by hand: its API cannot create adjustments."""

    movement_key = pw.CharField(unique=True)  # journal/entry/warehouse/stock code/date of the SYSPRO movement
    warehouse = pw.CharField()
    st_location_id = pw.BigIntegerField(null=True)
    st_location_name = pw.CharField(default="")
    stock_code = pw.CharField()
    st_sku_id = pw.BigIntegerField(null=True)
    st_sku_code = pw.CharField(default="")
    quantity = MoneyField()  # Decimal as text, signed
    syspro_reference = pw.CharField(default="")
    journal = pw.CharField(default="")
    entry_date = DateField(null=True)
    done = pw.BooleanField(default=False, index=True)
    done_by = pw.CharField(default="")
    done_at = DateTimeField(null=True)
    note = pw.TextField(default="")
    created_at = DateTimeField(default=utcnow)


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


class PricebookSku(BaseModel):
    """A ServiceTitan pricebook material or equipment as its export feed last gave it: what the invoice
    flow maps through (code, name, primary vendor), kept so that a cycle reads only what changed."""

    id = pw.BigIntegerField(primary_key=True)
    kind = pw.CharField()  # material | equipment
    code = pw.CharField(default="")
    name = pw.CharField(default="")
    vendor_id = pw.BigIntegerField(null=True)
    vendor_name = pw.CharField(default="")
    active = pw.BooleanField(default=True)
    modified_on = pw.CharField(default="")  # as the feed sent it


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


# Ordered forward migrations; index + 1 is the schema version each one produces.
MIGRATIONS: list[Callable[[pw.SqliteDatabase], None]] = [_migration_1, _migration_2, _migration_3, _migration_4,
                                                         _migration_5, _migration_6, _migration_7, _migration_8]


def register_migration(step: Callable[[pw.SqliteDatabase], None]) -> int:
    """Later modules append their schema steps here; returns the version the step produces."""
    if step not in MIGRATIONS:
        MIGRATIONS.append(step)
    return MIGRATIONS.index(step) + 1


def latest_version() -> int:
    return len(MIGRATIONS)


def _read_only_uri(path: Path) -> str:
    """A `file:` URI SQLite opens read-only; `#`, `%`, `?` and spaces in the folder (legal in a
    Windows user name) are percent-encoded, or SQLite would take them for the URI's own syntax."""
    return Path(path).resolve().as_uri() + "?mode=ro"


# Every table a database of ours may hold (tests/core/test_db.py checks it against a new database).
OWN_TABLES = frozenset({
    "schema_version", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4",
    "setting", "vendor_mapping", "item_mapping", "gl_mapping", "branch_mapping", "warehouse_mapping",
    "sync_cursor", "source_invoice", "ap_document", "audit_event", "job_run", "sync_link", "worklist_row",
    "pricebook_sku",
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


def _report_interrupted_upgrade(db: pw.SqliteDatabase, path: Path) -> None:
    global upgrade_notice
    marker = _marker(path)
    if not marker.exists():
        return
    try:
        note = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        note = {}
    upgrade_notice = (
        f"The last start was stopped while it upgraded the database {path} from schema {note.get('from', '?')} "
        f"to {note.get('to', '?')}. Each step is all or nothing, so nothing was half-written: it is at schema "
        f"{_current_version(db)}, and the upgrade runs again now.{_restore_advice(path, note.get('backup'))}")
    log.warning("%s", upgrade_notice)


def migrate(db: pw.SqliteDatabase, path: Path) -> int:
    _report_interrupted_upgrade(db, path)
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
                f"so the database is at schema {index}; the next start tries again.{_restore_advice(path, copy and str(copy))}"
            ) from exc
    db.execute_sql(f"PRAGMA application_id = {APP_ID}")
    marker.unlink(missing_ok=True)
    return latest


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
