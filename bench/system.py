#!/usr/bin/env python3
"""Boot-to-ready and shutdown times of the example system, booted as PID 1.

Runs ``ovis demo`` (the bundled examples booted by ``ovis boot`` in new PID
and mount namespaces) several times and timestamps, on the host, the console
lines as they arrive:

* boot to ready: from starting ``unshare ... ovis boot`` to "system ready"
  (Python start-up of stage 1 included), and the figure ovis itself reports
  (from stage 1's first instruction);
* shutdown: from "stage 3" (the poweroff request being acted on) to PID 1's
  end, i.e. services stopped in order, processes killed, filesystems
  unmounted, reboot(2).

Usage: python3 bench/system.py [--repeat 5] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ovis.docblock import write_block  # noqa: E402


def one_run() -> dict[str, float]:
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "ovis", "demo"], cwd=REPO, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    marks: dict[str, float] = {}
    reported = None
    assert p.stdout is not None
    for line in p.stdout:
        now = time.monotonic() - t0
        if "system ready in" in line and "ready" not in marks:
            marks["ready"] = now
            m = re.search(r"system ready in ([0-9.]+) s", line)
            reported = float(m.group(1)) if m else None
        elif "stage 3:" in line and "stage3" not in marks:
            marks["stage3"] = now
    p.wait()
    end = time.monotonic() - t0
    if p.returncode != 0 or "ready" not in marks or "stage3" not in marks:
        raise SystemExit(f"demo run failed (status {p.returncode})")
    return {"ready": marks["ready"], "reported": reported or 0.0,
            "shutdown": end - marks["stage3"], "total": end}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--write", metavar="FILE")
    args = ap.parse_args()
    runs = [one_run() for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    lo = {k: min(r[k] for r in runs) for k in runs[0]}
    hi = {k: max(r[k] for r in runs) for k in runs[0]}
    rows = [("boot to ready (host clock, from `unshare`)", "ready"),
            ("boot to ready (reported by stage 2, from stage 1)", "reported"),
            ("shutdown (stage 3 to PID 1's end)", "shutdown"),
            ("whole demo run", "total")]
    table = "\n".join(["| example system (4 services) | median | min | max |", "|---|---|---|---|"]
                      + [f"| {label} | {med[k]:.3f} s | {lo[k]:.3f} s | {hi[k]:.3f} s |"
                         for label, k in rows])
    print(table)
    if args.write:
        write_block(Path(args.write), "bench/system.py",
                    f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, one run on a "
                    f"{os.cpu_count()}-core shared machine (load average "
                    f"{os.getloadavg()[0]:.1f} at the end), "
                 f"{args.repeat} runs of `ovis demo` (PID 1 in PID+mount namespaces, "
                 f"GRACETIME=1000):\n\n{table}")

if __name__ == "__main__":
    main()
