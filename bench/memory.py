#!/usr/bin/env python3
"""Memory of a 1000-longrun start: the client's peak, and what stays behind.

Issue 13's memory target: for N trivial longruns (1000 by default),

* the peak RSS of the ``ovis start`` client (its ``ru_maxrss``, from
  ``wait4``) stays at or under 20 MB, however many services it starts;
* once it has returned, the system holds s6's memory alone: no ovis process
  stays resident, so the processes left are ``s6-svscan``, one
  ``s6-supervise`` per service and the services, and s6's memory (Pss)
  equals that of raw ``s6-svscan`` running the very same servicedirs.

Both systems run side by side in one run (ovis, raw, ovis, raw...).  The
processes counted are ``s6-svscan`` and all its descendants; "other" would
be any of them that is neither s6's nor a service (a Python left behind, a
run script that did not exec into its program).

With ``--trees A,B`` it compares two checkouts instead: the client's peak
RSS, cold and warm, and that of ``ovis stop --all``, each tree's run
alternating with the other's (the order rotating), medians and the median
of the paired ratios B/A.

Usage: python3 bench/memory.py [--n 1000] [--repeat 3] [--via installed|module|module-S]
       [--tree DIR [--bindir BIN]] [--write docs/benchmarks.md]
       python3 bench/memory.py --trees A,B [--bindirs BIN_A,BIN_B] [--n 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boot  # noqa: E402
from boot import TMPFS, copy_servicedirs, env_for, launcher, make_defs, raw_svscan, \
    stop_svscan, wait_all_up, wait_svscan  # noqa: E402

from ovis.docblock import write_block  # noqa: E402

LIMIT_MB = 20.0

#: s6's own processes; every other command name is a service's
#: (``sleep``) or "other".
S6 = ("s6-svscan", "s6-supervise")
SERVICE = ("sleep",)


def tree_memory(root_pid: int, live: str | None = None) -> dict[str, float]:
    """Processes and memory (Pss, MB) under *root_pid* (itself included): s6, services, other.

    By descent, not by session: s6-supervise makes each service a session
    leader of its own.  With *live*, a process outside the tree whose
    environment names that LIVE (an ovis client that forked off and stayed)
    counts as "other" too.
    """
    procs: dict[int, tuple[int, str, int]] = {}  # pid -> (ppid, comm, rss kB)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/smaps_rollup") as f:
                status = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        pss_kb = 0
        for line in status.splitlines():
            if line.startswith("Pss:"):
                pss_kb = int(line.split()[1])
        procs[int(entry)] = (ppid, comm, pss_kb)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out = {"s6": 0.0, "services": 0.0, "other": 0.0, "s6_n": 0, "services_n": 0, "other_n": 0}
    names: set[str] = set()
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        if pid not in procs:
            continue
        _, comm, pss_kb = procs[pid]
        kind = "s6" if comm in S6 else "services" if comm in SERVICE else "other"
        out[kind] += pss_kb / 1024
        out[f"{kind}_n"] += 1
        if kind == "other":
            names.add(comm)
    if live is not None:
        seen = set()
        todo = [root_pid]
        while todo:
            pid = todo.pop()
            seen.add(pid)
            todo.extend(children.get(pid, ()))
        mark = f"OVIS_LIVE={live}".encode()
        for pid, (_, comm, pss_kb) in procs.items():
            if pid in seen or pid == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if mark not in f.read().split(b"\0"):
                        continue
            except OSError:
                continue
            out["other"] += pss_kb / 1024
            out["other_n"] += 1
            names.add(comm)
    out["other_names"] = ",".join(sorted(names))  # type: ignore[assignment]
    return out


def settle() -> None:
    """Let the services finish exec'ing (a run script's execlineb, then sleep)."""
    time.sleep(1.0)


#: Forks and execs argv[2:], then writes its ``ru_maxrss`` (kB) to fd argv[1]: Linux keeps
#: the ``ru_maxrss`` a process had before ``execve`` (and a vfork'd or posix_spawn'ed child
#: is charged its parent's), so a client spawned straight from this script (16 MB and more
#: of Python) could never report less than this script's own peak.  This small forker
#: (a bare ``python -I -S``, about 8 MB, less than any ovis command) is the floor instead.
_FORKER = ("import os, sys\nfd = int(sys.argv[1])\npid = os.fork()\nif pid == 0:\n"
           "    os.close(fd)\n    os.execv(sys.argv[2], sys.argv[2:])\n"
           "_, st, ru = os.wait4(pid, 0)\nos.write(fd, str(ru.ru_maxrss).encode())\n"
           "os._exit(min(os.waitstatus_to_exitcode(st) & 255, 255))\n")


def peak_of(argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    """(exit status, peak RSS in MB) of *argv*: its own ``ru_maxrss``, not its spawner's."""
    import shutil as _shutil

    prog = argv[0] if "/" in argv[0] else (_shutil.which(argv[0], path=env.get("PATH")) or argv[0])
    r, w = os.pipe()
    try:
        forker = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FORKER, str(w), prog,
                                   *argv[1:]], env=env, stdout=subprocess.DEVNULL, pass_fds=(w,))
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        kb = f.read()
    forker.wait()
    return forker.returncode, int(kb or 0) / 1024


