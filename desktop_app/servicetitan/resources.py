"""The ServiceTitan endpoints the sync flows use, as methods of `ServiceTitanClient`.

Paths and query parameters follow ServiceTitan's official OpenAPI documents (a copy is kept for the
tests in tests/reference/servicetitan/openapi); the tests check every request against them, because
ServiceTitan silently ignores parameters it does not know and answers with unfiltered data.

Reading rules (ServiceTitan's developer documentation on paging and export feeds):
- lists page from 1 with `pageSize` (client.page_size, default 500) until `hasMore` is false, and
  ask for inactive records too (`active=Any`; invoices `activeState=All`) where the operation
  has that filter;
- `ids` filters are sent 50 at a time (more gives HTTP 400);
- export feeds are generators of `ExportPage`s: the next page is only requested when the caller
  asks for it, so it can store a page and then persist `page.continue_from`;
- records seen twice in one read (same id + modifiedOn) are returned once.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar, overload

from desktop_app.servicetitan.errors import FeedNotAdvancing
from desktop_app.servicetitan.models import (
    Adjustment,
    ApBill,
    BusinessUnit,
    ExportPage,
    GlAccount,
    Invoice,
    InvoiceItem,
    MarkExportedResult,
    PurchaseOrder,
    Receipt,
    Sku,
    Technician,
    UnreadableRecord,
    Vendor,
    Warehouse,
    drop_seen,
    readable_or_held,
)

T = TypeVar("T")

IDS_PER_REQUEST = 50  # ServiceTitan answers 400 above this
# Pages one read may take before it is taken for a feed that never ends: 20,000 pages are 10 million
# records at the default page size, far beyond any tenant, yet a runaway loop stops within minutes.
MAX_PAGES_PER_READ = 20_000


def chunked(values: Iterable[Any], size: int = IDS_PER_REQUEST) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def utc_param(moment: datetime | date) -> str:
    """A date-time filter value, in UTC as ServiceTitan expects ("2026-01-31T10:00:00Z")."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def export_from(since: str | date | datetime | None) -> str | None:
    """`from` for an export feed: a stored continueFrom token as is, or a start date."""
    if since is None or since == "":
        return None
    if isinstance(since, datetime):
        return utc_param(since)
    if isinstance(since, date):
        return since.isoformat()
    return str(since)


