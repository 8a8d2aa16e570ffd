#!/usr/bin/env python3
"""Short commands as installed, for two (or more) installations, alternated.

Boot scripts call ``ovis status``, ``aa-echo``, ``aa-status`` dozens of times:
what counts is each command's whole cost as a user runs it, interpreter
start-up and ``site`` included.  Each installation is a directory of console
scripts (``BINDIR/ovis``, ``BINDIR/aa-echo``...) run directly by path, the way
a PATH lookup finds them but without a shim in front (pyenv's shims are bash
scripts: name them and they are measured too).  Whether a script is a lean
launcher (``#!PYTHON -IS``, ovis/cli/launchers.py) or pip's is printed.

Commands: ``ovis --version``, ``aa-echo``, ``ovis status`` of the bundled
examples (not compiled: they are parsed), the same once they are compiled
and up (``status-examples-up``: what a booted system's scripts see; the
last installation starts them), ``ovis is-enabled``, ``ovis
--help``, ``ovis status`` of N trivial longruns up (compiled and started
once, by the last installation, under a private s6-svscan), ``ovis status
NAME`` of one of them, and ``aa-status`` of an anopa repository of N up
services (made by the last installation's ``aa-enable``) with ``-a`` and for
one name.  Each run: wall time and the child's CPU (user+sys, from wait4);
the installations alternate (A B, B A, ...) and the report gives medians and
the median of the paired ratios against the first.

Usage: python3 bench/launch_ab.py --bins /root/.pyenv/versions/3.11.7/bin,/work/venv/NAME/bin
       [--repeat 15] [--n 1000] [--only version,echo,...]
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

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from boot import REPO, TMPFS, make_defs, stop_svscan, wait_svscan  # noqa: E402


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run, output to /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
            (os.POSIX_SPAWN_DUP2, null, 2)])
        _, _status, ru = os.wait4(pid, 0)
        return time.perf_counter() - t0, ru.ru_utime + ru.ru_stime
    finally:
        os.close(null)


def kind_of(script: Path) -> str:
    try:
        first = script.read_text(errors="replace").split("\n", 1)[0]
    except OSError:
        return "missing"
    return "lean launcher" if first.split()[1:2] == ["-IS"] else "pip script"


def env_for(root: Path, services: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "OVIS_LIVE": str(root / "live"),
            "OVIS_SERVICES": str(services), "OVIS_TREES": str(root / "trees"),
            "OVIS_LOGDIR": str(root / "log"), "OVIS_SKEL": str(root / "skel")}


class System:
    """N trivial longruns compiled and up under a private s6-svscan (started by *bindir*'s ovis)."""

    def __init__(self, bindir: Path, n: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="launch-", dir=TMPFS))
        self.names = make_defs(self.root, n, chain=False)
        self.env = env_for(self.root, self.root / "services")
        ovis = str(bindir / "ovis")
        self.proc = subprocess.Popen([ovis, "scandir", "start"], env=self.env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_svscan(self.root / "live" / "scandir")
        subprocess.run([ovis, "-v", "0", "start", *self.names], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def close(self) -> None:
        stop_svscan(self.proc, self.root / "live" / "scandir")
        shutil.rmtree(self.root, ignore_errors=True)


class ExamplesUp:
    """The bundled 66 examples compiled and up under a private s6-svscan (started by *bindir*'s ovis)."""

    def __init__(self, bindir: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="launch-exup-", dir=TMPFS))
        self.env = env_for(self.root, REPO / "examples" / "66")
        ovis = str(bindir / "ovis")
        self.proc = subprocess.Popen([ovis, "scandir", "start"], env=self.env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_svscan(self.root / "live" / "scandir")
        subprocess.run([ovis, "-v", "0", "start", "clock", "spoold"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def close(self) -> None:
        stop_svscan(self.proc, self.root / "live" / "scandir")
        shutil.rmtree(self.root, ignore_errors=True)


class AnopaRepo:
    """An anopa repository of N up longruns, made and started by *bindir*'s aa-enable/aa-start."""

    def __init__(self, bindir: Path, n: int) -> None:
        from compare import Svc, svscan, wait_supervisors, write_anopa

        self.root = Path(tempfile.mkdtemp(prefix="launch-aa-", dir=TMPFS))
        svcs = [Svc(f"w{i:04d}") for i in range(n)]
        src, self.repo, lst = self.root / "src", self.root / "repo", self.root / "list"
        write_anopa(src, svcs)
        lst.mkdir()
        for s in svcs:
            (lst / s.name).touch()
        subprocess.run([str(bindir / "aa-enable"), "-q", "-r", str(self.repo), "-S", str(src),
                        "-l", str(lst)], check=True, stdout=subprocess.DEVNULL)
        self.proc = svscan(self.repo / ".scandir", n)
        wait_supervisors([self.repo / s.name for s in svcs])
        subprocess.run([str(bindir / "aa-start"), "-r", str(self.repo), "-l", str(lst)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.first = svcs[0].name

    def close(self) -> None:
        stop_svscan(self.proc, self.repo / ".scandir")
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bins", required=True, help="comma-separated directories of console scripts")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated command keys (see the table)")
    args = ap.parse_args()
    bins = [Path(b) for b in args.bins.split(",")]
    os.chdir("/")
    only = set(filter(None, args.only.split(",")))
    scratch = Path(tempfile.mkdtemp(prefix="launch-ex-", dir=TMPFS))
    ex = env_for(scratch, REPO / "examples" / "66")
    cases: list[tuple[str, list[str], dict[str, str]]] = [
        ("version", ["ovis", "--version"], ex),
        ("echo", ["aa-echo", "-t", "hello"], ex),
        ("status-examples", ["ovis", "status"], ex),
        ("is-enabled", ["ovis", "is-enabled", "clock"], ex),
        ("help", ["ovis", "--help"], ex),
    ]
    system = repo = exup = None
    try:
        if not only or "status-examples-up" in only:
            exup = ExamplesUp(bins[-1])
            cases.insert(3, ("status-examples-up", ["ovis", "status"], exup.env))
        if not only or only & {"status-n", "status-name"}:
            system = System(bins[-1], args.n)
            cases += [("status-n", ["ovis", "status"], system.env),
                      ("status-name", ["ovis", "status", system.names[0]], system.env)]
        if not only or only & {"aa-status-a", "aa-status-name"}:
            repo = AnopaRepo(bins[-1], args.n)
            cases += [("aa-status-a", ["aa-status", "-r", str(repo.repo), "-a"], ex),
                      ("aa-status-name", ["aa-status", "-r", str(repo.repo), repo.first], ex)]
        if only:
            cases = [c for c in cases if c[0] in only]
        print(f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, shared; "
              f"load {os.getloadavg()[0]:.1f} at the start; N = {args.n}; {args.repeat} alternated rounds")
        for b in bins:
            print(f"- {b}: ovis is a {kind_of(b / 'ovis')}, aa-echo a {kind_of(b / 'aa-echo')}")
        print("\n| command | " + " | ".join(f"{chr(65 + i)} wall / cpu (ms, median)" for i in range(len(bins)))
              + " | " + " | ".join(f"{chr(65 + i)}/A wall, cpu (median of pairs)" for i in range(1, len(bins)))
              + " |\n|" + "---|" * (2 * len(bins)))
        for key, argv, env in cases:
            got: list[list[tuple[float, float]]] = [[] for _ in bins]
            for rep in range(args.repeat):
                order = list(range(len(bins)))
                for i in (order if rep % 2 == 0 else order[::-1]):
                    got[i].append(run_once([str(bins[i] / argv[0]), *argv[1:]], env))
            cells = [f"{statistics.median(w for w, _ in g) * 1000:.1f} / "
                     f"{statistics.median(c for _, c in g) * 1000:.1f}" for g in got]
            ratios = []
            for g in got[1:]:
                rw = statistics.median(b[0] / a[0] for a, b in zip(got[0], g))
                rc = statistics.median(b[1] / a[1] for a, b in zip(got[0], g) if a[1] > 0)
                ratios.append(f"{rw:.2f}, {rc:.2f}")
            print(f"| {key}: `{' '.join(argv[:2])}` | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        print(f"\nload {os.getloadavg()[0]:.1f} at the end")
    finally:
        for x in (system, repo, exup):
            if x is not None:
                x.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
