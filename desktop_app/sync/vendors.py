"""Vendors ↔ suppliers, both ways (docs/architecture.md §1), matched by the SYSPRO supplier code.

ServiceTitan side: vendors changed since the last cycle (list with modifiedOnOrAfter and
active=Any; the cursor is the newest modifiedOn seen). SYSPRO side: every supplier over OData
(ApSupplier has no change column), compared with the version stored in the link. The code is
kept in the vendor mapping and in the ServiceTitan vendor's externalData ("syspro.supplier").

Per linked pair: changed on one side → the changed fields are written to the other; changed on
both → CONFLICT (sync.conflict_policy decides, or a person); after every write the target is read
back and both versions are stored, so what we wrote is not taken for a change next cycle.
Unlinked records are created on the other side, except: look-alikes (same code or normalised
name: mappings.suggest) are HELD for a person to link; inactive / on-hold ones are not created;
a supplier without the address ServiceTitan requires is HELD naming the missing field.
Deactivation maps to deactivation (active=false ↔ OnHold=Y); nothing is ever deleted.

Vendor mappings a person made (grid, CSV) are never changed by a sync; the engine adds rows only
for pairs it created or found by its own marker, and changes only those. A mapped vendor never
gets a new supplier, a mapped supplier never a new vendor. Several vendors may share one supplier
(duplicate vendor records per branch): the first mapped one (or the one a person chose) is the
primary, whose fields are synced both ways; the others are aliases, whose invoices post to the
supplier but whose fields are not synced. More new records than sync.max_auto_create in one cycle
wait for a person's approval (records.CreationGate).

SupAddr1…SupAddr5 hold what syspro.supplier_address_lines says, both ways.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from desktop_app.core import config
from desktop_app.core.db import SyncCursor, SyncLink, VendorMapping, database, set_cursor, utcnow
from desktop_app.core.errors import OutcomeUnknown
from desktop_app.servicetitan.errors import ServiceTitanApiError
from desktop_app.servicetitan.models import UnreadableRecord, Vendor, to_datetime
from desktop_app.sync import links, protocol, records
from desktop_app.sync.context import SyncContext
from desktop_app.sync.mappings import normalise, suggest
from desktop_app.sync.records import (
    CONFLICT,
    FAILED,
    HELD,
    IN_DOUBT,
    READY,
    SKIPPED,
    SYNCED,
    WAITING,
    FlowSummary,
    LazySession,
)
from desktop_app.syspro import contract
from desktop_app.syspro import suppliers as apsssp
from desktop_app.syspro.errors import ValidationError
from desktop_app.syspro.records import SupplierRecord

log = logging.getLogger("desktop_app.sync.vendors")

FLOW = "vendors"
CURSOR = "vendors.modified_on"
EXTERNAL_KEY = "syspro.supplier"
ENGINE = "ml-connector"  # VendorMapping.changed_by of the rows the engine made (and may change)
ADDRESS_FIELDS = ("street", "unit", "city", "state", "country", "zip")
LINE_FIELDS = ("street", "unit", "city", "state", "country")  # what the SupAddr lines can hold
# syspro.supplier_address_lines roles → the view's (and ServiceTitan's address) field
ROLE_FIELD = {"street": "street", "street2": "unit", "city": "city", "state": "state", "country": "country"}
# What ServiceTitan requires in a vendor address.
REQUIRED_BY_SERVICETITAN = ("street", "city", "state", "zip")


def address_roles(settings) -> tuple[str, ...]:
    return tuple(settings["syspro.supplier_address_lines"])


def _line_fields(roles) -> list[str | None]:
    return [ROLE_FIELD.get(role) for role in roles]


def required_columns(roles) -> dict[str, str]:
    """What ServiceTitan requires in a vendor address, and the SYSPRO column it comes from here."""
    columns = {field: f"SupAddr{n}" for n, field in enumerate(_line_fields(roles), 1) if field}
    columns["zip"] = "SupPostalCode"
    return {field: columns.get(field, "no SupAddr line holds it: see syspro.supplier_address_lines")
            for field in REQUIRED_BY_SERVICETITAN}


def st_view(raw: dict, roles=config.ADDRESS_LINES_DEFAULT) -> dict:
    address = raw.get("address") or {}
    contact = raw.get("contactInfo") or {}
    view = {"name": links.clean(raw.get("name"), 50), "active": bool(raw.get("active", True)),
            "street": links.clean(address.get("street"), 40), "city": links.clean(address.get("city"), 40),
            "state": links.clean(address.get("state"), 40), "country": links.clean(address.get("country"), 40),
            "zip": links.clean(address.get("zip"), 15), "phone": links.clean(contact.get("phone"), 20),
            "email": links.clean(contact.get("email"), 255)}
    if "street2" in roles:
        view["unit"] = links.clean(address.get("unit"), 40)
    for field in LINE_FIELDS:
        if field in view and field not in _line_fields(roles):
            view[field] = ""  # no SupAddr line holds it: not compared, not synced
    return view


def syspro_view(supplier: SupplierRecord, roles=config.ADDRESS_LINES_DEFAULT) -> dict:
    lines = tuple(supplier.address) + ("",) * 5
    held = {field: links.clean(lines[n], 40) for n, field in enumerate(_line_fields(roles)) if field}
    view = {"name": links.clean(supplier.name, 50), "active": not supplier.on_hold,
            "street": held.get("street", ""), "city": held.get("city", ""), "state": held.get("state", ""),
            "country": held.get("country", ""), "zip": links.clean(supplier.postal_code, 15),
            "phone": links.clean(supplier.telephone, 20), "email": links.clean(supplier.email, 255)}
    if "street2" in roles:
        view["unit"] = held.get("unit", "")
    return view


def address_lines(view: dict, roles, current: tuple[str, ...] = ()) -> tuple[str, ...]:
    """SupAddr1…SupAddr5 for a view: each line its role's field; an unused line keeps what it has."""
    current = tuple(current) + ("",) * 5
    return tuple(view.get(field, "") if field else current[n] for n, field in enumerate(_line_fields(roles)))


