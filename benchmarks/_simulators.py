"""The sandbox simulators in a process of their own, for the benchmarks.

In real use ServiceTitan and SYSPRO are remote: their work (werkzeug, JSON and XML building,
the SYSPRO duplicate scan) is not in the app's process. Run in-process, the simulators would
share the GIL and the cores with what is measured and blur CPU, wall time and GUI stalls alike.
So the benchmarks start them with multiprocessing (spawn) and talk to them over a pipe:

    with SimulatorProcess(seed=7, invoices=5000, lifetime_s=600) as sims:
        sims.configure_profile(actor="bench")   # settings, secrets, starter mappings
        ...
        sims.counts()                           # requests each simulator saw, by kind

Each script imports this module as `_simulators` (the script's folder is first on sys.path, and
spawn hands sys.path to the child).
"""
from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from typing import Self


def use_memory_keyring() -> None:
    """The sandbox profile stores throwaway secrets; keep them out of the machine's real keyring."""
    import keyring

    from desktop_app.sandbox.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())


# ---------------------------------------------------------------------------- simulator process
def _serve_simulators(seed: int, invoices: int, lifetime_s: float, st_options: dict, conn,
                      extra_skus: int = 0, faults: str = "", oversized_lines: int = 0) -> None:
    from desktop_app.sandbox.runner import Sandbox

    box = Sandbox(seed, invoices, max_lifetime_s=lifetime_s, st_options=st_options, faults=faults).start()
    _pad_pricebook(box.company.st, extra_skus)
    oversized = _seed_oversized(box, oversized_lines) if oversized_lines else None
    try:
        conn.send({"settings": box.settings(), "secrets": box.secrets(),
                   "mappings": box.company.starter_mappings, "oversized": oversized})
        while conn.poll(lifetime_s):
            message = conn.recv()
            if isinstance(message, tuple):
                conn.send(_answer(box, *message))
                continue
            if message != "counts":
                break
            st_paths = Counter(_st_group(entry["path"]) for entry in list(box.st.request_log))
            syspro_paths = Counter(_syspro_group(path) for _, path, _, _ in list(box.syspro.request_log))
            conn.send({"st": dict(st_paths), "syspro": dict(syspro_paths),
                       "connections": {"st": box.st.connections_accepted, "syspro": box.syspro.connections_accepted}})
    finally:
        box.stop()
        conn.close()


def _answer(box, command: str, *args):
    """What the benchmark asks the simulators besides their counts."""
    if command == "advance":  # new invoices created now: their ids and createdOn
        ids = box.company.st.advance(int(args[0]))
        return [(invoice_id, box.company.st.invoices[invoice_id]["createdOn"].isoformat()) for invoice_id in ids]
    if command == "ap_invoices":  # what SYSPRO holds in AP, as (supplier, invoice number)
        return [(row["Supplier"], row["Invoice"]) for row in box.company.syspro.ap_invoices]
    if command == "requests_since":  # each request after the given positions of the two logs
        st_from, syspro_from = args
        st_log, syspro_log = list(box.st.request_log), list(box.syspro.request_log)
        return {"st": [f"{e['method']} {e['path']}" for e in st_log[st_from:]],
                "syspro": [(path, {k: v for k, v in params.items() if k in ("$filter", "BusinessObject")})
                           for _m, path, params, _s in syspro_log[syspro_from:]],
                "positions": (len(st_log), len(syspro_log))}
    return None


def _seed_oversized(box, lines: int) -> dict:
    """An invoice whose cost spreads over `lines` GL accounts (one item each): one AP document too long
    for one e.net request. Its item is one the starter mappings map (SKU, vendor, branch), so only its
    size stands in its way. Returns its id and the accounts, which the benchmark maps."""
    import copy
    import datetime as dt

    from desktop_app.sandbox.st_state import recompute_invoice_totals

    state, mappings = box.company.st, box.company.starter_mappings
    skus = {int(row["st_sku_id"]) for row in mappings["items"] if row.get("syspro_stock_code")}
    vendors = {int(row["st_vendor_id"]) for row in mappings["vendors"]}
    units = {int(row["st_business_unit_id"]) for row in mappings["branches"]}
    start = dt.date.fromisoformat(str(box.settings()["sync.start_date"]))

    def usable(item) -> bool:
        sku = state.materials.get(item.get("skuId")) or {}
        vendor = (sku.get("primaryVendor") or {}).get("vendorId")
        return (item.get("type") == "Material" and bool(item.get("costOfSaleAccount")) and bool(item.get("cost"))
                and item.get("skuId") in skus and vendor in vendors)

    template, item = next((inv, i) for _, inv in sorted(state.invoices.items()) for i in inv["items"]
                          if inv.get("active") is not False and not inv.get("adjustmentToId")
                          and inv["businessUnit"]["id"] in units and inv["invoiceDate"] >= start and usable(i))
    invoice = copy.deepcopy(template)
    invoice["id"] = state.new_id()
    invoice["referenceNumber"] = f"{template['referenceNumber']}9"
    invoice["createdOn"] = invoice["modifiedOn"] = state.stamp()
    accounts = []
    invoice["items"] = []
    for number in range(lines):
        account = {**item["costOfSaleAccount"], "id": 900_000 + number, "number": str(90000 + number),
                   "name": f"Job cost centre {number}"}
        accounts.append(account["number"])
        invoice["items"].append({**copy.deepcopy(item), "id": state.new_id(), "order": number + 1,
                                 "costOfSaleAccount": account, "createdOn": invoice["createdOn"],
                                 "modifiedOn": invoice["modifiedOn"]})
    recompute_invoice_totals(invoice)
    state.add_invoice(invoice)
    return {"id": invoice["id"], "accounts": accounts}