def start_peak(env: dict[str, str], names: list[str], verb: str = "start") -> float:
    """Run ``ovis start`` of *names* (or *verb*); its peak RSS in MB (its ``ru_maxrss``)."""
    rc, mb = peak_of([*launcher(), "-v", "0", verb, *names], env)
    if rc != 0:
        raise RuntimeError(f"ovis {verb} exited {rc}")
    return mb


def fresh_system(root: Path, n: int) -> tuple[list[str], dict[str, str], Path, subprocess.Popen]:
    """*n* definitions never compiled under *root*, and an s6-svscan on its empty scandir."""
    names = make_defs(root, n, chain=False)
    env = env_for(root)
    scandir = root / "live" / "scandir"
    svscan = subprocess.Popen([*launcher(), "scandir", "start"], env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL)
    wait_svscan(scandir)
    return names, env, scandir, svscan


def trees_peaks(n: int) -> dict[str, float]:
    """Cold start, stop --all and warm start of *n* longruns by boot.REPO's ovis: peak RSS, MB."""
    root = Path(tempfile.mkdtemp(prefix="ovis-mem-", dir=TMPFS))
    try:
        names, env, scandir, svscan = fresh_system(root, n)
        out = {"cold start": start_peak(env, names),
               "stop --all": start_peak(env, ["--all"], "stop"),
               "warm start": start_peak(env, names)}
        boot.ovis(env, "stop", "--all")
        stop_svscan(svscan, scandir)
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def compare_trees(trees: list[Path], n: int, repeat: int) -> int:
    got: dict[tuple[str, int], list[float]] = {}
    for rep in range(repeat):
        for t in (trees if rep % 2 == 0 else trees[::-1]):
            boot.REPO = t
            for case, mb in trees_peaks(n).items():
                got.setdefault((case, trees.index(t)), []).append(mb)
    print(f"{n} longruns, peak RSS of the client, {repeat} alternated runs per tree, "
          f"load {os.getloadavg()[0]:.1f}; ovis run as `{' '.join(launcher())}`")
    print(f"| case | {trees[0].name} | {trees[1].name} | ratio B/A (median of pairs) |\n"
          "|---|---:|---:|---:|")
    for case in ("cold start", "stop --all", "warm start"):
        a, b = got[(case, 0)], got[(case, 1)]
        print(f"| {case} | {statistics.median(a):.1f} MB | {statistics.median(b):.1f} MB | "
              f"{statistics.median(y / x for x, y in zip(a, b)):.2f} |")
    return 0


def ovis_run(n: int) -> tuple[dict[str, float], Path]:
    root = Path(tempfile.mkdtemp(prefix="ovis-mem-", dir=TMPFS))
    names, env, scandir, svscan = fresh_system(root, n)
    peak = start_peak(env, names)
    settle()
    mem = tree_memory(svscan.pid, env["OVIS_LIVE"])
    mem["peak_mb"] = peak
    boot.ovis(env, "stop", "--all")
    mem["warm_peak_mb"] = start_peak(env, names)
    boot.ovis(env, "stop", "--all")
    stop_svscan(svscan, scandir)
    return mem, root