def sample_supplier(ctx, code: str = "", roles=None) -> dict:
    """One supplier (with an address, if any has one) read with an address layout - `roles`, else
    syspro.supplier_address_lines - for the Settings page: its SupAddr lines and what each becomes in
    ServiceTitan."""
    roles = tuple(roles or address_roles(ctx.settings))
    with LazySession(ctx) as session:
        if code:
            rows = links.syspro_rows(ctx, session, "ApSupplier", contract.ODATA_ENTITIES["ApSupplier"],
                                     [("Supplier", code)], limit=5)
            found = [SupplierRecord.from_row(row) for row in rows]
        else:
            found = sorted(read_suppliers(ctx, session).values(), key=lambda r: (not any(r.address), r.supplier))
    if not found:
        raise LookupError(f"SYSPRO has no supplier {code}" if code else "SYSPRO has no suppliers to show")
    supplier = found[0]
    view = syspro_view(supplier, roles)
    lines = [{"column": f"SupAddr{n}", "value": value, "role": role,
              "servicetitan": ROLE_FIELD.get(role, "")} for n, (value, role) in
             enumerate(zip(tuple(supplier.address) + ("",) * 5, roles, strict=False), 1)]
    return {"supplier": supplier.supplier, "name": supplier.name, "lines": lines,
            "postal_code": supplier.postal_code, "address": {k: view.get(k, "") for k in ADDRESS_FIELDS}}


def derive_code(name: str, taken: set[str]) -> str | None:
    """A new supplier code: the normalised name's letters and digits, upper case, at most 15
    characters, made unique with a number at the end. None when the name gives nothing usable."""
    base = "".join(normalise(name).upper().split())[:contract.MAX_LENGTH["Supplier"]]
    if not base:
        return None
    code, counter = base, 2
    while code in taken:
        suffix = str(counter)
        code = base[:contract.MAX_LENGTH["Supplier"] - len(suffix)] + suffix
        counter += 1
    return code


def save_mapping(st_id: int, name: str, code: str) -> None:
    """The engine's own mapping row for a pair it created or found: a person's row is left alone."""
    row = VendorMapping.get_or_none(VendorMapping.st_vendor_id == st_id)
    if row is None:
        VendorMapping.create(st_vendor_id=st_id, st_vendor_name=name, syspro_supplier=code, changed_by=ENGINE,
                             changed_at=utcnow())
    elif row.changed_by == ENGINE and row.syspro_supplier != code:
        row.syspro_supplier, row.changed_at = code, utcnow()
        row.save()


def primary_vendor(code: str) -> int | None:
    """The ServiceTitan vendor that stands for a SYSPRO supplier: the one a person chose, else the first
    mapped (then the first linked). Its fields are synced; other vendors of the supplier are aliases."""
    linked = list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.syspro_key == code,
                                          SyncLink.st_id.is_null(False)).order_by(SyncLink.id))
    for link in linked:
        if (link.data or {}).get("primary"):
            return link.st_id
    mapped = [row.st_vendor_id for row in VendorMapping.select().where(VendorMapping.syspro_supplier == code)
              .order_by(VendorMapping.id)]
    candidates = mapped + [link.st_id for link in linked if link.st_id not in mapped]
    return candidates[0] if candidates else None


def set_primary(st_vendor_id: int, *, actor: str) -> SyncLink:
    """A person makes a vendor the primary of the supplier it shares: its fields are synced from now on
    (both versions are the starting point), the former primary's no longer."""
    link = links.by_st(FLOW, st_vendor_id)
    if link is None or not link.syspro_key:
        raise ValueError(f"ServiceTitan vendor {st_vendor_id} is not linked to a SYSPRO supplier; map it first "
                         "(mappings import vendors, or the Mappings page)")
    code = link.syspro_key
    with database.atomic():
        for other in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.syspro_key == code,
                                             SyncLink.id != link.id):
            if (other.data or {}).get("primary"):
                other.data = {k: v for k, v in other.data.items() if k != "primary"}
                other.save()
        records.transition(link, READY, "primary", f"{actor} made vendor {st_vendor_id} the primary vendor of "
                           f"supplier {code}: its fields are synced from now on", actor=actor, reason="",
                           data={**(link.data or {}), "primary": True}, st_synced=None, syspro_synced=None,
                           conflict=None)
    return link


def read_suppliers(ctx: SyncContext, session: LazySession) -> dict[str, SupplierRecord]:
    if ctx.odata is not None:
        return {r.supplier: r for r in ctx.odata.suppliers()}
    from desktop_app.syspro import queries

    rows = queries.comfnd(session.get(), "ApSupplier", list(contract.ODATA_ENTITIES["ApSupplier"]), return_rows=100000)
    return {r.supplier: r for r in map(SupplierRecord.from_row, rows)}


