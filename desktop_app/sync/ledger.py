"""Invoice states, their transition table and the audit trail.

Every state change of an AP document goes through `transition` (`protocol.transition` over this
ledger's table `ALLOWED`), which writes the new state and its audit event in one transaction.
Audit events are append-only (enforced by SQLite triggers).
"""
from __future__ import annotations

from collections.abc import Iterable

from desktop_app.core.db import ApDocument, AuditEvent, BaseModel, database, utcnow
from desktop_app.core.redact import redact, redact_document
from desktop_app.sync import protocol

IllegalTransition = protocol.IllegalTransition
TransitionLost = protocol.TransitionLost

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


_STATEMENTS: dict[tuple, str | None] = {}


def insert_row(model: type[BaseModel], **values) -> int:
    """Insert a row (given values, the fields' defaults for the rest) without building a model
    instance; returns the new row's id.

    Several rows are written per document, and building the statement is most of the work of
    writing one: when the values name every column peewee writes, the statement peewee built for
    that set of columns is kept and only the values are converted (each field's `db_value`)."""
    names = tuple(values)
    key = (model, names)
    sql = _STATEMENTS.get(key, "")
    if sql:
        params = [getattr(model, name).db_value(values[name]) for name in names]
        return database.execute_sql(sql, params).lastrowid
    query = model.insert_many([tuple(values.values())], fields=[getattr(model, name) for name in names])
    if key not in _STATEMENTS:
        text, params = query.sql()
        # kept only when peewee added no column of its own (a default), so the values are the parameters
        _STATEMENTS[key] = text if len(params) == len(names) else None
    return query.execute()


def create_row(model: type[BaseModel], **values) -> BaseModel:
    """model.create(**values) through `insert_row`: every column a new instance holds (given values
    and defaults, its `dirty_fields`) is written, so the statement is the same for every row."""
    row = model(**values)
    row_id = insert_row(model, **{field.name: getattr(row, field.name) for field in row.dirty_fields})
    if row.id is None:
        row.id = row_id
    return row


def save_changes(doc: ApDocument, **fields) -> bool:
    """Compare-and-set write of `fields` (`protocol.save`): False, nothing written, when the
    document changed since it was read."""
    return protocol.save(doc, **fields)


def reread(doc: ApDocument) -> ApDocument:
    return protocol.reread(doc)


def record(doc: ApDocument | None, kind: str, message: str, *, actor: str, flow: str = "invoices",
           record_key: str | None = None, data=None, xml_sent: str | None = None,
           xml_received: str | None = None) -> int:
    """Append an audit event; returns its id."""
    return insert_row(
        AuditEvent,
        created_at=utcnow(),
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


def _audit(doc: ApDocument, kind: str, message: str, **event) -> int:
    return record(doc, kind, message, **event)


LEDGER = protocol.Ledger(name="invoices", model=ApDocument, allowed={k: frozenset(v) for k, v in ALLOWED.items()},
                         ready=READY, marked=POSTING, audit=_audit, noun="document",
                         mark_kind="post_attempt",
                         waits={NEEDS_MAPPING: protocol.FIX_DATA, HELD: protocol.PICK_CREDIT_TARGET,
                                CHANGED_IN_SOURCE: protocol.ACCEPT_CHANGE, UNREADABLE: protocol.FIX_DATA})


def transition(doc: ApDocument, new_state: str, kind: str, message: str, *, actor: str, data=None,
               xml_sent: str | None = None, xml_received: str | None = None, **fields) -> ApDocument:
    """`protocol.transition` over the invoice ledger: compare-and-set, with its audit event."""
    return protocol.transition(LEDGER, doc, new_state, kind, message, actor=actor, event=data, xml_sent=xml_sent,
                               xml_received=xml_received, **fields)


def new_document(new_state: str, kind: str, message: str, *, actor: str, discovered: str, discovered_data=None,
                 data=None, **fields) -> ApDocument:
    """A new document, DISCOVERED and at once moved on to `new_state`, written as one row.

    Its trail is what `create_row(..., state=DISCOVERED)`, `record(doc, "discovered", ...)` and
    `transition(doc, new_state, kind, ...)` write, in one transaction."""
    if new_state not in ALLOWED[DISCOVERED]:
        raise IllegalTransition(f"a new document: {DISCOVERED} → {new_state} is not allowed")
    with protocol.one_transaction():
        doc = create_row(ApDocument, state=new_state, **fields)
        record(doc, "discovered", discovered, actor=actor, data=discovered_data)
        record(doc, kind, message, actor=actor, data=protocol.event_data(LEDGER, DISCOVERED, new_state, data))
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
