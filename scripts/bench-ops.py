#!/usr/bin/env python3
"""Latency of the everyday read-only commands (docs/benchmarks.md, "Everyday commands").

Sets up N running longruns (one of them with a long log) in a temporary
LIVE with a real s6-svscan, then times ``ovis status``, ``ovis status NAME``
and ``ovis log -n 20 NAME`` as a user runs them (a new Python each time).
Usage: python3 scripts/bench-ops.py [N] [RUNS] [REPO-TO-TIME ...]
(each extra REPO is timed on the same system through PYTHONPATH, e.g.
a checkout of main, for a before/after comparison).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.defs import LONGRUN  # noqa: E402
from tests.livesys import LiveSystem  # noqa: E402


def timed(env: dict[str, str], args: list[str], runs: int) -> tuple[float, float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ovis", *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t0)
    return min(out), statistics.median(out)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    repos = [HERE, *(Path(r) for r in sys.argv[3:])]
    s = LiveSystem(Path(tempfile.mkdtemp(prefix="ovis-bench-")))
    for i in range(n):
        s.write(f"svc{i:03d}", LONGRUN.format(name=f"svc{i:03d}", run="sleep 1000",
                                             extra=f"Depends = ( svc{i - 1:03d} )" if i else ""))
    s.start_scandir()
    try:
        s.ovis("start", *[f"svc{i:03d}" for i in range(n)], check=True)
        log = s.logdir / "svc000" / "current"
        stamp = "@400000006b0e9f5e393e060c "
        with open(log, "a") as f:  # a log of 10000 lines to tail
            for i in range(10000):
                f.write(f"{stamp}line {i} of a busy log\n")
        print(f"{n} running longruns, svc000's log 10000 lines; best / median of {runs} runs")
        for args in (["--version"],):
            best, med = timed(dict(s.env, PYTHONPATH=str(HERE)), args, runs)
            print(f"(`ovis --version`, Python start-up and argparse: {best * 1000:.0f} ms / "
                  f"{med * 1000:.0f} ms)")
        print("| command | " + " | ".join(str(r) for r in repos) + " |")
        for args in (["status"], ["status", "svc010"], ["log", "-n", "20", "svc000"]):
            cells = []
            for r in repos:
                env = dict(s.env, PYTHONPATH=str(r))
                best, med = timed(env, args, runs)
                cells.append(f"{best * 1000:.0f} ms / {med * 1000:.0f} ms")
            print(f"| `ovis {' '.join(args)}` | " + " | ".join(cells) + " |")
    finally:
        s.stop_scandir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
