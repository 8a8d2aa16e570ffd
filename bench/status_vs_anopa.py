#!/usr/bin/env python3
"""``ovis status`` of N up longruns against upstream anopa's ``aa-status -a``, alternated.

Issue 13's target is ``ovis status`` of 1000 services at most 3x upstream
``aa-status -a`` of 1000.  Both systems are made here, once, by the
installation in ``--bindir``: N trivial longruns compiled and up under a
private s6-svscan (what ``ovis status`` reads), and an anopa repository of
the same N services enabled and started by that installation's
``aa-enable``/``aa-start`` (what upstream ``aa-status`` reads).  The two
commands then alternate (A B, B A, ...), and the report gives each one's
median CPU (user+sys, from wait4) and wall time, and the medians of the
paired ratios.

Usage: python3 bench/status_vs_anopa.py --anopa /work/build/anopa/bin
       [--bindir /root/.pyenv/versions/3.11.7/bin] [--n 1000] [--repeat 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from launch_ab import AnopaRepo, System, run_once  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--anopa", required=True, type=Path, help="directory of upstream anopa's aa-* binaries")
    ap.add_argument("--bindir", type=Path, default=Path(sys.executable).parent,
                    help="the ovis installation's console scripts (default: next to this interpreter)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=21)
    args = ap.parse_args()
    os.chdir("/")
    system = System(args.bindir, args.n)
    try:
        repo = AnopaRepo(args.bindir, args.n)
        try:
            upstream = [str(args.anopa / "aa-status"), "-r", str(repo.repo), "-a"]
            ovis = [str(args.bindir / "ovis"), "status"]
            load0 = os.getloadavg()[0]
            got: dict[str, list[tuple[float, float]]] = {"aa-status": [], "ovis": []}
            for rep in range(args.repeat):
                order = [("aa-status", upstream), ("ovis", ovis)]
                for key, argv in (order if rep % 2 == 0 else order[::-1]):
                    got[key].append(run_once(argv, system.env))
        finally:
            repo.close()
    finally:
        system.close()
    a, b = got["aa-status"], got["ovis"]
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, shared; N = {args.n}; "
          f"{args.repeat} alternated rounds; load {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print("\n| command | wall (ms, median) | cpu (ms, median) |\n|---|---:|---:|")
    for key, runs in got.items():
        print(f"| {key} | {statistics.median(w for w, _ in runs) * 1000:.1f} "
              f"| {statistics.median(c for _, c in runs) * 1000:.1f} |")
    rw = statistics.median(y[0] / x[0] for x, y in zip(a, b))
    rc = statistics.median(y[1] / x[1] for x, y in zip(a, b) if x[1] > 0)
    print(f"\novis status / upstream aa-status -a (median of pairs): wall {rw:.2f}x, cpu {rc:.2f}x")


if __name__ == "__main__":
    main()
