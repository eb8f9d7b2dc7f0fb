"""APSTIN – post AP invoices and credit notes with general-ledger distribution lines.

Document shape from the real samples (samples/APSTIN-XmlIn-LedgerDistribution.xml,
APSTIN-XmlParameters.xml); result shape from docs/syspro-contract.md (no real APSTIN XmlOut is
public). A post carries one invoice or several (`<Item>`s, as APSTIN takes them: many invoices of
many suppliers in one document); several go with ApplyIfEntireDocumentValid=N, so one bad invoice
never holds back the others, and each document reads its own item of the answer (`batch_verdicts`).
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from desktop_app.syspro import contract, fields, xmlout
from desktop_app.syspro.errors import MalformedPostXmlOut, ValidationError
from desktop_app.syspro.xmlout import FieldError

BUSINESS_OBJECT = "APSTIN"
ROOT = "PostApInvoice"


@dataclass
class ApLedgerLine:
    ledger_code: str
    value: Decimal
    notation: str = ""
    tax_code: str | None = None


@dataclass
class ApInvoiceDocument:
    supplier: str
    invoice: str
    transaction_code: str  # "I" invoice | "C" credit note
    invoice_date: dt.date
    due_date: dt.date | None
    branch: str | None
    transaction_value: Decimal  # including tax
    tax_value: Decimal = Decimal("0")
    tax_code: str | None = None
    reference: str = ""
    notation: str = ""
    journal_notation: str = ""
    lines: list[ApLedgerLine] = field(default_factory=list)


@dataclass
class ItemResult:
    ok: bool
    supplier: str
    invoice: str
    journal: str | None = None
    trn_year: int | None = None
    trn_month: int | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duplicate: bool = False
    item_number: int | None = None
    xml: str = ""  # the item as SYSPRO answered it, for the document's audit trail

    @property
    def message(self) -> str:
        """The errors in one sentence for the invoice's state and the audit trail."""
        return "; ".join(str(error) for error in self.errors)


@dataclass
class PostResult:
    items: list[ItemResult]
    items_processed: int | None = None
    items_invalid: int | None = None
    errors: list[FieldError] = field(default_factory=list)  # document-level, outside any item


# What a post's answer says of its one document (`verdict`); ITEM: read the item itself.
ITEM = "item"
REFUSED = "refused"  # nothing was posted: SYSPRO's errors say why
UNCLEAR = "unclear"  # the answer does not say whether it was posted: look it up before anything else


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str = ""


def verdict(result: PostResult) -> Verdict:
    """Read an answer to a one-document post as what it is.

    Errors outside any item (a bad parameter, a period that is closed) mean the post was refused:
    ApplyIfEntireDocumentValid=Y applies nothing of a document with an error. An answer with no item
    that counts the document invalid, or processed none, is a refusal as well. An item reported
    clean but without a journal, or a journal beside document-level errors, does not tell whether
    AP holds the invoice: it is looked up, never taken as posted."""
    top = "; ".join(str(error) for error in result.errors)
    if len(result.items) > 1:
        return Verdict(UNCLEAR, f"SYSPRO answered one document with {len(result.items)} items")
    item = result.items[0] if result.items else None
    if item is None:
        if top:
            return Verdict(REFUSED, top)
        if result.items_invalid:
            return Verdict(REFUSED, f"SYSPRO counted the document invalid ({result.items_invalid} invalid) "
                                    "without saying why")
        if result.items_processed == 0:
            return Verdict(REFUSED, "SYSPRO processed nothing and gave no reason")
        return Verdict(UNCLEAR, "SYSPRO's answer holds no item for the document")
    if item.duplicate:
        return Verdict(ITEM)  # settled by the look-up that follows a duplicate rejection
    if top:
        if item.journal and not item.errors:
            return Verdict(UNCLEAR, f"SYSPRO reported errors ({top}) and journal {item.journal} for the document")
        if item.errors:
            return Verdict(REFUSED, "; ".join([top, item.message]))
        return Verdict(REFUSED, top)
    if item.ok and not item.journal:
        return Verdict(UNCLEAR, "SYSPRO reported the document posted but gave no journal")
    return Verdict(ITEM)


