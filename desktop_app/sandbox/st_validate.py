"""Request-body checks for the simulator's write routes, after the OpenAPI request schemas.

ServiceTitan is an ASP.NET service: a missing required field or a value of the wrong type is
a 400 whose `errors` name the field ("Address.Street": ["The Street field is required."]).
Unknown fields are ignored, as the live API does (docs/sandbox-fidelity.md, rule ST-13).
"""
from __future__ import annotations

from decimal import Decimal

from desktop_app.sandbox.st_wire import parse_utc

Spec = dict  # field → (kind, required); kind: str | dict (object) | list[dict] (array of objects) | tuple (enum)

ADDRESS: Spec = {k: ("str", True) for k in ("street", "unit", "city", "state", "zip", "country")}
DELIVERY = ("Manual", "EmailAsExcel", "EmailAsPdf", "EmailAsPdfRollupView", "Electronic", "MarkAsSent",
            "EmailAsExcelAndPdf", "VendorPortal")
EXTERNAL_CREATE: Spec = {"applicationGuid": ("guid", True),
                         "externalData": ([{"key": ("str", True), "value": ("str", True)}], True)}
EXTERNAL_UPDATE: Spec = {
    "patchMode": (("Replace", "Merge"), False),
    "applicationGuid": ("guid", True),
    "externalData": ([{"key": ("str", True), "value": ("str", False)}], True),
}
_VENDOR_COMMON: Spec = {
    "memo": ("str", False), "firstName": ("str", False), "lastName": ("str", False), "phone": ("str", False),
    "email": ("str", False), "fax": ("str", False), "deliveryOption": (DELIVERY, False),
    "vendorQuickbooksItem": ("str", False), "paymentTermId": ("int", False), "remittanceVendorId": ("int", False),
    "tags": ([{"tagTypeId": ("int", True)}], False),
}
CREATE_VENDOR: Spec = {
    "name": ("str", True), "active": ("bool", True), "isTruckReplenishment": ("bool", True),
    "taxRate": ("num", True), "restrictedMobileCreation": ("bool", True), "address": (ADDRESS, True),
    "externalData": (EXTERNAL_CREATE, False), **_VENDOR_COMMON,
    "vendorContacts": ([{"name": ("str", True), "email": ("str", True)}], False),
}
UPDATE_VENDOR: Spec = {
    "name": ("str", False), "active": ("bool", False), "isTruckReplenishment": ("bool", False),
    "taxRate": ("num", False), "restrictedMobileCreation": ("bool", False), "address": (ADDRESS, False),
    "externalData": (EXTERNAL_UPDATE, False), **_VENDOR_COMMON,
    "vendorContacts": ([{"id": ("int", False), "name": ("str", True), "email": ("str", True)}], False),
}
_PO_ITEM: Spec = {
    "skuId": ("int", True), "description": ("str", True), "vendorPartNumber": ("str", True),
    "quantity": ("num", True), "cost": ("num", True), "budgetCodeId": ("int", False),
}
CREATE_PURCHASE_ORDER: Spec = {
    "vendorId": ("int", True), "typeId": ("int", True), "businessUnitId": ("int", True),
    "inventoryLocationId": ("int", True), "jobId": ("int", False), "technicianId": ("int", False),
    "projectId": ("int", False), "budgetCodeId": ("int", False),
    "shipTo": ({"description": ("str", True), "address": (ADDRESS, True)}, True),
    "vendorInvoiceNumber": ("str", False), "impactsTechnicianPayroll": ("bool", True), "memo": ("str", False),
    "date": ("datetime", True), "requiredOn": ("datetime", True), "tax": ("num", True), "shipping": ("num", True),
    "items": ([_PO_ITEM], True),
}
UPDATE_PURCHASE_ORDER: Spec = {
    **{key: (kind, False) for key, (kind, _required) in CREATE_PURCHASE_ORDER.items() if key != "items"},
    "items": ([{"id": ("int", True), **_PO_ITEM}], False),
}
UPDATE_ADJUSTMENT: Spec = {"externalData": (EXTERNAL_UPDATE, False)}
MARK_INVOICE_EXPORTED: Spec = {"invoiceId": ("int", True), "externalId": ("str", False),
                               "externalMessage": ("str", False)}


class BodyInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("One or more validation errors occurred.")
        self.errors = errors


def check(body: object, spec: Spec) -> dict:
    """Return a cleaned copy of `body` (numbers as Decimal, date-times parsed) or raise BodyInvalid."""
    errors: dict[str, list[str]] = {}
    if not isinstance(body, dict):
        raise BodyInvalid({"request": ["A non-empty request body is required."]})
    cleaned = _object(body, spec, "", errors)
    if errors:
        raise BodyInvalid(errors)
    return cleaned


def check_list(body: object, spec: Spec) -> list[dict]:
    if not isinstance(body, list):
        raise BodyInvalid({"request": ["The request body must be a JSON array."]})
    errors: dict[str, list[str]] = {}
    cleaned = [_object(row, spec, f"[{index}]", errors) if isinstance(row, dict) else _bad(errors, f"[{index}]")
               for index, row in enumerate(body)]
    if errors:
        raise BodyInvalid(errors)
    return cleaned


def _bad(errors: dict[str, list[str]], path: str) -> dict:
    errors.setdefault(path or "request", []).append("The JSON value is not an object.")
    return {}


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _object(body: dict, spec: Spec, prefix: str, errors: dict[str, list[str]]) -> dict:
    out: dict = {}
    for name, (kind, required) in spec.items():
        path = f"{prefix}.{_pascal(name)}" if prefix else _pascal(name)
        value = body.get(name)
        if value is None:
            if required:
                errors.setdefault(path, []).append(f"The {_pascal(name)} field is required.")
            elif name in body:
                out[name] = None
            continue
        out[name] = _value(value, kind, path, errors)
    return out


def _value(value: object, kind: object, path: str, errors: dict[str, list[str]]) -> object:
    def wrong(expected: str) -> None:
        errors.setdefault(path, []).append(f"The JSON value could not be converted to {expected}.")

    if isinstance(kind, dict):
        if not isinstance(value, dict):
            wrong("an object")
            return None
        return _object(value, kind, path, errors)
    if isinstance(kind, list):
        if not isinstance(value, list):
            wrong("an array")
            return None
        return [_value(item, kind[0], f"{path}[{index}]", errors) for index, item in enumerate(value)]
    if isinstance(kind, tuple):
        if value not in kind:
            errors.setdefault(path, []).append(f"The value '{value}' is not valid; expected one of {', '.join(kind)}.")
        return value
    if kind in ("str", "guid"):
        if not isinstance(value, str):
            wrong("System.String")
        elif kind == "guid" and not _is_guid(value):
            wrong("System.Guid")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            wrong("System.Boolean")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            wrong("System.Int64")
        return value
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            wrong("System.Decimal")
            return value
        return Decimal(value)
    if kind == "datetime":
        try:
            return parse_utc(str(value))
        except ValueError:
            wrong("System.DateTime")
            return value
    raise AssertionError(kind)


def _is_guid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
