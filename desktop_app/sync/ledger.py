"""Invoice states and the audit trail (DESIGN §2).

Every state change of an AP document goes through `transition`, which writes the new state and
its audit event in one transaction. Audit events are append-only (enforced by SQLite triggers).
"""
from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext

from desktop_app.core.db import ApDocument, AuditEvent, BaseModel, database, utcnow
from desktop_app.core.redact import redact, redact_document

DISCOVERED = "DISCOVERED"
NEEDS_MAPPING = "NEEDS_MAPPING"
SKIPPED = "SKIPPED"
READY = "READY"
POSTING = "POSTING"
POSTED = "POSTED"
CONFIRMED = "CONFIRMED"
FAILED = "FAILED"
IN_DOUBT = "IN_DOUBT"
CHANGED_IN_SOURCE = "CHANGED_IN_SOURCE"
# A credit note whose original invoice is not posted yet: released to READY once it is.
WAITING_FOR_ORIGINAL = "WAITING_FOR_ORIGINAL"
# A credit note with no SYSPRO invoice to apply it to: a person picks one, or skips it.
HELD = "HELD"
# ServiceTitan sent the invoice with a field the engine cannot read (the reason names it): nothing of
# it is posted; it is read again when ServiceTitan sends a new version, or on Retry.
UNREADABLE = "UNREADABLE"

STATES = (DISCOVERED, NEEDS_MAPPING, SKIPPED, READY, POSTING, POSTED, CONFIRMED, FAILED, IN_DOUBT,
          CHANGED_IN_SOURCE, WAITING_FOR_ORIGINAL, HELD, UNREADABLE)

# States in which SYSPRO may already hold the document: never rebuilt, never posted again blindly.
LOCKED = frozenset({POSTING, POSTED, CONFIRMED, IN_DOUBT, CHANGED_IN_SOURCE})
# States a person must look at.
ATTENTION = frozenset({NEEDS_MAPPING, FAILED, IN_DOUBT, CHANGED_IN_SOURCE, HELD, UNREADABLE})

_CREDIT_WAIT = {WAITING_FOR_ORIGINAL, HELD}
ALLOWED = {
    DISCOVERED: {NEEDS_MAPPING, SKIPPED, READY, UNREADABLE, *_CREDIT_WAIT},
    NEEDS_MAPPING: {NEEDS_MAPPING, READY, SKIPPED, UNREADABLE, *_CREDIT_WAIT},
    READY: {READY, POSTING, NEEDS_MAPPING, SKIPPED, POSTED, FAILED, UNREADABLE, *_CREDIT_WAIT},
    POSTING: {POSTED, FAILED, IN_DOUBT, READY},  # READY: marked in a batch, never sent
    IN_DOUBT: {POSTED, READY, FAILED},
    FAILED: {READY, NEEDS_MAPPING, SKIPPED, POSTED, FAILED, UNREADABLE, *_CREDIT_WAIT},
    POSTED: {CONFIRMED, CHANGED_IN_SOURCE, POSTED},
    CONFIRMED: {CHANGED_IN_SOURCE, CONFIRMED, POSTED},
    CHANGED_IN_SOURCE: {POSTED, CONFIRMED, SKIPPED, CHANGED_IN_SOURCE},
    SKIPPED: {READY, NEEDS_MAPPING, SKIPPED, UNREADABLE, *_CREDIT_WAIT},
    WAITING_FOR_ORIGINAL: {READY, NEEDS_MAPPING, SKIPPED, UNREADABLE, *_CREDIT_WAIT},
    HELD: {READY, NEEDS_MAPPING, SKIPPED, UNREADABLE, *_CREDIT_WAIT},
    UNREADABLE: {READY, NEEDS_MAPPING, SKIPPED, UNREADABLE, *_CREDIT_WAIT},
}


class IllegalTransition(RuntimeError):
    pass


class TransitionLost(IllegalTransition, ValueError):
    """Another writer (a person's Skip, another process) changed the row after it was read.

    Nothing was written; the document object holds the row as the other writer left it."""

    def __init__(self, doc: ApDocument, wanted: str, was: str):
        self.doc, self.wanted, self.was = doc, wanted, was
        super().__init__(f"document {doc.id} is now {doc.state} (it was {was} when read), so it was not "
                         f"moved to {wanted}: someone else changed it meanwhile")


