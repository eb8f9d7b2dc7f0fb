"""Benchmark: throughput of the invoice sync engine against the sandbox, per invoice count.

For each size (default 1,000 / 5,000 / 20,000 invoices) one fresh sync cycle of the invoice flow
(desktop_app.sync.cycle.run_cycle(ctx, flow="invoices"): the other flows — vendors, purchase
orders, adjustments — are not part of this measurement) posts a seeded company's invoices into
the SYSPRO simulator, and the benchmark prints:

- invoices per second (wall clock of the whole cycle: discovery, posting, read-back, write-back);
- engine CPU ms per invoice. The simulators run in a separate process (multiprocessing, spawn),
  so the engine process holds only the engine: its CPU is the calling thread's time.thread_time()
  around run_cycle (the process total, time.process_time(), is printed too; they agree when no
  other thread works). Client-side HTTP (requests/urllib3) counts as engine: the app pays it too;
  "of which kernel" is the thread's system time (getrusage RUSAGE_THREAD): socket calls, SQLite's
  writes and fsyncs;
- ServiceTitan requests per 100 invoices, counted by the ServiceTitan simulator (token included);
- SYSPRO requests per posted document, counted by the SYSPRO simulator: e.net Transaction/Post,
  other e.net calls (Logon, Logoff, Query), OData reads, separately;
- peak RSS of the engine process (resource.getrusage ru_maxrss, a fresh process per size) and
  how far it grew during the cycle; with --tracemalloc also the Python heap peak of the cycle
  (tracemalloc slows Python down, so CPU figures of such a run are not comparable);
- whether memory stays flat in the invoice count (RSS growth of the largest size against the
  smallest);
- the engine CPU of the next cycle, with nothing new in ServiceTitan ("idle cycle"): the steady
  cost of the backlog a cycle carries (documents waiting for a mapping are evaluated again only
  when mappings, settings or reference data changed: not here).

No added latency: the ServiceTitan simulator's rate limit is raised to 1,000,000/s (the client
still paces itself at 60 requests/s, which costs nothing here: a cycle makes a few dozen requests).
Each size runs under a time limit; the benchmark stops by itself and asserts nothing.

    python benchmarks/sync_throughput.py [--quick] [--sizes 1000,5000,20000]
                                                        [--seed 7] [--tracemalloc] [--profile DIR]
"""
from __future__ import annotations

import argparse
import importlib
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _simulators import Profile, SimulatorProcess, stop_process, use_memory_keyring  # this script's folder

DEFAULT_SIZES = (1_000, 5_000, 20_000)
SECONDS_PER_INVOICE_LIMIT = 0.05  # time limit per size: ten times the engine CPU allowed per invoice
MIN_SECONDS_PER_SIZE = 120
NO_RATE_LIMIT = 1_000_000
FLAT_SLACK_MB = 16  # RSS growth this close to the smallest size's counts as flat


# ---------------------------------------------------------------------------- engine process
def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _run_engine(hello: dict, options: dict, conn) -> None:
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as home:
        os.environ["ML_CONNECTOR_HOME"] = home
        _measure_cycle(hello, options, conn)


