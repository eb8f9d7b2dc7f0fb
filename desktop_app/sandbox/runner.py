"""Both simulators with a seeded company, and the settings that point a profile at them."""
from __future__ import annotations

import logging
import threading
import time
from typing import TextIO

from desktop_app.core.errors import ConfigError
from desktop_app.sandbox.faults import parse_fault_spec
from desktop_app.sandbox.seed import Company, advance, build_company

log = logging.getLogger("desktop_app.sandbox")


class Sandbox:
    def __init__(self, seed: int = 7, invoices: int = 120, *, faults: str = "", max_lifetime_s: float | None = 3600,
                 st_options: dict | None = None, syspro_options: dict | None = None):
        self.seed = seed
        self.invoices = invoices
        self.faults = faults
        self.max_lifetime_s = max_lifetime_s
        self.st_options = st_options or {}
        self.syspro_options = syspro_options or {}
        self.company: Company | None = None
        self.st = None
        self.syspro = None
        self._arrivals: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> Sandbox:
        from desktop_app.sandbox.st_sim import ServiceTitanSimulator
        from desktop_app.sandbox.syspro_sim import SysproSimulator

        self.company = build_company(self.seed, invoices=self.invoices)
        self.st = ServiceTitanSimulator(self.company.st, max_lifetime_s=self.max_lifetime_s, **self.st_options)
        self.syspro = SysproSimulator(self.company.syspro, max_lifetime_s=self.max_lifetime_s, **self.syspro_options)
        self.st.start()
        self.syspro.start()
        if self.faults:
            spec = parse_fault_spec(self.faults)
            self.st.set_faults(spec["st"])
            self.syspro.set_faults(spec["syspro"])
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._arrivals is not None:
            self._arrivals.join(timeout=5)
        for sim in (self.st, self.syspro):
            if sim is not None:
                sim.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def keep_invoices_coming(self, every_seconds: float = 45.0, per_batch: int = 3) -> None:
        """New invoices arrive while the demo runs, so the live log always has something to show."""

        def arrive():
            while not self._stop.wait(every_seconds):
                ids = advance(self.company, per_batch)
                log.info("sandbox: %d new invoice(s) arrived in ServiceTitan", len(ids))

        self._arrivals = threading.Thread(target=arrive, name="sandbox-arrivals", daemon=True)
        self._arrivals.start()

    def settings(self) -> dict[str, str]:
        c = self.company.credentials
        # go-live on the seed's first day: every seeded invoice, PO and adjustment is the connector's
        start = self.company.start.isoformat() if self.company.start else ""
        return {
            "servicetitan.environment": "custom",
            "servicetitan.auth_url": self.st.auth_url,
            "servicetitan.api_url": self.st.api_url,
            "servicetitan.tenant": c["tenant"],
            "servicetitan.client_id": c["client_id"],
            "syspro.enet_url": self.syspro.enet_url,
            "syspro.odata_url": self.syspro.odata_url,
            "syspro.operator": c["syspro_operator"],
            "syspro.company": c["syspro_company"],
            "sync.start_date": start,
            "sync.timezone": "America/Chicago",
        }

    def secrets(self) -> dict[str, str]:
        c = self.company.credentials
        values = {
            "servicetitan.client_secret": c["client_secret"],
            "servicetitan.app_key": c["app_key"],
            "syspro.operator_password": c["syspro_operator_password"],
        }
        if c.get("syspro_company_password"):
            values["syspro.company_password"] = c["syspro_company_password"]
        return values

    def configure_profile(self, *, mappings: bool = True, actor: str = "demo") -> None:
        """Point the open database and the keyring of the current data dir at this sandbox."""
        from desktop_app.core import config, secrets
        from desktop_app.core.models import database
        from desktop_app.sync import mappings as mapping_tables

        with database.atomic():
            for key, value in self.settings().items():
                config.save_setting(key, value, actor=actor)
            if mappings:
                for kind_name, rows in self.company.starter_mappings.items():
                    kind = mapping_tables.kind_for(kind_name)
                    for row in rows:
                        values, problems = mapping_tables.validate_row(
                            kind, {k: "" if v is None else str(v) for k, v in row.items()})
                        if problems:
                            raise ValueError(f"starter mapping {kind_name} {row}: {problems}")
                        mapping_tables.save_row(kind, values, actor=actor)
        for name, value in self.secrets().items():
            secrets.set_secret(name, value)


def serve_forever(*, st_port: int = 0, syspro_port: int = 0, seed: int = 7, invoices: int = 120, faults: str = "",
                  minutes: float = 240, out: TextIO, odata_drop: str = "") -> int:
    try:
        from desktop_app.sandbox.syspro_odata import parse_drop_spec

        parse_drop_spec(odata_drop)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    sandbox = Sandbox(seed, invoices, faults=faults, max_lifetime_s=minutes * 60, st_options={"port": st_port},
                      syspro_options={"port": syspro_port, "odata_drop": odata_drop}).start()
    c = sandbox.company.credentials
    print(f"ServiceTitan simulator: {sandbox.st.api_url}  (token URL {sandbox.st.auth_url}, tenant {c['tenant']})",
          file=out)
    print(f"SYSPRO e.net simulator: {sandbox.syspro.enet_url}", file=out)
    print(f"SYSPRO OData simulator: {sandbox.syspro.odata_url}/{c['syspro_company']}"
          + (f" (without {odata_drop})" if odata_drop else ""), file=out)
    print(f"Demo credentials: client id {c['client_id']}, operator {c['syspro_operator']} "
          "(secrets: see desktop_app/sandbox/seed.py; they are throwaway values)", file=out)
    print(f"Stops by itself after {minutes:g} minutes; Ctrl+C to stop now.", file=out, flush=True)
    deadline = time.monotonic() + minutes * 60
    try:
        while time.monotonic() < deadline and sandbox.st.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