_GIVEN = object()
_ROW_PLANS: dict[tuple, tuple[str, list]] = {}
_UPDATES: dict[tuple[str, ...], str] = {}


def insert_row(model: type[BaseModel], **values) -> int:
    """The row model.create(**values) writes — given values, the fields' defaults for the rest —,
    without a model instance (as costly as the INSERT): for rows written several times per document
    (audit events, ledger rows, source invoices). The statement's text and each column's conversion
    are kept per model and set of columns instead of built anew by peewee for every row. Returns
    the new row's id."""
    meta = model._meta
    generated = meta.auto_increment and values.get(meta.primary_key.name) is None
    key = (model, generated, *values)
    plan = _ROW_PLANS.get(key)
    if plan is None:
        fields = [f for f in meta.sorted_fields
                  if (f.name in values or f in meta.defaults) and not (generated and f is meta.primary_key)]
        plan = _ROW_PLANS[key] = (
            'INSERT INTO "{}" ({}) VALUES ({})'.format(
                meta.table_name, ", ".join(f'"{f.column_name}"' for f in fields), ", ".join("?" for _ in fields)),
            [(f.name, f.db_value, _GIVEN if f.name in values else meta.defaults[f]) for f in fields])
    sql, columns = plan
    params = []
    for name, to_db, default in columns:
        value = values[name] if default is _GIVEN else default() if callable(default) else default
        params.append(to_db(value))
    return database.execute_sql(sql, params).lastrowid


def create_row(model: type[BaseModel], **values) -> BaseModel:
    """model.create(**values) through `insert_row`, for the callers that go on with the row."""
    row = model(**values)
    row_id = insert_row(model, **row.__data__)
    if row._pk is None:
        row._pk = row_id
    row._dirty.clear()
    return row


def save_changes(doc: ApDocument, *, expected_state: str | None = None,
                 expected_updated_at=_GIVEN) -> bool:
    """Write the fields set since the row was read or saved (peewee marks them dirty); the rest is as
    the row holds it. What doc.save() writes for them, the statement's text kept per set of columns.

    Compare-and-set: the row is written only while it is still in the state (and, when it was read,
    at the `updated_at`) the document was read with, so a writer that read it earlier never writes
    over a person's Skip or another process. False when the row had changed: nothing was written."""
    fields = [f for f in ApDocument._meta.sorted_fields if f.name in doc._dirty]
    if not fields:
        return True
    data = doc.__data__
    if expected_state is None and "state" not in doc._dirty:
        expected_state = data.get("state")
    if expected_updated_at is _GIVEN:
        expected_updated_at = data.get("updated_at") if "updated_at" not in doc._dirty else None
    guards = (("state",) if expected_state is not None else ()) + (
        ("updated_at",) if expected_updated_at is not None else ())
    names = tuple(f.name for f in fields) + ("|",) + guards
    sql = _UPDATES.get(names)
    if sql is None:
        sql = _UPDATES[names] = 'UPDATE "{}" SET {} WHERE {}'.format(
            ApDocument._meta.table_name, ", ".join(f'"{f.column_name}" = ?' for f in fields),
            " AND ".join(f'"{name}" = ?' for name in (ApDocument._meta.primary_key.column_name, *guards)))
    params = [f.db_value(data.get(f.name)) for f in fields] + [doc.id]
    if expected_state is not None:
        params.append(expected_state)
    if expected_updated_at is not None:
        params.append(ApDocument.updated_at.db_value(expected_updated_at))
    written = database.execute_sql(sql, params).rowcount == 1
    if written:
        doc._dirty.clear()
    return written


def reread(doc: ApDocument) -> ApDocument:
    """Load the row as it is now into `doc` (after a lost compare-and-set)."""
    fresh = ApDocument.get_by_id(doc.id)
    doc.__data__ = dict(fresh.__data__)
    doc._dirty.clear()
    return doc


def record(doc: ApDocument | None, kind: str, message: str, *, actor: str, flow: str = "invoices",
           record_key: str | None = None, data=None, xml_sent: str | None = None,
           xml_received: str | None = None) -> int:
    """Append an audit event; returns its id."""
    return insert_row(
        AuditEvent,
        flow=flow,
        record_key=record_key or (doc.doc_key if doc else ""),
        document_id=doc.id if doc else None,
        kind=kind,
        actor=actor,
        message=redact(message),
        data=data,
        xml_sent=redact_document(xml_sent) if xml_sent else None,
        xml_received=redact_document(xml_received) if xml_received else None,
    )


