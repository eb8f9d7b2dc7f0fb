"""Typed, validated, non-secret settings (docs/architecture.md §4). Stored in the database's `setting` table.

A setting is always given and stored as text (CLI, CSV, wizard); `parse_value` turns it into its
type or raises `SettingsError` with a sentence that names the key and what is expected.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from desktop_app.core.errors import ConfigError


class SettingsError(ConfigError, ValueError):
    """A setting key or value is not acceptable. The message is meant for the user."""


@dataclass(frozen=True)
class SettingSpec:
    key: str
    kind: str  # str | url | int | bool | date | timezone | list | choice | address_lines | id
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


# What a SYSPRO supplier address line can hold; ServiceTitan's vendor address has the same parts
# ("street2" is its "unit"). The zip code has its own SYSPRO column (SupPostalCode).
ADDRESS_ROLES = ("street", "street2", "city", "state", "country")
ADDRESS_LINES_DEFAULT = ("street", "city", "state", "country", "-")


def parse_address_lines(key: str, text: str) -> tuple[str, ...]:
    roles = tuple(part.strip().lower() for part in text.split(","))
    example = ",".join(ADDRESS_LINES_DEFAULT)
    if len(roles) != 5:
        raise SettingsError(f"{key}: give exactly five roles, one for each of SupAddr1…SupAddr5 (got {len(roles)} "
                            f"in {text!r}), e.g. {example}")
    unknown = [role for role in roles if role not in ADDRESS_ROLES and role != "-"]
    if unknown:
        raise SettingsError(f"{key}: unknown role(s) {', '.join(repr(r) for r in unknown)}; each line is one of "
                            f"{', '.join(ADDRESS_ROLES)} or - (unused), e.g. {example}")
    twice = sorted({role for role in roles if role != "-" and roles.count(role) > 1})
    if twice:
        raise SettingsError(f"{key}: {', '.join(twice)} is given for more than one line; each role may be used "
                            "once (only - may repeat)")
    return roles


_SPECS = [
    SettingSpec("servicetitan.environment", "choice", "production",
                "ServiceTitan environment; sets the default auth and API URLs",
                choices=("production", "integration", "custom")),
    SettingSpec("servicetitan.auth_url", "url", "https://auth.servicetitan.io/connect/token",
                "ServiceTitan OAuth token URL"),
    SettingSpec("servicetitan.api_url", "url", "https://api.servicetitan.io",
                "ServiceTitan API base URL (without module or tenant)"),
    SettingSpec("servicetitan.tenant", "str", "", "ServiceTitan tenant id (a number)"),
    SettingSpec("servicetitan.client_id", "str", "", "ServiceTitan client id (cid.…)"),
    SettingSpec("servicetitan.application_guid", "str", "",
                "Application GUID used to scope externalData written to ServiceTitan"),
    SettingSpec("servicetitan.page_size", "int", 500, "Page size for ServiceTitan lists",
                minimum=1, maximum=5000),
    SettingSpec("servicetitan.max_requests_per_second", "int", 60,
                "Client-side request rate limit per tenant", minimum=1, maximum=60),
    SettingSpec("http.connect_timeout", "int", 10, "Seconds to wait for a connection",
                minimum=1, maximum=300),
    SettingSpec("http.read_timeout", "int", 100, "Seconds to wait for an answer",
                minimum=1, maximum=900),
    SettingSpec("syspro.enet_url", "url", "", "SYSPRO e.net REST URL, e.g. http://erp:20000/SYSPROWCFService/Rest"),
    SettingSpec("syspro.odata_url", "url", "", "SYSPRO OData base URL, e.g. https://erp/SYSPRO8Odata/SYSPROOData"),
    SettingSpec("syspro.odata_user", "str", "",
                "OData user name (blank: the operator); the operator password is used"),
    SettingSpec("syspro.operator", "str", "",
                "SYSPRO operator used for e.net (a dedicated integration operator is best)"),
    SettingSpec("syspro.company", "str", "", "SYSPRO company id"),
    SettingSpec("syspro.odata_entities", "str", "",
                "Overrides of OData entity-set names, e.g. ApInvoice=ApInvoices,ApSupplier=Suppliers"),
    SettingSpec("sync.interval_minutes", "int", 15, "Minutes between sync cycles", minimum=1, maximum=1440),
    SettingSpec("sync.start_date", "date", None,
                "Go-live date (YYYY-MM-DD): the first invoice, purchase order and adjustment date that the "
                "connector posts; anything dated earlier is left alone, even when edited later. Required"),
    SettingSpec("sync.timezone", "timezone", "America/Chicago",
                "Accounting time zone (IANA name) that decides invoice dates and periods"),
    SettingSpec("sync.cost_item_types", "list", ("Material", "Equipment"),
                "ServiceTitan item types whose cost goes to AP",
                choices=("Material", "Equipment", "Service", "PriceModifier", "Unspecified")),
    SettingSpec("sync.write_back", "bool", True,
                "Mark posted invoices as exported in ServiceTitan with the SYSPRO reference"),
    SettingSpec("sync.default_supplier", "str", "",
                "SYSPRO supplier for items with no vendor (blank: such invoices need mapping)"),
    SettingSpec("sync.paused", "bool", False, "Scheduled cycles are paused"),
    SettingSpec("sync.conflict_policy", "choice", "ask",
                "When a record changed on both sides: ask, or let one side win",
                choices=("ask", "servicetitan", "syspro", "newer")),
    SettingSpec("sync.ap_lines", "choice", "all",
                "Which material and equipment lines become AP invoices: all, or non_stock (parts used from "
                "your own truck or warehouse stock were bought on a purchase order whose bill reaches AP "
                "that way, so they are left out)",
                choices=("all", "non_stock")),
    SettingSpec("sync.unmatched_credits", "choice", "hold",
                "A return (credit) with no posted ServiceTitan invoice to credit: hold it until a person picks "
                "the SYSPRO invoice, or post it as a negative invoice (only if your SYSPRO accepts those)",
                choices=("hold", "negative_invoice")),
    SettingSpec("sync.max_auto_create", "int", 20,
                "Most new vendors/suppliers, purchase orders or inventory adjustments one cycle creates on the "
                "other side by itself; above it they all wait for your approval (Create on the page, or "
                "records approve)",
                minimum=0, maximum=100000),
    SettingSpec("syspro.supplier_address_lines", "address_lines", ADDRESS_LINES_DEFAULT,
                "What each SYSPRO supplier address line SupAddr1…SupAddr5 holds, comma-separated: "
                f"{', '.join(ADDRESS_ROLES)} or - (unused)", choices=ADDRESS_ROLES + ("-",)),
    SettingSpec("sync.po_business_unit", "id", None,
                "ServiceTitan business unit id for a PO created from SYSPRO when neither its branch nor its "
                "warehouse's branch has a branch mapping (blank: such POs are held)"),
    SettingSpec("syspro.allow_unencrypted", "bool", False,
                "Allow plain http:// (unencrypted) addresses on another machine for SYSPRO e.net, SYSPRO OData "
                "and the ServiceTitan sign-in: passwords then cross the network readable by anyone on it. "
                "Only for a trusted network whose service has no https; never through a proxy for e.net"),
    SettingSpec("sync.watchdog_minutes", "int", 10,
                "Minutes a sync may go without any sign of progress before the app stops it, records the cycle "
                "as failed and lets the next one start afresh (never less than one HTTP request may take: "
                "http.connect_timeout + http.read_timeout plus a retry pause)",
                minimum=1, maximum=1440),
    SettingSpec("syspro.test_connection_wait_s", "int", 30,
                "Seconds a SYSPRO connection test waits for a running sync to finish before it gives up: "
                "the test logs on as the same operator, and SYSPRO's second logon would end the sync's session",
                minimum=0, maximum=600),
    SettingSpec("sync.posting", "choice", "on",
                "Whether scheduled and GUI syncs post to SYSPRO: on, or off (the setup wizard leaves it off; the "
                "scheduler then runs a go-live rehearsal that posts nothing, until a person starts posting on the "
                "Rehearsal page or with `ml-connector posting start`). `sync --once` posts either way",
                choices=("on", "off")),
    SettingSpec("syspro.post_batch_size", "int", 25,
                "Most documents (AP invoices, purchase orders, inventory adjustments) one e.net post call carries; "
                "each is still posted or rejected on its own. 1 sends one document per call",
                minimum=1, maximum=500),
    SettingSpec("syspro.max_request_bytes", "int", 15000,
                "Most bytes of one e.net request line (the URL with its URL-encoded XML documents). The e.net "
                "service runs on Windows HTTP.sys, which refuses longer requests (16384 bytes by default: the "
                "MaxFieldLength and MaxRequestBytes registry values under "
                "HKLM\\System\\CurrentControlSet\\Services\\HTTP\\Parameters); raise both together",
                minimum=2000, maximum=1000000),
    SettingSpec("sync.refresh_minutes", "int", 15,
                "Scheduled cycles read ServiceTitan's new invoices, purchase orders and adjustments every time, "
                "but what rarely changes (vendors and suppliers, SYSPRO's purchase orders, ServiceTitan's "
                "technicians, business units and pricebook) only when one of them needs it or once this many "
                "minutes have passed; Sync now always reads everything. 0: every cycle reads everything",
                minimum=0, maximum=1440),
]
SPECS: dict[str, SettingSpec] = {spec.key: spec for spec in _SPECS}

ENVIRONMENT_URLS = {
    "production": ("https://auth.servicetitan.io/connect/token", "https://api.servicetitan.io"),
    "integration": ("https://auth-integration.servicetitan.io/connect/token",
                    "https://api-integration.servicetitan.io"),
}


def spec_for(key: str) -> SettingSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise SettingsError(
            f"Unknown setting {key!r}. Valid settings: {', '.join(sorted(SPECS))}"
        ) from None


def parse_value(key: str, raw: str) -> Any:
    spec = spec_for(key)
    text = "" if raw is None else str(raw).strip()
    kind = spec.kind
    if kind == "str":
        return text
    if kind == "url":
        if not text:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"{key}: {text!r} is not a web address (expected http://… or https://…)")
        if parts.username or parts.password:
            raise SettingsError(f"{key}: put no user name or password in the address; "
                                "passwords go in the keyring (ml-connector secrets set)")
        return text.rstrip("/")
    if kind == "int":
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(f"{key}: {text!r} is not a whole number") from None
        if spec.minimum is not None and value < spec.minimum:
            raise SettingsError(f"{key}: must be at least {spec.minimum} (got {value})")
        if spec.maximum is not None and value > spec.maximum:
            raise SettingsError(f"{key}: must be at most {spec.maximum} (got {value})")
        return value
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on", "y"):
            return True
        if lowered in ("0", "false", "no", "off", "n"):
            return False
        raise SettingsError(f"{key}: {text!r} is not yes/no (use true or false)")
    if kind == "date":
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise SettingsError(f"{key}: {text!r} is not a date in the form YYYY-MM-DD") from None
    if kind == "timezone":
        try:
            zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{key}: {text!r} is not a known time zone (e.g. America/Chicago)") from None
        return text
    if kind == "list":
        items = tuple(part.strip() for part in text.split(",") if part.strip())
        if not items:
            raise SettingsError(f"{key}: give at least one of {', '.join(spec.choices)}")
        bad = [item for item in items if spec.choices and item not in spec.choices]
        if bad:
            raise SettingsError(f"{key}: unknown value(s) {', '.join(bad)}; choose from {', '.join(spec.choices)}")
        return items
    if kind == "address_lines":
        return parse_address_lines(key, text or ",".join(spec.default))
    if kind == "id":
        if not text:
            return None
        if not text.isdigit() or int(text) == 0:
            raise SettingsError(f"{key}: {text!r} is not a ServiceTitan id (a whole number); leave it blank for none")
        return int(text)
    if kind == "choice":
        if text not in spec.choices:
            raise SettingsError(f"{key}: {text!r} is not one of {', '.join(spec.choices)}")
        return text
    raise AssertionError(kind)


def to_text(key: str, value: Any) -> str:
    spec = spec_for(key)
    if value is None:
        return ""
    if spec.kind in ("list", "address_lines"):
        return ",".join(value)
    if spec.kind == "bool":
        return "true" if value else "false"
    if spec.kind == "date":
        return value.isoformat()
    return str(value)


def to_json(key: str, value: Any) -> Any:
    spec = spec_for(key)
    if spec.kind == "date":
        return value.isoformat() if value else None
    if spec.kind in ("list", "address_lines"):
        return list(value)
    return value


class Settings(Mapping):
    """A typed snapshot of all settings: stored values over defaults."""

    def __init__(self, stored: Mapping[str, str] | None = None):
        self._values: dict[str, Any] = {key: spec.default for key, spec in SPECS.items()}
        for key, raw in (stored or {}).items():
            if key in SPECS:
                try:
                    self._values[key] = parse_value(key, raw)
                except SettingsError:
                    pass  # a stored value that no longer validates falls back to the default
        self._stored = dict(stored or {})

    def __getitem__(self, key: str) -> Any:
        spec_for(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def is_set(self, key: str) -> bool:
        return key in self._stored

    def as_json(self) -> dict[str, Any]:
        return {key: to_json(key, value) for key, value in self._values.items()}

    def odata_entity(self, default_name: str) -> str:
        """The configured entity-set name for a SYSPRO table (syspro.odata_entities overrides)."""
        for pair in (self._values.get("syspro.odata_entities") or "").split(","):
            name, _, override = pair.partition("=")
            if name.strip() == default_name and override.strip():
                return override.strip()
        return default_name


def load_settings() -> Settings:
    from desktop_app.core.models import Setting

    return Settings({row.key: row.value for row in Setting.select()})


def save_setting(key: str, raw: str, *, actor: str = "user") -> Any:
    """Validate and store one setting; returns the typed value."""
    from desktop_app.core.models import Setting, database, utcnow

    value = parse_value(key, raw)
    updates = {key: to_text(key, value)}
    if key == "servicetitan.environment" and value in ENVIRONMENT_URLS:
        updates["servicetitan.auth_url"], updates["servicetitan.api_url"] = ENVIRONMENT_URLS[value]
    with database.atomic():
        for update_key, text in updates.items():
            Setting.replace(key=update_key, value=text, changed_by=actor, changed_at=utcnow()).execute()
    return value