@functools.lru_cache(maxsize=16)  # the same few texts for every document of a cycle; a str is immutable
def build_parameters(*, validate_only: bool, ignore_warnings: str = "N", posting_period: str = "C",
                     apply_if_entire_document_valid: bool = True,
                     permissible_tax_variance: Decimal | None = None) -> str:
    root = fields.root(ROOT, "APSTIN.XSD")
    params = fields.add(root, "Parameters")
    fields.add(params, "PostingPeriod", fields.choice("PostingPeriod", posting_period, "CPB"))
    fields.add(params, "IgnoreWarnings", fields.choice("IgnoreWarnings", ignore_warnings, "NYW"))
    fields.add(params, "ApplyIfEntireDocumentValid", fields.yes_no(apply_if_entire_document_valid))
    fields.add(params, "ValidateOnly", fields.yes_no(validate_only))
    fields.add(params, "PostZeroAdjustments", "N")
    fields.add(params, "LedgerDistributionCurrency", "L")
    # We always send TaxValue ourselves; SYSPRO must not compute a different one.
    fields.add(params, "AutomaticTaxCalculation", "N")
    if permissible_tax_variance is not None:
        fields.add(params, "PermissibleTaxVariance",
                   fields.amount_text("PermissibleTaxVariance", permissible_tax_variance))
    fields.add(params, "IgnoreAnalysis", "Y")
    return fields.serialize(root)


def build_document(docs: list[ApInvoiceDocument]) -> str:
    if not docs:
        raise ValueError("an APSTIN document needs at least one invoice")
    root = fields.root(ROOT, "APSTINDOC.XSD")
    for doc in docs:
        _add_item(root, doc)
    return fields.serialize(root)


def _add_item(root, doc: ApInvoiceDocument) -> None:
    item = fields.add(root, "Item")
    fields.add(item, "Supplier", fields.text("Supplier", doc.supplier, limit="Supplier", required=True))
    fields.add(item, "TransactionCode", fields.choice("TransactionCode", doc.transaction_code, "IC"))
    branch = fields.text("Branch", doc.branch, limit="Branch")
    if branch:
        fields.add(item, "Branch", branch)
    fields.add(item, "Invoice", fields.text("Invoice", doc.invoice, limit="Invoice", required=True))
    fields.add(item, "TransactionValue", fields.amount_text("TransactionValue", doc.transaction_value))
    fields.add(item, "Notation", fields.text("Notation", doc.notation, limit="Notation"))
    fields.add(item, "TransactionReference",
               fields.text("TransactionReference", doc.reference, limit="Reference"))
    fields.add(item, "JournalNotation", fields.text("JournalNotation", doc.journal_notation, limit="Notation"))
    fields.add(item, "InvoiceDate", fields.date_text("InvoiceDate", doc.invoice_date, required=True))
    due = fields.date_text("DueDate", doc.due_date)
    if due:
        fields.add(item, "DueDate", due)
    tax_code = fields.tax_code("TaxCode", doc.tax_code)
    if tax_code:
        fields.add(item, "TaxCode", tax_code)
    fields.add(item, "TaxValue", fields.amount_text("TaxValue", doc.tax_value))
    if not doc.lines:
        raise ValidationError("LedgerDistribution", f"invoice {doc.invoice!r} has no distribution lines")
    total = Decimal("0")
    for number, line in enumerate(doc.lines, start=1):
        where = f"LedgerDistribution[{number}]"
        dist = fields.add(item, "LedgerDistribution")
        fields.add(dist, "LedgerCode",
                   fields.text(f"{where}.LedgerCode", line.ledger_code, limit="LedgerCode", required=True))
        line_tax = fields.tax_code(f"{where}.LedgerTaxCode", line.tax_code)
        if line_tax:
            fields.add(dist, "LedgerTaxCode", line_tax)
        fields.add(dist, "LedgerNotation", fields.text(f"{where}.LedgerNotation", line.notation, limit="Notation"))
        fields.add(dist, "LedgerValue", fields.amount_text(f"{where}.LedgerValue", line.value))
        total += line.value
    expected = doc.transaction_value - doc.tax_value
    if total != expected:
        raise ValidationError("LedgerValue", f"the distribution lines of invoice {doc.invoice!r} add up to {total}, "
                                             f"but TransactionValue minus TaxValue is {expected}")


def parse_result(xml_out: str | bytes) -> PostResult:
    root = xmlout.load(xml_out, after_post=True)
    if xmlout.name(root).lower() != ROOT.lower():
        raise MalformedPostXmlOut(f"SYSPRO answered APSTIN with a <{xmlout.name(root)}> document instead of "
                                  "<postapinvoice>. It is not known whether the invoice was posted: look it up "
                                  "in SYSPRO before sending it again.")
    items = [_parse_item(item) for item in xmlout.children(root, "Item")]
    return PostResult(
        items=items,
        items_processed=xmlout.integer(xmlout.value(root, "StatusOfItems", "ItemsProcessed")),
        items_invalid=xmlout.integer(xmlout.value(root, "StatusOfItems", "ItemsInvalid")),
        errors=xmlout.top_level_errors(root),
    )