def raw_run(compiled: Path, n: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="raw-mem-", dir=TMPFS))
    scandir = root / "scandir"
    dirs = copy_servicedirs(compiled, scandir)
    svscan = raw_svscan(scandir, n)
    wait_all_up(dirs, poll=0.005)
    settle()
    mem = tree_memory(svscan.pid)
    stop_svscan(svscan, scandir)
    shutil.rmtree(root, ignore_errors=True)
    return mem


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", metavar="FILE", help="replace the table in this markdown file")
    ap.add_argument("--via", choices=boot.VIAS, default="installed",
                    help="how ovis is run (bench/boot.py's launcher): installed, module, module-S")
    ap.add_argument("--tree", help="measure the ovis of this checkout (default: this one's)")
    ap.add_argument("--bindir", help="where --via installed finds that tree's console scripts")
    ap.add_argument("--trees", help="A,B: compare two checkouts' client peaks, alternated")
    ap.add_argument("--bindirs", help="with --trees: where each tree's ovis is installed")
    args = ap.parse_args()
    boot.VIA = args.via
    if args.trees:
        trees = [Path(t).resolve() for t in args.trees.split(",")]
        for t, b in zip(trees, (args.bindirs or "").split(",") if args.bindirs else ()):
            boot.BINDIRS[str(t)] = Path(b)
        return compare_trees(trees, args.n, args.repeat)
    if args.tree:
        boot.REPO = Path(args.tree).resolve()
    if args.bindir:
        boot.BINDIRS[str(boot.REPO)] = Path(args.bindir)
    rows: list[tuple[dict[str, float], dict[str, float]]] = []
    for _ in range(args.repeat):
        mem, root = ovis_run(args.n)
        rows.append((mem, raw_run(root, args.n)))
        shutil.rmtree(root, ignore_errors=True)
    peak = max(m["peak_mb"] for m, _ in rows)
    warm_peak = max(m["warm_peak_mb"] for m, _ in rows)
    # s6's own processes: the services' Pss moves with what else maps their
    # libraries at the moment (Pss splits shared pages among their users)
    ratio = statistics.median(m["s6"] / r["s6"] for m, r in rows)
    others = max(m["other_n"] for m, _ in rows)
    other_names = ",".join(sorted({m["other_names"] for m, _ in rows if m["other_names"]}))
    m, r = rows[len(rows) // 2]
    lines = [
        f"| {args.n} longruns | ovis | raw s6-svscan |",
        "|---|---:|---:|",
        f"| `ovis start` client, peak RSS, cold (max of {args.repeat}) | {peak:.1f} MB | — |",
        f"| `ovis start` client, peak RSS, warm (max of {args.repeat}) | {warm_peak:.1f} MB | — |",
        f"| s6 processes after start (count, Pss) | {m['s6_n']:.0f}, {m['s6']:.1f} MB "
        f"| {r['s6_n']:.0f}, {r['s6']:.1f} MB |",
        f"| services (count, Pss) | {m['services_n']:.0f}, {m['services']:.1f} MB "
        f"| {r['services_n']:.0f}, {r['services']:.1f} MB |",
        f"| any other process left (max of {args.repeat}) | {others:.0f}"
        f"{' (' + other_names + ')' if other_names else ''} | — |",
        f"| s6's memory, ovis / raw (median of pairs) | {ratio:.3f} | — |",
    ]
    table = "\n".join(lines)
    print(table)
    verdict = max(peak, warm_peak) <= LIMIT_MB and others == 0
    print(f"target (peak <= {LIMIT_MB:.0f} MB, nothing but s6 and the services left): "
          f"{'met' if verdict else 'NOT met'}")
    if args.write:
        write_block(Path(args.write), "bench/memory.py",
                    f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, one run of "
                    f"`bench/memory.py --n {args.n} --repeat {args.repeat}` on a "
                    f"{os.cpu_count()}-core shared machine (load average "
                    f"{os.getloadavg()[0]:.1f} at the end), ovis and raw alternated; "
                    f"ovis run as `{' '.join(Path(c).name for c in launcher())}`.\n\n{table}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
