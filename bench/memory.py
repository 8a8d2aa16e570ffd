#!/usr/bin/env python3
"""Memory of a 1000-longrun start: the client's peak, and what stays behind.

Issue 13's memory target: for N trivial longruns (1000 by default),

* the peak RSS of the ``ovis start`` client (its ``ru_maxrss``, from
  ``wait4``) stays at or under 20 MB, however many services it starts;
* once it has returned, the system holds s6's memory alone: no ovis process
  stays resident, so the processes left are ``s6-svscan``, one
  ``s6-supervise`` per service and the services, and their total RSS equals
  that of raw ``s6-svscan`` running the very same servicedirs.

Both systems run side by side in one run (ovis, raw, ovis, raw...).  The
processes counted are ``s6-svscan`` and all its descendants; "other" would
be any of them that is neither s6's nor a service (a Python left behind, a
run script that did not exec into its program).

Usage: python3 bench/memory.py [--n 1000] [--repeat 3] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ovis.docblock import write_block  # noqa: E402
from ovis.s6.control import svscan_running, svscan_send  # noqa: E402
from ovis.s6.status import read_status  # noqa: E402

TMPFS = "/dev/shm" if os.path.isdir("/dev/shm") else None
LIMIT_MB = 20.0

DEF = """\
[Main]
Type = classic
Description = "trivial"
Options = ( !log )
[Start]
Execute = ( sleep 100000 )
"""

#: s6's own processes; every other command name is a service's
#: (``sleep``) or "other".
S6 = ("s6-svscan", "s6-supervise")
SERVICE = ("sleep",)


#: --tree: run that tree's ovis (``python -m ovis`` with it first on the path)
TREE: str | None = None


def ovis_command() -> list[str]:
    """ovis as installed next to this interpreter (what users run), else ``-m ovis``."""
    if TREE is not None:
        return [sys.executable, "-m", "ovis"]
    launcher = Path(sys.executable).parent / "ovis"
    return [str(launcher)] if launcher.exists() else [sys.executable, "-m", "ovis"]


def env_for(root: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"], "PYTHONPATH": TREE or str(REPO),
        "OVIS_LIVE": str(root / "live"), "OVIS_SERVICES": str(root / "services"),
        "OVIS_TREES": str(root / "trees"), "OVIS_LOGDIR": str(root / "log"),
        "OVIS_SKEL": str(root / "skel"),
    }


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


def wait_all_up(dirs: list[Path]) -> None:
    pending = list(dirs)
    while pending:
        pending = [d for d in pending if not _up(d)]
        if pending:
            time.sleep(0.005)


def _up(d: Path) -> bool:
    try:
        st = read_status(d)
    except Exception:
        return False
    return st is not None and st.up


def stop_svscan(proc: subprocess.Popen[bytes], scandir: Path) -> None:
    try:
        svscan_send(scandir, "t")
    except Exception:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def settle() -> None:
    """Let the services finish exec'ing (a run script's execlineb, then sleep)."""
    time.sleep(1.0)


def start_peak(env: dict[str, str], names: list[str]) -> float:
    """Run ``ovis start`` of *names*; its peak RSS in MB (``ru_maxrss`` from wait4)."""
    client = subprocess.Popen([*ovis_command(), "-v", "0", "start", *names], env=env,
                              stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(client.pid, 0)
    client.returncode = os.waitstatus_to_exitcode(status)
    if client.returncode != 0:
        raise RuntimeError(f"ovis start exited {client.returncode}")
    return usage.ru_maxrss / 1024


def ovis_run(n: int) -> tuple[dict[str, float], Path]:
    root = Path(tempfile.mkdtemp(prefix="ovis-mem-", dir=TMPFS))
    d = root / "services"
    d.mkdir()
    names = [f"svc{i:04d}" for i in range(n)]
    for name in names:
        (d / name).write_text(DEF)
    env = env_for(root)
    scandir = root / "live" / "scandir"
    svscan = subprocess.Popen([*ovis_command(), "scandir", "start"], env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL)
    while not svscan_running(scandir):
        time.sleep(0.005)
    peak = start_peak(env, names)
    settle()
    mem = tree_memory(svscan.pid, env["OVIS_LIVE"])
    mem["peak_mb"] = peak
    subprocess.run([*ovis_command(), "-v", "0", "stop", "--all"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    mem["warm_peak_mb"] = start_peak(env, names)
    subprocess.run([*ovis_command(), "-v", "0", "stop", "--all"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    stop_svscan(svscan, scandir)
    return mem, root


def raw_run(compiled: Path, n: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="raw-mem-", dir=TMPFS))
    scandir = root / "scandir"
    scandir.mkdir()
    dirs = []
    for e in sorted(os.listdir(compiled / "live" / "sv")):
        if e.startswith("."):
            continue
        dst = scandir / e
        shutil.copytree(compiled / "live" / "sv" / e, dst,
                        ignore=shutil.ignore_patterns("supervise", "event", "down", "ovis.json"))
        dirs.append(dst)
    svscan = subprocess.Popen(["s6-svscan", "-c", str(max(1000, 4 * n)), "-t", "0", str(scandir)],
                              start_new_session=True)
    wait_all_up(dirs)
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
    ap.add_argument("--tree", help="measure this checkout's ovis (python -m ovis) instead")
    args = ap.parse_args()
    global TREE
    TREE = args.tree
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
                    f"ovis run as `{' '.join(Path(c).name for c in ovis_command())}`.\n\n{table}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
