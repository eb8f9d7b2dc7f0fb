"""Benchmark: the invoice flow's pricebook, listed whole each cycle (for comparison) or kept in the
database and read from its export feeds (sync/pricebook.py), for a large tenant's pricebook.

The ServiceTitan simulator runs in its own process with the seeded pricebook padded to --skus
materials (copies under new ids and codes). In this process, on the engine's side, each way runs
against the same simulator and prints ServiceTitan requests, wall time, CPU time of this thread
(time.thread_time: client HTTP, JSON decoding, SQLite) and RSS growth:

- list: `materials()` + `equipment()`, the list endpoints with active=Any, 500 per page;
- feeds, first cycle: `pricebook.load_skus` on an empty table: every page of both feeds, stored;
- feeds, a later cycle: the same call again, nothing changed: one request per feed plus the
  database read of every stored SKU.

No added latency; the benchmark stops by itself and asserts nothing.

    python benchmarks/pricebook_cache.py [--skus 50000]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _simulators import SimulatorProcess, use_memory_keyring  # this script's folder


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pricebook_requests(sims) -> int:
    st = sims.counts()["st"]
    return sum(n for endpoint, n in st.items() if endpoint in ("materials", "equipment", "export/materials",
                                                              "export/equipment"))


def measure(label: str, sims, call) -> list[str]:
    before, rss = _pricebook_requests(sims), _rss_mb()
    wall, cpu = time.perf_counter(), time.thread_time()
    count = call()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return [label, f"{count:,}", f"{_pricebook_requests(sims) - before:,}", f"{wall * 1000:,.0f}",
            f"{cpu * 1000:,.0f}", f"{_rss_mb() - rss:+.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=50_000, help="materials added to the seeded pricebook")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as home:
        os.environ["ML_CONNECTOR_HOME"] = home
        use_memory_keyring()
        from desktop_app.core import db
        from desktop_app.sync import pricebook
        from desktop_app.sync.context import SyncContext

        print(f"Pricebook of the invoice flow: seeded pricebook + {args.skus:,} materials; simulator in its own "
              "process, no added latency.")
        with SimulatorProcess(7, 100, lifetime_s=max(300, args.skus / 50), extra_skus=args.skus,
                              start_timeout=600) as sims:
            db.open_database()
            sims.configure_profile(actor="bench")
            ctx = SyncContext.from_database(actor="bench")
            try:
                rows = [
                    measure("list (whole)", sims, lambda: len(ctx.st.materials()) + len(ctx.st.equipment())),
                    measure("feeds, first cycle", sims, lambda: len(pricebook.load_skus(ctx))),
                    measure("feeds, a later cycle", sims, lambda: len(pricebook.load_skus(ctx))),
                ]
            finally:
                ctx.close()
                db.close_database()
        header = ["way", "SKUs", "ST requests", "wall ms", "CPU ms", "RSS growth MB"]
        widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
        print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                        for i, (h, w) in enumerate(zip(header, widths, strict=True))))
        print("  ".join("-" * w for w in widths))
        for row in rows:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
