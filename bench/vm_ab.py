"""Boot and shutdown under QEMU TCG for two checkouts, alternated: guest and wall seconds.

    python3 bench/vm_ab.py --trees /work/main,/work/wt/tcg14 [--repeat 3] [--scenario ovis|anopa]
    python3 bench/vm_ab.py --pythons lean,/usr/bin/python3 [--trees TREE] ...

``ovis``: the VM of ``tests/test_vm.py``'s poweroff test (the examples,
``vm-when-ready`` powering off): guest seconds from the kernel to "system
ready" (boot), from stage 1 to ready, and from the poweroff request to
reboot(2) (shutdown).  ``anopa``: anopa's own stage scripts on ovis's aa-*
(``tests/vmtools/anopa.py``): wall seconds from stage 0's first line to
the kernel's "Power down", that line's guest time (printk), and QEMU's whole run.  Each run boots the
tree's own ``tests.vmtools`` in a child started in that tree (so the VM
runs that tree's ovis), the trees alternated A B A B ...; prints each run
with the host's load, then per tree the median and the minimum, and the
median of the paired ratios B/A.  Under TCG the guest's clock runs with the
host's: a busy host slows every figure, which the pairing compensates for
only in part; with ``--icount SHIFT`` the guest clock counts the guest's
instructions while it runs (idle time still passes as real time), which a
busy host does not stretch: the guest figures then compare the work each
tree makes the VM do.  ``--pythons A,B`` alternates two interpreters the VM
runs ovis with (``$OVIS_VM_PYTHON``: a path, or ``lean`` for the test
runner's own through a venv) on one tree instead (this checkout unless
``--trees`` names one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, re, sys, tempfile
from pathlib import Path
sys.path.insert(0, ".")
from tests.vmtools import qemu, timeline
work = Path(tempfile.mkdtemp(prefix="ovis-vm-ab-"))
if sys.argv[1] == "anopa":
    from tests.vmtools import anopa
    sc = anopa.AnopaScenario(work / "vm")
    r = qemu.boot(sc, timeout=400, on_line=anopa.type_exit(), console_input=True)
    first = r.first("Stage 0: Mounting root file system")  # (colour codes around "==>")
    end = r.first(qemu.POWER_DOWN)
    m = r.marks()
    out = {"stage0 -> power down (wall)": end.wall - first.wall if first and end else None,
           # the kernel's printk stamp of "Power down": guest seconds from the kernel's start
           # (under --icount the figure that does not move with the host's load)
           "power down (guest)": m["end"].uptime if "end" in m else None,
           "qemu (wall)": r.wall}
else:
    sc = qemu.Scenario(work / "vm", action="poweroff")
    r = qemu.boot(sc, timeout=300)
    m = r.marks()
    ready = r.first("ovis: system ready in ")
    # stage 1 -> ready as ovis itself prints it (guest clock): exact, where the timeline
    # interpolates the "ready" line's uptime from host times (wrong under -icount)
    took = float(re.search(r"ready in ([0-9.]+) s", ready.text).group(1)) if ready else None
    out = {"stage 1 -> ready (guest)": took,
           "boot (guest)": m["stage1"].uptime + took if took is not None and "stage1" in m
           else None,
           "shutdown (guest)": timeline.summary(r).get("shutdown", (None,))[0],
           "qemu (wall)": r.wall}
out["ok"] = r.powered_off
import shutil; shutil.rmtree(work, ignore_errors=True)
print(json.dumps(out))
"""


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def one(tree: str, scenario: str, python: str | None = None) -> dict[str, float | None]:
    env = dict(os.environ)
    if python is not None:
        env["OVIS_VM_PYTHON"] = python
    r = subprocess.run([sys.executable, "-c", CHILD, scenario], cwd=tree, capture_output=True,
                       text=True, timeout=900, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{tree}: {r.stderr[-2000:]}")
    return json.loads(r.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trees", help="A,B: two checkouts (with --pythons: one)")
    p.add_argument("--pythons", help="A,B: two interpreters for the VM ($OVIS_VM_PYTHON: a path "
                   "or lean), alternated on one tree")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scenario", choices=["ovis", "anopa"], default="ovis")
    p.add_argument("--icount", metavar="SHIFT", help="QEMU -icount shift=SHIFT: while the guest "
                   "runs, its clock counts instructions (2^SHIFT ns each), so that the host's "
                   "load no longer stretches the guest's work")
    args = p.parse_args(argv)
    if args.icount is not None:
        # sleep=on (the default): idle time passes as real time. sleep=off would jump the
        # clock to the next timer whenever the guest waits, for the host's 9p replies too,
        # and timeouts then fire that never would (a 90 s shutdown seen that way).
        os.environ["OVIS_VM_QEMU_EXTRA"] = f"-icount shift={args.icount},sleep=on"
    if args.pythons:
        tree = args.trees or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        pythons = args.pythons.split(",")
        contenders = {py: (tree, py) for py in pythons}
    elif args.trees:
        contenders = {t: (t, None) for t in args.trees.split(",")}
    else:
        p.error("--trees or --pythons")
    trees = list(contenders)
    runs: dict[str, list[dict[str, float | None]]] = {t: [] for t in trees}
    for i in range(args.repeat):
        for t in trees:
            before = load()
            tree, python = contenders[t]
            res = one(tree, args.scenario, python)
            runs[t].append(res)
            print(f"run {i + 1} {t}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else
                                                 f"{k} {v}" for k, v in res.items())
                  + f"  (load {before} -> {load()})", flush=True)
    keys = [k for k in runs[trees[0]][0] if k != "ok"]
    for k in keys:
        print(f"\n{k}:")
        for t in trees:
            vals = [r[k] for r in runs[t] if isinstance(r.get(k), float)]
            if vals:
                print(f"  {t}: median {statistics.median(vals):.2f}  min {min(vals):.2f}  "
                      f"({len(vals)} runs)")
        if len(trees) == 2:
            pairs = [b[k] / a[k] for a, b in zip(runs[trees[0]], runs[trees[1]])
                     if isinstance(a.get(k), float) and isinstance(b.get(k), float) and a[k]]
            if pairs:
                print(f"  B/A paired: median {statistics.median(pairs):.2f} "
                      f"({', '.join(f'{x:.2f}' for x in pairs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