def _parse_item(item) -> ItemResult:
    found = xmlout.messages(item)
    duplicate = any(
        error.field.lower() == "invoice"
        and (error.number.lstrip("0") == contract.DUPLICATE_ERROR_NUMBER
             or contract.DUPLICATE_TEXT.search(error.description))
        for error in found.errors
    )
    texts = xmlout.first_texts(item)
    return ItemResult(
        ok=not found.errors and not xmlout.status_failed(item),
        supplier=texts.get("supplier", ""),
        invoice=texts.get("invoice", ""),
        journal=texts.get("journal") or None,
        trn_year=xmlout.integer(texts.get("trnyear", "")),
        trn_month=xmlout.integer(texts.get("trnmonth", "")),
        errors=found.errors,
        warnings=found.warnings,
        duplicate=duplicate,
        item_number=xmlout.integer(texts.get("itemnumber", "")),
        xml=etree.tostring(item, encoding="unicode"),
    )


def _same(a: str, b: str) -> bool:
    return a.strip().upper() == b.strip().upper()


def match_items(result: PostResult, keys: list[tuple[str, str]]) -> list[ItemResult | None]:
    """The answer's item for each document of a post (`keys`: (supplier, invoice) in the order
    sent), or None where the answer has none that is surely that document's. An item is matched by
    its ItemNumber (its place in the document) when its supplier and invoice agree with the document
    there, else by its supplier and invoice if only one document has them."""
    found: list[ItemResult | None] = [None] * len(keys)
    taken: set[int] = set()
    loose = []
    for item in result.items:
        n = item.item_number
        if n is not None and 1 <= n <= len(keys) and n - 1 not in taken and \
                (not item.supplier or _same(item.supplier, keys[n - 1][0])) and \
                (not item.invoice or _same(item.invoice, keys[n - 1][1])):
            found[n - 1] = item
            taken.add(n - 1)
        else:
            loose.append(item)
    for item in loose:
        places = [i for i, (supplier, invoice) in enumerate(keys)
                  if i not in taken and _same(item.supplier, supplier) and _same(item.invoice, invoice)]
        if len(places) == 1:
            found[places[0]] = item
            taken.add(places[0])
    return found


def batch_verdicts(result: PostResult, keys: list[tuple[str, str]]) -> list[tuple[Verdict, ItemResult | None]]:
    """What the answer to a post of several documents (ApplyIfEntireDocumentValid=N) says of each.

    Errors outside any item and no item at all: the call was refused, nothing posted. An answer
    that holds no item for a document does not tell what became of it (UNCLEAR: looked up); an item
    is read as `verdict` reads the item of a one-document post. One document: `verdict` itself."""
    if len(keys) == 1:
        single = verdict(result)
        return [(single, result.items[0] if single.outcome == ITEM else None)]
    top = "; ".join(str(error) for error in result.errors)
    if not result.items:
        if top:
            return [(Verdict(REFUSED, top), None)] * len(keys)
        if result.items_processed == 0 or result.items_invalid == len(keys):
            return [(Verdict(REFUSED, "SYSPRO processed none of the documents and gave no reason"), None)] * len(keys)
        return [(Verdict(UNCLEAR, f"SYSPRO's answer to a post of {len(keys)} documents holds no item"), None)] \
            * len(keys)
    answers: list[tuple[Verdict, ItemResult | None]] = []
    for number, item in enumerate(match_items(result, keys), start=1):
        if item is None:
            answers.append((Verdict(UNCLEAR, f"SYSPRO's answer holds no item for this document (item {number} of "
                                             f"{len(keys)} in the post)"), None))
            continue
        one = verdict(PostResult(items=[item], errors=result.errors))
        answers.append((one, item if one.outcome == ITEM else None))
    return answers


def post_ap_invoice(session, doc: ApInvoiceDocument, *, validate_only: bool = False,
                    ignore_warnings: str = "N", posting_period: str = "C") -> ItemResult:
    """Post (or, with validate_only, check) one invoice and return SYSPRO's verdict on it."""
    parameters = build_parameters(validate_only=validate_only, ignore_warnings=ignore_warnings,
                                  posting_period=posting_period)
    document = build_document([doc])
    result = parse_result(session.post(BUSINESS_OBJECT, parameters, document))
    if len(result.items) == 1:
        return result.items[0]
    if not result.items and result.errors:
        return ItemResult(ok=False, supplier=doc.supplier, invoice=doc.invoice, errors=result.errors)
    raise MalformedPostXmlOut(f"SYSPRO answered the APSTIN post of invoice {doc.invoice!r} with "
                              f"{len(result.items)} items instead of 1. It is not known whether the invoice "
                              "was posted: look it up in SYSPRO before sending it again.")
