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

With ``--aa --anopa DIR`` upstream anopa's ``aa-enable``/``aa-start``/``aa-stop -a``
(compare.py's anopa contender) runs as a third contender, the order rotating
among the three, and each tree's figures are also given as the median of its
paired ratios tree/anopa: one command for "ovis aa-enable+aa-start against
anopa's, cold, 300".  With ``--aa`` the wall and CPU seconds of ``aa-enable``
itself (part of "cold") and the wall seconds of ``aa-stop -a`` are reported too.

Usage: python3 bench/start_ab.py --trees /work/main,. [--workloads wide,wide1000] [--repeat 5]
                                 [--bindirs BIN_A,BIN_B] [--via installed|module|module-S]
                                 [--aa [--anopa DIR]]
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
#: with --aa, aa-enable's own wall and CPU seconds (inside "cold") too
AA_CASES = ("enable",)
ANOPA = "anopa"


def svcs_for(kind: str) -> list[compare.Svc]:
    if kind.startswith("wide") and kind[4:].isdigit():
        return [compare.Svc(name=f"w{i}") for i in range(int(kind[4:]))]
    return compare.workload(kind)


def _one(who: str, trees: list[Path], svcs: list[compare.Svc], aa: bool,
         anopa: str | None) -> dict[str, float]:
    """One cold+warm run of *who* (a tree's path, or ANOPA): its figures by case."""
    root = Path(tempfile.mkdtemp(dir=boot.TMPFS))
    compare.CPU.clear()
    compare.WALL.clear()
    try:
        if who == ANOPA:
            cold, warm = compare.c_anopa(root, svcs, {"anopa": anopa or ""})
        else:
            boot.REPO = Path(who)
            cold, warm = (compare.c_ovis_aa if aa else compare.c_ovis)(root, svcs, {})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    got = {"cold": cold, "warm": warm or 0.0}
    for case in AA_CASES + ("stop",) if aa else ():
        got[f"wall of {case}"] = compare.WALL[case]
    for case in (AA_CASES if aa else ()) + CPU_CASES:
        got[f"CPU of {case}"] = compare.CPU[case]
    return got


def _ratio(xs: list[float], ys: list[float]) -> str:
    pairs = [y / x for x, y in zip(xs, ys) if x > 0]
    return f"{statistics.median(pairs):.2f}" if pairs else "—"


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
    ap.add_argument("--anopa", metavar="DIR",
                    help="with --aa: upstream anopa's aa-* binaries in DIR as a third contender, "
                    "alternated with the trees (ratios tree/anopa)")
    args = ap.parse_args()
    if args.anopa and not args.aa:
        ap.error("--anopa needs --aa")
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    boot.VIA = args.via
    if args.bindirs:
        for t, b in zip(trees, args.bindirs.split(",")):
            boot.BINDIRS[str(t)] = Path(b)
    print(f"via: {args.via}; " + ", ".join(
        f"{t.name}: {' '.join(boot.launcher('aa-start' if args.aa else 'ovis', t))}" for t in trees)
        + (f"; anopa: {args.anopa}" if args.anopa else ""))
    os.chdir("/")  # python -m puts the cwd first on sys.path
    print(f"load: {os.getloadavg()[0]:.1f}")
    who = [str(t) for t in trees] + ([ANOPA] if args.anopa else [])
    names = [t.name for t in trees] + ([ANOPA] if args.anopa else [])
    head = "| workload | case | " + " | ".join(f"{n} median (min)" for n in names) \
        + " | B/A (median of pairs) |" + "".join(f" {n}/anopa |" for n in names[:2] if args.anopa)
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for kind in args.workloads.split(","):
        svcs = svcs_for(kind)
        got: dict[str, dict[str, list[float]]] = {w: {} for w in who}
        for rep in range(args.repeat):
            order = who[rep % len(who):] + who[:rep % len(who)]
            if rep % 2 and not args.anopa:
                order = who[::-1]
            for w in order:
                for case, value in _one(w, trees, svcs, args.aa, args.anopa).items():
                    got[w].setdefault(case, []).append(value)
        for case in got[who[0]]:
            cols = [f"{statistics.median(got[w][case]):.3f} s ({min(got[w][case]):.3f})"
                    for w in who]
            row = f"| {kind} | {case} | " + " | ".join(cols) + \
                f" | {_ratio(got[who[0]][case], got[who[1]][case])} |"
            if args.anopa:
                row += "".join(f" {_ratio(got[ANOPA][case], got[w][case])} |" for w in who[:2])
            print(row)
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