def _measure_cycle(hello: dict, options: dict, conn) -> None:
    use_memory_keyring()
    from desktop_app.core import db, models
    from desktop_app.sync.context import SyncContext
    from desktop_app.sync.cycle import run_cycle

    db.open_database()
    Profile(hello).configure_profile(actor="bench")
    ctx = SyncContext.from_database(actor="bench")
    # modules the cycle imports on first use, imported now so that RSS growth and CPU are the
    # cycle's data and work, not loading code once per process
    for module in ("desktop_app.syspro.apstin", "desktop_app.syspro.odata", "desktop_app.servicetitan.client"):
        importlib.import_module(module)
    from desktop_app.syspro import enet

    # the e.net HTTP transport's share of the engine's CPU (requests/urllib3 and the socket calls)
    transport = [0.0]
    original_get = enet.EnetClient._get

    def timed_get(self, *args, **kwargs):
        started = time.thread_time()
        try:
            return original_get(self, *args, **kwargs)
        finally:
            transport[0] += time.thread_time() - started

    enet.EnetClient._get = timed_get
    profiler = None
    if options.get("profile"):
        import cProfile

        # CPU, as the figures: waits on the simulators are not the engine's
        profiler = cProfile.Profile(time.thread_time)
    if options.get("tracemalloc"):
        import tracemalloc

        tracemalloc.start()
    rss_before = _rss_now_mb()
    wall, cpu, proc = time.perf_counter(), time.thread_time(), time.process_time()
    usage = resource.getrusage(resource.RUSAGE_THREAD)  # its system part: the kernel's work for the engine thread
    if profiler is not None:
        profiler.enable()
    try:
        result = run_cycle(ctx, flow="invoices")
    finally:
        if profiler is not None:
            profiler.disable()
    wall, cpu, proc = time.perf_counter() - wall, time.thread_time() - cpu, time.process_time() - proc
    kernel = resource.getrusage(resource.RUSAGE_THREAD).ru_stime - usage.ru_stime
    heap_peak = None
    if options.get("tracemalloc"):
        import tracemalloc

        heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    if profiler is not None:
        profiler.dump_stats(options["profile"])
    summary = result.get("invoices")
    conn.send({
        "wall": wall, "cpu": cpu, "kernel_cpu": kernel, "process_cpu": proc, "enet_transport_cpu": transport[0],
        "rss_before": rss_before, "rss_peak": _peak_rss_mb(), "heap_peak": heap_peak,
        "summary": summary.as_dict() if summary is not None else {}, "errors": dict(result.errors),
    })
    if conn.recv() == "again":
        # the next cycle with nothing new: what a cycle costs for the backlog it carries (posted
        # documents not yet confirmed are read back; waiting ones are not evaluated again, as
        # nothing they depend on changed)
        wall, cpu = time.perf_counter(), time.thread_time()
        run_cycle(ctx, flow="invoices")
        conn.send({"idle_wall": time.perf_counter() - wall, "idle_cpu": time.thread_time() - cpu})
    ctx.close()
    models.database.close()
    conn.close()


# ---------------------------------------------------------------------------- orchestration
def measure(size: int, *, seed: int, tracemalloc: bool, profile_dir: str | None) -> dict:
    spawn = mp.get_context("spawn")
    limit = max(MIN_SECONDS_PER_SIZE, size * SECONDS_PER_INVOICE_LIMIT)
    sims = SimulatorProcess(seed, size, lifetime_s=limit + 60, st_options={"rate_limit_per_second": NO_RATE_LIMIT})
    engine = None
    try:
        try:
            hello = sims.start().hello
        except RuntimeError as exc:
            return {"size": size, "error": str(exc)}
        engine_conn, engine_end = spawn.Pipe()
        options = {"tracemalloc": tracemalloc,
                   "profile": str(Path(profile_dir) / f"sync_{size}.prof") if profile_dir else None}
        engine = spawn.Process(target=_run_engine, args=(hello, options, engine_end), name="bench-engine")
        engine.start()
        deadline = time.monotonic() + limit
        while not engine_conn.poll(1):
            if not engine.is_alive():
                return {"size": size, "error": f"the engine process died (exit code {engine.exitcode})"}
            if time.monotonic() > deadline:
                return {"size": size, "error": f"no result within {limit:.0f} s (stopped)"}
        figures = engine_conn.recv()
        figures["requests"] = sims.counts()
        figures["size"] = size
        engine_conn.send("again")
        if engine_conn.poll(limit):
            figures.update(engine_conn.recv())
        return figures
    finally:
        if engine is not None:
            stop_process(engine)
        sims.stop()


