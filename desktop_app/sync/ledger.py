"""Invoice states and the audit trail (DESIGN §2).

Every state change of an AP document goes through `transition`, which writes the new state and
its audit event in one transaction. Audit events are append-only (enforced by SQLite triggers).
"""
from __future__ import annotations

from collections.abc import Iterable

from desktop_app.core.db import ApDocument, AuditEvent, BaseModel, database, utcnow
from desktop_app.core.redact import redact

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

STATES = (DISCOVERED, NEEDS_MAPPING, SKIPPED, READY, POSTING, POSTED, CONFIRMED, FAILED, IN_DOUBT,
          CHANGED_IN_SOURCE)

# States in which SYSPRO may already hold the document: never rebuilt, never posted again blindly.
LOCKED = frozenset({POSTING, POSTED, CONFIRMED, IN_DOUBT, CHANGED_IN_SOURCE})
# States a person must look at.
ATTENTION = frozenset({NEEDS_MAPPING, FAILED, IN_DOUBT, CHANGED_IN_SOURCE})

ALLOWED = {
    DISCOVERED: {NEEDS_MAPPING, SKIPPED, READY},
    NEEDS_MAPPING: {NEEDS_MAPPING, READY, SKIPPED},
    READY: {READY, POSTING, NEEDS_MAPPING, SKIPPED, POSTED, FAILED},
    POSTING: {POSTED, FAILED, IN_DOUBT},
    IN_DOUBT: {POSTED, READY, FAILED},
    FAILED: {READY, NEEDS_MAPPING, SKIPPED, POSTED, FAILED},
    POSTED: {CONFIRMED, CHANGED_IN_SOURCE, POSTED},
    CONFIRMED: {CHANGED_IN_SOURCE, CONFIRMED, POSTED},
    CHANGED_IN_SOURCE: {POSTED, CONFIRMED, SKIPPED, CHANGED_IN_SOURCE},
    SKIPPED: {READY, NEEDS_MAPPING, SKIPPED},
}


class IllegalTransition(RuntimeError):
    pass


_INSERTS: dict[tuple, str] = {}
_UPDATES: dict[tuple[str, ...], str] = {}


def create_row(model: type[BaseModel], **values) -> BaseModel:
    """model.create(**values), for rows written several times per document (audit events, ledger
    rows, source invoices): the same INSERT with each field's own conversion, its text kept per
    model and set of columns instead of built anew by peewee for every row."""
    row = model(**values)
    meta = model._meta
    pk = meta.primary_key
    generated = meta.auto_increment and row.__data__.get(pk.name) is None
    fields = [f for f in meta.sorted_fields if f.name in row.__data__ and not (generated and f is pk)]
    key = (model, *(f.name for f in fields))
    sql = _INSERTS.get(key)
    if sql is None:
        sql = _INSERTS[key] = _insert_sql(meta, fields)
    cursor = database.execute_sql(sql, [f.db_value(row.__data__[f.name]) for f in fields])
    if generated:
        row._pk = cursor.lastrowid
    row._dirty.clear()
    return row


def _insert_sql(meta, fields) -> str:
    return 'INSERT INTO "{}" ({}) VALUES ({})'.format(
        meta.table_name, ", ".join(f'"{f.column_name}"' for f in fields), ", ".join("?" for _ in fields))


_GIVEN = object()
_ROW_PLANS: dict[tuple, tuple[str, list]] = {}


def insert_row(model: type[BaseModel], **values) -> int:
    """The row model.create(**values) writes — given values, the fields' defaults for the rest —,
    without the model instance: for the audit events (several per document, never read back by the
    writer), whose instances cost as much CPU as the INSERT. Returns the new row's id."""
    plan = _ROW_PLANS.get((model, *values))
    if plan is None:
        meta = model._meta
        fields = [f for f in meta.sorted_fields
                  if f.name in values or (f in meta.defaults and not (f is meta.primary_key and meta.auto_increment))]
        plan = _ROW_PLANS[(model, *values)] = (
            _insert_sql(meta, fields),
            [(f.name, f.db_value, _GIVEN if f.name in values else meta.defaults[f]) for f in fields])
    sql, columns = plan
    params = []
    for name, to_db, default in columns:
        value = values[name] if default is _GIVEN else default() if callable(default) else default
        params.append(to_db(value))
    return database.execute_sql(sql, params).lastrowid


def save_changes(doc: ApDocument) -> None:
    """Write the fields set since the row was read or saved (peewee marks them dirty); the rest is as
    the row holds it. What doc.save() writes for them, the statement's text kept per set of columns."""
    fields = [f for f in ApDocument._meta.sorted_fields if f.name in doc._dirty]
    if not fields:
        return
    names = tuple(f.name for f in fields)
    sql = _UPDATES.get(names)
    if sql is None:
        sql = _UPDATES[names] = 'UPDATE "{}" SET {} WHERE "{}" = ?'.format(
            ApDocument._meta.table_name, ", ".join(f'"{f.column_name}" = ?' for f in fields),
            ApDocument._meta.primary_key.column_name)
    database.execute_sql(sql, [f.db_value(doc.__data__.get(f.name)) for f in fields] + [doc.id])
    doc._dirty.clear()


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
        xml_sent=redact(xml_sent) if xml_sent else None,
        xml_received=redact(xml_received) if xml_received else None,
    )


def transition(doc: ApDocument, new_state: str, kind: str, message: str, *, actor: str, data=None,
               xml_sent: str | None = None, xml_received: str | None = None, **fields) -> ApDocument:
    """Change state and write the audit event atomically."""
    if new_state not in ALLOWED.get(doc.state, ()):
        raise IllegalTransition(f"document {doc.id}: {doc.state} → {new_state} is not allowed")
    with database.atomic():
        previous = doc.state
        doc.state = new_state
        for name, value in fields.items():
            setattr(doc, name, value)
        doc.updated_at = utcnow()
        save_changes(doc)
        record(doc, kind, message, actor=actor,
               data={"from": previous, "to": new_state, **(data or {})},
               xml_sent=xml_sent, xml_received=xml_received)
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
