"""The ledger's tables as Peewee models, the field types they use, and the `database` they live in.

`database` is initialised by `desktop_app.core.db.open_database`; the schema each model describes is
created and upgraded by `desktop_app.core.migrations`. Money is stored as text (`MoneyField`), never
as a float, and dates and times as ISO text in UTC.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self, overload

import peewee as pw

database = pw.SqliteDatabase(None)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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


class _WritesIsoText(pw.Field):
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

    if TYPE_CHECKING:
        # peewee ships no types, so mypy would take a model's attribute to be the field object
        # itself; on an instance it is the stored value (peewee replaces the field by an accessor).
        @overload
        def __get__(self, instance: None, owner: type) -> Self: ...
        @overload
        def __get__(self, instance: object, owner: type) -> Any: ...
        def __get__(self, instance: object, owner: type) -> Any: ...
        def __set__(self, instance: object, value: dt.date | None) -> None: ...


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

    if TYPE_CHECKING:
        # peewee ships no types, so mypy would take a model's attribute to be the field object
        # itself; on an instance it is the stored value (peewee replaces the field by an accessor).
        @overload
        def __get__(self, instance: None, owner: type) -> Self: ...
        @overload
        def __get__(self, instance: object, owner: type) -> Any: ...
        def __get__(self, instance: object, owner: type) -> Any: ...
        def __set__(self, instance: object, value: Any) -> None: ...


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


class LedgerRecord(BaseModel):
    """What every flow's record is to the send-once protocol (`desktop_app.sync.protocol`): a state
    from its flow's transition table, why it is there, how often it was sent, and when it last
    changed (the compare-and-set guard). Invoices' `ApDocument` and the two-way flows' `SyncLink`
    are its two tables: their keys and payloads differ, their record and protocol do not."""

    state = pw.CharField(index=True)
    reason = pw.TextField(default="")
    attempts = pw.IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class ApDocument(LedgerRecord):
    """One AP document: the cost of one ST invoice owed to one SYSPRO supplier."""

    doc_key = pw.CharField(unique=True)  # "<st invoice id>:<supplier or unresolved vendor key>"
    st_invoice_id = pw.BigIntegerField(index=True)
    st_invoice_number = pw.CharField(default="", index=True)
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
    content_hash = pw.CharField(default="")
    source_modified_on = pw.CharField(default="")
    journal = pw.CharField(default="")
    syspro_amount = MoneyField(null=True)
    write_back = pw.CharField(default="")  # "", PENDING, DONE, FAILED
    # a credit note: the ST invoice it returns (adjustmentToId), and the SYSPRO invoice a person chose
    # to apply it to (their data: a sync never changes it)
    credit_of = pw.BigIntegerField(null=True, index=True)
    credit_against = pw.CharField(default="")
    posted_at = DateTimeField(null=True)
    confirmed_at = DateTimeField(null=True)


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


class SyncLink(LedgerRecord):
    """One record of a two-way flow (vendors, purchase-orders, adjustments): the ServiceTitan id,
    the SYSPRO key, and what each side looked like when the two last agreed. A side whose current
    version equals its `*_synced` snapshot has not changed since — which is how a change we wrote
    is not echoed back, and how a change on both sides is recognised as a conflict."""

    flow = pw.CharField(index=True)
    st_id = pw.BigIntegerField(null=True)
    syspro_key = pw.CharField(null=True)
    label = pw.CharField(default="")  # vendor name, PO number, adjustment number: for people
    origin = pw.CharField(default="")  # servicetitan | syspro | mapping: where the record started
    st_hash = pw.CharField(default="")
    syspro_hash = pw.CharField(default="")
    st_version = pw.CharField(default="")  # ServiceTitan modifiedOn of the synced version
    st_synced = JSONField(null=True)
    syspro_synced = JSONField(null=True)
    st_current = JSONField(null=True)  # latest ServiceTitan record seen, so a replay needs no refetch
    syspro_current = JSONField(null=True)
    conflict = JSONField(null=True)
    data = JSONField(null=True)  # flow-specific: line numbers, postings, planned key
    last_attempt_at = DateTimeField(null=True)
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


class Rehearsal(BaseModel):
    """A go-live rehearsal as it was run: what SYSPRO would receive and reject, kept for the page and
    the sign-off (the body is `sync.rehearsal.Rehearsal.as_dict()`). Only the latest few are kept."""

    ran_at = DateTimeField(default=utcnow, index=True)
    body = JSONField()
