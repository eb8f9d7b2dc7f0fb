"""Benchmark: one benchmark script at two commits, run alternately (A B A B …) on the same machine.

Alternating keeps slow drift of the machine (other load, thermal state, page cache) from landing
on one side only. Each commit is exported with `git archive` into a temporary folder and the
script runs there with that folder first on PYTHONPATH, so each side imports its own code; both
use this interpreter and its installed packages. The tables each run prints are shown as they are,
labelled by commit and round; nothing is asserted.

    python benchmarks/compare_commits.py BASE [HEAD] [--rounds 2] [--script benchmarks/sync_throughput.py]
                                         [-- script arguments, default --quick]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN_LIMIT_S = 900


def export(commit: str, into: Path) -> str:
    """The commit's tree in `into`; returns its short id."""
    short = subprocess.run(["git", "rev-parse", "--short", commit], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.strip()
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO, check=True, stdout=out)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return short


def run(tree: Path, script: str, args: list[str]) -> tuple[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, script, *args], cwd=tree, env=env, capture_output=True, text=True,
                              timeout=RUN_LIMIT_S)
        output = done.stdout + (f"\n(exit code {done.returncode})\n{done.stderr[-2000:]}" if done.returncode else "")
    except subprocess.TimeoutExpired:
        output = f"(stopped after {RUN_LIMIT_S} s)"
    return output, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args = ["--quick"]
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--script", default="benchmarks/sync_throughput.py")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlc-compare-") as tmp:
        sides = []
        for name, commit in (("base", args.base), ("head", args.head)):
            tree = Path(tmp) / name
            tree.mkdir()
            sides.append((export(commit, tree), tree))
        print(f"{args.script} {' '.join(script_args)}: base {sides[0][0]} against head {sides[1][0]}, "
              f"{args.rounds} alternating round(s)\n")
        for round_no in range(1, args.rounds + 1):
            for short, tree in sides:
                output, took = run(tree, args.script, script_args)
                print(f"=== round {round_no}, {short} ({took:.0f} s) ===")
                print(output.rstrip() + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
