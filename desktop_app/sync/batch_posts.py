"""Several two-way records in one e.net post (PORTOI takes several `<Orders>`, each processed on its own).

A flow queues each record's document (`PostQueue.add`) while it walks its records, and `flush` sends
them packed by `desktop_app/syspro/batching.py` (the packer the invoices use): the links of one call
are marked SYNCING in one commit before it leaves (`protocol.mark`), the call's outcome without an
answer is each link's (`protocol.send_batch`), and each link reads its own item of the answer (by
its place, ItemNumber). A call the server refuses as too long puts its links back to READY and is
packed again within half the budget; a document alone over the budget is HELD with its reason.
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
    then: Callable[[Any, str], None]  # (its item of the answer, the item's XML) → record the outcome
    refused: Callable[[str], None]  # a refusal of the whole call (e.net exception text)
    what: str  # names it in a HELD reason


class PostQueue:
    """Documents of one business object waiting to be posted together, for one flow's cycle."""

    def __init__(self, ctx, session, summary, *, business_object: str, parameters: str,
                 parse: Callable[[str], Any], noun: str):
        self.ctx, self.session, self.summary = ctx, session, summary
        self.business_object, self.parameters, self.parse, self.noun = business_object, parameters, parse, noun
        self.head = self.tail = ""
        self.queued: list[Queued] = []

    def add(self, link, xml_in: str, message: str, *, then, refused, what: str) -> None:
        """Queue `link`'s one-document `xml_in`; `then(item, item_xml)` records what SYSPRO answered for it."""
        self.head, body, self.tail = batching.split_document(xml_in)
        self.queued.append(Queued(link, body, message, then, refused, what))

    def flush(self) -> None:
        """Post everything queued."""
        pieces = [batching.Piece(key=n, xml=q.body, payload=q) for n, q in enumerate(self.queued)]
        self.queued = []
        while pieces:
            pieces = self._post(pieces)

    def _post(self, pieces: list[batching.Piece]) -> list[batching.Piece]:
        session = self.session.get()
        budget = batching.request_budget(session, self.ctx.settings)
        overhead = batching.post_overhead(session, self.business_object, self.parameters, self.head, self.tail)
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
        """One call for `batch`; True when the server refused it as too long (pack again)."""
        from desktop_app.syspro.errors import BusinessObjectError, RequestTooLong

        batch_id = f"{utcnow():%Y%m%dT%H%M%S}-{batch[0].link.id}"
        several = len(batch) > 1
        by_link = {q.link.id: q for q in batch}

        def sent(link) -> str:
            text = protocol.wire_text(self.parameters, self.head + by_link[link.id].body + self.tail)
            return text + (f"\n<!-- one of {len(batch)} in SYSPRO post {batch_id} -->" if several else "")

        marked = protocol.mark(records.LEDGER, [q.link for q in batch],
                               lambda link: f"{by_link[link.id].message} (attempt {link.attempts + 1})",
                               actor=self.ctx.actor, xml_sent=sent,
                               event=lambda link: {"batch": batch_id, "of": len(batch)} if several else None,
                               fields=lambda link: {"last_attempt_at": utcnow()})
        if not marked:
            return False
        queued = [by_link[link.id] for link in marked]
        xml_in = self.head + "".join(q.body for q in queued) + self.tail
        too_long: list[BaseException] = []

        def refused(exc: BaseException) -> None:
            if isinstance(exc, RequestTooLong):
                too_long.append(exc)
                smaller = batching.remember_refusal(session, exc.request_bytes, budget)
                for link in marked:
                    records.transition(link, records.READY, "request_too_long",
                                       f"Not sent: {exc} It goes again in a smaller post (at most {smaller} bytes).",
                                       actor=self.ctx.actor, attempts=link.attempts - 1)
                return
            for q in queued:
                q.refused(f"SYSPRO refused it: {exc}")

        answer = protocol.send_batch(records.LEDGER, marked,
                                     lambda: session.post(self.business_object, self.parameters, xml_in),
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
            for link in marked:
                protocol.unreadable_answer(records.LEDGER, link, f"SYSPRO's answer could not be read ({exc})",
                                           actor=self.ctx.actor, summary=self.summary, xml_received=answer)
            return False
        items = {item.item_number or n: (item, element) for n, (item, element)
                 in enumerate(zip(result.items, elements, strict=False), start=1)}
        for number, q in enumerate(queued, start=1):
            found = items.get(number)
            if found is None:
                records.contain(q.link, actor=self.ctx.actor, summary=self.summary, step=lambda q=q: protocol.in_doubt(
                    records.LEDGER, q.link, "unclear_answer", f"SYSPRO's answer holds no {self.noun} for this one; it "
                    "will be looked up before anything is sent again.", f"SYSPRO's answer holds no {self.noun} for it",
                    actor=self.ctx.actor, summary=self.summary))
                continue
            item, element = found
            text = etree.tostring(element, encoding="unicode") if several else answer
            if several:
                text += f"\n<!-- item {number} of {len(queued)} in SYSPRO post {batch_id} -->"
            records.contain(q.link, actor=self.ctx.actor, summary=self.summary,
                            step=lambda q=q, item=item, text=text: q.then(item, text))
        return False
