"""Invoice states and the audit trail (DESIGN §2).

Every state change of an AP document goes through `transition`, which writes the new state and
its audit event in one transaction. Audit events are append-only (enforced by SQLite triggers).
"""
from __future__ import annotations

from collections.abc import Iterable

from desktop_app.core.db import ApDocument, AuditEvent, database, utcnow
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


def record(doc: ApDocument | None, kind: str, message: str, *, actor: str, flow: str = "invoices",
           record_key: str | None = None, data=None, xml_sent: str | None = None,
           xml_received: str | None = None) -> AuditEvent:
    return AuditEvent.create(
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
        doc.save()
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
