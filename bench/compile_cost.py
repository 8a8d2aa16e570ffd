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

With ``--start``, one more case: *start*, the CPU (user + system, from
the child's rusage: robust on a loaded machine, unlike wall time) of the
``ovis start`` process itself on definitions never seen (an empty LIVE, an
``ovis scandir start`` run before it and not counted), per service: the
cold start of bench/compare.py with everything of ovis in it but the
interpreter's start-up being the same.

The trees (``--trees A,B``: checkouts, e.g. /work/main and this one) are
alternated inside each repetition; the report gives per-service CPU medians
and the median of the per-repetition ratios B/A.

Usage: python3 bench/compile_cost.py --trees /work/main,. [--sizes 300,1000] [--repeat 5] [--start]
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


def start_cpu(tree: Path, d: Path, n: int) -> float:
    """CPU seconds per service of a cold ``ovis start`` of the N services (see --start)."""
    import resource
    import time

    live = d / "start-live"
    shutil.rmtree(live, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(tree), OVIS_LIVE=str(live),
               OVIS_SERVICES=str(d / "services"), OVIS_TREES=str(d / "trees"),
               OVIS_LOGDIR=str(d / "start-log"), OVIS_SKEL=str(d / "skel"))
    ovis = [sys.executable, "-m", "ovis", "-v", "0"]
    svscan = subprocess.Popen([*ovis, "scandir", "start"], cwd=d, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = live / "scandir" / ".s6-svscan" / "lock"
    try:
        deadline = time.monotonic() + 60
        while not _locked(lock):
            if time.monotonic() > deadline or svscan.poll() is not None:
                raise RuntimeError("s6-svscan did not start")
            time.sleep(0.005)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([*ovis, "start", *(f"s{i}" for i in range(n))], cwd=d, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        subprocess.run(["s6-svscanctl", "-t", str(live / "scandir")], stderr=subprocess.DEVNULL)
        try:
            svscan.wait(timeout=30)
        except subprocess.TimeoutExpired:
            svscan.kill()
            svscan.wait()
        try:
            os.killpg(svscan.pid, 9)  # whatever of its session is left
        except OSError:
            pass
    return (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / n


def _locked(lock: Path) -> bool:
    import fcntl

    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", required=True)
    ap.add_argument("--sizes", default="300,1000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--start", action="store_true",
                    help="also the CPU of a whole cold `ovis start` (s6-svscan running)")
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
                    if args.start:
                        res.setdefault(("start", trees.index(t)), []).append(start_cpu(t, d, n))
            for case in ("cold", "warm", "cached") + (("start",) if args.start else ()):
                a, b = res[(case, 0)], res[(case, 1)]
                ratio = statistics.median(y / x for x, y in zip(a, b))
                print(f"| {n} | {case} | {statistics.median(a) * 1000:.3f} | "
                      f"{statistics.median(b) * 1000:.3f} | {ratio:.2f} |")
        print(f"load: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