def _unique_ids(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def _check_page_cap(pages: int, cap: int, what: str) -> None:
    if pages >= cap:
        raise FeedNotAdvancing(
            f"ServiceTitan's {what} still said it had more after {pages} pages, more than any tenant holds: "
            "taken for a feed that never ends, this read stopped. Nothing was lost; the next cycle reads on "
            "from the last page stored. If it repeats, tell ServiceTitan support which one it is.")


def _as_sent(record: dict) -> dict:
    return record


def _parser(parse: Callable[[dict], T], hold_unreadable: bool) -> Callable[[dict], T | UnreadableRecord]:
    """hold_unreadable: a record `parse` cannot read comes back as an UnreadableRecord, for a flow
    that holds it on its own, instead of stopping the list."""
    return readable_or_held(parse) if hold_unreadable else parse


class ServiceTitanResources:
    """Mixed into ServiceTitanClient; needs `request(method, module, path, params=, json_body=)`
    and `page_size`."""

    page_size: int
    max_pages: int = MAX_PAGES_PER_READ

    def request(self, method: str, module: str, path: str, *, params: dict | None = None,
                json_body: object = None) -> Any:  # pragma: no cover - provided by the client
        raise NotImplementedError

    # ------------------------------------------------------------ paging machinery

    def iter_pages(self, module: str, path: str, params: dict | None = None) -> Iterator[list[dict]]:
        """The `data` of each page of a page-numbered list, one page per request. A list that says it
        has more but answers the same records again (it ignores `page`) stops with FeedNotAdvancing."""
        page = 1
        previous: list | None = None
        while True:
            body = self.request("GET", module, path,
                                params={**(params or {}), "page": page, "pageSize": self.page_size}) or {}
            data = [d for d in (body.get("data") or []) if isinstance(d, dict)]
            keys = [(d.get("id"), d.get("modifiedOn")) for d in data]
            if keys == previous:
                raise FeedNotAdvancing(
                    f"ServiceTitan's {module}/{path} list answered page {page} with the same records as page "
                    f"{page - 1} while saying there are more: it is not moving on, so this read stopped. "
                    "Nothing was lost; the next cycle reads it again. If it repeats, tell ServiceTitan "
                    "support which list it is.")
            yield data
            if not body.get("hasMore") or not data:
                return
            _check_page_cap(page, self.max_pages, f"{module}/{path} list")
            previous = keys
            page += 1

    def list_all(self, module: str, path: str, parse: Callable[[dict], T], params: dict | None = None) -> list[T]:
        """A flow that holds a record it cannot read on its own passes `parse` through
        models.readable_or_held (see _parser), so that record comes back as an UnreadableRecord."""
        seen: set = set()
        out: list[T] = []
        for data in self.iter_pages(module, path, params):
            out.extend(drop_seen(map(parse, data), seen))
        return out

    def list_by_ids(self, module: str, path: str, ids: Iterable[int], parse: Callable[[dict], T],
                    params: dict | None = None, *, ids_as_list: bool = False) -> list[T]:
        """Records with the given ids, asked for 50 at a time. Most operations take `ids` as one
        comma-separated value; a few (vendors) declare an array, sent as repeated parameters."""
        seen: set = set()
        out: list[T] = []
        for chunk in chunked(_unique_ids(ids)):
            ids_value: Any = chunk if ids_as_list else ",".join(map(str, chunk))
            for data in self.iter_pages(module, path, {**(params or {}), "ids": ids_value}):
                out.extend(drop_seen(map(parse, data), seen))
        return out

    def iter_export(self, module: str, path: str, since: str | date | datetime | None,
                    parse: Callable[[dict], T], *, include_recent_changes: bool = False) -> Iterator[ExportPage[T]]:
        token = export_from(since)
        seen: set = set()
        pages = 0
        tokens = {token}
        while True:
            params: dict[str, Any] = {}
            if token:
                params["from"] = token
            if include_recent_changes:
                params["includeRecentChanges"] = "true"
            body = self.request("GET", module, path, params=params) or {}
            data = [d for d in (body.get("data") or []) if isinstance(d, dict)]
            next_token = body.get("continueFrom") or token
            has_more = bool(body.get("hasMore"))
            yield ExportPage(drop_seen(map(parse, data), seen), next_token, has_more)
            if not has_more or (not data and next_token == token):
                return  # an empty page that leaves the token as it was has nothing more to give
            if next_token in tokens:
                # asked again, the feed would answer pages it gave already, for ever
                raise FeedNotAdvancing(
                    f"ServiceTitan's {module}/{path} feed says it has more records but gave back a "
                    "continueFrom token it gave before: it is not moving on, so this read stopped after the records "
                    "it gave. Nothing was lost; the next cycle asks again from there. If it repeats, tell "
                    "ServiceTitan support which feed it is.")
            pages += 1
            _check_page_cap(pages, self.max_pages, f"{module}/{path} feed")
            tokens.add(next_token)
            token = next_token

    # ------------------------------------------------------------ accounting: invoices

    @overload
    def export_invoices(self, since: str | date | datetime | None = None, *, include_recent_changes: bool = False,
                        raw: Literal[False] = False) -> Iterator[ExportPage[Invoice]]: ...
    @overload
    def export_invoices(self, since: str | date | datetime | None = None, *, include_recent_changes: bool = False,
                        raw: Literal[True]) -> Iterator[ExportPage[dict]]: ...

    def export_invoices(self, since: str | date | datetime | None = None, *, include_recent_changes: bool = False,
                        raw: bool = False) -> Iterator[ExportPage[Invoice]] | Iterator[ExportPage[dict]]:
        """raw: pages of the records as the feed sent them (deduplicated all the same), for a caller that
        reads the JSON itself (the invoice flow keeps each record as sent)."""
        if raw:
            return self.iter_export("accounting", "export/invoices", since, _as_sent,
                                    include_recent_changes=include_recent_changes)
        return self.iter_export("accounting", "export/invoices", since, Invoice.from_api,
                                include_recent_changes=include_recent_changes)

    def export_invoice_items(self, since: str | date | datetime | None = None, *,
                             include_recent_changes: bool = False) -> Iterator[ExportPage[InvoiceItem]]:
        return self.iter_export("accounting", "export/invoice-items", since, InvoiceItem.from_api,
                                include_recent_changes=include_recent_changes)

    def list_invoices_by_ids(self, ids: Iterable[int]) -> list[Invoice]:
        return self.list_by_ids("accounting", "invoices", ids, Invoice.from_api, {"activeState": "All"})

    @overload
    def invoices_by_ids(self, ids: Iterable[int], *, raw: Literal[False] = False) -> list[Invoice]: ...
    @overload
    def invoices_by_ids(self, ids: Iterable[int], *, raw: Literal[True]) -> list[dict]: ...

    def invoices_by_ids(self, ids: Iterable[int], *, raw: bool = False) -> list[Invoice] | list[dict]:
        """GET accounting/invoices?ids=…, active or not; raw: the records as sent (see export_invoices)."""
        if raw:
            return self.list_by_ids("accounting", "invoices", ids, _as_sent, {"activeState": "All"})
        return self.list_by_ids("accounting", "invoices", ids, Invoice.from_api, {"activeState": "All"})

    def invoices(self, modified_on_or_after: datetime | None = None) -> list[Invoice]:
        params: dict[str, Any] = {"activeState": "All"}
        if modified_on_or_after:
            params["modifiedOnOrAfter"] = utc_param(modified_on_or_after)
        return self.list_all("accounting", "invoices", Invoice.from_api, params)

    def mark_invoices_exported(self, entries: Iterable[tuple[int, str | None, str | None]]) -> list[MarkExportedResult]:
        """entries: (invoice_id, external_id, message). Sent 50 per request."""
        results: list[MarkExportedResult] = []
        for chunk in chunked(entries):
            body = [{"invoiceId": int(invoice_id), "externalId": external_id, "externalMessage": message}
                    for invoice_id, external_id, message in chunk]
            answer = self.request("POST", "accounting", "invoices/markasexported", json_body=body) or []
            results.extend(MarkExportedResult.from_api(d) for d in answer if isinstance(d, dict))
        return results

    # ------------------------------------------------------------ accounting: GL, AP bills (read only)

    def gl_accounts(self) -> list[GlAccount]:
        return self.list_all("accounting", "gl-accounts", GlAccount.from_api, {"active": "Any"})

    def ap_bills(self, modified_on_or_after: datetime | None = None, *, bill_type: str | None = None,
                 ids: Iterable[int] | None = None) -> list[ApBill]:
        """AP bills (read only). ServiceTitan's default billType is Procurement; pass
        bill_type="ApBill" or "NotSet" for the others."""
        params: dict[str, Any] = {}
        if modified_on_or_after:
            params["modifiedOnOrAfter"] = utc_param(modified_on_or_after)
        if bill_type:
            params["billType"] = bill_type
        if ids is not None:
            return self.list_by_ids("accounting", "ap-bills", ids, ApBill.from_api, params)
        return self.list_all("accounting", "ap-bills", ApBill.from_api, params)

    def get_ap_bill(self, bill_id: int) -> ApBill:
        return ApBill.from_api(self.request("GET", "accounting", f"ap-bills/{int(bill_id)}"))

    # ------------------------------------------------------------ pricebook

    def materials(self) -> list[Sku]:
        return self.list_all("pricebook", "materials", lambda d: Sku.from_api(d, "material"), {"active": "Any"})

    def equipment(self) -> list[Sku]:
        return self.list_all("pricebook", "equipment", lambda d: Sku.from_api(d, "equipment"), {"active": "Any"})

    def services(self) -> list[Sku]:
        return self.list_all("pricebook", "services", lambda d: Sku.from_api(d, "service"), {"active": "Any"})

    def export_materials(self, since=None, *, include_recent_changes: bool = False) -> Iterator[ExportPage[Sku]]:
        return self.iter_export("pricebook", "export/materials", since, lambda d: Sku.from_api(d, "material"),
                                include_recent_changes=include_recent_changes)

    def export_equipment(self, since=None, *, include_recent_changes: bool = False) -> Iterator[ExportPage[Sku]]:
        return self.iter_export("pricebook", "export/equipment", since, lambda d: Sku.from_api(d, "equipment"),
                                include_recent_changes=include_recent_changes)

    def export_services(self, since=None) -> Iterator[ExportPage[Sku]]:
        return self.iter_export("pricebook", "export/services", since, lambda d: Sku.from_api(d, "service"))

    # ------------------------------------------------------------ settings

    def business_units(self) -> list[BusinessUnit]:
        return self.list_all("settings", "business-units", BusinessUnit.from_api, {"active": "Any"})

    def technicians(self) -> list[Technician]:
        return self.list_all("settings", "technicians", Technician.from_api, {"active": "Any"})

    # ------------------------------------------------------------ inventory: vendors

    @overload
    def vendors(self, modified_on_or_after: datetime | None = ..., *,
                hold_unreadable: Literal[False] = ...) -> list[Vendor]: ...
    @overload
    def vendors(self, modified_on_or_after: datetime | None = ..., *,
                hold_unreadable: bool) -> list[Vendor | UnreadableRecord]: ...
    def vendors(self, modified_on_or_after: datetime | None = None, *,
                hold_unreadable: bool = False) -> list[Vendor] | list[Vendor | UnreadableRecord]:
        params: dict[str, Any] = {"active": "Any"}
        if modified_on_or_after:
            params["modifiedOnOrAfter"] = utc_param(modified_on_or_after)
        return self.list_all("inventory", "vendors", _parser(Vendor.from_api, hold_unreadable), params)

    @overload
    def vendors_by_ids(self, ids: Iterable[int], *, hold_unreadable: Literal[False] = ...) -> list[Vendor]: ...
    @overload
    def vendors_by_ids(self, ids: Iterable[int], *, hold_unreadable: bool) -> list[Vendor | UnreadableRecord]: ...
    def vendors_by_ids(self, ids: Iterable[int], *,
                       hold_unreadable: bool = False) -> list[Vendor] | list[Vendor | UnreadableRecord]:
        return self.list_by_ids("inventory", "vendors", ids, _parser(Vendor.from_api, hold_unreadable),
                                {"active": "Any"}, ids_as_list=True)

    def vendors_by_external_data(self, application_guid: str, key: str, values: Iterable[str]) -> list[Vendor]:
        """Vendors carrying one of `values` under `key` in our externalData — how the caller
        finds out whether a create whose outcome was unknown went through."""
        seen: set = set()
        out: list[Vendor] = []
        for chunk in chunked(dict.fromkeys(map(str, values))):
            params = {"active": "Any", "externalDataApplicationGuid": application_guid,
                      "externalDataKey": key, "externalDataValues": ",".join(chunk)}
            for data in self.iter_pages("inventory", "vendors", params):
                out.extend(drop_seen((Vendor.from_api(d) for d in data), seen))
        return out

    def get_vendor(self, vendor_id: int) -> Vendor:
        return Vendor.from_api(self.request("GET", "inventory", f"vendors/{int(vendor_id)}"))

    def create_vendor(self, payload: dict) -> int:
        """payload: CreateVendorRequest (name, active, isTruckReplenishment, taxRate,
        restrictedMobileCreation, address{…} required). Returns the new vendor id."""
        return int(self.request("POST", "inventory", "vendors", json_body=payload)["id"])

    def patch_vendor(self, vendor_id: int, payload: dict) -> int:
        """payload: UpdateVendorRequest; externalData may carry patchMode "Merge"."""
        return int(self.request("PATCH", "inventory", f"vendors/{int(vendor_id)}", json_body=payload)["id"])

    # ------------------------------------------------------------ inventory: purchase orders, receipts

    def export_purchase_orders(self, since=None, *, include_recent_changes: bool = False
                               ) -> Iterator[ExportPage[PurchaseOrder | UnreadableRecord]]:
        """A purchase order its model cannot read comes as a models.UnreadableRecord (the flow holds it)."""
        return self.iter_export("inventory", "export/purchase-orders", since, readable_or_held(PurchaseOrder.from_api),
                                include_recent_changes=include_recent_changes)

    @overload
    def purchase_orders(self, modified_on_or_after: datetime | None = ..., *,
                        ids: Iterable[int] | None = ..., number: str | None = ...,
                        hold_unreadable: Literal[False] = ...) -> list[PurchaseOrder]: ...
    @overload
    def purchase_orders(self, modified_on_or_after: datetime | None = ..., *,
                        ids: Iterable[int] | None = ..., number: str | None = ...,
                        hold_unreadable: bool) -> list[PurchaseOrder | UnreadableRecord]: ...
    def purchase_orders(self, modified_on_or_after: datetime | None = None, *,
                        ids: Iterable[int] | None = None, number: str | None = None,
                        hold_unreadable: bool = False) -> list[PurchaseOrder] | list[PurchaseOrder | UnreadableRecord]:
        # The purchase-orders list has no `active` filter (and returns canceled ones).
        params: dict[str, Any] = {}
        if modified_on_or_after:
            params["modifiedOnOrAfter"] = utc_param(modified_on_or_after)
        if number:
            params["number"] = number
        if ids is not None:
            return self.list_by_ids("inventory", "purchase-orders", ids,
                                    _parser(PurchaseOrder.from_api, hold_unreadable), params)
        return self.list_all("inventory", "purchase-orders", PurchaseOrder.from_api, params)

    def get_purchase_order(self, purchase_order_id: int) -> PurchaseOrder:
        return PurchaseOrder.from_api(self.request("GET", "inventory", f"purchase-orders/{int(purchase_order_id)}"))

    def create_purchase_order(self, payload: dict) -> int:
        """payload: CreatePurchaseOrderRequest; amounts as Decimal. Returns the new PO id."""
        return int(self.request("POST", "inventory", "purchase-orders", json_body=payload)["id"])

    def patch_purchase_order(self, purchase_order_id: int, payload: dict) -> int:
        """Careful: active items missing from payload["items"] are made inactive by ServiceTitan."""
        return int(self.request("PATCH", "inventory", f"purchase-orders/{int(purchase_order_id)}",
                                json_body=payload)["id"])

    def receipts(self, modified_on_or_after: datetime | None = None, *,
                 purchase_order_ids: Iterable[int] | None = None) -> list[Receipt]:
        params: dict[str, Any] = {"active": "Any"}
        if modified_on_or_after:
            params["modifiedOnOrAfter"] = utc_param(modified_on_or_after)
        if purchase_order_ids is None:
            return self.list_all("inventory", "receipts", Receipt.from_api, params)
        seen: set = set()
        out: list[Receipt] = []
        for chunk in chunked(_unique_ids(purchase_order_ids)):
            chunk_params = {**params, "purchaseOrderIds": ",".join(map(str, chunk))}
            for data in self.iter_pages("inventory", "receipts", chunk_params):
                out.extend(drop_seen((Receipt.from_api(d) for d in data), seen))
        return out

    # ------------------------------------------------------------ inventory: adjustments, warehouses

    def export_adjustments(self, since=None, *, include_recent_changes: bool = False
                           ) -> Iterator[ExportPage[Adjustment | UnreadableRecord]]:
        """An adjustment its model cannot read comes as a models.UnreadableRecord (the flow holds it)."""
        return self.iter_export("inventory", "export/adjustments", since, readable_or_held(Adjustment.from_api),
                                include_recent_changes=include_recent_changes)

    @overload
    def adjustments(self, modified_on_or_after: datetime | None = ..., *,
                    ids: Iterable[int] | None = ..., hold_unreadable: Literal[False] = ...) -> list[Adjustment]: ...
    @overload
    def adjustments(self, modified_on_or_after: datetime | None = ..., *,
                    ids: Iterable[int] | None = ..., hold_unreadable: bool) -> list[Adjustment | UnreadableRecord]: ...
    def adjustments(self, modified_on_or_after: datetime | None = None, *, ids: Iterable[int] | None = None,
                    hold_unreadable: bool = False) -> list[Adjustment] | list[Adjustment | UnreadableRecord]:
        params: dict[str, Any] = {"active": "Any"}
        if modified_on_or_after:
            params["modifiedOnOrAfter"] = utc_param(modified_on_or_after)
        if ids is not None:
            return self.list_by_ids("inventory", "adjustments", ids,
                                    _parser(Adjustment.from_api, hold_unreadable), params)
        return self.list_all("inventory", "adjustments", Adjustment.from_api, params)

    def patch_adjustment_external_data(self, adjustment_id: int, application_guid: str,
                                       pairs: dict[str, str | None], patch_mode: str = "Merge") -> int:
        """Only externalData can be changed on an adjustment. With Merge, a None value deletes
        the key; Replace drops every key not given."""
        body = {"externalData": {
            "patchMode": patch_mode, "applicationGuid": application_guid,
            "externalData": [{"key": key, "value": value} for key, value in pairs.items()],
        }}
        answer = self.request("PATCH", "inventory", f"adjustments/{int(adjustment_id)}", json_body=body)
        return int(answer["id"]) if isinstance(answer, dict) and "id" in answer else int(adjustment_id)

    def warehouses(self) -> list[Warehouse]:
        return self.list_all("inventory", "warehouses", Warehouse.from_api, {"active": "Any"})
