"""APSSSP – add and update AP suppliers (Setup/Add, Setup/Update).

Element names from APSSSPDOC (bo-field-reference.md); no real APSSSP sample is public, so the
document follows the INVSWS shape (`<Item><Key><Supplier/></Key>...`) and the result the recorded
INVSWS answer (`<item><key>..</key><field><Value/><ErrorNumber/><ErrorDescription/></field>`,
`StatusOfItems/RecordsRead, RecordsInvalid`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from desktop_app.syspro import fields, xmlout
from desktop_app.syspro.errors import MalformedPostXmlOut
from desktop_app.syspro.xmlout import FieldError

BUSINESS_OBJECT = "APSSSP"
ROOT = "SetupApSupplier"


@dataclass
class SupplierDocument:
    """A supplier as we send it. On Update, fields left as None are not sent and keep their value."""

    supplier: str
    name: str | None = None
    short_name: str | None = None
    branch: str | None = None
    terms_code: str | None = None
    currency: str | None = None
    telephone: str | None = None
    contact: str | None = None
    email: str | None = None
    address: tuple[str, ...] | None = None  # up to 5 lines
    postal_code: str | None = None
    supplier_class: str | None = None
    tax_code: str | None = None
    on_hold: bool | None = None


@dataclass
class SetupItemResult:
    ok: bool
    key: str
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    xml_out: str = ""  # the answer as SYSPRO sent it, kept for the audit trail

    @property
    def already_exists(self) -> bool:
        return any("already exists" in error.description.lower() for error in self.errors)

    @property
    def not_found(self) -> bool:
        return any("not found" in error.description.lower() for error in self.errors)

    @property
    def message(self) -> str:
        return "; ".join(str(error) for error in self.errors)


@dataclass
class SetupResult:
    items: list[SetupItemResult]
    records_read: int | None = None
    records_invalid: int | None = None
    errors: list[FieldError] = field(default_factory=list)


def build_parameters(*, validate_only: bool, ignore_warnings: str = "N",
                     apply_if_entire_document_valid: bool = True) -> str:
    # Set explicitly: APSSSP's own defaults (IgnoreWarnings Y, ApplyIfEntireDocumentValid N) differ
    # from the posting business objects.
    root = fields.root(ROOT, "APSSSP.XSD")
    params = fields.add(root, "Parameters")
    fields.add(params, "IgnoreWarnings", fields.choice("IgnoreWarnings", ignore_warnings, "NY"))
    fields.add(params, "ApplyIfEntireDocumentValid", fields.yes_no(apply_if_entire_document_valid))
    fields.add(params, "ValidateOnly", fields.yes_no(validate_only))
    return fields.serialize(root)


def _put(item, tag: str, value: str | None, limit=None) -> None:
    if value is not None:
        fields.add(item, tag, fields.text(tag, value, limit=limit))


def build_document(docs: list[SupplierDocument]) -> str:
    if not docs:
        raise ValueError("an APSSSP document needs at least one supplier")
    root = fields.root(ROOT, "APSSSPDOC.XSD")
    for doc in docs:
        item = fields.add(root, "Item")
        key = fields.add(item, "Key")
        fields.add(key, "Supplier", fields.text("Supplier", doc.supplier, limit="Supplier", required=True))

        _put(item, "SupplierName", doc.name, "SupplierName")
        _put(item, "SupShortName", doc.short_name, "SupShortName")
        _put(item, "Telephone", doc.telephone, 20)
        _put(item, "Contact", doc.contact, 40)
        _put(item, "Branch", doc.branch, "Branch")
        _put(item, "TermsCode", doc.terms_code, 2)
        _put(item, "Currency", doc.currency, 3)
        if doc.address is not None:
            if len(doc.address) > 5:
                raise fields.ValidationError("SupAddr", f"{len(doc.address)} address lines given; SYSPRO has 5")
            lines = list(doc.address) + [""] * (5 - len(doc.address))
            for number, line in enumerate(lines, start=1):
                _put(item, f"SupAddr{number}", line, "Address")
        _put(item, "SupPostalCode", doc.postal_code, "PostalCode")
        _put(item, "SupplierClass", doc.supplier_class, 10)
        if doc.tax_code is not None:
            fields.add(item, "DefTaxCode", fields.tax_code("DefTaxCode", doc.tax_code))
        if doc.on_hold is not None:
            fields.add(item, "OnHold", fields.yes_no(doc.on_hold))
        _put(item, "Email", doc.email, 255)
    return fields.serialize(root)


def parse_result(xml_out: str | bytes, *, business_object: str = BUSINESS_OBJECT, root: str = ROOT) -> SetupResult:
    """A Setup business object's answer (APSSSP by default; the shape is shared, e.g. by INVSWS)."""
    document = xmlout.load(xml_out, after_post=True)
    if xmlout.name(document).lower() != root.lower():
        raise MalformedPostXmlOut(f"SYSPRO answered {business_object} with a <{xmlout.name(document)}> document "
                                  f"instead of <{root.lower()}>. It is not known whether the change was saved: "
                                  "look it up in SYSPRO before sending it again.")
    items = []
    for item in xmlout.children(document, "Item"):
        found = xmlout.messages(item)
        key = xmlout.child(item, "Key")
        key_text = "/".join((part.text or "").strip() for part in key if xmlout.name(part)) if key is not None else ""
        items.append(SetupItemResult(ok=not found.errors, key=key_text, errors=found.errors, warnings=found.warnings))
    return SetupResult(
        items=items,
        records_read=xmlout.integer(xmlout.value(document, "StatusOfItems", "RecordsRead")),
        records_invalid=xmlout.integer(xmlout.value(document, "StatusOfItems", "RecordsInvalid")),
        errors=xmlout.top_level_errors(document),
    )


def save_supplier(session, doc: SupplierDocument, *, action: str, validate_only: bool = False) -> SetupItemResult:
    """Setup/Add (action "Add") or Setup/Update (action "Update") one supplier."""
    parameters = build_parameters(validate_only=validate_only)
    result = parse_result(session.setup(action, BUSINESS_OBJECT, parameters, build_document([doc])))
    if len(result.items) == 1:
        return result.items[0]
    if not result.items and result.errors:
        return SetupItemResult(ok=False, key=doc.supplier, errors=result.errors)
    if not result.items and result.records_invalid == 0:
        return SetupItemResult(ok=True, key=doc.supplier)
    raise MalformedPostXmlOut(f"SYSPRO answered APSSSP for supplier {doc.supplier!r} with {len(result.items)} "
                              "items instead of 1. Look the supplier up in SYSPRO before sending it again.")
