"""Vendors ↔ suppliers, both ways (DESIGN §1), matched by the SYSPRO supplier code.

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
"""
from __future__ import annotations

import logging
from datetime import datetime

from desktop_app.core.db import SyncCursor, SyncLink, VendorMapping, database, set_cursor, utcnow
from desktop_app.core.errors import ConnectError, OutcomeUnknown
from desktop_app.core.redact import redact
from desktop_app.servicetitan.errors import ServiceTitanApiError
from desktop_app.servicetitan.models import Vendor, to_datetime
from desktop_app.sync import links, records
from desktop_app.sync.context import SyncContext
from desktop_app.sync.mappings import normalise, suggest
from desktop_app.sync.records import (CONFLICT, FAILED, HELD, IN_DOUBT, READY, SKIPPED, SYNCED, SYNCING,
                                      FlowSummary, LazySession)
from desktop_app.syspro import contract, suppliers as apsssp
from desktop_app.syspro.errors import ValidationError
from desktop_app.syspro.records import SupplierRecord

log = logging.getLogger("desktop_app.sync.vendors")

FLOW = "vendors"
CURSOR = "vendors.modified_on"
EXTERNAL_KEY = "syspro.supplier"
ADDRESS_FIELDS = ("street", "city", "state", "country", "zip")
# What ServiceTitan requires in a vendor address, and the SYSPRO column it comes from.
REQUIRED_FROM_SYSPRO = {"street": "SupAddr1", "city": "SupAddr2", "state": "SupAddr3", "zip": "SupPostalCode"}


def st_view(raw: dict) -> dict:
    address = raw.get("address") or {}
    contact = raw.get("contactInfo") or {}
    return {"name": links.clean(raw.get("name"), 50), "active": bool(raw.get("active", True)),
            "street": links.clean(address.get("street"), 40), "city": links.clean(address.get("city"), 40),
            "state": links.clean(address.get("state"), 40), "country": links.clean(address.get("country"), 40),
            "zip": links.clean(address.get("zip"), 15), "phone": links.clean(contact.get("phone"), 20),
            "email": links.clean(contact.get("email"), 255)}


def syspro_view(supplier: SupplierRecord) -> dict:
    address = tuple(supplier.address) + ("",) * 5
    return {"name": links.clean(supplier.name, 50), "active": not supplier.on_hold,
            "street": links.clean(address[0], 40), "city": links.clean(address[1], 40),
            "state": links.clean(address[2], 40), "country": links.clean(address[3], 40),
            "zip": links.clean(supplier.postal_code, 15), "phone": links.clean(supplier.telephone, 20),
            "email": links.clean(supplier.email, 255)}


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


def save_mapping(st_id: int, name: str, code: str, actor: str) -> None:
    row = VendorMapping.get_or_none(VendorMapping.st_vendor_id == st_id)
    if row is None:
        VendorMapping.create(st_vendor_id=st_id, st_vendor_name=name, syspro_supplier=code, changed_by=actor,
                             changed_at=utcnow())
    elif row.syspro_supplier != code:
        row.syspro_supplier, row.changed_by, row.changed_at = code, actor, utcnow()
        row.save()


def read_suppliers(ctx: SyncContext, session: LazySession) -> dict[str, SupplierRecord]:
    if ctx.odata is not None:
        return {r.supplier: r for r in ctx.odata.suppliers()}
    from desktop_app.syspro import queries

    rows = queries.comfnd(session.get(), "ApSupplier", list(contract.ODATA_ENTITIES["ApSupplier"]), return_rows=100000)
    return {r.supplier: r for r in map(SupplierRecord.from_row, rows)}


