"""The invoice-only verbs: `invoices credit` and `invoices skip`, and an AP document as the CLI shows it."""
from __future__ import annotations

from collections.abc import Callable

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import errors
from desktop_app.core.errors import EXIT_OK


def document_dict(doc) -> dict:
    """An `ApDocument` as `invoices list|show --json` print it (amounts as text, to the cent)."""
    return {"id": doc.id, "state": doc.state, "st_invoice_id": doc.st_invoice_id,
            "st_invoice_number": doc.st_invoice_number, "supplier": doc.supplier,
            "syspro_invoice": doc.syspro_invoice, "type": "credit note" if doc.transaction_code == "C" else "invoice",
            "amount": format(doc.amount, "f"),
            "invoice_date": doc.invoice_date.isoformat() if doc.invoice_date else None,
            "branch": doc.branch, "journal": doc.journal, "reason": doc.reason, "missing": doc.missing,
            "attempts": doc.attempts, "write_back": doc.write_back,
            # a credit note: the ServiceTitan invoice it returns, and the SYSPRO invoice a person chose for it
            "credit_of": doc.credit_of, "credit_against": doc.credit_against or None}


def _document_action(args, action: Callable) -> int:
    """Run a person's decision on one document in a transaction; a refusal (ValueError) is exit 2."""
    from desktop_app.core.models import database

    open_engine_db()
    try:
        with database.atomic():
            doc = action()
    except ValueError as exc:
        raise errors.ConfigError(str(exc)) from None
    if args.json:
        print_json(document_dict(doc))
    else:
        print(f"Document {doc.id} is now {doc.state}"
              + (f": {doc.transaction_code} against SYSPRO invoice {doc.syspro_invoice}" if doc.syspro_invoice else "")
              + ". It is sent on the next sync." * (doc.state == "READY"))
    return EXIT_OK


def cmd_invoices_credit(args) -> int:
    from desktop_app.sync import invoices

    return _document_action(args, lambda: invoices.pick_credit_target(args.id, args.against, actor="cli"))


def cmd_invoices_skip(args) -> int:
    from desktop_app.core.models import ApDocument
    from desktop_app.sync import invoices, ledger

    def skip():
        reason = " ".join(args.reason.split())
        if not reason:
            raise ValueError("Give a reason (--reason): it is kept in the document's history.")
        doc = ApDocument.get_or_none(ApDocument.id == args.id)
        if doc is None:
            raise ValueError(f"There is no AP document {args.id}.")
        if ledger.SKIPPED not in ledger.ALLOWED.get(doc.state, ()):
            raise ValueError(f"Document {args.id} is {doc.state}: SYSPRO may hold it, so it cannot be skipped.")
        return invoices.skip(args.id, reason, actor="cli")

    return _document_action(args, skip)
