"""How responsive the GUI stays with a big ledger and during a big sync. Prints figures; asserts nothing.

1. 100,000 AP documents in a temporary data dir: time from constructing InvoicesPage to the first
   page of rows being there (goal < 1 s), and time to apply a search filter.
2. A 5,000-invoice sync through the real engine against the sandbox simulators, run by the job
   worker in the engine process as the app runs it (--engine-thread: on the worker thread), while
   a 10 ms QTimer measures how late the event loop is: longest stall (goal <= 50 ms) and the 99th
   percentile; then each garbage collection the GUI thread ran during the sync (the app
   collects only there: count and longest pause per generation) and how long a full one takes.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py [--documents N] [--invoices N]
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def use_temp_home() -> tempfile.TemporaryDirectory:
    home = tempfile.TemporaryDirectory(prefix="mlc-bench-")
    os.environ["ML_CONNECTOR_HOME"] = home.name
    return home


def bulk_documents(count: int) -> float:
    from desktop_app.core.models import ApDocument, database

    rng = random.Random(7)
    states = (["CONFIRMED"] * 80 + ["POSTED"] * 10 + ["FAILED", "NEEDS_MAPPING", "SKIPPED", "IN_DOUBT"] * 2
              + ["READY"] * 2)
    suppliers = [f"SUP{n:03d}" for n in range(60)]
    branches = ["DAL", "FTW", "HOU", "AUS", "SAT"]
    start = dt.date(2023, 1, 1)
    lines = [{"stock_code": "CU12", "description": "Copper pipe", "quantity": "2", "unit_cost": "12.50",
              "amount": "25.00", "ledger_code": "5100-100"}]
    began = time.perf_counter()
    rows = []
    with database.atomic():
        for n in range(count):
            supplier = rng.choice(suppliers)
            rows.append(dict(doc_key=f"{n}:{supplier}", st_invoice_id=n, st_invoice_number=str(100000 + n),
                             state=rng.choice(states), supplier=supplier, syspro_invoice=f"ST{100000 + n}",
                             amount=Decimal(rng.randint(500, 500000)) / 100,
                             invoice_date=start + dt.timedelta(days=n % 700),
                             branch=rng.choice(branches), technician="Dana Reyes", lines=lines))
            if len(rows) == 5000:
                ApDocument.insert_many(rows).execute()
                rows = []
        if rows:
            ApDocument.insert_many(rows).execute()
    return time.perf_counter() - began


def wait_for(app, predicate, timeout: float = 30.0) -> bool:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.001)
    return True


def first_page(app, bridge, documents: int) -> None:
    from PySide6.QtCore import Qt

    from desktop_app.ui.invoices_page import InvoicesPage

    print(f"Inserting {documents:,} documents…", flush=True)
    print(f"  bulk insert: {bulk_documents(documents):.2f} s")
    began = time.perf_counter()
    page = InvoicesPage(bridge)
    page.resize(1400, 900)
    page.show()
    constructed = time.perf_counter() - began
    ok = wait_for(app, lambda: page.model.ready and page.model.index(0, 1).data() not in (None, "…"))
    shown = time.perf_counter() - began
    print(f"  InvoicesPage constructed in {constructed * 1000:.0f} ms; first page of rows visible after "
          f"{shown * 1000:.0f} ms (goal < 1000 ms){'' if ok else ' — TIMED OUT'}; rows: {page.model.rowCount():,}")
    began = time.perf_counter()
    _search(page, "1234")
    wait_for(app, lambda: page.model.ready and page.model.rowCount() < documents)
    print(f"  search '1234' → {page.model.rowCount():,} rows in {(time.perf_counter() - began) * 1000:.0f} ms")
    for label, action in (("clear the search (100k rows again)", lambda: _search(page, "")),
                          ("sort 100k rows by amount (ORDER BY)",
                           lambda: page.table.horizontalHeader().setSortIndicator(5, Qt.SortOrder.AscendingOrder))):
        loaded: list = []
        page.model.loaded.connect(loaded.append)
        began = time.perf_counter()
        action()
        wait_for(app, lambda loaded=loaded: bool(loaded))
        page.model.loaded.disconnect(loaded.append)
        print(f"  {label}: {(time.perf_counter() - began) * 1000:.0f} ms")
    page.table.scrollToBottom()
    began = time.perf_counter()
    last = page.model.rowCount() - 1
    wait_for(app, lambda: page.model.row_at(last) is not None)
    print(f"  jump to the last row: page fetched in {(time.perf_counter() - began) * 1000:.0f} ms")
    page.close()
    page.deleteLater()


def _search(page, text: str) -> None:
    page.search_box.setText(text)
    page.search_box.returnPressed.emit()  # skip the typing delay


class GcPauses:
    """How long each cyclic garbage collection held the thread that ran it (the GUI thread: the app
    collects there only), by generation; then how long a full collection takes after the sync."""

    def __init__(self):
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.found = 0  # objects the collections found unreachable
        self._began = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._began) * 1000)
            self.found += info["collected"]

    def start(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)

    def report(self) -> None:
        parts = [f"gen{g} {len(p)} (longest {max(p):.1f} ms)" if p else f"gen{g} 0" for g, p in self.pauses.items()]
        print(f"  garbage collections in the GUI thread during the sync: {', '.join(parts)}; "
              f"{self.found:,} unreachable objects found")
        began = time.perf_counter()
        gc.collect()
        print(f"  a full collection after the sync: {(time.perf_counter() - began) * 1000:.1f} ms "
              f"({len(gc.get_objects()):,} objects walked; {gc.get_freeze_count():,} frozen at start-up, not walked)")


def sync_stalls(app, bridge, invoices: int, with_page: bool = True, in_process: bool = False,
                stacks: int = 0, profile_gui: str | None = None, poll_loop: bool = False,
                engine_thread: bool = False) -> None:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from desktop_app.core.models import ApDocument
    from desktop_app.sync.cycle import run_cycle
    from desktop_app.ui.invoices_page import InvoicesPage

    where = "in this process (they compete with the GUI for the GIL)" if in_process else \
        "in a separate process (as in real use: ServiceTitan and SYSPRO are remote)"
    print(f"Building a sandbox company with {invoices:,} invoices; simulators {where}; "
          f"Invoices page {'open' if with_page else 'not open'}; GUI thread in "
          f"{'a processEvents() + sleep(0.5 ms) loop' if poll_loop else 'QEventLoop.exec(), as in the app'}; "
          f"engine {'on the worker thread (comparison)' if engine_thread else 'in its own process, as in the app'}; "
          f"switch interval {sys.getswitchinterval() * 1000:g} ms…", flush=True)
    began = time.perf_counter()
    if in_process:
        from desktop_app.sandbox.runner import Sandbox

        box = Sandbox(seed=11, invoices=invoices, max_lifetime_s=3600).start()
    else:
        from _simulators import SimulatorProcess

        box = SimulatorProcess(seed=11, invoices=invoices, lifetime_s=3600).start()
    sampler = StallSampler() if stacks else None
    try:
        box.configure_profile()
        print(f"  sandbox ready in {time.perf_counter() - began:.1f} s")
        page = InvoicesPage(bridge) if with_page else None  # refreshes as the cycle reports changes
        if page is not None:
            page.resize(1400, 900)
            page.show()
        gaps: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def tick():
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6 - 10.0)
            last[0] = now
            if sampler is not None:
                sampler.ticked()

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        done: list = []
        loop = QEventLoop()

        def finished(result) -> None:
            done.append(result)
            loop.quit()

        pauses = GcPauses().start()
        timer.start()
        if sampler is not None:
            sampler.start()
        began = time.perf_counter()
        bridge.run_job("cycle", run_cycle, actor="sync-now", isolated=not engine_thread, on_done=finished,
                       on_error=finished)
        # refresh the page every second as well, the way a user would watch it
        refresher = QTimer()
        refresher.setInterval(1000)
        if page is not None:
            refresher.timeout.connect(page.refresh)
            refresher.start()
        profiler = None
        if profile_gui:
            import cProfile

            profiler = cProfile.Profile()  # profiles the calling thread only: the GUI thread
            profiler.enable()
        if poll_loop:  # for comparison: a loop that takes the GIL back every 0.5 ms, which the app never does
            while not done:
                app.processEvents()
                time.sleep(0.0005)
        else:  # the way the app runs: blocked in Qt's event loop until something happens
            loop.exec()
        elapsed = time.perf_counter() - began
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_gui)
            print(f"  cProfile of the GUI thread written to {profile_gui} (stall figures inflated by it)")
        timer.stop()
        refresher.stop()
        pauses.stop()
        if sampler is not None:
            sampler.stop()
        result = done[0]
        summary = result.as_dict() if hasattr(result, "as_dict") else result
        print(f"  cycle finished in {elapsed:.1f} s: {summary if isinstance(summary, str) else _short(summary)}")
        print(f"  documents in the ledger: {ApDocument.select().count():,}")
        lateness = sorted(max(0.0, g) for g in gaps)
        if lateness:
            p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
            over = sum(1 for g in lateness if g > 50)
            print(f"  event loop: {len(lateness):,} ticks; longest stall {lateness[-1]:.1f} ms (goal <= 50 ms); "
                  f"99th percentile {p99:.1f} ms; median {lateness[len(lateness) // 2]:.1f} ms; "
                  f"{over} stalls over 50 ms")
        pauses.report()
        if sampler is not None:
            sampler.report(stacks)
        if page is not None:
            page.close()
    finally:
        box.stop()


class StallSampler:
    """Where the time goes while the GUI thread is late: a watchdog thread that, whenever the 10 ms
    timer is more than `threshold_ms` overdue, records every thread's stack (sys._current_frames)
    every few ms until the next tick. The GUI stack says what the GUI thread did; when it only waits
    for the GIL, the other threads' stacks say who held it."""

    def __init__(self, threshold_ms: float = 15.0, every_ms: float = 5.0):
        import threading

        self.threshold = threshold_ms / 1000
        self.every = every_ms / 1000
        self._last = time.perf_counter()
        self._gui = threading.get_ident()
        self._gui_native = threading.get_native_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-sampler", daemon=True)
        self._current: list = []       # samples of the stall going on
        self._last_cpu: dict = {}
        self.stalls: list = []         # (length ms, samples, CPU ms of each thread during the stall)

    def start(self) -> None:
        self._last, self._last_cpu = time.perf_counter(), self._cpu()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def ticked(self) -> None:
        now, cpu = time.perf_counter(), self._cpu()
        if self._current:
            self.stalls.append(((now - self._last) * 1000 - 10, self._current,
                                {name: (cpu[name] - self._last_cpu.get(name, 0.0)) * 1000 for name in cpu}))
            self._current = []
        self._last, self._last_cpu = now, cpu

    def _cpu(self) -> dict:
        """CPU seconds of the GUI thread and the engine's threads (so a stall shows who worked)."""
        import threading

        clocks = {"GUI": time.thread_time(), "GUI runqueue wait": self._runqueue_wait()}
        for thread in threading.enumerate():
            if thread.name.startswith("ml-connector") and thread.ident:
                try:
                    clocks[thread.name] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
                except OSError:
                    pass
        return clocks

    def _runqueue_wait(self) -> float:
        """Seconds the GUI thread was runnable but not running (Linux schedstat): the OS, not the GIL."""
        try:
            with open(f"/proc/self/task/{self._gui_native}/schedstat") as f:
                return int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def _watch(self) -> None:
        import threading
        import traceback

        while not self._stop.wait(self.every):
            late = time.perf_counter() - self._last - 0.010
            if late < self.threshold:
                continue
            names = {t.ident: t.name for t in threading.enumerate()}
            sample = {}
            for ident, frame in sys._current_frames().items():
                if ident == threading.get_ident():
                    continue
                name = "GUI" if ident == self._gui else names.get(ident, str(ident))
                frames = traceback.extract_stack(frame)[-6:]
                sample[name] = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
            self._current.append((late * 1000, sample))

    def report(self, count: int) -> None:
        from collections import Counter

        print(f"  stalls over {self.threshold * 1000:.0f} ms with stack samples: {len(self.stalls)}")
        tops = Counter()
        cpu_total = Counter()
        for _length, _samples, cpu in self.stalls:
            cpu_total.update(cpu)
        wall = sum(length + 10 for length, _s, _c in self.stalls)
        print(f"  during those stalls ({wall:.0f} ms of wall time in all) CPU by thread: "
              + ", ".join(f"{name} {ms:.0f} ms" for name, ms in cpu_total.most_common()))
        for _length, samples, _cpu in self.stalls:
            for _late, sample in samples:
                for name, stack in sample.items():
                    if not name.startswith(("Dummy", "QDBus")):
                        tops[f"{name}: {stack.split(' < ')[0]}"] += 1
        print("  most frequent top frames during stalls (thread: file:line function — samples):")
        for what, n in tops.most_common(15):
            print(f"    {n:5d}  {what}")
        for length, samples, cpu in sorted(self.stalls, key=lambda s: -s[0])[:count]:
            print(f"  --- stall {length:.0f} ms, {len(samples)} samples; CPU "
                  + ", ".join(f"{name} {ms:.0f} ms" for name, ms in sorted(cpu.items())) + "; the middle sample:")
            _late, sample = samples[len(samples) // 2]
            for name, stack in sorted(sample.items()):
                print(f"      {name}: {stack}")


def _short(summary) -> str:
    if isinstance(summary, dict) and "invoices" in summary:
        inv = summary["invoices"]
        inv = inv.as_dict() if hasattr(inv, "as_dict") else inv
        return ", ".join(f"{k} {v}" for k, v in inv.items() if isinstance(v, int) and v)
    return str(summary)[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=5_000)
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--skip-page", action="store_true", help="skip part 1 (the 100k-row ledger)")
    parser.add_argument("--no-page", action="store_true",
                        help="part 2 without the Invoices page, to tell engine stalls from page stalls")
    parser.add_argument("--in-process-simulators", action="store_true",
                        help="run the simulators in this process (for comparison: they compete for the GIL)")
    parser.add_argument("--stacks", type=int, default=0, metavar="N",
                        help="sample every thread's stack while the GUI is late; print the N longest stalls")
    parser.add_argument("--poll-loop", action="store_true",
                        help="drive the GUI with a processEvents() + sleep(0.5 ms) loop (comparison)")
    parser.add_argument("--profile-gui", metavar="FILE", help="write a cProfile of the GUI thread during the sync")
    parser.add_argument("--engine-thread", action="store_true",
                        help="run the cycle on the worker thread, not the engine process (for comparison)")
    parser.add_argument("--switch-interval", type=float, metavar="MS",
                        help="the GIL switch interval to run with (default: the app's own)")
    args = parser.parse_args(argv)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval / 1000)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from _simulators import use_memory_keyring  # this script's folder

    from desktop_app.core import db
    from desktop_app.sync import cycle
    from desktop_app.sync.engine_process import EngineProcess
    from desktop_app.sync.jobs import JobWorker
    from desktop_app.ui.bridge import EngineBridge
    from desktop_app.ui.garbage import GuiThreadGarbageCollector

    use_memory_keyring()
    for part in (1, 2):
        if (part == 2 and args.skip_sync) or (part == 1 and args.skip_page):
            continue
        home = use_temp_home()
        db.open_database()
        garbage = GuiThreadGarbageCollector().start()  # as the app runs: cycles are collected in the GUI thread
        # as the app: the engine's imports before the first job, and an engine process for cycles
        worker = JobWorker(preload=cycle.preload, engine=EngineProcess())
        worker.start()
        garbage.freeze_when(worker.preloaded.is_set)  # as the app, once started (it also waits for its window)
        garbage.defer_while(lambda worker=worker: worker.busy)
        worker.submit("ready", lambda ctx: None, actor="bench").future.result(timeout=120)
        # the app freezes at start-up, before any sync
        wait_for(app, lambda garbage=garbage: garbage.frozen, timeout=10)
        bridge = EngineBridge(worker)
        try:
            if part == 1:
                print("1. Invoices page with a big ledger")
                first_page(app, bridge, args.documents)
            else:
                print("2. Event-loop stalls during a big sync")
                sync_stalls(app, bridge, args.invoices, with_page=not args.no_page,
                            in_process=args.in_process_simulators, stacks=args.stacks,
                            profile_gui=args.profile_gui, poll_loop=args.poll_loop,
                            engine_thread=args.engine_thread)
        finally:
            bridge.close()
            worker.stop(timeout=60)
            garbage.stop()
            db.close_database()
            home.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
