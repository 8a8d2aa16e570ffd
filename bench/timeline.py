#!/usr/bin/env python3
"""Where a cold ``ovis start`` spends its wall time: a timeline per run, trees alternated.

For one of bench/compare.py's workloads, on an empty LIVE with s6-svscan
already running (``ovis scandir start``, not timed), one ``ovis start`` of
everything; afterwards, from what is on disk, milliseconds after the
command began:

* *written*: the first and last ``LIVE/sv/NAME/ovis.json`` (servicedir complete);
* *supervisors*: the first and last ``supervise/lock`` (s6-supervise running);
* *up*: the first and last longrun's ``supervise/status`` stamp (last change:
  up, or ready for a notifying one);
* *total*: ``ovis start`` returned.

Trees (``--trees A,B``, ``--bindirs``) are alternated inside each repetition,
as bench/start_ab.py does; ovis runs as installed (the console script of
each bindir).  One line per run: read the gaps (first written -> first up,
last supervisor -> last up), not the absolute times, on a shared machine.

Usage: python3 bench/timeline.py --trees /work/main,. --bindirs BIN_A,BIN_B
                                 [--workloads wide,dag,chain] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import boot  # noqa: E402
import compare  # noqa: E402

from ovis.s6.tai import tain_to_unix  # noqa: E402


def _stamp(servicedir: Path) -> float:
    """The time of the last change s6-supervise recorded (the status file's TAI64N)."""
    with open(servicedir / "supervise" / "status", "rb") as f:
        b = f.read(12)
    return tain_to_unix(int.from_bytes(b[:8], "big"), int.from_bytes(b[8:12], "big"))


def one(kind: str, tree: Path, bindir: str) -> str:
    svcs = compare.workload(kind)
    root = Path(tempfile.mkdtemp(prefix="ovis-timeline-", dir=boot.TMPFS))
    try:
        compare.write_66(root / "services", svcs)
        env = boot.env_for(root)
        env["PYTHONPATH"] = str(tree)
        ovis = [f"{bindir}/ovis", "-v", "0"]
        scandir = root / "live" / "scandir"
        p = subprocess.Popen([*ovis, "scandir", "start"], env=env, start_new_session=True)
        try:
            boot.wait_svscan(scandir)
            t0 = time.time()
            subprocess.run([*ovis, "start", *[s.name for s in svcs]], env=env, check=True)
            t1 = time.time()
            sv = root / "live" / "sv"
            made = [os.stat(sv / s.name / "ovis.json").st_mtime for s in svcs]
            longruns = [sv / s.name for s in svcs if not s.oneshot]
            sup = [os.stat(d / "supervise" / "lock").st_mtime for d in longruns]
            up = [_stamp(d) for d in longruns]
        finally:
            boot.stop_svscan(p, scandir)

        def ms(x: float) -> str:
            return f"{(x - t0) * 1000:7.1f}"
        return (f"total {ms(t1)} | written {ms(min(made))}..{ms(max(made))} | supervisors "
                f"{ms(min(sup))}..{ms(max(sup))} | up {ms(min(up))}..{ms(max(up))}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trees", required=True)
    ap.add_argument("--bindirs", required=True, help="each tree's installed console scripts")
    ap.add_argument("--workloads", default="wide,dag,chain")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    trees = [Path(t).resolve() for t in a.trees.split(",")]
    bindirs = a.bindirs.split(",")
    if len(bindirs) != len(trees):
        raise SystemExit("--bindirs: one per tree")
    print(f"load: {os.getloadavg()[0]:.1f}")
    for kind in a.workloads.split(","):
        for r in range(a.repeat):
            order = list(range(len(trees)))
            if r % 2:
                order.reverse()
            for i in order:
                print(f"{kind} #{r + 1} {trees[i].name}: {one(kind, trees[i], bindirs[i])}", flush=True)
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