def _pad_pricebook(state, count: int) -> None:
    """`count` more materials, copies of the seeded ones under new ids and codes: a large tenant's pricebook."""
    templates = list(state.materials.values())
    for number in range(count):
        template = templates[number % len(templates)]
        sku_id = state.new_id()
        state.materials[sku_id] = {**template, "id": sku_id, "code": f"{template['code']}-{number}",
                                   "modifiedOn": state.stamp()}


def _st_group(path: str) -> str:
    if path.startswith("/connect/"):
        return "token"
    tail = path.split("/tenant/", 1)[-1]
    return tail.split("/", 1)[1] if "/" in tail else tail


def _syspro_group(path: str) -> str:
    if "/Transaction/Post" in path:
        return "post"
    if "Odata" in path or "OData" in path:
        return "odata"
    return "enet_other"


# ---------------------------------------------------------------------------- the benchmark's side
class Profile:
    """What Sandbox.configure_profile reads, from the simulator process's answer."""

    def __init__(self, hello: dict):
        self._hello = hello
        self.company = type("Company", (), {"starter_mappings": hello["mappings"]})()

    def settings(self) -> dict:
        return self._hello["settings"]

    def secrets(self) -> dict:
        return self._hello["secrets"]

    def configure_profile(self, *, mappings: bool = True, actor: str = "bench") -> None:
        """Point the open database and the keyring of the current data dir at the simulators."""
        from desktop_app.sandbox.runner import Sandbox

        Sandbox.configure_profile(self, mappings=mappings, actor=actor)


def stop_process(process) -> None:
    process.join(timeout=10)
    if process.is_alive():
        process.terminate()
        process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join(timeout=5)


class SimulatorProcess:
    """Both simulators with a seeded company in a spawned process; stops itself after lifetime_s."""

    def __init__(self, seed: int, invoices: int, *, lifetime_s: float, st_options: dict | None = None,
                 start_timeout: float = 120, extra_skus: int = 0, faults: str = "", oversized_lines: int = 0):
        self.seed, self.invoices, self.lifetime_s = seed, invoices, lifetime_s
        self.extra_skus = extra_skus
        self.faults, self.oversized_lines = faults, oversized_lines
        self.st_options = dict(st_options or {})
        self.start_timeout = start_timeout
        self.hello: dict | None = None
        self.profile: Profile | None = None
        self._conn = None
        self._process = None

    def start(self) -> SimulatorProcess:
        """Start the process and wait for its settings; RuntimeError if it does not answer in time."""
        spawn = mp.get_context("spawn")
        self._conn, child_end = spawn.Pipe()
        self._process = spawn.Process(target=_serve_simulators, name="bench-simulators",
                                      args=(self.seed, self.invoices, self.lifetime_s, self.st_options, child_end,
                                            self.extra_skus, self.faults, self.oversized_lines))
        self._process.start()
        if not self._conn.poll(self.start_timeout):
            self.stop()
            raise RuntimeError(f"the simulators did not start within {self.start_timeout:.0f} s")
        self.hello = self._conn.recv()
        self.profile = Profile(self.hello)
        return self

    def configure_profile(self, *, mappings: bool = True, actor: str = "bench") -> None:
        self.profile.configure_profile(mappings=mappings, actor=actor)

    def counts(self, timeout: float = 30) -> dict:
        """Requests the simulators saw: {"st": {endpoint: n}, "syspro": {"post"|"odata"|"enet_other": n}}."""
        self._conn.send("counts")
        return self._conn.recv() if self._conn.poll(timeout) else {"st": {}, "syspro": {}}

    def ask(self, command: str, *args, timeout: float = 60):
        """One of `_answer`'s commands: advance N, ap_invoices, requests_since ST SYSPRO."""
        self._conn.send((command, *args))
        return self._conn.recv() if self._conn.poll(timeout) else None

    def stop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
        if self._process is not None:
            stop_process(self._process)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