def _one_transaction() -> AbstractContextManager:
    """A transaction for a state change and its event, unless the caller's is open: then that one
    holds them (an exception ends it, and no caller goes on inside a transaction after one), and a
    savepoint would add two statements (~13 us) to each event of a page of the feed or of read-back."""
    return nullcontext() if database.in_transaction() else database.atomic()


def _unchanged_since(doc: ApDocument, state: str, updated_at) -> bool:
    """True when the row is still as read, only stored in a text shape that does not read back to
    the same text (an older writer's timestamp): then the state alone guards the write."""
    row = ApDocument.select(ApDocument.state, ApDocument.updated_at).where(ApDocument.id == doc.id).first()
    return row is not None and updated_at is not None and row.state == state and row.updated_at == updated_at


def transition(doc: ApDocument, new_state: str, kind: str, message: str, *, actor: str, data=None,
               xml_sent: str | None = None, xml_received: str | None = None, **fields) -> ApDocument:
    """Change state and write the audit event atomically, as compare-and-set: if the row is no longer
    as `doc` was read (another writer moved it), nothing is written, `doc` is re-read and
    TransitionLost is raised for the caller to leave the document as the other writer left it."""
    if new_state not in ALLOWED.get(doc.state, ()):
        raise IllegalTransition(f"document {doc.id}: {doc.state} → {new_state} is not allowed")
    with _one_transaction():
        previous = doc.state
        read_at = doc.__data__.get("updated_at") if "updated_at" not in doc._dirty else None
        doc.state = new_state
        for name, value in fields.items():
            setattr(doc, name, value)
        doc.updated_at = utcnow()
        if not save_changes(doc, expected_state=previous, expected_updated_at=read_at):
            if not _unchanged_since(doc, previous, read_at) or not save_changes(doc, expected_state=previous):
                # the row moved on since it was read: keep what the other writer left, write nothing
                reread(doc)
                raise TransitionLost(doc, new_state, previous)
        record(doc, kind, message, actor=actor,
               data={"from": previous, "to": new_state, **(data or {})},
               xml_sent=xml_sent, xml_received=xml_received)
    return doc


def new_document(new_state: str, kind: str, message: str, *, actor: str, discovered: str, discovered_data=None,
                 data=None, **fields) -> ApDocument:
    """A new document, DISCOVERED and at once moved on to `new_state`, written as one row.

    Its trail is what `create_row(..., state=DISCOVERED)`, `record(doc, "discovered", ...)` and
    `transition(doc, new_state, kind, ...)` write, in one transaction: an UPDATE less for each of
    the ~1.5 documents an invoice makes on its first evaluation."""
    if new_state not in ALLOWED[DISCOVERED]:
        raise IllegalTransition(f"a new document: {DISCOVERED} → {new_state} is not allowed")
    with _one_transaction():
        doc = create_row(ApDocument, state=new_state, **fields)
        record(doc, "discovered", discovered, actor=actor, data=discovered_data)
        record(doc, kind, message, actor=actor, data={"from": DISCOVERED, "to": new_state, **(data or {})})
    return doc


def trail(doc_id: int) -> list[AuditEvent]:
    doc = ApDocument.get_by_id(doc_id)
    keys = {doc.doc_key}
    # a document keeps its history when its key changes (placeholder → supplier)
    for event in AuditEvent.select(AuditEvent.record_key).where(AuditEvent.document_id == doc_id):
        keys.add(event.record_key)
    return list(
        AuditEvent.select()
        .where((AuditEvent.document_id == doc_id) | (AuditEvent.record_key.in_(list(keys))))
        .order_by(AuditEvent.id)
    )


def counts(states: Iterable[str] = STATES) -> dict[str, int]:
    from peewee import fn

    result = {state: 0 for state in states}
    for state, count in (ApDocument.select(ApDocument.state, fn.COUNT(ApDocument.id))
                         .group_by(ApDocument.state).tuples()):
        result[state] = count
    return result
