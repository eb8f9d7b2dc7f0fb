"""States and audit trail of the two-way flows (vendors, purchase-orders, adjustments).

Like the invoice ledger: every state change of a link goes through `transition`, which saves the
link and appends its audit event (ledger.record, flow = the flow's name) in one transaction.
A link is committed as SYNCING before the request that writes it leaves; a SYNCING link found at
the start of a cycle belongs to a process that died mid-write and becomes IN_DOUBT, and an
IN_DOUBT link is always looked up on the target side before anything is sent again.

The three flows derive from `TwoWaySync`, which runs those protocol steps (`desktop_app.sync.protocol`)
for them; each flow supplies its discovery, look-ups, requests and read-back.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from peewee import fn

from desktop_app.core.db import AuditEvent, SyncLink, database, utcnow
from desktop_app.core.errors import ConnectError, OutcomeUnknown
from desktop_app.sync import dates, freshness, ledger, protocol

READY = "READY"  # will be written this cycle
SYNCING = "SYNCING"  # a write is on its way (committed before the request)
SYNCED = "SYNCED"  # both sides agree as of the snapshots in the link
FAILED = "FAILED"  # the target refused the write: message in `reason`; retried on replay or a new edit
IN_DOUBT = "IN_DOUBT"  # no usable answer: looked up before any re-send
CONFLICT = "CONFLICT"  # changed on both sides since the last sync: a person (or the policy) decides
HELD = "HELD"  # cannot be synced as it is (mapping, missing field, look-alike): reason says why
SKIPPED = "SKIPPED"  # deliberately not synced (inactive and never linked, cancelled before sending)
WAITING = "WAITING_APPROVAL"  # would be created on the other side, but a cycle had too many: a person approves

STATES = (READY, SYNCING, SYNCED, FAILED, IN_DOUBT, CONFLICT, HELD, SKIPPED, WAITING)
ATTENTION = frozenset({FAILED, IN_DOUBT, CONFLICT, HELD, WAITING})
WORKING = (READY, IN_DOUBT, SYNCING)  # a record the flow's next pass has work for
# Where a waiting record would be created, by flow and origin: (one, many, how it would reach the other system)
WAITING_WORDS = {
    ("vendors", "syspro"): ("supplier from SYSPRO", "suppliers from SYSPRO", "created in ServiceTitan"),
    ("vendors", "servicetitan"): ("vendor from ServiceTitan", "vendors from ServiceTitan", "created in SYSPRO"),
    ("purchase-orders", "syspro"): ("purchase order from SYSPRO", "purchase orders from SYSPRO",
                                    "created in ServiceTitan"),
    ("purchase-orders", "servicetitan"): ("purchase order from ServiceTitan", "purchase orders from ServiceTitan",
                                          "created in SYSPRO"),
    ("adjustments", "servicetitan"): ("inventory adjustment from ServiceTitan",
                                      "inventory adjustments from ServiceTitan", "posted to SYSPRO"),
}
OTHER_WORDS = ("record", "records", "created in the other system")

log = logging.getLogger("desktop_app.sync.records")

FLOWS = ("vendors", "purchase-orders", "adjustments")
_MODULES = {"vendors": "desktop_app.sync.vendors", "purchase-orders": "desktop_app.sync.purchase_orders",
            "adjustments": "desktop_app.sync.adjustments"}


@dataclass
class FlowSummary:
    """What one cycle of a two-way flow did."""

    to_syspro: int = 0  # records created or changed in SYSPRO
    to_servicetitan: int = 0  # records created or changed in ServiceTitan
    linked: int = 0
    unchanged: int = 0
    conflicts: int = 0
    held: int = 0
    failed: int = 0
    in_doubt: int = 0
    settled: int = 0  # in-doubt writes found on the target side (not sent again)
    worklist_added: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def flow_module(flow: str):
    if flow not in _MODULES:
        raise ValueError(f"unknown flow {flow!r}; choose from {', '.join(FLOWS)}")
    return importlib.import_module(_MODULES[flow])


def record_key(link: SyncLink) -> str:
    """The audit key: where the record started ("vendor:<st id>" / "supplier:<code>" …)."""
    names = {"vendors": ("vendor", "supplier"), "purchase-orders": ("st-po", "syspro-po"),
             "adjustments": ("st-adjustment", "syspro-adjustment")}[link.flow]
    if link.origin == "syspro" or link.st_id is None:
        return f"{names[1]}:{link.syspro_key}"
    return f"{names[0]}:{link.st_id}"


def keys_of(link: SyncLink) -> list[str]:
    names = {"vendors": ("vendor", "supplier"), "purchase-orders": ("st-po", "syspro-po"),
             "adjustments": ("st-adjustment", "syspro-adjustment")}[link.flow]
    keys = []
    if link.st_id is not None:
        keys.append(f"{names[0]}:{link.st_id}")
    if link.syspro_key:
        keys.append(f"{names[1]}:{link.syspro_key}")
    for extra in (link.data or {}).get("former_keys", []):
        keys.append(extra)
    return keys


def record(link: SyncLink, kind: str, message: str, *, actor: str, data=None, xml_sent: str | None = None,
           xml_received: str | None = None) -> int:
    return ledger.record(None, kind, message, actor=actor, flow=link.flow, record_key=record_key(link), data=data,
                         xml_sent=xml_sent, xml_received=xml_received)


class LinkTransitionLost(protocol.TransitionLost):
    """Another writer changed the link after it was read: nothing was written, `link` holds the row
    as that writer left it."""

    def __init__(self, link: SyncLink, wanted: str, was: str):
        super().__init__(link, wanted, was, what=f"{link.flow} record {link.id}")


_ANY = frozenset(STATES)
# A write on its way ends with its answer (written, refused), unknown (in doubt), or withdrawn unsent.
ALLOWED = {state: _ANY for state in STATES} | {SYNCING: frozenset({SYNCED, FAILED, IN_DOUBT, READY})}
LEDGER = protocol.Ledger(name="records", model=SyncLink, allowed=ALLOWED, ready=READY, marked=SYNCING,
                         audit=record, lost=LinkTransitionLost, noun="record",
                         waits={WAITING: protocol.APPROVE_CREATION, CONFLICT: protocol.DECIDE_CONFLICT,
                                HELD: protocol.FIX_DATA})


def transition(link: SyncLink, new_state: str, kind: str, message: str, *, actor: str, event=None,
               xml_sent: str | None = None, xml_received: str | None = None, **fields) -> SyncLink:
    """`protocol.transition` over the links (`ALLOWED`): change state (and the link's `fields`) and
    write the audit event (with `event` data) atomically, as compare-and-set."""
    return protocol.transition(LEDGER, link, new_state, kind, message, actor=actor, event=event, xml_sent=xml_sent,
                               xml_received=xml_received, **fields)


def write_once(link: SyncLink, message: str, request, *, actor: str, summary, system: str, refused=(),
               on_refused=None, event=None, xml_sent: str | None = None, then: str | None = None, **fields):
    """The send-once steps for one link: marked SYNCING (durable, attempts + 1) before `request()`
    leaves, then its answer returned for the flow to read, or `protocol.NOT_SETTLED` when the
    outcome is recorded already (IN_DOUBT, refused, or a person changed the link first: nothing
    sent). A request that never left re-raises ConnectError."""
    marked = protocol.mark(LEDGER, [link], lambda _: f"{message} (attempt {link.attempts + 1})", actor=actor,
                           xml_sent=lambda _: xml_sent, event=lambda _: event,
                           fields=lambda _: {"last_attempt_at": utcnow(), **fields})
    if not marked:
        return protocol.NOT_SETTLED
    extra: dict[str, Any] = {"then": then} if then is not None else {}
    return protocol.send(LEDGER, link, request, actor=actor, system=system, summary=summary, refused=refused,
                         on_refused=on_refused, **extra)


def send_once(link: SyncLink, *, actor: str, summary, message: str, params: str, xml_in: str, send,
              noun: str, refused, event=None):
    """`write_once` for a SYSPRO business object: `send()` posts and parses; its value is returned,
    or None when nothing is to read (IN_DOUBT, refused by e.net into `refused(message)`, or a
    person changed the link first). An answer that lists no `noun` leaves the link IN_DOUBT."""
    from desktop_app.syspro.errors import BusinessObjectError

    def request():
        try:
            return send()
        except IndexError:
            return _UNREADABLE

    result = write_once(link, message, request, actor=actor, summary=summary, system="SYSPRO",
                        refused=(BusinessObjectError,), on_refused=lambda exc: refused(f"SYSPRO refused it: {exc}"),
                        event=event, xml_sent=protocol.wire_text(params, xml_in))
    if result is _UNREADABLE:
        protocol.unreadable_answer(LEDGER, link, f"SYSPRO's answer listed no {noun}", actor=actor, summary=summary)
        return None
    return None if result is protocol.NOT_SETTLED else result


_UNREADABLE = object()


# ---------------------------------------------------------------------------- records that cannot be read
UNREADABLE_FLAG = "unreadable"  # in link.data: the ServiceTitan version that cannot be read
_ST_NOUNS = {"vendors": "vendor", "purchase-orders": "purchase order", "adjustments": "adjustment"}


def is_unreadable(link: SyncLink | None) -> bool:
    """Held because ServiceTitan's version cannot be read: nothing of it is synced until a readable
    version comes (a new one in the feed, or Retry reading it again)."""
    return link is not None and bool((link.data or {}).get(UNREADABLE_FLAG))


def unreadable_reason(flow: str, label, error) -> str:
    return (f"ServiceTitan {_ST_NOUNS.get(flow, 'record')} {label}: {error}. Nothing of this version is synced; "
            "correct it in ServiceTitan (it is read again when it changes) or Retry to read it again.")


def take_read_again(flow: str, fetched, store, *, actor: str, summary) -> None:
    """A Retry of records held as unreadable: what ServiceTitan sends now (`fetched`) is held again
    when it still cannot be read, naming what is wrong now, and handed to `store` when it can."""
    from desktop_app.servicetitan.models import UnreadableRecord

    with database.atomic():
        for record in fetched:
            if isinstance(record, UnreadableRecord):
                hold_unreadable(flow, record, actor=actor, summary=summary)
            else:
                store(record)


def hold_unreadable(flow: str, record, *, actor: str, summary) -> SyncLink | None:
    """Hold a ServiceTitan record its model could not read (`models.UnreadableRecord`): its link is
    HELD with the field and value that stop it; the link keeps the last version it could read."""
    raw, st_id = record.raw, record.id
    label = str(raw.get("number") or raw.get("name") or raw.get("id"))
    from desktop_app.sync.readable import plain

    label = plain(label)[:100]
    reason = unreadable_reason(flow, label, plain(record.error))
    summary.held += 1
    if st_id is None:
        ledger.record(None, "unreadable", reason, actor=actor, flow=flow, record_key=f"st-unreadable:{label}")
        summary.problems.append(reason)
        return None
    link = SyncLink.get_or_none(SyncLink.flow == flow, SyncLink.st_id == st_id)
    version = plain(raw.get("modifiedOn") or "")
    if link is None:
        return new_link(flow, state=HELD, kind="unreadable", message=reason, actor=actor, st_id=st_id, label=label,
                        origin="servicetitan", reason=reason, data={UNREADABLE_FLAG: version or True})
    if link.state in (SYNCING, IN_DOUBT):
        record(link, "unreadable", f"{reason} A write of the last readable version is still being settled.",
               actor=actor)
        return link
    if link.state == HELD and link.reason == reason:
        return link
    protocol.hold(LEDGER, link, reason, actor=actor, kind="unreadable",
                  data={**(link.data or {}), UNREADABLE_FLAG: version or True})
    return link


def readable_again(link: SyncLink) -> bool:
    """A readable version arrived for a link held as unreadable: it is evaluated again (the caller
    saves the link). Returns whether it was held so."""
    if not is_unreadable(link):
        return False
    link.data = {key: value for key, value in (link.data or {}).items() if key != UNREADABLE_FLAG}
    if link.state == HELD:
        link.state, link.reason = READY, ""
    return True


def contain(link: SyncLink, *, actor: str, summary, step) -> None:
    """Run one link's step; an error in its data (not the cycle's own: cancel, connection, database)
    holds this link with the error and lets the flow go on with the next one. A link caught
    mid-write is IN_DOUBT (looked up before anything is sent again), never HELD; a step that lost
    its compare-and-set to another writer (a person's action) leaves the link as that writer did."""
    from peewee import DatabaseError

    from desktop_app.sync.context import Cancelled

    try:
        step()
    except (Cancelled, ConnectError, OutcomeUnknown, DatabaseError):
        raise
    except protocol.TransitionLost as lost:
        # a person (or another run) changed the link after this step read it: what they did stands
        log.info("%s record %s left as another writer left it: %s", link.flow, link.id, lost)
    except Exception as exc:
        log.warning("%s record %s could not be processed: %r", link.flow, link.id, exc)
        fresh = SyncLink.get_by_id(link.id)
        label = fresh.label or fresh.st_id or fresh.syspro_key
        if fresh.state == SYNCING:
            protocol.in_doubt(LEDGER, fresh, "unreadable_answer", f"Stopped while writing {label}: {exc}. It will be "
                              "looked up before anything is sent again.", f"Stopped while writing: {exc}",
                              actor=actor, summary=summary)
            return
        from desktop_app.sync.readable import plain

        reason = (f"{label} cannot be read: {plain(exc)}. Nothing of it is synced; correct it (it is read again "
                  "when it changes) or Retry.")[:2000]
        protocol.hold(LEDGER, fresh, reason, actor=actor, kind="unreadable")
        summary.held += 1


def new_link(flow: str, *, state: str, kind: str, message: str, actor: str, **fields) -> SyncLink:
    """A new link, written in its first state; one born waiting for a person says what they must do."""
    with database.atomic():
        link = SyncLink.create(flow=flow, state=state, **fields)
        record(link, kind, message, actor=actor, data=protocol.event_data(LEDGER, None, state))
    return link


def recover_interrupted(flow: str) -> int:
    """SYNCING rows at the start of a cycle: the process died mid-write."""
    return protocol.recover_interrupted(
        LEDGER, "The app stopped while this record was being written. The other system will be checked before it "
        "is sent again.", "Interrupted while writing: will be looked up first", where=SyncLink.flow == flow)


# ---------------------------------------------------------------------------- reading, for CLI and GUI
def link_dict(link: SyncLink) -> dict:
    return {"id": link.id, "flow": link.flow, "state": link.state, "reason": link.reason, "label": link.label,
            "st_id": link.st_id, "syspro_key": link.syspro_key, "origin": link.origin,
            "attempts": link.attempts, "updated_at": link.updated_at.isoformat() if link.updated_at else None,
            "conflict": link.conflict, "alias_of": (link.data or {}).get("alias_of")}


def list_records(flow: str, state: str | None = None, limit: int = 500) -> list[dict]:
    flow_module(flow)  # validates the name
    query = SyncLink.select().where(SyncLink.flow == flow).order_by(SyncLink.id.desc()).limit(limit)
    if state:
        state = state.upper()
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; states: {', '.join(STATES)}")
        query = query.where(SyncLink.state == state)
    return [link_dict(link) for link in query]


def trail(link_id: int) -> list[AuditEvent]:
    link = SyncLink.get_by_id(link_id)
    return list(AuditEvent.select().where(AuditEvent.flow == link.flow, AuditEvent.record_key.in_(keys_of(link)))
                .order_by(AuditEvent.id))


def show_record(link_id: int) -> dict:
    link = SyncLink.get_or_none(SyncLink.id == link_id)
    if link is None:
        raise LookupError(f"no record with id {link_id}")
    events = [{"at": e.created_at.isoformat(), "kind": e.kind, "actor": e.actor, "message": e.message,
               "data": e.data, "xml_sent": e.xml_sent, "xml_received": e.xml_received} for e in trail(link_id)]
    return {"record": {**link_dict(link), "st_synced": link.st_synced, "syspro_synced": link.syspro_synced,
                       "data": link.data}, "audit": events}


def counts(flow: str) -> dict[str, int]:
    result = {state: 0 for state in STATES}
    for state, count in (SyncLink.select(SyncLink.state, fn.COUNT(SyncLink.id)).where(SyncLink.flow == flow)
                         .group_by(SyncLink.state).tuples()):
        result[state] = count
    return result


def conflicts(flow: str | None = None) -> list[dict]:
    """Conflicts waiting for a person: both versions and the last synced one, per record."""
    query = SyncLink.select().where(SyncLink.state == CONFLICT).order_by(SyncLink.id)
    if flow:
        query = query.where(SyncLink.flow == flow)
    return [link_dict(link) for link in query]


# ---------------------------------------------------------------------------- actions
def resolve_conflict(ctx, link_id: int, winner: str) -> SyncLink:
    """A person chose the side that wins ("servicetitan" or "syspro"); it is written at once."""
    if winner not in ("servicetitan", "syspro"):
        raise ValueError("winner must be 'servicetitan' or 'syspro'")
    link = SyncLink.get_by_id(link_id)
    if link.state != CONFLICT:
        raise ValueError(f"record {link_id} is {link.state}, not in conflict")
    record(link, "conflict_decided", f"{ctx.actor} chose {winner} to win the conflict", actor=ctx.actor,
           data={"winner": winner})
    link.data = {**(link.data or {}), "winner": winner}
    link.save()
    flow_module(link.flow).run_cycle(ctx)
    return SyncLink.get_by_id(link_id)


def replay(ctx, flow: str, ids: list[int]) -> FlowSummary:
    """Retry records: FAILED/HELD/SKIPPED are re-evaluated with current mappings; IN_DOUBT ones are
    looked up first. Runs the flow's cycle, which only sends what is due."""
    dates.require_start_date(ctx.settings)
    module = flow_module(flow)
    unreadable = [link for link in SyncLink.select().where(SyncLink.flow == flow, SyncLink.id.in_(ids))
                  if is_unreadable(link) and link.st_id is not None]
    if unreadable:
        for link in unreadable:
            protocol.request_retry(LEDGER, link, actor=ctx.actor, unreadable=True)
        module.read_again(ctx, unreadable, FlowSummary())
    for link in SyncLink.select().where(SyncLink.flow == flow, SyncLink.id.in_(ids)):
        if any(link.id == held.id for held in unreadable):
            continue
        protocol.request_retry(LEDGER, link, actor=ctx.actor, reopen=frozenset({FAILED, HELD, SKIPPED}))
    return module.run_cycle(ctx)


# ---------------------------------------------------------------------------- creation under a person's control
def is_approved(link: SyncLink) -> bool:
    return bool((link.data or {}).get("approved"))


def waiting_sentence(flow: str, origin: str, count: int) -> str:
    """"50 suppliers from SYSPRO wait for your approval before they are created in ServiceTitan"."""
    one, many, where = WAITING_WORDS.get((flow, origin), OTHER_WORDS)
    if count == 1:
        return f"1 {one} waits for your approval before it is {where}"
    return f"{count:,} {many} wait for your approval before they are {where}"


def waiting_for_person(flow: str | None = None) -> list[dict]:
    """Everything that waits for a person, across flows (invoices and the two-way flows), from the
    one query `protocol.waiting`: per flow, state (and origin, for a two-way record) the count and
    what the person must do (`need`, one of `protocol.NEEDS`)."""
    rows: list[dict] = []
    if flow in (None, "invoices"):
        rows += protocol.waiting(ledger.LEDGER)
    if flow != "invoices":
        rows += protocol.waiting(LEDGER, by=("flow", "origin"), where=None if flow is None else SyncLink.flow == flow)
    return rows


def waiting_counts(flow: str | None = None) -> list[dict]:
    """Records waiting for a person's approval before they are created, per flow and origin, each
    with the sentence a person reads (`waiting_for_person`, the approval rows)."""
    return [{"flow": row["flow"], "origin": row["origin"], "count": row["count"],
             "sentence": waiting_sentence(row["flow"], row["origin"], row["count"])}
            for row in waiting_for_person(flow) if row.get("origin") is not None and row["state"] == WAITING]


class CreationGate:
    """Nothing is mass-created without a person (sync.max_auto_create).

    A flow's pass over its unlinked records runs twice: first planning (`holds` notes each record
    that would be created now and says "not yet"), then, after `release`, for real. When more fresh
    records than the limit would be created on one side, none of them is: they wait for approval.
    Approved records and ones sent before (their outcome is looked up) are never held back."""

    def __init__(self, ctx, flow: str):
        self.flow, self.actor = flow, ctx.actor
        self.limit = ctx.settings["sync.max_auto_create"]
        self.planning = True
        self.planned: dict[str, list[SyncLink]] = {}

    def holds(self, link: SyncLink) -> bool:
        """True: do not create it now (it waits for approval, or this is the planning pass)."""
        if link.state == WAITING and not is_approved(link):
            return True
        if self.planning:
            self.planned.setdefault(link.origin, []).append(link)
            return True
        return False

    def release(self) -> list[SyncLink]:
        """The planned records to create now, in order; the others become WAITING."""
        self.planning = False
        go: list[SyncLink] = []
        for origin, planned in self.planned.items():
            fresh = [link for link in planned if not is_approved(link) and link.attempts == 0]
            if len(fresh) <= self.limit:
                go.extend(planned)
                continue
            _one, many, where = WAITING_WORDS.get((self.flow, origin), OTHER_WORDS)
            reason = (f"One cycle would have {len(fresh):,} {many} {where}, more than sync.max_auto_create "
                      f"({self.limit}): waiting for your approval (Create selected / Create all on the page, or "
                      f"ml-connector records approve)")
            for link in fresh:
                protocol.wait_for_person(LEDGER, link, reason, actor=self.actor, state=WAITING,
                                         kind="waiting_approval")
            go.extend(link for link in planned if link not in fresh)
        return go


def approve(ctx, flow: str, ids: list[int] | None = None) -> tuple[int, FlowSummary]:
    """A person approves waiting records (all of the flow's when `ids` is None); they are created in
    this cycle, which runs at once. Returns (how many were approved, the cycle's summary)."""
    dates.require_start_date(ctx.settings)
    module = flow_module(flow)
    query = SyncLink.select().where(SyncLink.flow == flow, SyncLink.state == WAITING).order_by(SyncLink.id)
    if ids is not None:
        wanted = set(ids)
        found = {link.id: link for link in SyncLink.select().where(SyncLink.flow == flow, SyncLink.id.in_(wanted))}
        unknown = sorted(wanted - set(found))
        if unknown:
            raise ValueError(f"no {flow} record with id {', '.join(map(str, unknown))}")
        not_waiting = sorted(i for i, link in found.items() if link.state != WAITING)
        if not_waiting:
            raise ValueError(f"record(s) {', '.join(map(str, not_waiting))} are not waiting for approval "
                             "(see records list --state WAITING_APPROVAL)")
        query = query.where(SyncLink.id.in_(wanted))
    count = 0
    for link in query:
        transition(link, READY, "approved", f"Creation approved by {ctx.actor}", actor=ctx.actor, reason="",
                   data={**(link.data or {}), "approved": True})
        count += 1
    return count, module.run_cycle(ctx)


class LazySession:
    """The job's e.net session (`SyncContext.enet_session`), logged on only when SYSPRO is actually
    written or queried; the cycle logs off at its end, once for all flows."""

    def __init__(self, ctx):
        self.ctx = ctx

    def get(self):
        return self.ctx.enet_session()

    def close(self) -> None:
        pass

    def __enter__(self) -> LazySession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TwoWaySync:
    """One cycle of a two-way flow, in the shape of Vorta's BorgJob: this base runs the protocol's
    steps, written once for vendors, purchase orders and adjustments (recover at the start,
    `look_up_first` before any resend, `write` once, `hold` for a person, `failed`, one record's
    error contained by `one`), and each flow supplies only its own steps: `run` (discover and pass
    over its records), the look-up a resend waits for, the request it builds and sends, and how it
    reads the answer back."""

    FLOW: ClassVar[str]
    NOUN: ClassVar[str]  # "vendors": in the words a person reads

    def __init__(self, ctx, session: LazySession, summary: FlowSummary):
        self.ctx, self.session, self.summary, self.actor = ctx, session, summary, ctx.actor
        self.gate = CreationGate(ctx, self.FLOW)

    @classmethod
    def run_cycle(cls, ctx) -> FlowSummary:
        return run_flow(ctx, cls.FLOW, cls.NOUN, cls)

    def run(self) -> None:
        raise NotImplementedError

    def run_if_changed(self) -> bool:
        """A scheduled cycle before `sync.refresh_minutes` are up: the whole pass only when a record
        of the flow has work. Whether it ran."""
        if not freshness.flow_has_work(self.FLOW, WORKING):
            return False
        self.run()
        return True

    # ------------------------------------------------------------------ the protocol's steps
    def left_out(self, link: SyncLink) -> bool:
        """Not evaluated this cycle: it waits for a version that can be read."""
        return is_unreadable(link)

    def one(self, link: SyncLink, step: Callable[..., None]) -> None:
        """One record's step: held on its own if its data cannot be read, the flow going on."""
        if self.left_out(link):
            return
        contain(link, actor=self.actor, summary=self.summary, step=lambda: step(link))

    def look_up_first(self, link: SyncLink, look_up: Callable[[], bool], *, not_there: str) -> bool:
        """A link sent before is looked up on the target side before it is sent again
        (`protocol.settle`). True when `look_up` found it (and recorded what it found); an IN_DOUBT
        link it did not find is READY again, with `not_there` in its trail."""
        if not protocol.sent_before(link):
            return False
        found = protocol.settle(LEDGER, link, look_up, actor=self.actor, not_there=not_there)
        self.summary.settled += found
        return found

    def write(self, link: SyncLink, message: str, request, **kwargs):
        """`write_once` for this flow's cycle: marked, sent, its answer returned or its outcome recorded."""
        return write_once(link, message, request, actor=self.actor, summary=self.summary, **kwargs)

    def hold(self, link: SyncLink | None, state: str, reason: str, **fields) -> SyncLink:
        """Cannot go as it is: waits for a person (`protocol.wait_for_person`, HELD) or is SKIPPED,
        with its reason; `fields` are stored with it. A record seen for the first time gets its link."""
        self.summary.held += state == HELD
        if link is None:
            return new_link(self.FLOW, state=state, kind=state.lower(), message=reason, actor=self.actor,
                            reason=reason, **fields)
        if link.state == state and link.reason == reason:
            protocol.save(link, **fields)
        elif state in LEDGER.waits:
            protocol.wait_for_person(LEDGER, link, reason, actor=self.actor, state=state, **fields)
        else:
            transition(link, state, state.lower(), reason, actor=self.actor, reason=reason, **fields)
        return link

    def failed(self, link: SyncLink, message: str, *, kind: str = "rejected", reason: str | None = None,
               xml_received: str | None = None, **fields) -> None:
        """The target refused it (or its request cannot be built): FAILED, with `reason` (else the
        message) as its reason."""
        from desktop_app.core.redact import redact

        transition(link, FAILED, kind, message, actor=self.actor, reason=redact(reason or message)[:2000],
                   xml_received=xml_received, **fields)
        self.summary.failed += 1


class FeedSync(TwoWaySync):
    """A two-way flow that reads a feed of ServiceTitan's changes (`discover`, which returns how many
    records it brought) before the rest of its pass (`reconcile`): purchase orders and adjustments."""

    def discover(self) -> int:
        raise NotImplementedError

    def reconcile(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        self.discover()
        self.reconcile()

    def run_if_changed(self) -> bool:
        """The cheap feed every time; the rest only when it brought something or a record has work."""
        if not self.discover() and not freshness.flow_has_work(self.FLOW, WORKING):
            return False
        self.reconcile()
        return True


def run_flow(ctx, flow: str, noun: str, syncer) -> FlowSummary:
    """One cycle of a two-way flow: the shape all three share.

    No validate-only mode exists for these business objects, so a dry run changes nothing;
    records a crash left mid-write are looked up before anything is sent again.
    """
    summary = FlowSummary()
    if ctx.dry_run:
        summary.problems.append(f"Dry run: {noun} are not synced (this flow has no validate-only mode).")
        return summary
    interrupted = recover_interrupted(flow)
    if interrupted:
        log.warning("%d %s record(s) were interrupted mid-write; they will be looked up first", interrupted, noun)
    with LazySession(ctx) as session:
        sync = syncer(ctx, session, summary)
        if freshness.due(ctx, flow):
            sync.run()
            freshness.read(flow)
        elif sync.run_if_changed():
            freshness.read(flow)
        else:
            log.info("%s: nothing to do; the rest is read again when sync.refresh_minutes have passed",
                     noun.capitalize())
    now = counts(flow)
    summary.held, summary.failed = now[HELD], now[FAILED]
    summary.in_doubt, summary.conflicts = now[IN_DOUBT], now[CONFLICT]
    log.info("%s: %d to SYSPRO, %d to ServiceTitan, %d conflict(s), %d held, %d worklist row(s) added",
             noun.capitalize(), summary.to_syspro, summary.to_servicetitan, summary.conflicts, summary.held,
             summary.worklist_added)
    return summary