def _row(f: dict) -> list[str]:
    if "error" in f:
        return [f"{f['size']:,}", f["error"]]
    n = f["size"]
    docs = f["summary"].get("posted", 0) or 0
    st = sum(f["requests"]["st"].values())
    sy = f["requests"]["syspro"]
    per_doc = (lambda k: f"{sy.get(k, 0) / docs:.3f}") if docs else (lambda k: "-")
    connections = f["requests"]["connections"]["syspro"]
    heap = f"{f['heap_peak']:.0f}" if f.get("heap_peak") is not None else "-"
    return [f"{n:,}", f"{docs:,}", f"{n / f['wall']:,.0f}", f"{f['cpu'] * 1000 / n:.2f}",
            f"{f['enet_transport_cpu'] * 1000 / n:.2f}", f"{f['kernel_cpu'] * 1000 / n:.2f}",
            f"{f['process_cpu'] * 1000 / n:.2f}", f"{st * 100 / n:.2f}", per_doc("post"), per_doc("enet_other"),
            per_doc("odata"), f"{connections * 100 / max(sum(sy.values()), 1):.2f}", f"{f['rss_peak']:.0f}",
            f"{f['rss_peak'] - f['rss_before']:.0f}", heap,
            f"{f['idle_cpu'] * 1000:.0f}" if "idle_cpu" in f else "-"]


HEADERS = ["invoices", "docs", "inv/s", "eng CPU ms/inv", "of which e.net HTTP", "of which kernel", "proc CPU ms/inv",
           "ST req/100 inv", "Post/doc", "e.net other/doc", "OData/doc", "SYSPRO conn/100 req", "peak RSS MB",
           "RSS growth MB", "heap peak MB", "idle cycle CPU ms"]


def print_table(results: list[dict]) -> None:
    rows = [HEADERS] + [_row(f) for f in results]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(HEADERS))]
    for index, row in enumerate(rows):
        print("  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated invoice counts (default 1000,5000,20000)")
    parser.add_argument("--quick", action="store_true", help="1,000 invoices only")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report the Python heap peak (slows the engine: CPU figures not comparable)")
    parser.add_argument("--profile", metavar="DIR", help="write a cProfile of each cycle to DIR/sync_<n>.prof")
    args = parser.parse_args(argv)
    sizes = [1_000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    print("Invoice sync throughput: one fresh invoice-flow cycle per size; simulators in a separate process; "
          "ServiceTitan rate limit raised to 1,000,000/s.")
    print("Engine CPU = time.thread_time() of the engine thread around run_cycle (simulators excluded; "
          "client HTTP included; 'of which e.net HTTP' = the part inside EnetClient._get: requests/urllib3 "
          "and the socket calls, over kept-alive connections: see 'SYSPRO conn/100 req'). "
          "Peak RSS = getrusage ru_maxrss of the engine process"
          + (" ; heap peak = tracemalloc (CPU figures inflated by tracemalloc)." if args.tracemalloc else "."))
    if args.profile:
        print(f"cProfile is on (CPU figures inflated); profiles in {args.profile}")
    results = []
    for size in sizes:
        print(f"... {size:,} invoices", flush=True)
        started = time.perf_counter()
        figures = measure(size, seed=args.seed, tracemalloc=args.tracemalloc, profile_dir=args.profile)
        results.append(figures)
        if "error" not in figures:
            s = figures["summary"]
            print(f"    {time.perf_counter() - started:.1f} s; posted {s.get('posted')}, "
                  f"confirmed {s.get('confirmed')}, "
                  f"need mapping {s.get('needs_mapping')}, skipped {s.get('skipped')}, failed {s.get('failed')}, "
                  f"written back {s.get('written_back')}; ST by endpoint {figures['requests']['st']}"
                  + (f"; errors {figures['errors']}" if figures["errors"] else ""), flush=True)
    print()
    print_table(results)
    ok = [f for f in results if "error" not in f]
    if len(ok) >= 2:
        small, large = min(ok, key=lambda f: f["size"]), max(ok, key=lambda f: f["size"])
        grow_small = small["rss_peak"] - small["rss_before"]
        grow_large = large["rss_peak"] - large["rss_before"]
        slope = (grow_large - grow_small) / ((large["size"] - small["size"]) / 1000)
        flat = grow_large - grow_small <= max(FLAT_SLACK_MB, 0.25 * grow_small)
        print(f"\nMemory: RSS growth {grow_small:.0f} MB at {small['size']:,} vs {grow_large:.0f} MB at "
              f"{large['size']:,} invoices ({slope:.2f} MB per 1,000 more): "
              + ("flat." if flat else "NOT flat: it grows with the invoice count."))
    print("Goals: <= 5 ms engine CPU/invoice; <= 3 ST requests/100 invoices; 1 SYSPRO request per document; "
          "memory flat in the invoice count.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
