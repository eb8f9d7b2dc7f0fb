"""Reliability report: the heavy versions of tests/reliability, printed as a table.

Runs, against the simulators, every fault class (`scenarios.FAULTS`: failing, slow and malformed
answers, feeds that do not advance), the scenarios that are more than a switch (`scenarios.SCENARIOS`:
a hung engine ended by the watchdog) with thousands of invoices, and hundreds of SIGKILLs of the
sync process across seeds; prints invoices processed, lost, duplicated, stuck
without a reason (each must be 0) and the time to recover after each fault class.

    python benchmarks/reliability_report.py                 # 200 kills, 2,000+ invoices
    python benchmarks/reliability_report.py --quick         # a minute or two
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs per seed")
    parser.add_argument("--invoices", type=int, default=2000, help="invoices in each fault scenario's company")
    parser.add_argument("--quick", action="store_true", help="2 seeds x 8 kills, 300 invoices")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.kills, args.invoices = 2, 8, 300

    work = Path(tempfile.mkdtemp(prefix="mlc-reliability-"))
    os.environ["XDG_DATA_HOME"] = str(work / "xdg")
    os.environ["ML_CONNECTOR_INSECURE_KEYRING"] = "tests-and-benchmarks-only"  # throwaway secrets in a file
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    keyring.set_keyring(PlaintextKeyring())
    from desktop_app.core import db, paths
    from desktop_app.sandbox.runner import Sandbox
    from tests.reliability import scenarios

    outcomes = []
    deadline = time.monotonic() + 3 * 3600

    def fresh_home(name: str) -> None:
        db.close_database()
        os.environ[paths.ENV_HOME] = str(work / name)
        db.open_database()

    for index, (side, faults) in enumerate(scenarios.FAULTS):
        if args.only and args.only not in f"{side}.{','.join(faults)}":
            continue
        fresh_home(f"fault-{index}")
        with Sandbox(seed=100 + index, invoices=args.invoices, max_lifetime_s=1800) as box:
            box.configure_profile()
            outcome = scenarios.fault_in(box, side, faults)
            outcomes.append(outcome)
            print(f"  {outcome.scenario:<36} done in {outcome.recover_seconds:.1f}s", flush=True)
        if time.monotonic() > deadline:
            break
    # another writer while a cycle posts (a session evicted mid-post, a person's concurrent Skip) runs as
    # one more scenario of the same loop
    from tests.reliability.race_scenarios import RACES

    races = [(race.__name__.removesuffix("_in").replace("_", " "), race) for race in RACES]
    for index, (name, scenario) in enumerate(scenarios.SCENARIOS + races):
        if args.only and args.only not in name:
            continue
        fresh_home(f"scenario-{index}")
        with Sandbox(seed=200 + index, invoices=args.invoices, max_lifetime_s=1800) as box:
            box.configure_profile()
            outcome = scenario(box)
            outcomes.append(outcome)
            print(f"  {outcome.scenario:<36} done in {outcome.recover_seconds:.1f}s", flush=True)
    if os.name == "posix" and (not args.only or args.only in "SIGKILL"):
        for seed in range(args.seeds):
            fresh_home(f"kill-{seed}")
            with Sandbox(seed=seed, invoices=max(150, args.invoices // 10), max_lifetime_s=3600) as box:
                box.configure_profile()
                outcome = scenarios.crash_loop_in(box, seed=seed, kills=args.kills,
                                                  env=scenarios.subprocess_env(os.environ["XDG_DATA_HOME"]))
                outcomes.append(outcome)
                print(f"  {outcome.scenario:<36} {outcome.kills} kills landed", flush=True)
            if time.monotonic() > deadline:
                break
    db.close_database()

    header = (f"{'scenario':<38} {'invoices':>8} {'docs':>6} {'lost':>5} {'dup':>4} {'stuck':>6} "
              f"{'disagree':>8} {'kills':>6} {'recover s':>9}")
    print("\n" + header)
    print("-" * len(header))
    for o in outcomes:
        print(f"{o.scenario:<38} {o.invoices:>8} {o.documents:>6} {o.lost:>5} {o.duplicated:>4} {o.stuck:>6} "
              f"{o.disagree:>8} {o.kills:>6} {o.recover_seconds:>9.2f}")
    total = {k: sum(getattr(o, k) for o in outcomes) for k in ("invoices", "lost", "duplicated", "stuck", "kills")}
    print("-" * len(header))
    print(f"{len(outcomes)} scenarios, {total['invoices']} invoices, {total['kills']} kills: "
          f"lost {total['lost']}, duplicated {total['duplicated']}, stuck {total['stuck']}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
