"""Several two-way records in one e.net post: PORTOI takes several `<Orders>` (each processed on its
own), INVTMA several `<Item>`s (a record may be several of them).

A flow queues each record's document (`PostQueue.add`) while it walks its records, and `flush` sends
them packed by `desktop_app/syspro/batching.py` (the packer the invoices use): the links of one call
are marked SYNCING in one commit before it leaves (`protocol.mark`), the call's outcome without an
answer is each link's (`protocol.send_batch`), and each link reads its own item of the answer (by
its place, ItemNumber). A call the server refuses as too long puts its links back to READY and is
packed again within half the budget; a document alone over the budget is HELD with its reason.

A record whose items must post all or none (an inventory adjustment of several stock codes) goes in
an `all_or_nothing` queue: a call of several records is sent with ApplyIfEntireDocumentValid=Y, so an
item SYSPRO refuses means nothing of the call was posted; the records with a refused item fail, and
the others are packed again without them. An answer that posted part of such a call is read as
unclear: each record is looked up (by its reference) before anything is sent again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from desktop_app.core.db import utcnow
from desktop_app.sync import protocol, records
from desktop_app.syspro import batching, xmlout

log = logging.getLogger("desktop_app.sync.batch_posts")


@dataclass
class Queued:
    link: Any  # SyncLink
    body: str  # its part of the XmlIn (inside the root)
    message: str  # the mark's words
    then: Callable[[list, str], None]  # (its items of the answer, their XML) → record the outcome
    refused: Callable[[str], None]  # a refusal of the whole call (e.net exception text)
    what: str  # names it in a HELD reason
    items: int = 1  # items of the answer that are its own
    fields: dict | None = None  # link fields written with its mark
    event: dict | None = None  # audit data of its mark


class PostQueue:
    """Documents of one business object waiting to be posted together, for one flow's cycle."""

    def __init__(self, ctx, session, summary, *, business_object: str, parameters: Callable[[int], str],
                 parse: Callable[[str], Any], noun: str, all_or_nothing: bool = False):
        self.ctx, self.session, self.summary = ctx, session, summary
        self.business_object, self.parse, self.noun = business_object, parse, noun
        self.parameters_for = parameters  # the XmlParameters of a call of N records
        self.all_or_nothing = all_or_nothing
        self.head = self.tail = ""
        self.queued: list[Queued] = []

    def add(self, link, xml_in: str, message: str, *, then, refused, what: str, items: int = 1,
            fields: dict | None = None, event: dict | None = None) -> None:
        """Queue `link`'s one-document `xml_in` (`items` items); `then(items, xml)` records what SYSPRO
        answered for it."""
        self.head, body, self.tail = batching.split_document(xml_in)
        self.queued.append(Queued(link, body, message, then, refused, what, items, fields, event))

    def flush(self) -> None:
        """Post everything queued."""
        pieces = [batching.Piece(key=n, xml=q.body, payload=q) for n, q in enumerate(self.queued)]
        self.queued = []
        while pieces:
            pieces = self._post(pieces)

    def _post(self, pieces: list[batching.Piece]) -> list[batching.Piece]:
        session = self.session.get()
        budget = batching.request_budget(session, self.ctx.settings)
        overhead = batching.post_overhead(session, self.business_object, self.parameters_for(2), self.head, self.tail)
        packing = batching.pack(pieces, overhead=overhead, max_bytes=budget,
                                max_count=int(self.ctx.settings["syspro.post_batch_size"]))
        for piece in packing.too_big:
            queued = piece.payload
            reason = batching.too_long_reason(queued.what, overhead + piece.size, budget)
            records.contain(queued.link, actor=self.ctx.actor, summary=self.summary,
                            step=lambda q=queued, r=reason: protocol.hold(records.LEDGER, q.link, r,
                                                                          actor=self.ctx.actor, kind="too_long"))
        for index, batch in enumerate(packing.batches):
            self.ctx.check_cancelled()
            if self._send([piece.payload for piece in batch], session, budget):
                later = [piece for rest in packing.batches[index + 1:] for piece in rest]
                return [piece for piece in batch if piece.payload.link.state == records.READY] + later
        return []

    def _send(self, batch: list[Queued], session, budget: int) -> bool:
        """One call for `batch`; True when some of it is READY again, to pack again (the server refused
        it as too long, or an all-or-nothing call was refused for others' items)."""
        from desktop_app.syspro.errors import BusinessObjectError, RequestTooLong

        batch_id = f"{utcnow():%Y%m%dT%H%M%S}-{batch[0].link.id}"
        several = len(batch) > 1
        by_link = {q.link.id: q for q in batch}

        parameters = self.parameters_for(len(batch))

        def sent(link) -> str:
            text = protocol.wire_text(parameters, self.head + by_link[link.id].body + self.tail)
            return text + (f"\n<!-- one of {len(batch)} in SYSPRO post {batch_id} -->" if several else "")

        def event(link) -> dict | None:
            data = dict(by_link[link.id].event or {})
            if several:
                data.update(batch=batch_id, of=len(batch))
            return data or None

        marked = protocol.mark(records.LEDGER, [q.link for q in batch],
                               lambda link: f"{by_link[link.id].message} (attempt {link.attempts + 1})",
                               actor=self.ctx.actor, xml_sent=sent, event=event,
                               fields=lambda link: {"last_attempt_at": utcnow(), **(by_link[link.id].fields or {})})
        if not marked:
            return False
        queued = [by_link[link.id] for link in marked]
        if len(queued) != len(batch):
            several, parameters = len(queued) > 1, self.parameters_for(len(queued))
        xml_in = self.head + "".join(q.body for q in queued) + self.tail
        too_long: list[BaseException] = []

        def refused(exc: BaseException) -> None:
            if isinstance(exc, RequestTooLong):
                too_long.append(exc)
                protocol.refused_as_too_long(records.LEDGER, marked, exc, session=session, budget=budget,
                                             actor=self.ctx.actor)
                return
            for q in queued:
                q.refused(f"SYSPRO refused it: {exc}")

        answer = protocol.send_batch(records.LEDGER, marked,
                                     lambda: session.post(self.business_object, parameters, xml_in),
                                     actor=self.ctx.actor, system="SYSPRO", summary=self.summary,
                                     refused=(BusinessObjectError, RequestTooLong), on_refused=refused)
        if too_long:
            return True
        if answer is protocol.NOT_SETTLED:
            return False
        try:
            result = self.parse(answer)
            elements = [e for e in xmlout.load(answer, after_post=True) if xmlout.name(e).lower() == "item"]
        except Exception as exc:
            protocol.unreadable_batch_answer(records.LEDGER, marked, f"SYSPRO's answer could not be read ({exc})",
                                             actor=self.ctx.actor, summary=self.summary, xml_received=answer)
            return False
        numbered = {item.item_number or n: (item, element) for n, (item, element)
                    in enumerate(zip(result.items, elements, strict=False), start=1)}
        first = 1
        shares = []
        for q in queued:
            numbers = range(first, first + q.items)
            first += q.items
            shares.append([numbered[n] for n in numbers if n in numbered] if all(n in numbered for n in numbers)
                          else None)
        if several and self.all_or_nothing:
            return self._all_or_nothing(queued, shares, result, batch_id)
        for number, (q, share) in enumerate(zip(queued, shares, strict=True), start=1):
            if share is None:
                self._unclear(q, f"SYSPRO's answer holds no {self.noun} for it")
                continue
            text = "".join(etree.tostring(element, encoding="unicode") for _, element in share) if several else answer
            if several:
                text += f"\n<!-- item {number} of {len(queued)} in SYSPRO post {batch_id} -->"
            records.contain(q.link, actor=self.ctx.actor, summary=self.summary,
                            step=lambda q=q, share=share, text=text: q.then([item for item, _ in share], text))
        return False

    def _unclear(self, q: Queued, reason: str) -> None:
        records.contain(q.link, actor=self.ctx.actor, summary=self.summary, step=lambda: protocol.in_doubt(
            records.LEDGER, q.link, "unclear_answer", f"{reason}; it will be looked up before anything is sent "
            "again.", reason, actor=self.ctx.actor, summary=self.summary))

    def _all_or_nothing(self, queued: list[Queued], shares: list, result, batch_id: str) -> bool:
        """A call of several records sent with ApplyIfEntireDocumentValid=Y."""
        items = [item for share in shares if share for item, _ in share]
        refused = [i for i, share in enumerate(shares) if share and any(not item.ok for item, _ in share)]
        posted_any = any(getattr(item, "journal", None) for item in items)
        if not refused or posted_any or any(share is None for share in shares):
            if refused or any(share is None for share in shares):
                for q in queued:  # partly posted, or not every record answered: each is looked up
                    self._unclear(q, f"SYSPRO's answer to post {batch_id} does not say what became of every item")
                return False
            for number, (q, share) in enumerate(zip(queued, shares, strict=True), start=1):
                text = "".join(etree.tostring(element, encoding="unicode") for _, element in share)
                text += f"\n<!-- item {number} of {len(queued)} in SYSPRO post {batch_id} -->"
                records.contain(q.link, actor=self.ctx.actor, summary=self.summary,
                                step=lambda q=q, share=share, text=text: q.then([item for item, _ in share], text))
            return False
        # nothing was posted: the records with a refused item fail, the others go again without them
        for index, (q, share) in enumerate(zip(queued, shares, strict=True)):
            if index in refused:
                text = "".join(etree.tostring(element, encoding="unicode") for _, element in share)
                records.contain(q.link, actor=self.ctx.actor, summary=self.summary,
                                step=lambda q=q, share=share, text=text: q.then([item for item, _ in share], text))
                continue
            records.transition(q.link, records.READY, "post_refused_for_others",
                               f"Not posted: SYSPRO refused another record of post {batch_id}, so nothing of it was "
                               "applied. It goes again without it.", actor=self.ctx.actor,
                               attempts=q.link.attempts - 1)
        return True
