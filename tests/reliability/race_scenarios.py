"""Race scenarios for the reliability report: what another writer does while a cycle posts.

- a session evicted mid-post: the operator logs on elsewhere between the POSTING mark and the
  post (SYSPRO keeps one session per operator), every few documents;
- a concurrent Skip: a person skips a READY document of the page the engine has just read, from
  another database connection, every few documents.

Judged like the fault scenarios (`scenarios.judge`): a skipped document that reached SYSPRO shows
as a disagreement between the ledger and SYSPRO, a second post as a duplicate.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from desktop_app.core.models import ApDocument, database
from desktop_app.sandbox.runner import Sandbox
from desktop_app.sync import invoices, ledger
from desktop_app.sync.build import is_credit_reference
from tests.reliability.scenarios import Outcome, one_cycle, recover


@contextmanager
def _before_each(name: str, every: int, action: Callable[[ApDocument], None]) -> Iterator[list[int]]:
    """Run `action(doc)` before every `every`-th call of invoices.<name>(ctx, session, doc, ...) (the
    first document of the call when it takes several)."""
    plain = getattr(invoices, name)
    hits: list[int] = []
    calls = [0]

    def hooked(ctx, session, doc, *args):
        calls[0] += 1
        if calls[0] % every == 0:
            first = doc[0] if isinstance(doc, list) else doc  # `_send_and_record` takes a call's documents
            action(first)
            hits.append(first.id)
        return plain(ctx, session, doc, *args)

    setattr(invoices, name, hooked)
    try:
        yield hits
    finally:
        setattr(invoices, name, plain)


def _cycles(box: Sandbox, outcome: Outcome, cycles: int, arrivals: int) -> None:
    for index in range(cycles):
        if index:
            box.company.st.advance(arrivals)
        one_cycle(outcome, flow="invoices")


def _clean_cycle(box: Sandbox, outcome: Outcome) -> Outcome:
    return recover(box, outcome, flow="invoices")


def evicted_mid_post_in(box: Sandbox, *, every: int = 3, cycles: int = 3, arrivals: int = 40) -> Outcome:
    from desktop_app.syspro.enet import EnetClient

    c = box.company.credentials
    other = EnetClient(base_url=box.syspro.enet_url, operator=c["syspro_operator"],
                       operator_password=c["syspro_operator_password"], company_id=c["syspro_company"],
                       company_password="", connect_timeout=5, read_timeout=5)

    def evict(_doc) -> None:
        with other.session():  # the same operator logs on elsewhere: the sync's session ends
            pass

    outcome = Outcome(f"a session evicted mid-post (1 in {every})")
    try:
        with _before_each("_send_and_record", every, evict) as hits:
            _cycles(box, outcome, cycles, arrivals)
    finally:
        other.close()
    outcome.kills = len(hits)  # the evictions that landed
    return _clean_cycle(box, outcome)


def concurrent_skip_in(box: Sandbox, *, every: int = 4, cycles: int = 3, arrivals: int = 40) -> Outcome:
    skipped: list[int] = []

    def skip_a_later_one(doc) -> None:
        later = (ApDocument.select(ApDocument.id).where(ApDocument.state == ledger.READY, ApDocument.id > doc.id)
                 .order_by(ApDocument.id).first())
        if later is None:
            return

        def person() -> None:  # a thread: its own database connection, as the GUI's or the CLI's
            with database.connection_context():
                try:
                    invoices.skip(later.id, "paid another way", actor="person")
                    skipped.append(later.id)
                except ledger.IllegalTransition:
                    pass

        thread = threading.Thread(target=person)
        thread.start()
        thread.join()

    outcome = Outcome(f"a concurrent Skip (1 in {every})")
    with _before_each("_prepare", every, skip_a_later_one):
        _cycles(box, outcome, cycles, arrivals)
    outcome.kills = len(skipped)
    outcome = _clean_cycle(box, outcome)
    # a person's Skip stands: none of the skipped documents reached SYSPRO or left SKIPPED
    posted = {(r["Supplier"], r["Invoice"]) for r in box.company.syspro.ap_invoices}
    credits = {(r["Supplier"], r["Invoice"], r["Reference"]) for r in box.company.syspro.ap_invoice_pays}
    for doc in ApDocument.select().where(ApDocument.id.in_(skipped)):
        # a credit note carries its original's number: it is known by its reference instead
        sent = (any(s == doc.supplier and i == doc.syspro_invoice and is_credit_reference(ref, doc.st_invoice_id)
                    for s, i, ref in credits) if doc.transaction_code == "C"
                else (doc.supplier, doc.syspro_invoice) in posted)
        if doc.state != ledger.SKIPPED or sent:
            outcome.disagree += 1
            outcome.notes.append(f"skipped document {doc.id} is {doc.state}{' and in SYSPRO' * sent}")
    return outcome


RACES = [evicted_mid_post_in, concurrent_skip_in]
