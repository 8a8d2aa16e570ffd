#!/usr/bin/env python3
"""Python CPU of a transaction's load + compile, per service, two trees alternated.

What ``ovis start``/``apply`` spend before they touch s6: the closure of N
66 frontends (parse, validate) and the compilation into servicedirs, in a
fresh process each time (as each command is one).  Three cases:

* cold: an empty LIVE (every servicedir written);
* warm: the servicedirs are there and up to date, no compile cache (what
  every command paid before the cache; the cache file is removed first);
* cached: the same with LIVE/compile-cache from the previous run (for a
  tree without the cache: warm again).

Each measured run follows an unmeasured one of the same case.

The trees (``--trees A,B``: checkouts, e.g. /work/main and this one) are
alternated inside each repetition; the report gives per-service CPU medians
and the median of the per-repetition ratios B/A.

Usage: python3 bench/compile_cost.py --trees /work/main,. [--sizes 300,1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import os, sys, time
from pathlib import Path
t0 = time.process_time()
from ovis.paths import Paths
from ovis.service.compiler import Compiler
from ovis.service.repository import Repository
d = Path(sys.argv[1]); n = int(sys.argv[2])
p = Paths(skel=d / "skel", services=(d / "services",), trees=d / "trees", live=d / "live",
          logdir=d / "log")
try:
    repo = Repository(p.services, live=p.live)
except TypeError:  # a tree without the compile cache
    repo = Repository(p.services)
t1 = time.process_time()
comp = Compiler(p)
for svc in repo.closure([f"s{i}" for i in range(n)]).values():
    comp.compile(svc)
try:
    from ovis.service.cache import for_live
    for_live(p.live).save()
except ImportError:
    pass
print(time.process_time() - t1)
"""

FRONTEND = ('[Main]\nType = classic\nDescription = "bench {i}"\n[Start]\n'
            'Execute = ( sleep {i}00000 )\n[Environment]\nA=b\n')


def run(tree: Path, d: Path, n: int) -> float:
    # cwd: ``python -c`` puts it first on sys.path, before PYTHONPATH
    out = subprocess.run([sys.executable, "-c", CHILD, str(d), str(n)], check=True,
                         capture_output=True, text=True, cwd=d,
                         env=dict(os.environ, PYTHONPATH=str(tree)))
    return float(out.stdout.strip()) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", required=True)
    ap.add_argument("--sizes", default="300,1000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    root = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    print(f"load: {os.getloadavg()[0]:.1f}")
    print("| N | case | " + " | ".join(f"{t.name} ms/service" for t in trees)
          + " | ratio (median of pairs) |\n|---|---|---|---|---|")
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            res: dict[tuple[str, int], list[float]] = {}
            for rep in range(args.repeat):
                order = trees if rep % 2 == 0 else trees[::-1]
                for t in order:
                    d = root / f"{t.name}-{n}"
                    if not (d / "services").is_dir():
                        (d / "services").mkdir(parents=True)
                        for i in range(n):
                            (d / "services" / f"s{i}").write_text(FRONTEND.format(i=i))
                    shutil.rmtree(d / "live", ignore_errors=True)
                    (d / "live").mkdir(mode=0o700)
                    res.setdefault(("cold", trees.index(t)), []).append(run(t, d, n))
                    for case in ("warm", "cached"):
                        # an unmeasured run first: the same case, settled
                        for measured in (False, True):
                            if case == "warm":
                                (d / "live" / "compile-cache").unlink(missing_ok=True)
                            got = run(t, d, n)
                            if measured:
                                res.setdefault((case, trees.index(t)), []).append(got)
            for case in ("cold", "warm", "cached"):
                a, b = res[(case, 0)], res[(case, 1)]
                ratio = statistics.median(y / x for x, y in zip(a, b))
                print(f"| {n} | {case} | {statistics.median(a) * 1000:.3f} | "
                      f"{statistics.median(b) * 1000:.3f} | {ratio:.2f} |")
        print(f"load: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