class VendorSync:
    def __init__(self, ctx: SyncContext, session: LazySession, summary: FlowSummary):
        self.ctx, self.session, self.summary = ctx, session, summary
        self.actor = ctx.actor
        self.guid = links.application_guid(ctx.settings)
        self.suppliers: dict[str, SupplierRecord] = {}
        self.st_now: dict[int, dict] = {}

    # ------------------------------------------------------------------ the cycle
    def run(self) -> None:
        self.suppliers = read_suppliers(self.ctx, self.session)
        cursor = SyncCursor.get_or_none(SyncCursor.name == CURSOR)
        since = datetime.fromisoformat(cursor.value) if cursor else None
        listed = self.ctx.st.vendors(modified_on_or_after=since)
        self.st_now = {vendor.id: vendor.raw for vendor in listed}
        self.adopt_mappings()
        for link in list(SyncLink.select().where(SyncLink.flow == FLOW, SyncLink.st_id.is_null(False),
                                                 SyncLink.syspro_key.is_null(False)).order_by(SyncLink.id)):
            self.ctx.check_cancelled()
            self.pair(link)
        pending = {link.st_id: link.st_current for link in SyncLink.select().where(
            SyncLink.flow == FLOW, SyncLink.syspro_key.is_null(), SyncLink.state.in_([READY, IN_DOUBT, HELD]))}
        for vendor_id, raw in {**pending, **self.st_now}.items():
            link = links.by_st(FLOW, vendor_id)
            if raw is not None and (link is None or link.syspro_key is None):
                self.ctx.check_cancelled()
                self.new_st_vendor(raw, link)
        for code, supplier in sorted(self.suppliers.items()):
            link = links.by_syspro(FLOW, code)
            if link is None or link.st_id is None:
                self.ctx.check_cancelled()
                self.new_supplier(supplier, link)
        stamps = [vendor.modified_on for vendor in listed if vendor.modified_on]
        if stamps:
            # modifiedOnOrAfter is inclusive: the newest vendor is read again, compared, and left alone
            set_cursor(CURSOR, max(stamps).isoformat())

    def adopt_mappings(self) -> None:
        """Vendor mappings made by a person (grid, CSV) link their pair; they win over held look-alikes."""
        for row in VendorMapping.select():
            st_link = links.by_st(FLOW, row.st_vendor_id)
            code = row.syspro_supplier
            if st_link is not None and st_link.syspro_key == code:
                continue
            sp_link = links.by_syspro(FLOW, code)
            with database.atomic():
                if sp_link is not None and sp_link.st_id is None:
                    if st_link is None:
                        st_link, sp_link = sp_link, None
                    else:
                        records.record(sp_link, "merged", f"Linked to ServiceTitan vendor {row.st_vendor_id} by "
                                       f"a vendor mapping (record {st_link.id})", actor=self.actor)
                        former = (st_link.data or {}).get("former_keys", []) + [records.record_key(sp_link)]
                        st_link.data = {**(st_link.data or {}), "former_keys": former}
                        sp_link.delete_instance()
                elif sp_link is not None:
                    continue  # the supplier is linked to another vendor: the mapping grid shows the clash
                if st_link is None:
                    records.new_link(FLOW, state=READY, kind="linked", message=f"Linked by the vendor mapping "
                                     f"{row.st_vendor_id} → {code}", actor=self.actor, st_id=row.st_vendor_id,
                                     syspro_key=code, label=row.st_vendor_name or code, origin="mapping")
                else:
                    records.transition(st_link, READY, "linked", f"Linked by the vendor mapping to supplier {code}",
                                       actor=self.actor, st_id=row.st_vendor_id, syspro_key=code, reason="",
                                       st_synced=None, syspro_synced=None)

    # ------------------------------------------------------------------ linked pairs
    def pair(self, link: SyncLink) -> None:
        supplier = self.suppliers.get(link.syspro_key)
        if supplier is None:
            reason = f"Supplier {link.syspro_key} is not in SYSPRO (any more): check the vendor mapping"
            if link.reason != reason:
                records.transition(link, HELD, "held", reason, actor=self.actor, reason=reason)
            return
        sp_view = syspro_view(supplier)
        raw = self.st_now.get(link.st_id)
        if raw is None and (link.st_synced is None or link.state == IN_DOUBT):
            raw = self.ctx.st.get_vendor(link.st_id).raw
        st_now = st_view(raw) if raw is not None else link.st_synced
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
        view = st_view(raw)
        records.transition(link, SYNCED, "linked" if link.st_synced is None else "converged", message,
                           actor=self.actor, reason="", st_synced=view, st_hash=links.view_hash(view),
                           st_version=str(raw.get("modifiedOn") or ""), syspro_synced=syspro_view(supplier),
                           syspro_hash=links.view_hash(syspro_view(supplier)), conflict=None, st_current=raw,
                           label=view["name"], data=self._clear_winner(link))
        save_mapping(link.st_id, view["name"], link.syspro_key, "ml-connector")
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
        data.pop("winner", None)
        data.pop("failed_versions", None)
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
            records.transition(link, FAILED, "invalid", f"Cannot be sent to SYSPRO: {exc}", actor=self.actor,
                               reason=redact(str(exc)), data={**(link.data or {}), "failed_versions": versions})
            self.summary.failed += 1
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

    def _failed(self, link: SyncLink, message: str, versions: str, xml_received: str | None = None) -> None:
        records.transition(link, FAILED, "rejected", message, actor=self.actor, reason=redact(message),
                           xml_received=xml_received, data={**(link.data or {}), "failed_versions": versions})
        self.summary.failed += 1

    def to_syspro(self, link: SyncLink, raw, st_now: dict, supplier: SupplierRecord, fields: list[str],
                  *, why: str) -> None:
        versions = links.view_hash({"st": st_now, "syspro": syspro_view(supplier)})
        doc = apsssp.SupplierDocument(supplier=link.syspro_key)
        if "name" in fields:
            doc.name = st_now["name"]
        if "active" in fields:
            doc.on_hold = not st_now["active"]
        if any(f in fields for f in ("street", "city", "state", "country")):
            doc.address = (st_now["street"], st_now["city"], st_now["state"], st_now["country"],
                           (tuple(supplier.address) + ("",) * 5)[4])
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
                           st_synced=st_now, st_hash=links.view_hash(st_now), syspro_synced=syspro_view(after),
                           syspro_hash=links.view_hash(syspro_view(after)), data=self._clear_winner(link),
                           st_version=str((raw or {}).get("modifiedOn") or link.st_version),
                           st_current=raw or link.st_current)
        self.summary.to_syspro += 1

    # ------------------------------------------------------------------ writes to ServiceTitan
    def to_servicetitan(self, link: SyncLink, raw, sp_view: dict, supplier: SupplierRecord, fields: list[str],
                        *, why: str) -> None:
        versions = links.view_hash({"st": st_view(raw) if raw else link.st_synced, "syspro": sp_view})
        payload: dict = {}
        for name in ("name", "active", "phone", "email"):
            if name in fields:
                payload[name] = sp_view[name]
        if any(f in fields for f in ADDRESS_FIELDS):
            unit = ((raw or link.st_current or {}).get("address") or {}).get("unit") or ""
            payload["address"] = {"street": sp_view["street"], "unit": unit, "city": sp_view["city"],
                                  "state": sp_view["state"], "zip": sp_view["zip"], "country": sp_view["country"]}
        what = ", ".join(fields)
        attempt = link.attempts + 1
        records.transition(link, SYNCING, "write_attempt", f"Updating ServiceTitan vendor {link.st_id} ({why}: "
                           f"{what}) (attempt {attempt})", actor=self.actor, attempts=attempt,
                           last_attempt_at=utcnow(), event={"payload": payload})
        try:
            self.ctx.st.patch_vendor(link.st_id, payload)
        except OutcomeUnknown as exc:
            records.transition(link, IN_DOUBT, "no_answer", f"No usable answer from ServiceTitan: {exc}. The "
                               "vendor will be read again before anything is sent.", actor=self.actor,
                               reason=f"No answer from ServiceTitan: {exc}")
            self.summary.in_doubt += 1
            return
        except ServiceTitanApiError as exc:
            self._failed(link, f"ServiceTitan refused the update: {exc} {exc.errors or ''}", versions)
            return
        except ConnectError as exc:
            records.transition(link, IN_DOUBT, "not_sent", f"Could not reach ServiceTitan: {exc}",
                               actor=self.actor, reason=f"Could not reach ServiceTitan: {exc}")
            raise
        after = self.ctx.st.get_vendor(link.st_id).raw
        view = st_view(after)
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

    def _hold(self, link: SyncLink | None, state: str, reason: str, **fields) -> SyncLink:
        if link is None:
            return records.new_link(FLOW, state=state, kind=state.lower(), message=reason, actor=self.actor,
                                    reason=reason, **fields)
        if link.state != state or link.reason != reason:
            records.transition(link, state, state.lower(), reason, actor=self.actor, reason=reason, **fields)
        else:
            for name, value in fields.items():
                setattr(link, name, value)
            link.save()
        self.summary.held += state == HELD
        return link

    def new_st_vendor(self, raw: dict, link: SyncLink | None) -> None:
        vendor_id = int(raw["id"])
        view = st_view(raw)
        label = view["name"]
        marker = Vendor.from_api(raw).external_data.get(EXTERNAL_KEY)
        sp_link = links.by_syspro(FLOW, marker) if marker else None
        if marker and marker in self.suppliers and (sp_link is None or sp_link.st_id is None):
            fields = dict(st_id=vendor_id, syspro_key=marker, label=label, st_current=raw)
            if sp_link is not None:
                # created by us from this supplier (or held beside it): one record from now on
                if link is not None:
                    link.delete_instance()
                link = sp_link
                records.record(link, "found", f"ServiceTitan vendor {vendor_id} carries supplier code {marker} in its "
                               "externalData: linked. Nothing is sent again.", actor=self.actor)
                self.summary.settled += link.state == IN_DOUBT
            if link is None:
                link = records.new_link(FLOW, state=READY, kind="found", message=f"The vendor carries supplier "
                                        f"code {marker} in its externalData", actor=self.actor, **fields)
            else:
                for name, value in fields.items():
                    setattr(link, name, value)
                link.save()
            self.baseline(link, raw, self.suppliers[marker], f"Linked to supplier {marker} found in SYSPRO")
            return
        planned = (link.data or {}).get("planned_code") if link else None
        if link is not None and link.attempts > 0 and planned:
            # sent before: SYSPRO is looked at before anything is sent again
            if planned in self.suppliers:
                link.syspro_key = planned
                link.save()
                records.record(link, "found", f"Supplier {planned} is in SYSPRO: the earlier attempt went "
                               "through. Not sent again.", actor=self.actor)
                self.baseline(link, raw, self.suppliers[planned], f"Linked to supplier {planned}")
                self.summary.settled += 1
                return
        if link is not None and link.state == FAILED and link.st_hash == links.view_hash(view):
            return  # refused for this very version: waits for an edit or a replay
        common = dict(label=label, st_current=raw, st_hash=links.view_hash(view), origin="servicetitan")
        if not view["active"]:
            self._hold(link, SKIPPED, "Inactive in ServiceTitan and not linked to a SYSPRO supplier: not created "
                       "in SYSPRO", st_id=vendor_id, **common)
            return
        unlinked = [(code, s.name) for code, s in self.suppliers.items()
                    if (links.by_syspro(FLOW, code) is None or links.by_syspro(FLOW, code).st_id is None)]
        looks_like = suggest([(vendor_id, "", view["name"])], unlinked, set())
        if looks_like and not planned:
            match = looks_like[0]
            self._hold(link, HELD, f"Looks like SYSPRO supplier {match['syspro_code']} ({match['reason']}): link "
                       "them with a vendor mapping; nothing is created while they may be the same supplier",
                       st_id=vendor_id, **common)
            return
        code = planned or derive_code(view["name"], self._taken_codes())
        if not code:
            self._hold(link, HELD, f"No SYSPRO supplier code can be made from the name {view['name']!r}: add a "
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
        self.create_supplier(link, raw, view, code)

    def create_supplier(self, link: SyncLink, raw: dict, view: dict, code: str) -> None:
        doc = apsssp.SupplierDocument(supplier=code, name=view["name"], short_name=view["name"][:20],
                                      telephone=view["phone"], email=view["email"], postal_code=view["zip"],
                                      address=(view["street"], view["city"], view["state"], view["country"], ""),
                                      on_hold=not view["active"])
        versions = links.view_hash({"st": view, "syspro": None})
        result = self._setup(link, doc, "Add", f"Creating supplier {code} from ServiceTitan vendor {view['name']}",
                             {"action": "create_supplier", "code": code}, versions)
        if result is None:
            return
        if not result.ok and not result.already_exists:
            link.st_hash = links.view_hash(view)
            self._failed(link, "SYSPRO rejected the new supplier: " + result.message, versions, result.xml_out)
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
                               st_synced=view, st_hash=links.view_hash(view), st_version=str(raw.get("modifiedOn") or ""),
                               syspro_synced=syspro_view(after), syspro_hash=links.view_hash(syspro_view(after)),
                               data=self._clear_winner(link))
            save_mapping(link.st_id, view["name"], code, "ml-connector")
        self.summary.to_syspro += 1
        self.ensure_marker(link, raw)

    # ------------------------------------------------------------------ unlinked SYSPRO suppliers
    def new_supplier(self, supplier: SupplierRecord, link: SyncLink | None) -> None:
        code = supplier.supplier
        view = syspro_view(supplier)
        common = dict(syspro_key=code, label=view["name"], origin="syspro",
                      syspro_current={"supplier": code, **view}, syspro_hash=links.view_hash(view))
        if link is not None and link.attempts > 0:
            found = self.ctx.st.vendors_by_external_data(self.guid, EXTERNAL_KEY, [code])
            if found:
                link.st_id = found[0].id
                link.save()
                records.record(link, "found", f"ServiceTitan vendor {found[0].id} already carries supplier code "
                               f"{code}: the earlier attempt went through. Not sent again.", actor=self.actor)
                self.baseline(link, found[0].raw, supplier, f"Linked to ServiceTitan vendor {found[0].id}")
                self.summary.settled += 1
                return
        if link is not None and link.state == FAILED and link.syspro_hash == links.view_hash(view):
            return
        if supplier.on_hold:
            self._hold(link, SKIPPED, "On hold in SYSPRO and not linked to a ServiceTitan vendor: not created in "
                       "ServiceTitan", **common)
            return
        st_unlinked = [(l.st_id, "", l.label) for l in SyncLink.select().where(
            SyncLink.flow == FLOW, SyncLink.st_id.is_null(False), SyncLink.syspro_key.is_null())]
        candidates = [(vendor_id, name) for vendor_id, _c, name in st_unlinked]
        looks_like = [vendor_id for vendor_id, name in candidates if normalise(name) and
                      normalise(name) == normalise(supplier.name)]
        if looks_like:
            self._hold(link, HELD, f"Looks like ServiceTitan vendor {looks_like[0]} (same name): link them with a "
                       "vendor mapping; nothing is created while they may be the same vendor", **common)
            return
        missing = [f"{field} ({column})" for field, column in REQUIRED_FROM_SYSPRO.items() if not view[field]]
        if missing:
            self._hold(link, HELD, "ServiceTitan requires a full vendor address; SYSPRO has no "
                       + ", ".join(missing) + f" for supplier {code}", **common)
            return
        if link is None:
            link = records.new_link(FLOW, state=READY, kind="discovered", message=f"SYSPRO supplier {code} has no "
                                    "ServiceTitan vendor: will be created", actor=self.actor, **common)
        self.create_vendor(link, supplier, view)

    def create_vendor(self, link: SyncLink, supplier: SupplierRecord, view: dict) -> None:
        code = supplier.supplier
        payload = {
            "name": view["name"], "active": view["active"], "isTruckReplenishment": False, "taxRate": 0,
            "restrictedMobileCreation": False,
            "address": {"street": view["street"], "unit": "", "city": view["city"], "state": view["state"],
                        "zip": view["zip"], "country": view["country"]},
            "externalData": {"applicationGuid": self.guid, "externalData": [{"key": EXTERNAL_KEY, "value": code}]},
        }
        if view["phone"]:
            payload["phone"] = view["phone"]
        if view["email"]:
            payload["email"] = view["email"]
        attempt = link.attempts + 1
        records.transition(link, SYNCING, "write_attempt", f"Creating a ServiceTitan vendor for supplier {code} "
                           f"(attempt {attempt})", actor=self.actor, attempts=attempt, last_attempt_at=utcnow(),
                           event={"payload": payload})
        try:
            vendor_id = self.ctx.st.create_vendor(payload)
        except OutcomeUnknown as exc:
            records.transition(link, IN_DOUBT, "no_answer", f"No usable answer from ServiceTitan: {exc}. It will "
                               "be looked up (externalData) before anything is sent again.", actor=self.actor,
                               reason=f"No answer from ServiceTitan: {exc}")
            self.summary.in_doubt += 1
            return
        except ServiceTitanApiError as exc:
            self._failed(link, f"ServiceTitan refused the new vendor: {exc} {exc.errors or ''}",
                         links.view_hash({"st": None, "syspro": view}))
            return
        except ConnectError as exc:
            records.transition(link, IN_DOUBT, "not_sent", f"Could not reach ServiceTitan: {exc}",
                               actor=self.actor, reason=f"Could not reach ServiceTitan: {exc}")
            raise
        after = self.ctx.st.get_vendor(vendor_id).raw
        st_now = st_view(after)
        with database.atomic():
            records.transition(link, SYNCED, "created_servicetitan", f"ServiceTitan vendor {vendor_id} created for "
                               f"supplier {code}", actor=self.actor, reason="", st_id=vendor_id, st_synced=st_now,
                               st_hash=links.view_hash(st_now), st_version=str(after.get("modifiedOn") or ""),
                               st_current=after, syspro_synced=view, data=self._clear_winner(link))
            save_mapping(vendor_id, st_now["name"], code, "ml-connector")
        self.summary.to_servicetitan += 1


def run_cycle(ctx: SyncContext) -> FlowSummary:
    return records.run_flow(ctx, FLOW, "vendors", VendorSync)
