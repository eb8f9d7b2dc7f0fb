"""The send-once protocol every flow runs: one record model, written once for all flows.

A record is a row with a state, attempts, a reason and an audit trail: an invoice's `ApDocument`
or a two-way flow's `SyncLink`. A `Ledger` says which model holds a flow's records, its table of
allowed transitions and the names of the protocol's states; the steps below work on any of them:

- `transition`: compare-and-set state change and its audit event in one transaction;
- `mark`: the durable mark (POSTING / SYNCING, attempts + 1, the request kept) committed before
  the request leaves, several records in one commit when a flow sends a batch;
- `send`: the request, its outcome recorded: an answer for the flow to read, a refusal, or
  IN_DOUBT when nothing tells whether the other system applied it;
- `unmark`: marked records whose request never started go back to ready;
- `recover_interrupted`: marked records found at the start of a cycle belong to a process that
  died mid-send and become IN_DOUBT;
- `settle`: a record sent before is looked up on the target side before it is sent again;
- `hold`: a record that cannot go as it is waits, with its reason, for a person.

Each flow supplies only what differs: discovering records, building the request, sending it,
reading the answer back and the look-up query.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from desktop_app.core.db import BaseModel, database, utcnow
from desktop_app.core.errors import ConnectError, OutcomeUnknown

log = logging.getLogger("desktop_app.sync.protocol")

IN_DOUBT = "IN_DOUBT"
FAILED = "FAILED"
HELD = "HELD"
# an IN_DOUBT reason that starts so: e.net answered with a session error, so nothing is still
# running in SYSPRO and the record can be looked up and sent again in the same cycle
SESSION_LOST = "The SYSPRO session ended during its post"


class IllegalTransition(RuntimeError):
    pass


class TransitionLost(IllegalTransition, ValueError):
    """Another writer (a person's Skip, another process) changed the row after it was read.

    Nothing was written; the record object holds the row as the other writer left it."""

    def __init__(self, row, wanted: str, was: str, *, what: str | None = None):
        self.doc, self.wanted, self.was = row, wanted, was
        super().__init__(f"{what or f'document {row.id}'} is now {row.state} (it was {was} when read), so it was "
                         f"not moved to {wanted}: someone else changed it meanwhile")


@dataclass(frozen=True)
class Ledger:
    """Where a flow's records live and what the protocol calls its states."""

    name: str
    model: type[BaseModel]
    allowed: dict[str, frozenset[str]]  # state → the states it may move to
    ready: str  # will be sent
    marked: str  # a request is on its way (committed before it leaves)
    audit: Callable[..., int]  # audit(row, kind, message, *, actor, data, xml_sent, xml_received)
    lost: type[TransitionLost] = TransitionLost
    noun: str = "record"  # "document", "record": in the words a person reads
    mark_kind: str = "write_attempt"  # the audit kind of a mark

    def check(self, row, new_state: str) -> None:
        if new_state not in self.allowed.get(row.state, ()):
            raise IllegalTransition(f"{self.noun} {row.id}: {row.state} → {new_state} is not allowed")


def one_transaction() -> AbstractContextManager:
    """A transaction for a state change and its event, unless the caller's is open: then that one
    holds them (an exception ends it, and no caller goes on inside a transaction after one)."""
    return nullcontext() if database.in_transaction() else database.atomic()


# ---------------------------------------------------------------------------- compare-and-set
def forget_changes(row: BaseModel) -> None:
    """The row is as stored. Peewee has no public call that forgets which fields were set since the
    row was read; this is the one place that reaches in."""
    row._dirty.clear()


def reread(row: BaseModel) -> BaseModel:
    """Load the row as it is now into `row` (after a lost compare-and-set)."""
    fresh = type(row).get_by_id(row.id)
    row.__data__ = dict(fresh.__data__)
    forget_changes(row)
    return row


def save_changes(row: BaseModel, *, expected_state: str | None = None, expected_updated_at: Any = ...) -> bool:
    """Write the fields set since the row was read or saved, as compare-and-set: only while the row
    is still in the state (and, when known, at the `updated_at`) it was read with, so a writer that
    read it earlier never writes over a person's Skip or another process. False when the row had
    changed: nothing was written."""
    model = type(row)
    dirty = row.dirty_fields
    if not dirty:
        return True
    dirty_names = {f.name for f in dirty}
    if expected_state is None and "state" not in dirty_names:
        expected_state = row.state
    if expected_updated_at is ...:
        expected_updated_at = None if "updated_at" in dirty_names else row.updated_at
    guards = [model.id == row.id]
    if expected_state is not None:
        guards.append(model.state == expected_state)
    if expected_updated_at is not None:
        guards.append(model.updated_at == expected_updated_at)
    written = model.update({f: getattr(row, f.name) for f in dirty}).where(*guards).execute() == 1
    if written:
        forget_changes(row)
    return written


def _unchanged_since(row: BaseModel, state: str, updated_at) -> bool:
    """True when the row is still as read, only stored in a text shape that does not read back to
    the same text (an older writer's timestamp): then the state alone guards the write."""
    model = type(row)
    stored = model.select(model.state, model.updated_at).where(model.id == row.id).first()
    return stored is not None and updated_at is not None and stored.state == state and stored.updated_at == updated_at


def transition(ledger: Ledger, row, new_state: str, kind: str, message: str, *, actor: str, event=None,
               xml_sent: str | None = None, xml_received: str | None = None, **fields):
    """Change state (and `fields`) and write the audit event (with `event` data) atomically, as compare-and-set: if the
    row is no longer as `row` was read (another writer moved it), nothing is written, `row` is
    re-read and `ledger.lost` is raised for the caller to leave it as the other writer left it."""
    ledger.check(row, new_state)
    with one_transaction():
        previous = row.state
        read_at = None if any(f.name == "updated_at" for f in row.dirty_fields) else row.updated_at
        row.state = new_state
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        if not save_changes(row, expected_state=previous, expected_updated_at=read_at):
            if not _unchanged_since(row, previous, read_at) or not save_changes(row, expected_state=previous):
                reread(row)
                raise ledger.lost(row, new_state, previous)
        ledger.audit(row, kind, message, actor=actor, data={"from": previous, "to": new_state, **(event or {})},
                     xml_sent=xml_sent, xml_received=xml_received)
    return row


# ---------------------------------------------------------------------------- the send-once steps
def wire_text(params: str, xml_in: str) -> str:
    """What a SYSPRO post sends, as kept in the audit trail."""
    return f"<!-- XmlParameters -->\n{params}\n<!-- XmlIn -->\n{xml_in}"


def mark(ledger: Ledger, rows: Iterable, message: Callable[[Any], str], *, actor: str,
         xml_sent: Callable[[Any], str | None] = lambda row: None,
         event: Callable[[Any], dict | None] = lambda row: None,
         fields: Callable[[Any], dict] = lambda row: {}, on_lost: Callable[[Any], None] | None = None) -> list:
    """Commit every record as marked (attempts + 1, what is sent) in one transaction, durable
    before the first request leaves. Returns the records marked; one another writer changed since
    it was read (a person's Skip) is left as they left it, and `on_lost` is told."""
    marked = []
    with database.atomic():
        for row in rows:
            try:
                transition(ledger, row, ledger.marked, ledger.mark_kind, message(row), actor=actor,
                           attempts=row.attempts + 1, event=event(row), xml_sent=xml_sent(row), **fields(row))
            except TransitionLost as lost:
                log.info("Not sending %s %s: %s", ledger.noun, row.id, lost)
                if on_lost is not None:
                    on_lost(row)
                continue
            marked.append(row)
    return marked


def unmark(ledger: Ledger, rows: list, *, actor: str) -> None:
    """Back to ready for marked records whose request never started (they stay marked, and so
    are looked up later, if even this cannot be written)."""
    if not rows:
        return
    try:
        with database.atomic():
            for row in rows:
                try:
                    transition(ledger, row, ledger.ready, "post_withdrawn",
                               "Not sent: the sync stopped before its turn.", actor=actor, attempts=row.attempts - 1)
                except TransitionLost:
                    continue  # another run took it over (and looks it up): its state stands
    except Exception:
        log.exception("Could not put %d unsent %s(s) back to %s; they will be looked up before they are sent",
                      len(rows), ledger.noun, ledger.ready)


def in_doubt(ledger: Ledger, row, kind: str, message: str, reason: str, *, actor: str, summary=None, **fields):
    """The outcome is unknown: looked up on the target side before anything is sent again."""
    transition(ledger, row, IN_DOUBT, kind, message, actor=actor, reason=reason, **fields)
    if summary is not None:
        summary.in_doubt += 1


NOT_SETTLED = object()  # `send`'s value when the outcome is recorded (IN_DOUBT, refused) and nothing is to read


def send(ledger: Ledger, row, request: Callable[[], Any], *, actor: str, system: str, summary=None,
         refused: tuple[type[BaseException], ...] = (), on_refused: Callable[[BaseException], None] | None = None,
         then: str = "It will be looked up before anything is sent again.", no_answer: str = "No usable answer",
         session_lost: bool = False):
    """Send the request of a marked record and return its answer for the flow to read, or record
    what can be known without one: no usable answer → IN_DOUBT; a refusal (`refused` exceptions)
    → `on_refused`; the request surely never reached `system` → IN_DOUBT, and ConnectError goes on
    to stop the flow. With `session_lost`, a write whose session ended is IN_DOUBT with a reason
    that lets the flow settle it in the same cycle."""
    from desktop_app.syspro.errors import SessionLostDuringWrite

    try:
        return request()
    except SessionLostDuringWrite as exc:
        if not session_lost:
            in_doubt(ledger, row, "no_answer", f"{no_answer} from {system}: {exc}. {then}",
                     f"No answer from {system}: {exc}", actor=actor, summary=summary)
            return NOT_SETTLED
        in_doubt(ledger, row, "session_lost", f"{exc} It is looked up in SYSPRO before anything is sent again.",
                 f"{SESSION_LOST}: {exc}", actor=actor, summary=summary)
    except OutcomeUnknown as exc:
        in_doubt(ledger, row, "no_answer", f"{no_answer} from {system}: {exc}. {then}",
                 f"No answer from {system}: {exc}", actor=actor, summary=summary)
    except refused as exc:
        if on_refused is not None:
            on_refused(exc)
    except ConnectError as exc:
        in_doubt(ledger, row, "not_sent", f"Could not reach {system}: {exc}", f"Could not reach {system}: {exc}",
                 actor=actor, summary=summary)
        raise
    return NOT_SETTLED


def unreadable_answer(ledger: Ledger, row, what: str, *, actor: str, summary=None, xml_received: str | None = None,
                      reason: str = "SYSPRO's answer could not be read") -> None:
    """An answer came but cannot be read: the outcome is unknown."""
    in_doubt(ledger, row, "unreadable_answer", f"{what}; it will be looked up before anything is sent again.",
             reason, actor=actor, summary=summary, xml_received=xml_received)


def taken_over(ledger: Ledger, row, lost: TransitionLost, *, actor: str) -> None:
    """The answer to a send came after another process took the record out of its mark (its
    recovery made it IN_DOUBT): that process's state stands, and it looks the record up."""
    log.warning("%s %s was taken over while its request was on its way: %s", ledger.noun.capitalize(), row.id, lost)
    ledger.audit(row, "answer_after_takeover",
                 f"SYSPRO answered this post after another run had taken the {ledger.noun} over (it is now "
                 f"{row.state}); it is left as that run left it and is looked up in SYSPRO before anything "
                 "else is sent.", actor=actor, data=None, xml_sent=None, xml_received=None)


def recover_interrupted(ledger: Ledger, message: str, reason: str, *, where=None) -> int:
    """Marked records at the start of a cycle: the process that marked them died mid-send."""
    model = ledger.model
    query = model.select().where(model.state == ledger.marked)
    if where is not None:
        query = query.where(where)
    count = 0
    for row in query:
        transition(ledger, row, IN_DOUBT, "interrupted", message, actor="recovery", reason=reason)
        count += 1
    return count


def settle(ledger: Ledger, row, look_up: Callable[[], bool], *, actor: str, summary=None) -> bool:
    """Before anything is sent again: `look_up()` finds the record on the target side (and records
    what it found, True) or says it is not there (False); then the record goes back to ready."""
    if look_up():
        return True
    transition(ledger, row, ledger.ready, "not_posted", "SYSPRO does not have it: it will be posted.", actor=actor,
               reason="")
    return False


def request_retry(ledger: Ledger, row, *, actor: str, reopen: frozenset[str] = frozenset(),
                  unreadable: bool = False) -> None:
    """A person's Retry, in the record's trail. A record in `reopen` goes back to ready; any other
    is left for the flow's cycle (evaluated again, or looked up first when it is IN_DOUBT)."""
    if unreadable:
        ledger.audit(row, "retry", f"Retry requested by {actor}: reading it again from ServiceTitan", actor=actor,
                     data=None, xml_sent=None, xml_received=None)
    elif row.state in reopen:
        transition(ledger, row, ledger.ready, "retry", f"Retry requested by {actor}", actor=actor, reason="",
                   event={"retry": True})
    else:
        ledger.audit(row, "retry", f"Retry requested by {actor} (state {row.state})", actor=actor, data=None,
                     xml_sent=None, xml_received=None)


def hold(ledger: Ledger, row, reason: str, *, actor: str, kind: str = "held", message: str | None = None,
         **fields) -> bool:
    """The record cannot go as it is: HELD with its reason, for a person. False when it already was."""
    if row.state == HELD and row.reason == reason and not fields:
        return False
    transition(ledger, row, HELD, kind, message or reason, actor=actor, reason=reason, **fields)
    return True


def send_batch(ledger: Ledger, rows: list, request: Callable[[], Any], *, actor: str, system: str, summary=None,
               refused: tuple[type[BaseException], ...] = (), on_refused: Callable[[BaseException], None] | None = None,
               then: str = "It will be looked up before anything is sent again.", no_answer: str = "No usable answer",
               session_lost: bool = False):
    """`send` for one request that carries several marked records (a post of several documents):
    what can be known without an answer holds for each of them, so each becomes IN_DOUBT and is
    looked up on its own before anything is sent again; a refusal of the whole request is told to
    `on_refused` once. Returns the answer, or NOT_SETTLED."""
    from desktop_app.syspro.errors import SessionLostDuringWrite

    def each(kind: str, message: str, reason: str) -> None:
        for row in rows:
            try:
                in_doubt(ledger, row, kind, message, reason, actor=actor, summary=summary)
            except TransitionLost as lost:
                taken_over(ledger, row, lost, actor=actor)

    try:
        return request()
    except SessionLostDuringWrite as exc:
        if session_lost:
            each("session_lost", f"{exc} It is looked up in SYSPRO before anything is sent again.",
                 f"{SESSION_LOST}: {exc}")
        else:
            each("no_answer", f"{no_answer} from {system}: {exc}. {then}", f"No answer from {system}: {exc}")
    except OutcomeUnknown as exc:
        each("no_answer", f"{no_answer} from {system}: {exc}. {then}", f"No answer from {system}: {exc}")
    except refused as exc:
        if on_refused is not None:
            on_refused(exc)
    except ConnectError as exc:
        each("not_sent", f"Could not reach {system}: {exc}", f"Could not reach {system}: {exc}")
        raise
    return NOT_SETTLED
