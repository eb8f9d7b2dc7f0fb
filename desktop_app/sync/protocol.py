"""The send-once protocol every flow runs: one record model, written once for all flows.

A record is a `LedgerRecord` (a state, attempts, a reason, `updated_at`) with an audit trail: an
invoice's `ApDocument` or a two-way flow's `SyncLink`. A `Ledger` says which model holds a flow's records, its table of
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
- `request_retry`: a person's Retry;
- `wait_for_person` (and `hold`, its HELD form): a record that cannot go on waits, with its reason
  and what the person must do, in one of its ledger's `waits` states; `waiting` counts them.

Compare-and-set uses peewee's public API only: the state and `updated_at` the row was read with
guard an `UPDATE … WHERE`, the fields to write are passed by name, and a lost write re-reads the row.

Each flow supplies only what differs: discovering records, building the request, sending it,
reading the answer back and the look-up query.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from peewee import fn

from desktop_app.core.errors import ConnectError, OutcomeUnknown
from desktop_app.core.models import LedgerRecord, database, utcnow

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
    model: type[LedgerRecord]
    allowed: dict[str, frozenset[str]]  # state → the states it may move to
    ready: str  # will be sent
    marked: str  # a request is on its way (committed before it leaves)
    audit: Callable[..., int]  # audit(row, kind, message, *, actor, data, xml_sent, xml_received)
    lost: type[TransitionLost] = TransitionLost
    noun: str = "record"  # "document", "record": in the words a person reads
    mark_kind: str = "write_attempt"  # the audit kind of a mark
    waits: Mapping[str, str] = field(default_factory=dict)  # state → what a person must do (`wait_for_person`)

    def check(self, row, new_state: str) -> None:
        if new_state not in self.allowed.get(row.state, ()):
            raise IllegalTransition(f"{self.noun} {row.id}: {row.state} → {new_state} is not allowed")


def one_transaction() -> AbstractContextManager:
    """A transaction for a state change and its event, unless the caller's is open: then that one
    holds them (an exception ends it, and no caller goes on inside a transaction after one)."""
    return nullcontext() if database.in_transaction() else database.atomic()


# ---------------------------------------------------------------------------- compare-and-set
def reread(row: LedgerRecord) -> LedgerRecord:
    """Load the row as it is now into `row` (after a lost compare-and-set): the caller's object then
    shows what the other writer left."""
    model = type(row)
    for name, value in model.select().where(model.id == row.id).dicts().get().items():
        setattr(row, name, value)
    return row


def write_if_unchanged(row: LedgerRecord, values: dict[str, Any], *, state: str | None, updated_at: Any) -> bool:
    """UPDATE the row's `values` only while it is still in `state` and at `updated_at`, the state and
    time it was read with (each when known: a row read with some columns only lacks the others).
    False when another writer changed it: nothing was written."""
    model = type(row)
    guards = [model.id == row.id]
    if state is not None:
        guards.append(model.state == state)
    if updated_at is not None:
        guards.append(model.updated_at == updated_at)
    return model.update(**values).where(*guards).execute() == 1


def save(row: LedgerRecord, **fields) -> bool:
    """Write `fields` (no state change) as compare-and-set on the state and `updated_at` the row was
    read with; False when it had changed since: nothing was written. A row read with some columns
    only (no `updated_at`) is guarded by its state."""
    if not fields:
        return True
    if not write_if_unchanged(row, fields, state=row.state, updated_at=row.updated_at):
        return False
    for name, value in fields.items():
        setattr(row, name, value)
    return True


def _unchanged_since(row: LedgerRecord, state: str, updated_at) -> bool:
    """True when the row is still as read, only stored in a text shape that does not read back to
    the same text (an older writer's timestamp): then the state alone guards the write."""
    model = type(row)
    stored = model.select(model.state, model.updated_at).where(model.id == row.id).first()
    return stored is not None and updated_at is not None and stored.state == state and stored.updated_at == updated_at


def transition(ledger: Ledger, row, new_state: str, kind: str, message: str, *, actor: str, event=None,
               xml_sent: str | None = None, xml_received: str | None = None, **fields):
    """Change state (and `fields`) and write the audit event (with `event` data) atomically, as compare-and-set: if the
    row is no longer as `row` was read (another writer moved it), nothing is written, `row` is
    re-read and `ledger.lost` is raised for the caller to leave it as the other writer left it.
    Only the state, `updated_at` and `fields` are written: an attribute the caller set on `row`
    without passing it is not."""
    ledger.check(row, new_state)
    previous, read_at = row.state, row.updated_at
    values = {**fields, "state": new_state, "updated_at": utcnow()}
    with one_transaction():
        if not write_if_unchanged(row, values, state=previous, updated_at=read_at):
            if not _unchanged_since(row, previous, read_at) or \
                    not write_if_unchanged(row, values, state=previous, updated_at=None):
                reread(row)
                raise ledger.lost(row, new_state, previous)
        for name, value in values.items():
            setattr(row, name, value)
        ledger.audit(row, kind, message, actor=actor, data=event_data(ledger, previous, new_state, event),
                     xml_sent=xml_sent, xml_received=xml_received)
    return row


def event_data(ledger: Ledger, previous: str | None, new_state: str, event: dict | None = None) -> dict:
    """A state change's audit data: from, to, and for a state that waits for a person what they must
    do (`waits_for`), whichever step moved it there; `event` adds to it."""
    data: dict[str, Any] = {} if previous is None else {"from": previous}
    data["to"] = new_state
    if new_state in ledger.waits:
        data["waits_for"] = ledger.waits[new_state]
    return {**data, **(event or {})}


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


def sent_before(row) -> bool:
    """Its request may have reached the target: it is looked up (`settle`) before it is sent again."""
    return row.attempts > 0 or row.state == IN_DOUBT


def settle(ledger: Ledger, row, look_up: Callable[[], bool], *, actor: str, summary=None,
           not_there: str = "SYSPRO does not have it: it will be posted.") -> bool:
    """Before anything is sent again: `look_up()` finds the record on the target side (and records
    what it found, True) or says it is not there (False); then an IN_DOUBT record goes back to
    ready (`not_there` in its trail) and any other is left to be sent as it is."""
    if look_up():
        return True
    if row.state == IN_DOUBT:
        transition(ledger, row, ledger.ready, "not_posted", not_there, actor=actor, reason="")
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


# ---------------------------------------------------------------------------- waiting for a person
# What a person must do for a record that waits for them (in its trail as the event's `waits_for`).
APPROVE_CREATION = "approve_creation"  # more new records than sync.max_auto_create: Create / records approve
PICK_CREDIT_TARGET = "pick_credit_target"  # a credit with no SYSPRO invoice to apply to: Credit against…, or Skip
ACCEPT_CHANGE = "accept_change"  # changed at the source after it was sent: accept it as sent, or Skip
DECIDE_CONFLICT = "decide_conflict"  # changed on both sides: choose the side that wins
FIX_DATA = "fix_data"  # a mapping, a field or a look-alike: correct it, then Retry
NEEDS = (APPROVE_CREATION, PICK_CREDIT_TARGET, ACCEPT_CHANGE, DECIDE_CONFLICT, FIX_DATA)


def wait_for_person(ledger: Ledger, row, why: str, *, actor: str, state: str = HELD, need: str | None = None,
                    kind: str | None = None, message: str | None = None, event: dict | None = None,
                    **fields) -> bool:
    """The record cannot go on without a person: it moves to `state` (one of the ledger's `waits`)
    with `why` as its reason, and its trail says what the person must do (`need`, by default what
    the state asks for). False, nothing written, when it already waited so."""
    if state not in ledger.waits:
        raise IllegalTransition(f"{ledger.name}: {state} is not a state that waits for a person")
    if row.state == state and row.reason == why and not fields:
        return False
    transition(ledger, row, state, kind or state.lower(), message or why, actor=actor, reason=why,
               event={"waits_for": need, **(event or {})} if need else event, **fields)
    return True


def hold(ledger: Ledger, row, reason: str, *, actor: str, kind: str = "held", message: str | None = None,
         **fields) -> bool:
    """The record cannot go as it is: HELD with its reason (`wait_for_person`). False when it already was."""
    return wait_for_person(ledger, row, reason, actor=actor, kind=kind, message=message, **fields)


def waiting(ledger: Ledger, *, where=None, by: tuple[str, ...] = ()) -> list[dict]:
    """What waits for a person in one ledger: a row per state (and per the columns `by`) with the
    count and what the person must do. The one query the dashboard and the CLI count from."""
    model = ledger.model
    columns = [getattr(model, name) for name in by]
    query = (model.select(model.state, *columns, fn.COUNT(model.id))
             .where(model.state.in_(sorted(ledger.waits))).group_by(model.state, *columns)
             .order_by(*columns, model.state))
    if where is not None:
        query = query.where(where)
    return [{"flow": ledger.name, "state": state, **dict(zip(by, rest[:-1], strict=True)), "count": rest[-1],
             "need": ledger.waits[state]} for state, *rest in query.tuples()]


def unreadable_batch_answer(ledger: Ledger, rows: list, what: str, *, actor: str, summary=None,
                            xml_received: str | None = None) -> None:
    """The answer to a request of several records came but cannot be read: each is IN_DOUBT, to be
    looked up on its own (`unreadable_answer`); one another writer changed meanwhile stands."""
    for row in rows:
        try:
            unreadable_answer(ledger, row, what, actor=actor, summary=summary, xml_received=xml_received)
        except TransitionLost as lost:
            taken_over(ledger, row, lost, actor=actor)


def refused_as_too_long(ledger: Ledger, rows: list, exc, *, session, budget: int, actor: str) -> None:
    """The server refused a request of several records as too long, before anything was processed
    (HTTP.sys: 414, or 400 "Request Too Long"): the session remembers half the size for its next
    requests, and each record goes back to ready without the attempt counting, to go again in a
    smaller request. A record another writer changed meanwhile is left as they left it."""
    from desktop_app.syspro import batching

    smaller = batching.remember_refusal(session, exc.request_bytes, budget)
    for row in rows:
        try:
            transition(ledger, row, ledger.ready, "request_too_long",
                       f"Not sent: {exc} It goes again in a smaller post (at most {smaller} bytes).",
                       actor=actor, attempts=row.attempts - 1)
        except TransitionLost as lost:
            taken_over(ledger, row, lost, actor=actor)


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
