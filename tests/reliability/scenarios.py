"""Reliability scenarios against the simulators, shared by the test suite (small) and
`benchmarks/reliability_report.py` (heavy): each returns the same counts — processed, lost,
duplicated, stuck — so the report and the tests judge by one rule. A test harness: the app never
imports it, and the Windows bundle leaves it out.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from desktop_app.core import db, models
from desktop_app.sandbox.runner import Sandbox
from desktop_app.sync import ledger


@dataclass
class Outcome:
    scenario: str
    invoices: int = 0
    documents: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    disagree: int = 0
    kills: int = 0
    recover_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == self.duplicated == self.stuck == self.disagree == 0


def judge(box: Sandbox, outcome: Outcome) -> Outcome:
    """Compare the ledger with both simulators. Needs the database open. Adds to what the scenario
    itself counted (a hang the watchdog did not end, a broken invoice that reached SYSPRO)."""
    posted = Counter((r["Supplier"], r["Invoice"]) for r in box.company.syspro.ap_invoices)
    # a credit note applied to an invoice is one of its transactions, known by its reference
    credits = Counter((r["Supplier"], r["Invoice"], r["Reference"]) for r in box.company.syspro.ap_invoice_pays)
    outcome.duplicated += sum(n - 1 for n in posted.values() if n > 1) + sum(n - 1 for n in credits.values() if n > 1)
    known = {row.st_invoice_id for row in models.SourceInvoice.select()}
    outcome.invoices = len(box.company.st.invoices)
    outcome.lost += len(set(box.company.st.invoices) - known)
    docs = list(models.ApDocument.select())
    outcome.documents = len(docs)
    outcome.stuck += sum(1 for d in docs if d.state in (ledger.POSTING, ledger.DISCOVERED)
                        or (d.state in ledger.ATTENTION | {ledger.SKIPPED} and not d.reason))
    in_ledger = {(d.supplier, d.syspro_invoice) for d in docs
                 if d.state in (ledger.POSTED, ledger.CONFIRMED, ledger.CHANGED_IN_SOURCE)}
    outcome.disagree += len(set(posted) ^ in_ledger)
    return outcome


def one_cycle(outcome: Outcome | None = None, *, flow: str | None = None, retry_first: bool = False) -> None:
    """One cycle in this process, as the scenario's actor (after a Retry of everything that failed,
    with `retry_first`). With `outcome`, an exception is noted there and the scenario goes on: it is
    judged by the ledger and the simulators, not by how a faulty cycle ended."""
    from desktop_app.sync import invoices
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle

    ctx = SyncContext.from_database(actor="scenario")
    try:
        if retry_first:
            invoices.replay(ctx, all_failed=True)
        run_cycle(ctx, flow=flow)
    except Exception as exc:
        if outcome is None:
            raise
        outcome.notes.append(type(exc).__name__)
    finally:
        ctx.close()


def recover(box: Sandbox, outcome: Outcome, *, flow: str | None = None, retry_first: bool = False) -> Outcome:
    """One clean cycle, timed as the recovery, then the judgement."""
    started = time.monotonic()
    one_cycle(flow=flow, retry_first=retry_first)
    outcome.recover_seconds = time.monotonic() - started
    return judge(box, outcome)


def _run_sync(env: dict, kill_when=None, *, limit_s: float = 120) -> int:
    """Run one `sync --once`; SIGKILL it as soon as `kill_when()` is true (polled every few ms)."""
    proc = subprocess.Popen([sys.executable, "-m", "desktop_app", "sync", "--once", "--flow", "invoices"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_when is None:
        return proc.wait(timeout=600)
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        if kill_when():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.003)
    return proc.wait(timeout=30)


def crash_loop_in(box: Sandbox, *, seed: int, kills: int, arrivals: int = 25, env: dict) -> Outcome:
    rng = random.Random(seed)
    outcome = Outcome(f"SIGKILL x{kills} (seed {seed})")
    db.close_database()
    box.syspro.set_faults({"slow": 0.01})  # widen the posting window so kills land mid-post
    state = box.company.syspro
    for _ in range(kills):
        box.company.st.advance(arrivals)
        # kill after a random number of SYSPRO posts of this run (mid-posting), or, in about a
        # quarter of the runs, at a random early moment (mid-discovery); progress, not the clock,
        # decides, so the kills land however fast or loaded the machine is
        posts_before = state.post_count
        target = rng.randint(1, max(1, arrivals // 2))
        early = time.monotonic() + rng.uniform(0.3, 1.0) if rng.random() < 0.25 else None
        if early:
            kill_when = lambda at=early: time.monotonic() > at  # noqa: E731
        else:
            kill_when = lambda before=posts_before, n=target: state.post_count - before >= n  # noqa: E731
        outcome.kills += _run_sync(env, kill_when) == -signal.SIGKILL
    box.syspro.set_faults({})
    started = time.monotonic()
    code = _run_sync(env, None)
    outcome.recover_seconds = time.monotonic() - started
    if code not in (0, 1):
        outcome.notes.append(f"final run exited {code}")
    db.open_database()
    return judge(box, outcome)


def fault_in(box: Sandbox, side: str, faults: dict, *, cycles: int = 3) -> Outcome:
    """Run cycles in-process with a fault switched on; then one clean cycle measures recovery."""
    outcome = Outcome(f"{side}.{','.join(f'{k}={_value(v)}' for k, v in faults.items())}")
    getattr(box, side).set_faults(faults)
    page_size = box.syspro.page_size
    if "odata_repeat_link" in faults:  # a link only comes with a read longer than one page
        box.syspro.page_size = min(page_size, 50)
    for _ in range(cycles):
        one_cycle(outcome)  # a cycle may stop on a connection failure; the next one continues
    getattr(box, side).set_faults({})
    box.syspro.page_size = page_size
    return recover(box, outcome)


def _value(value) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def hung_engine_in(box: Sandbox, *, watchdog_s: float = 3.0, cycles: int = 2, arrivals: int = 10) -> Outcome:
    """The GUI's way of syncing, in the engine process, while SYSPRO commits posts and then does not
    answer for longer than the watchdog allows: each such cycle is ended by the watchdog; one
    clean cycle afterwards measures recovery (documents in flight looked up, not sent again)."""
    import functools

    from desktop_app.sync.cycle import run_cycle
    from desktop_app.sync.engine_process import EngineProcess, EngineStalled

    outcome = Outcome(f"hung engine (watchdog {watchdog_s:g} s) x{cycles}")
    box.syspro.slow_after_post_s = max(box.syspro.slow_after_post_s, 5 * watchdog_s)
    engine = EngineProcess(start_timeout=120, watchdog_s=watchdog_s)
    try:
        for _ in range(cycles):
            box.company.st.advance(arrivals)  # something to post, whatever ran before
            box.syspro.set_faults({"slow_after_post": 1})
            try:
                engine.run(functools.partial(run_cycle, flow="invoices"), actor="scenario")
                outcome.notes.append("a cycle was not stopped by the watchdog")
            except EngineStalled:
                outcome.kills += 1
    finally:
        engine.close()
    box.syspro.set_faults({})
    outcome.stuck += cycles - outcome.kills  # a hang the watchdog did not end
    return recover(box, outcome)


def _damage(rng: random.Random):
    """One way a live invoice can arrive broken: a cost that is no number, a literal JSON cannot
    give as Decimal, a date that is gone, a business unit of the wrong shape."""
    from desktop_app.sandbox.st_wire import RawJson

    index_of_cost = lambda out: next(i for i, item in enumerate(out["items"])  # noqa: E731
                                     if item["type"] in ("Material", "Equipment"))
    kinds = [
        lambda out: out["items"][index_of_cost(out)].__setitem__("cost", "abc"),
        lambda out: out["items"][index_of_cost(out)].__setitem__("quantity", RawJson("NaN")),
        lambda out: out.__setitem__("invoiceDate", None),
        lambda out: out.__setitem__("businessUnit", "Plumbing"),
    ]
    return rng.choice(kinds)


def broken_records_in(box: Sandbox, *, every: int = 5, cycles: int = 3, arrivals: int = 40,
                      seed: int = 11) -> Outcome:
    """Every `every`-th new invoice arrives broken: it must be held as unreadable and never posted
    while the cycles around it post everything else; once ServiceTitan sends it whole again, Retry
    posts it. A broken invoice that reached SYSPRO counts as a disagreement."""
    rng = random.Random(seed)
    outcome = Outcome(f"broken records (1 in {every}) x{cycles}")
    patches = box.company.st.wire_patches.setdefault("invoices", {})
    broken: set[int] = set()
    for _ in range(cycles):
        before = set(box.company.st.invoices)
        box.company.st.advance(arrivals)
        for position, st_id in enumerate(sorted(set(box.company.st.invoices) - before)):
            if position % every == 0 and any(item["type"] in ("Material", "Equipment")
                                             for item in box.company.st.invoices[st_id]["items"]):
                patches[st_id] = _damage(rng)
                broken.add(st_id)
        one_cycle()
    outcome.kills = len(broken)
    posted = {(row["Supplier"], row["Invoice"]) for row in box.company.syspro.ap_invoices}
    outcome.disagree += sum(1 for doc in models.ApDocument.select().where(models.ApDocument.st_invoice_id.in_(broken))
                            if (doc.supplier, doc.syspro_invoice) in posted)
    outcome.stuck += sum(1 for st_id in broken if not models.ApDocument.select().where(
        models.ApDocument.st_invoice_id == st_id, models.ApDocument.state == ledger.UNREADABLE).exists())
    patches.clear()  # fixed in ServiceTitan
    started = time.monotonic()
    one_cycle(retry_first=True)
    outcome.recover_seconds = time.monotonic() - started
    outcome.stuck += models.ApDocument.select().where(models.ApDocument.state == ledger.UNREADABLE).count()
    return judge(box, outcome)


FAULTS = [
    ("st", {"rate_limit_storm": 5}), ("st", {"rate_limit_storm_nohdr": 3}), ("st", {"http_500": 3}),
    ("st", {"token_expire": 1}), ("st", {"maintenance_409": 2}), ("st", {"malformed": 1}), ("st", {"drop": 1}),
    ("syspro", {"session_expire": 2}), ("syspro", {"drop_after_post": 2}), ("syspro", {"malformed": 2}),
    ("syspro", {"http_500": 1}), ("syspro", {"drop": 1}), ("syspro", {"reject_post": 2}),
    # a feed that does not advance: the invoice export hands back its token; OData links to itself
    ("st", {"stuck_feed": "invoices"}), ("syspro", {"odata_repeat_link": 1}),
]

# Scenarios that are more than a fault switched on, each `function(box) -> Outcome` on a configured
# sandbox with the database open (a session evicted mid-post and a concurrent Skip: race_scenarios).
SCENARIOS = [
    ("hung engine", hung_engine_in),
    ("broken records", broken_records_in),
]


def subprocess_env(xdg_dir: str) -> dict:
    """Environment for a sync subprocess that shares this process's file keyring."""
    from desktop_app.core.secrets import INSECURE_KEYRING_ENV, INSECURE_KEYRING_OK

    return dict(os.environ, PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring", XDG_DATA_HOME=xdg_dir,
                **{INSECURE_KEYRING_ENV: INSECURE_KEYRING_OK})