class VendorSync(records.TwoWaySync):
    FLOW, NOUN = FLOW, "vendors"

    def __init__(self, ctx: SyncContext, session: LazySession, summary: FlowSummary):
        super().__init__(ctx, session, summary)
        self.guid = links.application_guid(ctx.settings)
        self.suppliers: dict[str, SupplierRecord] = {}
        self.st_now: dict[int, dict] = {}
        self.roles = address_roles(ctx.settings)
        self.primaries: dict[str, int | None] = {}
        self.mapped_vendors: set[int] = set()
        self.mapped_codes: set[str] = set()

    def st_view(self, raw: dict) -> dict:
        return st_view(raw, self.roles)

    def syspro_view(self, supplier: SupplierRecord) -> dict:
        return syspro_view(supplier, self.roles)

    def primary(self, code: str) -> int | None:
        if code not in self.primaries:
            self.primaries[code] = primary_vendor(code)
        return self.primaries[code]

    # ------------------------------------------------------------------ the cycle
    def run(self) -> None:
        self.suppliers = read_suppliers(self.ctx, self.session)
        cursor = SyncCursor.get_or_none(SyncCursor.name == CURSOR)
        since = datetime.fromisoformat(cursor.value) if cursor else None
        received = self.ctx.st.vendors(modified_on_or_after=since, hold_unreadable=True)
        for vendor in received:
            if isinstance(vendor, UnreadableRecord):
                records.hold_unreadable(FLOW, vendor, actor=self.actor, summary=self.summary)
        listed = [vendor for vendor in received if not isinstance(vendor, UnreadableRecord)]
        self.st_now = {vendor.id: vendor.raw for vendor in listed}
        for link in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.st_id.is_null(False)):
            if (link.data or {}).get(REREAD):
                self.st_now.setdefault(link.st_id, link.st_current)
                link.data = {key: value for key, value in link.data.items() if key != REREAD}
                link.save()
        for link in SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.st_id.in_(list(self.st_now))):
            if records.readable_again(link):
                link.save()
                records.record(link, "readable", f"ServiceTitan vendor {link.label} can be read again",
                               actor=self.actor)
        self.adopt_mappings()
        for link in list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.st_id.is_null(False),
                                                 SyncLink.syspro_key.is_null(False)).order_by(SyncLink.id)):
            self.ctx.check_cancelled()
            self.one(link, self.pair)
        pending = {link.st_id: link.st_current for link in SyncLink.select().where(
            SyncLink.flow == FLOW, SyncLink.syspro_key.is_null(),
            SyncLink.state.in_([READY, IN_DOUBT, HELD, WAITING]))}
        for vendor_id, raw in {**pending, **self.st_now}.items():
            link = links.by_st(FLOW, vendor_id)
            if raw is not None and (link is None or link.syspro_key is None):
                self.ctx.check_cancelled()
                if link is None:
                    self.new_st_vendor(raw, link)
                else:
                    self.one(link, lambda link, raw=raw: self.new_st_vendor(raw, link))
        for code, supplier in sorted(self.suppliers.items()):
            if not self.has_vendor(code):
                self.ctx.check_cancelled()
                self.new_supplier(supplier, links.by_syspro(FLOW, code))
        for link in self.gate.release():
            self.ctx.check_cancelled()
            if link.st_id is not None:
                self.new_st_vendor(link.st_current, link)
            elif link.syspro_key in self.suppliers:
                self.new_supplier(self.suppliers[link.syspro_key], link)
        stamps = [vendor.modified_on for vendor in listed if vendor.modified_on]
        if stamps:
            # modifiedOnOrAfter is inclusive: the newest vendor is read again, compared, and left alone
            set_cursor(CURSOR, max(stamps).isoformat())

    @staticmethod
    def has_vendor(code: str) -> bool:
        return SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.syspro_key == code,
                                       SyncLink.st_id.is_null(False)).exists()

    def adopt_mappings(self) -> None:
        """Vendor mappings link their pair; they win over held look-alikes. A supplier already linked to
        another vendor is shared (this vendor is an alias unless it is the primary). A supplier a corrected
        mapping leaves without a vendor is not created in ServiceTitan (see release)."""
        rows = list(VendorMapping.select().order_by(VendorMapping.id))
        self.mapped_vendors = {row.st_vendor_id for row in rows}
        self.mapped_codes = {row.syspro_supplier for row in rows}
        for row in rows:
            st_link = links.by_st(FLOW, row.st_vendor_id)
            code = row.syspro_supplier
            if st_link is not None and st_link.syspro_key == code:
                continue
            former_code = st_link.syspro_key if st_link is not None else None
            sp_link = SyncLink.get_or_none(SyncLink.flow == FLOW, SyncLink.syspro_key == code, SyncLink.st_id.is_null())
            with database.atomic():
                if sp_link is not None:
                    if st_link is None:
                        st_link, sp_link = sp_link, None
                    else:
                        records.record(sp_link, "merged", f"Linked to ServiceTitan vendor {row.st_vendor_id} by "
                                       f"a vendor mapping (record {st_link.id})", actor=self.actor)
                        former = (st_link.data or {}).get("former_keys", []) + [records.record_key(sp_link)]
                        st_link.data = {**(st_link.data or {}), "former_keys": former}
                        sp_link.delete_instance()
                if st_link is None:
                    records.new_link(FLOW, state=READY, kind="linked", message=f"Linked by the vendor mapping "
                                     f"{row.st_vendor_id} → {code}", actor=self.actor, st_id=row.st_vendor_id,
                                     syspro_key=code, label=row.st_vendor_name or code, origin="mapping")
                else:
                    # a vendor held as unreadable is linked all the same, and stays held until it can be read
                    held = records.is_unreadable(st_link)
                    records.transition(st_link, HELD if held else READY, "linked",
                                       f"Linked by the vendor mapping to supplier {code}"
                                       + (f" (was {former_code})" if former_code else ""),
                                       actor=self.actor, st_id=row.st_vendor_id, syspro_key=code,
                                       reason=st_link.reason if held else "", data=st_link.data,
                                       st_synced=None, syspro_synced=None, conflict=None)
                if former_code and former_code != code:
                    self.release(former_code, row.st_vendor_id, code)

    def release(self, code: str, st_vendor_id: int, now: str) -> None:
        """A corrected mapping (vendor: code → now) leaves `code` without this vendor. Unless another vendor
        or mapping has it, it gets a SKIPPED record: nothing is created for it without a person (Retry)."""
        if code in self.mapped_codes or self.has_vendor(code):
            return
        supplier = self.suppliers.get(code)
        reason = (f"Was linked to ServiceTitan vendor {st_vendor_id} until the vendor mapping was corrected to "
                  f"{now}: not created in ServiceTitan. Map a vendor to it, or Retry to create one")
        existing = links.by_syspro(FLOW, code)
        fields: dict[str, Any] = dict(reason=reason,
                                      data={**((existing.data if existing else None) or {}), "released": True})
        if existing is None:
            records.new_link(FLOW, state=SKIPPED, kind="unlinked", message=reason, actor=self.actor, syspro_key=code,
                             label=supplier.name if supplier else code, origin="syspro", **fields)
        else:
            records.transition(existing, SKIPPED, "unlinked", reason, actor=self.actor, **fields)

    # ------------------------------------------------------------------ linked pairs
    def pair(self, link: SyncLink) -> None:
        supplier = self.suppliers.get(link.syspro_key)
        if supplier is None:
            reason = f"Supplier {link.syspro_key} is not in SYSPRO (any more): check the vendor mapping"
            if link.reason != reason:
                records.transition(link, HELD, "held", reason, actor=self.actor, reason=reason)
            return
        primary = self.primary(link.syspro_key)
        if primary is not None and primary != link.st_id:
            self.alias(link, primary)
            return
        sp_view = self.syspro_view(supplier)
        raw = self.st_now.get(link.st_id)
        if raw is None and (link.st_synced is None or link.state == IN_DOUBT):
            raw = self.ctx.st.get_vendor(link.st_id).raw
        st_now = self.st_view(raw) if raw is not None else link.st_synced
        if link.st_synced is None or link.syspro_synced is None:
            self.baseline(link, raw, supplier, "Linked: both versions are the starting point; later changes "
                          "on either side are synced")
            return
        st_changed = links.changed_fields(st_now, link.st_synced)
        sp_changed = links.changed_fields(sp_view, link.syspro_synced)
        if not st_changed and not sp_changed:
            if link.state != SYNCED:
                records.transition(link, SYNCED, "unchanged", "Both sides agree with the last synced versions",
                                   actor=self.actor, reason="", conflict=None)
            self.summary.unchanged += 1
            return
        versions = links.view_hash({"st": st_now, "syspro": sp_view})
        if link.state == FAILED and (link.data or {}).get("failed_versions") == versions:
            return  # refused before for this very version: waits for an edit or a replay
        if st_changed and sp_changed:
            fields = sorted(set(st_changed) | set(sp_changed))
            if all(st_now.get(f) == sp_view.get(f) for f in fields):
                self.baseline(link, raw, supplier, "The same change was made on both sides")
                return
            st_time = to_datetime(raw.get("modifiedOn")) if raw else None
            winner = links.winner_for(link, self.ctx.settings, st_time=st_time, syspro_time=None)
            if winner is None:
                self.conflict(link, st_now, sp_view, st_changed, sp_changed)
                return
            if winner == "servicetitan":
                self.to_syspro(link, raw, st_now, supplier, fields, why=f"conflict: {winner} wins")
            else:
                self.to_servicetitan(link, raw, sp_view, supplier, fields, why=f"conflict: {winner} wins")
            return
        if st_changed:
            self.to_syspro(link, raw, st_now, supplier, st_changed, why="changed in ServiceTitan")
        else:
            self.to_servicetitan(link, raw, sp_view, supplier, sp_changed, why="changed in SYSPRO")

    def alias(self, link: SyncLink, primary: int) -> None:
        """Another vendor is the supplier's primary: this one's invoices post to the supplier, its fields
        are not synced either way. No versions are kept, so becoming the primary starts from a baseline."""
        reason = (f"Alias: shares SYSPRO supplier {link.syspro_key} with ServiceTitan vendor {primary}, the primary "
                  "vendor. Its invoices post to the supplier; its fields are not synced (make it the primary to "
                  "sync them)")
        raw = self.st_now.get(link.st_id) or link.st_current
        data = {**self._clear_winner(link), "alias_of": primary}
        if link.state != SYNCED or link.reason != reason or link.st_synced is not None or link.data != data:
            label = links.clean((raw or {}).get("name"), 50) or link.label
            records.transition(link, SYNCED, "alias", reason, actor=self.actor, reason=reason, st_synced=None,
                               syspro_synced=None, conflict=None, data=data, st_current=raw, label=label)
        self.summary.unchanged += 1

    def conflict(self, link, st_now, sp_view, st_changed, sp_changed) -> None:
        data = {"servicetitan": st_now, "syspro": sp_view, "last_synced": {"servicetitan": link.st_synced,
                "syspro": link.syspro_synced}, "servicetitan_changed": st_changed, "syspro_changed": sp_changed}
        if link.state == CONFLICT and link.conflict == data:
            self.summary.conflicts += 1
            return
        why = ("SYSPRO keeps no change time for suppliers, so 'newer' cannot decide"
               if links.policy(self.ctx.settings) == "newer" else "sync.conflict_policy is 'ask'")
        reason = (f"Changed on both sides since the last sync (ServiceTitan: {', '.join(st_changed)}; "
                  f"SYSPRO: {', '.join(sp_changed)}). Choose which side wins ({why}).")
        records.transition(link, CONFLICT, "conflict", reason, actor=self.actor, event=data, conflict=data,
                           reason=reason)
        self.summary.conflicts += 1

    def baseline(self, link: SyncLink, raw: dict | None, supplier: SupplierRecord, message: str) -> None:
        if raw is None:
            raw = self.ctx.st.get_vendor(link.st_id).raw
        view = self.st_view(raw)
        sp_view = self.syspro_view(supplier)
        records.transition(link, SYNCED, "linked" if link.st_synced is None else "converged", message,
                           actor=self.actor, reason="", st_synced=view, st_hash=links.view_hash(view),
                           st_version=str(raw.get("modifiedOn") or ""), syspro_synced=sp_view,
                           syspro_hash=links.view_hash(sp_view), conflict=None, st_current=raw,
                           label=view["name"], data=self._clear_winner(link))
        save_mapping(link.st_id, view["name"], link.syspro_key)
        self.summary.linked += 1
        self.ensure_marker(link, raw)

    def ensure_marker(self, link: SyncLink, raw: dict) -> None:
        """The supplier code in the vendor's externalData: how a lost link or an unknown create is found."""
        if Vendor.from_api(raw).external_data.get(EXTERNAL_KEY) == link.syspro_key:
            return
        try:
            self.ctx.st.patch_vendor(link.st_id, {"externalData": {
                "patchMode": "Merge", "applicationGuid": self.guid,
                "externalData": [{"key": EXTERNAL_KEY, "value": link.syspro_key}]}})
        except (OutcomeUnknown, ServiceTitanApiError) as exc:
            self.summary.problems.append(f"vendor {link.st_id}: supplier code not written to externalData: {exc}")
            return
        records.record(link, "external_data", f"Supplier code {link.syspro_key} written to the vendor's "
                       f"externalData ({EXTERNAL_KEY})", actor=self.actor)

    @staticmethod
    def _clear_winner(link: SyncLink) -> dict:
        data = dict(link.data or {})
        for key in ("winner", "failed_versions", "approved", "alias_of", "released"):
            data.pop(key, None)
        return data

    # ------------------------------------------------------------------ writes to SYSPRO
    def read_supplier(self, code: str) -> SupplierRecord | None:
        rows = links.syspro_rows(self.ctx, self.session, "ApSupplier", contract.ODATA_ENTITIES["ApSupplier"],
                                 [("Supplier", code)], limit=5)
        found = [SupplierRecord.from_row(row) for row in rows]
        found = [r for r in found if r.supplier == code]
        if found:
            self.suppliers[code] = found[0]
        return found[0] if found else None

    def _setup(self, link: SyncLink, doc: apsssp.SupplierDocument, action: str, message: str, pending: dict,
               versions: str):
        """Send one APSSSP Add/Update exactly once; returns the item result, or None when not settled."""
        try:
            params = apsssp.build_parameters(validate_only=False)
            xml_in = apsssp.build_document([doc])
        except ValidationError as exc:
            self._failed(link, f"Cannot be sent to SYSPRO: {exc}", versions, kind="invalid", reason=str(exc))
            return None
        def send():
            xml_out = self.session.get().setup(action, apsssp.BUSINESS_OBJECT, params, xml_in)
            result = apsssp.parse_result(xml_out).items[0]
            result.xml_out = xml_out
            return result

        return records.send_once(
            link, actor=self.actor, summary=self.summary, message=message, params=params, xml_in=xml_in,
            send=send, noun="supplier", event={"pending": pending},
            refused=lambda text: self._failed(link, text, versions))

    def _failed(self, link: SyncLink, message: str, versions: str, xml_received: str | None = None, **fields) -> None:
        """Refused for these versions: not sent again until one side changes or a person retries."""
        self.failed(link, message, xml_received=xml_received, data={**(link.data or {}), "failed_versions": versions},
                    **fields)

    def to_syspro(self, link: SyncLink, raw, st_now: dict, supplier: SupplierRecord, fields: list[str],
                  *, why: str) -> None:
        versions = links.view_hash({"st": st_now, "syspro": self.syspro_view(supplier)})
        doc = apsssp.SupplierDocument(supplier=link.syspro_key)
        if "name" in fields:
            doc.name = st_now["name"]
        if "active" in fields:
            doc.on_hold = not st_now["active"]
        if any(f in fields for f in LINE_FIELDS):
            doc.address = address_lines(st_now, self.roles, supplier.address)
        if "zip" in fields:
            doc.postal_code = st_now["zip"]
        if "phone" in fields:
            doc.telephone = st_now["phone"]
        if "email" in fields:
            doc.email = st_now["email"]
        what = ", ".join(fields)
        result = self._setup(link, doc, "Update", f"Updating supplier {link.syspro_key} ({why}: {what})",
                             {"action": "update_supplier", "fields": fields}, versions)
        if result is None:
            return
        if not result.ok:
            self._failed(link, "SYSPRO rejected the update: " + result.message, versions, result.xml_out)
            return
        after = self.read_supplier(link.syspro_key) or supplier
        records.transition(link, SYNCED, "updated_syspro", f"Supplier {link.syspro_key} updated in SYSPRO "
                           f"({why}: {what})" + ("; deactivated (on hold)" if "active" in fields and
                                                 not st_now["active"] else ""),
                           actor=self.actor, xml_received=result.xml_out, reason="", conflict=None,
                           st_synced=st_now, st_hash=links.view_hash(st_now), syspro_synced=self.syspro_view(after),
                           syspro_hash=links.view_hash(self.syspro_view(after)), data=self._clear_winner(link),
                           st_version=str((raw or {}).get("modifiedOn") or link.st_version),
                           st_current=raw or link.st_current)
        self.summary.to_syspro += 1

    # ------------------------------------------------------------------ writes to ServiceTitan
    def to_servicetitan(self, link: SyncLink, raw, sp_view: dict, supplier: SupplierRecord, fields: list[str],
                        *, why: str) -> None:
        versions = links.view_hash({"st": self.st_view(raw) if raw else link.st_synced, "syspro": sp_view})
        payload: dict = {}
        for name in ("name", "active", "phone", "email"):
            if name in fields:
                payload[name] = sp_view[name]
        if any(f in fields for f in ADDRESS_FIELDS):
            unit = sp_view["unit"] if "unit" in sp_view else \
                ((raw or link.st_current or {}).get("address") or {}).get("unit") or ""
            payload["address"] = {"street": sp_view["street"], "unit": unit, "city": sp_view["city"],
                                  "state": sp_view["state"], "zip": sp_view["zip"], "country": sp_view["country"]}
        what = ", ".join(fields)
        sent = self.write(
            link, f"Updating ServiceTitan vendor {link.st_id} ({why}: {what})",
            lambda: self.ctx.st.patch_vendor(link.st_id, payload), system="ServiceTitan",
            refused=(ServiceTitanApiError,), event={"payload": payload},
            on_refused=lambda exc: self._failed(link, f"ServiceTitan refused the update: {exc} {exc.errors or ''}",
                                                versions),
            then="The vendor will be read again before anything is sent.")
        if sent is protocol.NOT_SETTLED:
            return
        after = self.ctx.st.get_vendor(link.st_id).raw
        view = self.st_view(after)
        records.transition(link, SYNCED, "updated_servicetitan", f"Vendor {link.st_id} updated in ServiceTitan "
                           f"({why}: {what})" + ("; deactivated" if payload.get("active") is False else ""),
                           actor=self.actor, reason="", conflict=None, st_synced=view, st_hash=links.view_hash(view),
                           st_version=str(after.get("modifiedOn") or ""), st_current=after,
                           syspro_synced=sp_view, syspro_hash=links.view_hash(sp_view),
                           data=self._clear_winner(link))
        self.summary.to_servicetitan += 1

    # ------------------------------------------------------------------ unlinked ServiceTitan vendors
    def _taken_codes(self) -> set[str]:
        taken = set(self.suppliers) | {row.syspro_supplier for row in VendorMapping.select()}
        for link in SyncLink.select().where(SyncLink.flow == FLOW):
            if link.syspro_key:
                taken.add(link.syspro_key)
            planned = (link.data or {}).get("planned_code")
            if planned:
                taken.add(planned)
        return taken

    def new_st_vendor(self, raw: dict, link: SyncLink | None) -> None:
        vendor_id = int(raw["id"])
        if vendor_id in self.mapped_vendors:
            return  # a mapping links it (adopt_mappings): no supplier is created for it
        view = self.st_view(raw)
        label = view["name"]
        marker = Vendor.from_api(raw).external_data.get(EXTERNAL_KEY)
        sp_link = SyncLink.get_or_none(SyncLink.flow == FLOW, SyncLink.syspro_key == marker,
                                       SyncLink.st_id.is_null()) if marker else None
        if marker and marker in self.suppliers and not self.has_vendor(marker):
            # the vendor names its supplier: for a record sent before, this is what the look-up finds
            earlier = sp_link if sp_link is not None else link

            def by_marker() -> bool:
                self.link_by_marker(link, sp_link, raw, marker)
                return True

            if earlier is None or not self.look_up_first(earlier, by_marker, not_there=""):
                by_marker()
            return
        planned = (link.data or {}).get("planned_code") if link else None
        sent = link
        if sent is not None and planned and self.look_up_first(
                sent, lambda: self.found_supplier(sent, raw, planned),
                not_there=f"Supplier {planned} is not in SYSPRO: the earlier attempt did not create it. It will be "
                          "created."):
            return
        if link is not None and link.state == FAILED and link.st_hash == links.view_hash(view):
            return  # refused for this very version: waits for an edit or a replay
        common = dict(label=label, st_current=raw, st_hash=links.view_hash(view), origin="servicetitan")
        if not view["active"]:
            self.hold(link, SKIPPED, "Inactive in ServiceTitan and not linked to a SYSPRO supplier: not created "
                       "in SYSPRO", st_id=vendor_id, **common)
            return
        unlinked = [(code, s.name) for code, s in self.suppliers.items() if not self.has_vendor(code)]
        looks_like = suggest([(vendor_id, "", view["name"])], unlinked, set())
        if looks_like and not planned:
            match = looks_like[0]
            self.hold(link, HELD, f"Looks like SYSPRO supplier {match['syspro_code']} ({match['reason']}): link "
                       "them with a vendor mapping; nothing is created while they may be the same supplier",
                       st_id=vendor_id, **common)
            return
        code = planned or derive_code(view["name"], self._taken_codes())
        if not code:
            self.hold(link, HELD, f"No SYSPRO supplier code can be made from the name {view['name']!r}: add a "
                       "vendor mapping with the code to use", st_id=vendor_id, **common)
            return
        data = {**((link.data if link else None) or {}), "planned_code": code}
        if link is None:
            link = records.new_link(FLOW, state=READY, kind="discovered", message=f"ServiceTitan vendor "
                                    f"{view['name']} has no SYSPRO supplier: will be created as {code}",
                                    actor=self.actor, st_id=vendor_id, data=data, **common)
        else:
            for name, value in dict(data=data, **common).items():
                setattr(link, name, value)
            link.save()
        if self.gate.holds(link):
            return
        self.create_supplier(link, raw, view, code)

    def link_by_marker(self, link: SyncLink | None, sp_link: SyncLink | None, raw: dict, marker: str) -> None:
        """The vendor carries supplier code `marker` in its externalData: the two are one record."""
        vendor_id = int(raw["id"])
        fields = dict(st_id=vendor_id, syspro_key=marker, label=self.st_view(raw)["name"], st_current=raw)
        if sp_link is not None:
            # created by us from this supplier (or held beside it): one record from now on
            if link is not None:
                link.delete_instance()
            link = sp_link
            records.record(link, "found", f"ServiceTitan vendor {vendor_id} carries supplier code {marker} in its "
                           "externalData: linked. Nothing is sent again.", actor=self.actor)
        elif link is not None and protocol.sent_before(link):
            records.record(link, "found", f"ServiceTitan vendor {vendor_id} carries supplier code {marker} in its "
                           "externalData: the earlier attempt went through. Not sent again.", actor=self.actor)
        if link is None:
            link = records.new_link(FLOW, state=READY, kind="found", message=f"The vendor carries supplier "
                                    f"code {marker} in its externalData", actor=self.actor, **fields)
        else:
            for name, value in fields.items():
                setattr(link, name, value)
            link.save()
        self.baseline(link, raw, self.suppliers[marker], f"Linked to supplier {marker} found in SYSPRO")

    def found_supplier(self, link: SyncLink, raw: dict, code: str) -> bool:
        """The look-up before a supplier is created again: SYSPRO's supplier list holds `code`."""
        if code not in self.suppliers:
            return False
        protocol.save(link, syspro_key=code)
        records.record(link, "found", f"Supplier {code} is in SYSPRO: the earlier attempt went through. Not sent "
                       "again.", actor=self.actor)
        self.baseline(link, raw, self.suppliers[code], f"Linked to supplier {code}")
        return True

    def create_supplier(self, link: SyncLink, raw: dict, view: dict, code: str) -> None:
        doc = apsssp.SupplierDocument(supplier=code, name=view["name"], short_name=view["name"][:20],
                                      telephone=view["phone"], email=view["email"], postal_code=view["zip"],
                                      address=address_lines(view, self.roles),
                                      on_hold=not view["active"])
        versions = links.view_hash({"st": view, "syspro": None})
        result = self._setup(link, doc, "Add", f"Creating supplier {code} from ServiceTitan vendor {view['name']}",
                             {"action": "create_supplier", "code": code}, versions)
        if result is None:
            return
        if not result.ok and not result.already_exists:
            self._failed(link, "SYSPRO rejected the new supplier: " + result.message, versions, result.xml_out,
                         st_hash=links.view_hash(view))
            return
        after = self.read_supplier(code)
        if after is None:
            records.transition(link, IN_DOUBT, "not_found_after_write", f"SYSPRO answered but supplier {code} "
                               "cannot be read back: it will be looked up next cycle.", actor=self.actor,
                               xml_received=result.xml_out, reason="Not found after the write")
            self.summary.in_doubt += 1
            return
        with database.atomic():
            records.transition(link, SYNCED, "created_syspro" if result.ok else "found",
                               f"Supplier {code} created in SYSPRO" if result.ok else
                               f"Supplier {code} already exists (an earlier attempt went through): linked",
                               actor=self.actor, xml_received=result.xml_out, reason="", syspro_key=code,
                               st_synced=view, st_hash=links.view_hash(view),
                               st_version=str(raw.get("modifiedOn") or ""),
                               syspro_synced=self.syspro_view(after),
                               syspro_hash=links.view_hash(self.syspro_view(after)), data=self._clear_winner(link))
            save_mapping(link.st_id, view["name"], code)
        self.summary.to_syspro += 1
        self.ensure_marker(link, raw)

    # ------------------------------------------------------------------ unlinked SYSPRO suppliers
    def new_supplier(self, supplier: SupplierRecord, link: SyncLink | None) -> None:
        code = supplier.supplier
        if code in self.mapped_codes:
            return  # a mapping names it: linked by adopt_mappings, never a new vendor
        view = self.syspro_view(supplier)
        common = dict(syspro_key=code, label=view["name"], origin="syspro",
                      syspro_current={"supplier": code, **view}, syspro_hash=links.view_hash(view))
        sent = link
        if sent is not None and self.look_up_first(
                sent, lambda: self.found_vendor(sent, supplier),
                not_there=f"No ServiceTitan vendor carries supplier code {code}: the earlier attempt did not create "
                          "it. It will be created."):
            return
        if link is not None and link.state == FAILED and link.syspro_hash == links.view_hash(view):
            return
        if link is not None and (link.data or {}).get("released"):
            if link.state == SKIPPED:
                return  # left without a vendor by a corrected mapping: a person decides (Retry creates it)
            link.data = {k: v for k, v in link.data.items() if k != "released"}
            link.save()
        if supplier.on_hold:
            self.hold(link, SKIPPED, "On hold in SYSPRO and not linked to a ServiceTitan vendor: not created in "
                       "ServiceTitan", **common)
            return
        st_unlinked = [(link.st_id, "", link.label) for link in SyncLink.select().where(
            SyncLink.flow == FLOW, SyncLink.st_id.is_null(False), SyncLink.syspro_key.is_null())]
        candidates = [(vendor_id, name) for vendor_id, _c, name in st_unlinked]
        looks_like = [vendor_id for vendor_id, name in candidates if normalise(name) and
                      normalise(name) == normalise(supplier.name)]
        if looks_like:
            self.hold(link, HELD, f"Looks like ServiceTitan vendor {looks_like[0]} (same name): link them with a "
                       "vendor mapping; nothing is created while they may be the same vendor", **common)
            return
        missing = [f"{field} ({column})" for field, column in required_columns(self.roles).items() if not view[field]]
        if missing:
            self.hold(link, HELD, "ServiceTitan requires a full vendor address; SYSPRO has no "
                       + ", ".join(missing) + f" for supplier {code}", **common)
            return
        if link is None:
            link = records.new_link(FLOW, state=READY, kind="discovered", message=f"SYSPRO supplier {code} has no "
                                    "ServiceTitan vendor: will be created", actor=self.actor, **common)
        if self.gate.holds(link):
            return
        self.create_vendor(link, supplier, view)

    def found_vendor(self, link: SyncLink, supplier: SupplierRecord) -> bool:
        """The look-up before a vendor is created again: a ServiceTitan vendor carries the supplier
        code in its externalData."""
        code = supplier.supplier
        found = self.ctx.st.vendors_by_external_data(self.guid, EXTERNAL_KEY, [code])
        if not found:
            return False
        protocol.save(link, st_id=found[0].id)
        records.record(link, "found", f"ServiceTitan vendor {found[0].id} already carries supplier code {code}: the "
                       "earlier attempt went through. Not sent again.", actor=self.actor)
        self.baseline(link, found[0].raw, supplier, f"Linked to ServiceTitan vendor {found[0].id}")
        return True

    def create_vendor(self, link: SyncLink, supplier: SupplierRecord, view: dict) -> None:
        code = supplier.supplier
        payload = {
            "name": view["name"], "active": view["active"], "isTruckReplenishment": False, "taxRate": 0,
            "restrictedMobileCreation": False,
            "address": {"street": view["street"], "unit": view.get("unit", ""), "city": view["city"],
                        "state": view["state"],
                        "zip": view["zip"], "country": view["country"]},
            "externalData": {"applicationGuid": self.guid, "externalData": [{"key": EXTERNAL_KEY, "value": code}]},
        }
        if view["phone"]:
            payload["phone"] = view["phone"]
        if view["email"]:
            payload["email"] = view["email"]
        vendor_id = self.write(
            link, f"Creating a ServiceTitan vendor for supplier {code}", lambda: self.ctx.st.create_vendor(payload),
            system="ServiceTitan", refused=(ServiceTitanApiError,),
            event={"payload": payload},
            on_refused=lambda exc: self._failed(link, f"ServiceTitan refused the new vendor: {exc} {exc.errors or ''}",
                                                links.view_hash({"st": None, "syspro": view})),
            then="It will be looked up (externalData) before anything is sent again.")
        if vendor_id is protocol.NOT_SETTLED:
            return
        after = self.ctx.st.get_vendor(vendor_id).raw
        st_now = self.st_view(after)
        with database.atomic():
            records.transition(link, SYNCED, "created_servicetitan", f"ServiceTitan vendor {vendor_id} created for "
                               f"supplier {code}", actor=self.actor, reason="", st_id=vendor_id, st_synced=st_now,
                               st_hash=links.view_hash(st_now), st_version=str(after.get("modifiedOn") or ""),
                               st_current=after, syspro_synced=view, data=self._clear_winner(link))
            save_mapping(vendor_id, st_now["name"], code)
        self.summary.to_servicetitan += 1


def run_cycle(ctx: SyncContext) -> FlowSummary:
    return VendorSync.run_cycle(ctx)


REREAD = "reread"  # in link.data: a version read again on Retry, compared on the next pass


def read_again(ctx: SyncContext, held: list[SyncLink], summary: FlowSummary) -> None:
    """Retry of vendors held as unreadable: ServiceTitan is asked for them again; a readable one is
    compared on the flow's next pass like a vendor the list sent (whatever the list's cursor)."""

    def store(vendor) -> None:
        link = links.by_st(FLOW, vendor.id)
        if link is not None and records.readable_again(link):
            link.st_current = vendor.raw
            link.data = {**(link.data or {}), REREAD: True}
            link.save()
            records.record(link, "readable", f"ServiceTitan vendor {link.label} can be read again", actor=ctx.actor)

    records.take_read_again(FLOW, ctx.st.vendors_by_ids([link.st_id for link in held], hold_unreadable=True),
                            store, actor=ctx.actor, summary=summary)
