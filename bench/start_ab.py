#!/usr/bin/env python3
"""``ovis start`` cold and warm for two checkouts, alternated (bench/compare.py's ovis runs).

Each repetition runs bench/compare.py's ovis contender (cold: definitions to
all up with a fresh LIVE and s6-svscan; warm: start again after ``stop
--all``) once per tree, the order alternating; the report gives medians and
the median of the paired ratios B/A, for wall seconds and for the CPU
seconds of the ``ovis start`` and ``ovis stop --all`` processes themselves
(their rusage: what load on a shared machine disturbs least).  Workloads: compare.py's (``wide`` is
300 trivial longruns) and ``wideN`` (N trivial longruns).

ovis runs as bench/compare.py runs it (``--via``, default the installed
console script that imports each tree's ovis: give ``--bindirs A,B`` when
the trees are installed in different environments).

Usage: python3 bench/start_ab.py --trees /work/main,. [--workloads wide,wide1000] [--repeat 5]
                                 [--bindirs BIN_A,BIN_B] [--via installed|module|module-S]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import boot  # noqa: E402
import compare  # noqa: E402


#: the commands whose CPU seconds (the reaped child's rusage) are reported too
CPU_CASES = ("cold start", "stop --all", "warm start")


def svcs_for(kind: str) -> list[compare.Svc]:
    if kind.startswith("wide") and kind[4:].isdigit():
        return [compare.Svc(name=f"w{i}") for i in range(int(kind[4:]))]
    return compare.workload(kind)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", required=True)
    ap.add_argument("--workloads", default="wide,wide1000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bindirs", help="comma-separated: where each tree's ovis is installed")
    ap.add_argument("--via", choices=boot.VIAS, default="installed")
    ap.add_argument("--aa", action="store_true",
                    help="ovis's aa-enable/aa-start/aa-stop -a on anopa directories instead "
                    "(compare.py's ovis-aa: 'stop --all' is aa-stop -a)")
    args = ap.parse_args()
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    boot.VIA = args.via
    if args.bindirs:
        for t, b in zip(trees, args.bindirs.split(",")):
            boot.BINDIRS[str(t)] = Path(b)
    print(f"via: {args.via}; " + ", ".join(
        f"{t.name}: {' '.join(boot.launcher('ovis', t))}" for t in trees))
    os.chdir("/")  # python -m puts the cwd first on sys.path
    print(f"load: {os.getloadavg()[0]:.1f}")
    print("| workload | case | " + " | ".join(t.name for t in trees)
          + " | ratio B/A (median of pairs) |\n|---|---|---|---|---|")
    for kind in args.workloads.split(","):
        svcs = svcs_for(kind)
        got: dict[tuple[int, int], list[float]] = {}
        for rep in range(args.repeat):
            for t in (trees if rep % 2 == 0 else trees[::-1]):
                boot.REPO = t
                root = Path(tempfile.mkdtemp(dir=boot.TMPFS))
                try:
                    cold, warm = (compare.c_ovis_aa if args.aa else compare.c_ovis)(root, svcs, {})
                finally:
                    shutil.rmtree(root, ignore_errors=True)
                i = trees.index(t)
                got.setdefault((0, i), []).append(cold)
                got.setdefault((1, i), []).append(warm or 0.0)
                for c, case in enumerate(CPU_CASES, 2):
                    got.setdefault((c, i), []).append(compare.CPU[case])
        for c, label in ((0, "cold"), (1, "warm"),
                         *((c, f"CPU of {case}") for c, case in enumerate(CPU_CASES, 2))):
            a, b = got[(c, 0)], got[(c, 1)]
            print(f"| {kind} | {label} | {statistics.median(a):.3f} s | {statistics.median(b):.3f} s | "
                  f"{statistics.median(y / x for x, y in zip(a, b)):.2f} |")
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
