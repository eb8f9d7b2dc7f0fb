"""Read-only access to SYSPRO tables over the SYSPRO OData service, and the idempotency lookup.

Entity-set names, paging and filter syntax are not publicly confirmed (docs/syspro-contract.md), so names come
from `contract.ODATA_ENTITIES` through the `syspro.odata_entities` override, paging follows
`@odata.nextLink` when the server gives one and `$skip` otherwise, and Test connection reports
what `$metadata` actually lists.

Sites differ in the columns they expose, so the reader asks `$metadata` once (a reader lives for
one job) which columns each entity set has and `$select`s only those: a missing column the flow
needs (`contract.ODATA_REQUIRED`) is a configuration error naming entity and column, any other
missing column reads as empty.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from urllib.parse import quote, urljoin

import requests
from lxml import etree

from desktop_app.core import liveness, money_json
from desktop_app.core.errors import AuthenticationError, ConfigError, ConnectError, ConnectorError
from desktop_app.core.http import resolve_redirects_within_origin, session_from_environment
from desktop_app.core.origins import refuse_other_origin, require_encrypted
from desktop_app.core.redact import redact, redact_document, register_secret
from desktop_app.core.unreadable import Unreadable
from desktop_app.syspro import contract
from desktop_app.syspro.errors import LookupUnavailable, MalformedXmlOut
from desktop_app.syspro.records import (
    ApInvoiceRecord,
    ApInvoiceTransactionRecord,
    GlCodeRecord,
    InventoryMovementRecord,
    PoDetailRecord,
    PoHeaderRecord,
    StockCodeRecord,
    StockLevelRecord,
    SupplierRecord,
    UnreadableRow,
    WarehouseRecord,
    unreadable_row,
)

log = logging.getLogger(__name__)

_PO_NUMBERS_PER_REQUEST = 20  # keeps $filter URLs short

# $metadata documents read by earlier readers of this process: company URL -> (monotonic time, columns)
_kept_schemas: dict[str, tuple[float, dict[str, frozenset[str] | None]]] = {}


def forget_kept_schemas() -> None:
    _kept_schemas.clear()


class MissingColumn(ConfigError):
    """The site's OData entity set lacks a column a flow cannot run without."""

    def __init__(self, entity: str, column: str, used_by: str):
        self.entity, self.column, self.used_by = entity, column, used_by
        super().__init__(
            f"SYSPRO OData: {entity} lacks required column {column}: {used_by} cannot run. Ask the SYSPRO "
            f"administrator to expose {column} of {entity} to OData, or, if this SYSPRO names the entity set "
            "differently, set syspro.odata_entities (e.g. ApInvoice=ApInvoices).")


def literal(value: str | dt.date | int | Decimal) -> str:
    """An OData literal: dates unquoted (2026-01-31), strings quoted with '' doubling."""
    if isinstance(value, dt.datetime):
        raise TypeError("use a date, not a datetime, in SYSPRO OData filters")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def date_range(field: str, since: dt.date | None, until: dt.date | None) -> str | None:
    """`field ge since and field le until` (both ends inclusive), or None when open on both sides."""
    parts = []
    if since is not None:
        parts.append(f"{field} ge {literal(since)}")
    if until is not None:
        parts.append(f"{field} le {literal(until)}")
    return " and ".join(parts) or None


class ODataReader:
    def __init__(self, *, base_url: str, company: str, user: str, password: str,
                 settings_entities: Mapping[str, str] | Callable[[str], str] | None = None,
                 session: requests.Session | None = None, connect_timeout: float = 10, read_timeout: float = 100,
                 allow_unencrypted: bool = False):
        if not base_url:
            raise ConfigError("The SYSPRO OData address (syspro.odata_url) is not set.")
        if not company:
            raise ConfigError("The SYSPRO company (syspro.company) is not set.")
        require_encrypted(base_url, setting="syspro.odata_url", service="the SYSPRO operator's OData",
                          allow_unencrypted=allow_unencrypted)
        register_secret(password)
        self.base_url = base_url.rstrip("/")
        self.company = company
        self.user = user
        self._auth = (user, password or "")
        self._entities = settings_entities
        # our own session reads the proxy and CA-bundle settings of the environment once, not per request
        self._http = session if session is not None else session_from_environment(self.base_url)
        self._owns_http = session is None
        self.timeout = (connect_timeout, read_timeout)
        self.requests = 0
        self._schema: dict[str, frozenset[str] | None] | None = None
        self._schema_read = False
        # seconds a $metadata an earlier reader of this process read stays good for this one (None: read it)
        self.schema_max_age: float | None = None
        self._reported_missing: set[str] = set()
        self.unreadable: list[UnreadableRow] = []  # rows `_typed` left out (see take_unreadable)

    def __repr__(self) -> str:
        return f"ODataReader(base_url={self.base_url!r}, company={self.company!r}, user={self.user!r})"

    @classmethod
    def from_settings(cls, settings, **kwargs) -> ODataReader:
        from desktop_app.core.secrets import get_secret

        entities = getattr(settings, "odata_entity", None)
        if entities is None:
            entities = _parse_overrides(settings.get("syspro.odata_entities") or "")
        return cls(
            base_url=settings.get("syspro.odata_url") or "",
            company=settings.get("syspro.company") or "",
            user=settings.get("syspro.odata_user") or settings.get("syspro.operator") or "",
            password=get_secret("syspro.operator_password") or "",
            settings_entities=entities,
            connect_timeout=settings.get("http.connect_timeout") or 10,
            read_timeout=settings.get("http.read_timeout") or 100,
            allow_unencrypted=bool(settings.get("syspro.allow_unencrypted")),
            **kwargs,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ODataReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def entity(self, default_name: str) -> str:
        if callable(self._entities):
            return self._entities(default_name) or default_name
        if self._entities:
            return self._entities.get(default_name, default_name)
        return default_name

    def company_url(self) -> str:
        return f"{self.base_url}/{quote(self.company, safe='')}"

    # --- transport ---------------------------------------------------------------------------------

    def _get(self, url: str, params: dict | None, what: str) -> requests.Response:
        self.requests += 1
        try:
            # redirects are followed here, hop by hop, only within the origin (the Basic header goes along)
            response = self._http.get(url, params=params, auth=self._auth, timeout=self.timeout,
                                      allow_redirects=False)
            if response.is_redirect:
                settings = self._http.merge_environment_settings(response.url, {}, None, None, None)
                hops = list(resolve_redirects_within_origin(self._http, response, response.request,
                                                            timeout=self.timeout, **settings))
                response = hops[-1] if hops else response
        except requests.RequestException as exc:
            kind = "timed out" if isinstance(exc, requests.Timeout) else "could not be reached"
            raise ConnectError(redact(f"SYSPRO OData at {self.base_url} {kind} while reading {what}. "
                                      "Check syspro.odata_url and the network.")) from None
        log.debug("SYSPRO OData GET %s -> %s", redact_document(response.url), response.status_code)
        if response.status_code in (401, 403):
            raise AuthenticationError(redact(
                f"SYSPRO OData refused user {self.user!r} (HTTP {response.status_code}). Check syspro.odata_user "
                "(or the operator) and that the operator is enabled for OData access."))
        if response.status_code == 404:
            raise ConfigError(redact(
                f"SYSPRO OData has no {what} at {self.company_url()} (HTTP 404). Check syspro.odata_url, "
                "syspro.company and the entity-set names (syspro.odata_entities; Test connection lists them)."))
        if response.status_code >= 400:
            raise ConnectError(redact(f"SYSPRO OData answered HTTP {response.status_code} while reading {what}."))
        return response

    def rows(self, entity_default_name: str, *, filter: str | None = None, select: list[str] | None = None,
             orderby: str | None = None, page_size: int = contract.ODATA_PAGE_SIZE,
             limit: int | None = None) -> Iterator[dict]:
        """Every row of an entity set matching the filter, page by page. Numbers come as Decimal."""
        name = self.entity(entity_default_name)
        url = f"{self.company_url()}/{quote(name, safe='')}"
        base_params: dict[str, str] = {}
        if filter:
            base_params["$filter"] = filter
        if select:
            select = self.present_columns(entity_default_name, select,
                                          also_needed=_order_columns(orderby))
            base_params["$select"] = ",".join(select)
        if orderby:
            base_params["$orderby"] = orderby
        top = page_size if limit is None else min(page_size, limit)
        skip = 0
        yielded = 0
        next_url: str | None = None
        seen_links: set[str] = set()
        previous_page: list | None = None
        pages = 0
        while True:
            liveness.beat()
            pages += 1
            if pages > contract.ODATA_MAX_PAGES:
                raise MalformedXmlOut(f"SYSPRO OData still had more rows of {name} after {contract.ODATA_MAX_PAGES} "
                                      "pages, more than any company holds: this read stopped.")
            if next_url:
                response = self._get(next_url, None, f"entity set {name}")
            else:
                params = dict(base_params, **{"$top": str(top)})
                if skip:
                    params["$skip"] = str(skip)
                response = self._get(url, params, f"entity set {name}")
            payload = None
            try:
                payload = money_json.loads(response.content)
            except ValueError:
                pass
            if not isinstance(payload, dict) or "value" not in payload:
                raise MalformedXmlOut(f"SYSPRO OData answered entity set {name} with something that is not an "
                                      "OData JSON page.")
            page = payload["value"]
            for row in page:
                yield row
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            link = payload.get("@odata.nextLink")
            if link:
                link = urljoin(response.url, link)
                refuse_other_origin(self.base_url, link, what=f"SYSPRO OData's next-page link for {name} was refused",
                                    setting="syspro.odata_url")
                if link in seen_links:
                    raise MalformedXmlOut(f"SYSPRO OData repeated the same next page link for {name}.")
                seen_links.add(link)
                next_url = link
                continue
            if next_url is not None or len(page) < top:
                # After server-driven paging, no link means the end; without it, a short page does.
                return
            if skip and page == previous_page:
                raise MalformedXmlOut(f"SYSPRO OData answered the same rows of {name} for $skip={skip} as for the "
                                      "page before: it ignores $skip, so this read stopped.")
            previous_page = page
            skip += len(page)

    # --- typed readers -----------------------------------------------------------------------------

    def _typed(self, default_name: str, record, **kwargs) -> Iterator:
        """Rows as records; a row the record type cannot read is left out and kept in `unreadable`
        (the flows hold what it belongs to, naming the column and value)."""
        kwargs.setdefault("select", list(contract.ODATA_ENTITIES[default_name]))
        for row in self.rows(default_name, **kwargs):
            try:
                yield record.from_row(row)
            except Unreadable as exc:
                bad = unreadable_row(default_name, row, exc)
                log.warning("%s", bad.sentence())
                self.unreadable.append(bad)

    def take_unreadable(self, table: str | None = None) -> list[UnreadableRow]:
        """The rows left out since the last call (of `table`, or all), forgotten here."""
        taken = [bad for bad in self.unreadable if table is None or bad.table == table]
        self.unreadable = [bad for bad in self.unreadable if bad not in taken]
        return taken

    def ap_invoices(self, *, date_field: str = "InvoiceDate", since: dt.date | None = None,
                    until: dt.date | None = None) -> Iterator[ApInvoiceRecord]:
        return self._typed("ApInvoice", ApInvoiceRecord, filter=date_range(date_field, since, until),
                           orderby=f"{date_field},Supplier,Invoice")

    def ap_invoice_transactions(self, *, since: dt.date | None = None, trn_type: str | None = None,
                                supplier: str | None = None, invoice: str | None = None,
                                limit: int | None = None) -> Iterator[ApInvoiceTransactionRecord]:
        parts = [part for part in (
            date_range("TrnDate", since, None),
            f"TrnType eq {literal(trn_type)}" if trn_type else None,
            f"Supplier eq {literal(supplier.strip())}" if supplier else None,
            f"Invoice eq {literal(invoice.strip())}" if invoice else None) if part]
        return self._typed("ApInvoicePay", ApInvoiceTransactionRecord, filter=" and ".join(parts) or None,
                           orderby="TrnDate,Supplier,Invoice,Journal", limit=limit)

    def suppliers(self) -> Iterator[SupplierRecord]:
        return self._typed("ApSupplier", SupplierRecord, orderby="Supplier")

    def stock_codes(self) -> Iterator[StockCodeRecord]:
        return self._typed("InvMaster", StockCodeRecord, orderby="StockCode")

    def stock_levels(self, *, warehouse: str | None = None) -> Iterator[StockLevelRecord]:
        filter_ = f"Warehouse eq {literal(warehouse)}" if warehouse else None
        return self._typed("InvWarehouse", StockLevelRecord, filter=filter_, orderby="StockCode,Warehouse")

    def warehouses(self) -> Iterator[WarehouseRecord]:
        return self._typed("InvWhControl", WarehouseRecord, orderby="Warehouse")

    def gl_codes(self) -> Iterator[GlCodeRecord]:
        return self._typed("GenMaster", GlCodeRecord, orderby="GlCode")

    def po_headers(self, since: dt.date | None = None, *,
                   date_field: str = "OrderEntryDate") -> Iterator[PoHeaderRecord]:
        return self._typed("PorMasterHdr", PoHeaderRecord, filter=date_range(date_field, since, None),
                           orderby="PurchaseOrder")

    def po_headers_numbered(self, po_numbers: Iterable[str]) -> Iterator[PoHeaderRecord]:
        """The headers of these POs, whatever their dates."""
        return self._by_po_number("PorMasterHdr", PoHeaderRecord, po_numbers, orderby="PurchaseOrder")

    def po_details(self, po_numbers: Iterable[str]) -> Iterator[PoDetailRecord]:
        return self._by_po_number("PorMasterDetail", PoDetailRecord, po_numbers, orderby="PurchaseOrder,Line")

    def _by_po_number(self, entity: str, record, po_numbers: Iterable[str], *, orderby: str) -> Iterator:
        """The rows of these PO numbers, a bounded number of numbers per request."""
        numbers = list(dict.fromkeys(po_numbers))
        for start in range(0, len(numbers), _PO_NUMBERS_PER_REQUEST):
            chunk = numbers[start:start + _PO_NUMBERS_PER_REQUEST]
            filter_ = " or ".join(f"PurchaseOrder eq {literal(number)}" for number in chunk)
            yield from self._typed(entity, record, filter=filter_, orderby=orderby)

    def inventory_movements(self, since: dt.date | None = None, *, until: dt.date | None = None,
                            date_field: str = "EntryDate") -> Iterator[InventoryMovementRecord]:
        return self._typed("InvMovements", InventoryMovementRecord, filter=date_range(date_field, since, until),
                           orderby=f"{date_field},EntryNumber")

    def find_ap_invoice(self, supplier: str, invoice: str) -> ApInvoiceRecord | None:
        filter_ = f"Supplier eq {literal(supplier.strip())} and Invoice eq {literal(invoice.strip())}"
        for record in self._typed("ApInvoice", ApInvoiceRecord, filter=filter_, limit=5):
            if record.supplier == supplier.strip() and record.invoice == invoice.strip():
                return record
        return None

    # --- $metadata ----------------------------------------------------------------------------------

    def metadata(self) -> list[str]:
        """Entity-set names listed in $metadata (CSDL XML)."""
        return sorted(self._entity_sets())

    def _entity_sets(self) -> dict[str, frozenset[str] | None]:
        """Entity set → the names of its properties (None: not defined there), from $metadata; read
        once per reader."""
        if self._schema is None and self.schema_max_age is not None:
            kept = _kept_schemas.get(self.company_url())
            if kept is not None and time.monotonic() - kept[0] < self.schema_max_age:
                self._schema = kept[1]
        if self._schema is None:
            response = self._get(f"{self.company_url()}/$metadata", None, "$metadata")
            self._schema = entity_set_columns(response.content, where=self.company_url())
            _kept_schemas[self.company_url()] = (time.monotonic(), self._schema)
        return self._schema

    def site_columns(self, default_name: str) -> frozenset[str] | None:
        """The columns this site's entity set has; None when $metadata cannot say (no $metadata
        document, or the set is not listed in it): everything is then asked for, as named."""
        if not self._schema_read:
            try:
                self._entity_sets()
            except AuthenticationError:
                raise  # every read would be refused the same way
            except (ConfigError, ConnectError, MalformedXmlOut) as exc:
                # no usable $metadata (404, a server error, not CSDL): the reads themselves say what
                # is wrong, if anything
                log.warning("SYSPRO OData $metadata could not be read (%s); every column is asked for by name", exc)
            self._schema_read = True
        if self._schema is None:
            return None
        return self._schema.get(self.entity(default_name))

    def missing_columns(self, default_name: str) -> tuple[list[str], list[str]]:
        """(required, optional) columns of `contract.ODATA_ENTITIES[default_name]` the site lacks."""
        have = self.site_columns(default_name)
        if have is None:
            return [], []
        required = contract.ODATA_REQUIRED.get(default_name, ())
        missing = [c for c in contract.ODATA_ENTITIES[default_name] if c not in have]
        return [c for c in missing if c in required], [c for c in missing if c not in required]

    def present_columns(self, default_name: str, wanted: Iterable[str], *,
                        also_needed: Iterable[str] = ()) -> list[str]:
        """The wanted columns this site has, in order. A missing required one (or one the request
        sorts on) raises MissingColumn; a missing optional one is left out and reads as empty."""
        wanted, also_needed = list(wanted), list(also_needed)
        have = self.site_columns(default_name)
        if have is None:
            return wanted
        required = set(contract.ODATA_REQUIRED.get(default_name, ())) | set(also_needed)
        name = self.entity(default_name)
        shown = name if name == default_name else f"{name} (for {default_name})"
        for column in [*wanted, *also_needed]:
            if column not in have and column in required:
                raise MissingColumn(shown, column, contract.ODATA_USED_BY.get(default_name, "this read"))
        missing = [c for c in wanted if c not in have]
        if missing and name not in self._reported_missing:
            self._reported_missing.add(name)
            log.info("SYSPRO OData: %s lacks optional column(s) %s; they read as empty", shown, ", ".join(missing))
        return [c for c in wanted if c in have]


def _order_columns(orderby: str | None) -> list[str]:
    return [part.split()[0] for part in (orderby or "").split(",") if part.strip()]


def entity_set_columns(document: bytes, *, where: str = "") -> dict[str, frozenset[str] | None]:
    """Entity set → its property names, from an OData CSDL XML document ($metadata).

    The set's EntityType is found by its qualified name (namespace or alias), with the properties
    of its BaseType chain included, as CSDL defines inheritance.
    """
    try:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        raise MalformedXmlOut(f"SYSPRO OData $metadata at {where} is not XML.") from None
    types: dict[str, etree._Element] = {}
    for schema in _children(root, "Schema", deep=True):
        prefixes = [p for p in (schema.get("Namespace"), schema.get("Alias")) if p]
        for entity_type in _children(schema, "EntityType"):
            for prefix in prefixes:
                types[f"{prefix}.{entity_type.get('Name')}"] = entity_type

    def properties(qualified: str | None, seen: frozenset = frozenset()) -> set[str]:
        entity_type = types.get(qualified or "")
        if entity_type is None or qualified in seen:
            return set()
        names = {p.get("Name") for p in _children(entity_type, "Property") if p.get("Name")}
        return names | properties(entity_type.get("BaseType"), seen | {qualified})

    # a set whose type the document does not define is listed with no columns known (None)
    return {entity_set.get("Name"): (frozenset(properties(entity_set.get("EntityType")))
                                     if entity_set.get("EntityType") in types else None)
            for entity_set in _children(root, "EntitySet", deep=True) if entity_set.get("Name")}


def _children(element, localname: str, *, deep: bool = False):
    candidates = element.iter() if deep else element
    return [el for el in candidates if isinstance(el.tag, str) and etree.QName(el).localname == localname]


def _parse_overrides(text: str) -> dict[str, str]:
    pairs = {}
    for pair in text.split(","):
        name, _, override = pair.partition("=")
        if name.strip() and override.strip():
            pairs[name.strip()] = override.strip()
    return pairs


def find_ap_invoice(*, odata: ODataReader | None, session, supplier: str, invoice: str) -> ApInvoiceRecord | None:
    """Is AP invoice (supplier, invoice) in SYSPRO? Used before re-posting one whose outcome is unknown.

    Returns None only when a source positively answered "not there": when neither OData nor e.net
    can answer, LookupUnavailable is raised, because None would allow a duplicate post.
    """
    from desktop_app.syspro.queries import find_ap_invoice_enet

    problems = []
    if odata is not None:
        try:
            return odata.find_ap_invoice(supplier, invoice)
        except ConnectorError as exc:
            log.warning("AP invoice look-up over OData failed (%s); trying e.net", exc)
            problems.append(f"OData: {exc}")
    if session is not None:
        try:
            return find_ap_invoice_enet(session, supplier=supplier, invoice=invoice)
        except ConnectorError as exc:
            problems.append(f"e.net: {exc}")
    if not problems:
        problems.append("neither OData nor an e.net session is available")
    raise LookupUnavailable(redact(
        f"Could not check whether invoice {invoice!r} of supplier {supplier!r} is already in SYSPRO "
        f"({'; '.join(problems)}). It will not be posted again until this check succeeds."))


def find_ap_credit(*, odata: ODataReader | None, session, supplier: str, invoice: str,
                   reference_key: str) -> ApInvoiceTransactionRecord | None:
    """Is the credit note whose reference starts with `reference_key` among the transactions of AP
    invoice (supplier, invoice)? Used before re-sending a credit whose outcome is unknown.

    As `find_ap_invoice`: None only when a source positively answered, else LookupUnavailable."""
    from desktop_app.syspro.queries import find_ap_credit_enet

    def ours(record: ApInvoiceTransactionRecord) -> bool:
        return record.reference == reference_key or record.reference.startswith(reference_key + " ")

    problems = []
    if odata is not None:
        try:
            return next((record for record in odata.ap_invoice_transactions(supplier=supplier, invoice=invoice)
                         if ours(record)), None)
        except ConnectorError as exc:
            log.warning("AP credit look-up over OData failed (%s); trying e.net", exc)
            problems.append(f"OData: {exc}")
    if session is not None:
        try:
            return next((record for record in find_ap_credit_enet(session, supplier=supplier, invoice=invoice)
                         if ours(record)), None)
        except ConnectorError as exc:
            problems.append(f"e.net: {exc}")
    if not problems:
        problems.append("neither OData nor an e.net session is available")
    raise LookupUnavailable(redact(
        f"Could not check whether the credit {reference_key!r} against invoice {invoice!r} of supplier "
        f"{supplier!r} is already in SYSPRO ({'; '.join(problems)}). It will not be sent again until this check "
        "succeeds."))
