#!/usr/bin/env python3
"""Where ovis's time goes: start-up, imports, execve per service, Python CPU per service.

* start-up: wall time of short commands as installed next to this
  interpreter (the console scripts, lean launchers or pip's: the table says
  which), min and median of many runs: the bare interpreter, ``ovis
  --version``, ``ovis status`` of the bundled examples, ``aa-echo`` (and
  upstream anopa's ``aa-echo`` with ``--anopa DIR``); the number of modules
  ``ovis status`` imports (``python -I -S -X importtime`` on the launcher);
  bench/launch_ab.py compares two installations alternated;
* execve per start: ``strace -f -e trace=execve`` of the ``run`` script the
  compiler writes for a few 66 definitions (plain, logged, with an
  environment, a body naming an execline command), and of Debian's wrapper;
* Python per service: ``cProfile`` of ``ovis start`` of N trivial longruns
  (supervisors already spawned) and of ``ovis stop --all``, top functions by
  own time, and the time the stop spent planning (``Plan.*``);
* ``ovis status`` of those N services (wall, min of 5), and upstream
  ``aa-status -a`` of as many with ``--anopa DIR``;
* phases: the CPU of a warm ``ovis start`` of N longruns, and of an N/3
  chain, by part (definitions, claims, the jobs' subscriptions, status
  reads and letters, records...), without a profiler's per-call overhead.

Usage: python3 bench/hotspots.py [--n 300] [--anopa DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from boot import REPO, TMPFS, env_for, make_defs, stop_svscan, wait_svscan  # noqa: E402

from ovis.service import execline  # noqa: E402

PY = sys.executable


def wall(argv: list[str], env: dict[str, str] | None = None, n: int = 20) -> tuple[float, float]:
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        xs.append(time.perf_counter() - t0)
    return min(xs), statistics.median(xs)


#: The console scripts installed next to this interpreter (what a user runs).
BINDIR = Path(PY).parent


def installed(name: str) -> str:
    """BINDIR/name, and whether it is a lean launcher (ovis/cli/launchers.py) or pip's script."""
    try:
        first = (BINDIR / name).read_text(errors="replace").split("\n", 1)[0]
    except OSError:
        return f"{name} (not installed)"
    return f"{name} ({'lean launcher' if first.split()[1:2] == ['-IS'] else 'pip script'})"


def startup(anopa: str | None) -> None:
    root = Path(tempfile.mkdtemp(dir=TMPFS))
    env = env_for(root)
    env["OVIS_SERVICES"] = str(REPO / "examples" / "66")
    bindir = BINDIR
    print(f"Commands as installed in {bindir}, run by path (no pyenv shim).\n")
    rows = [("python -I -S -c pass (no site)", [PY, "-I", "-S", "-c", "pass"]),
            ("python -c pass (this venv's site)", [PY, "-c", "pass"]),
            (f"{installed('ovis')} --version", [str(bindir / "ovis"), "--version"]),
            (f"{installed('ovis')} status (examples)", [str(bindir / "ovis"), "status"]),
            (installed("aa-echo"), [str(bindir / "aa-echo"), "hi"]),
            # Without site: what ovis itself costs, whatever .pth files the installation has.
            ("python -S -m ovis status (examples)", [PY, "-S", "-m", "ovis", "status"]),
            ("aa-echo under python -S", [PY, "-S", "-c",
                                         "from ovis.cli.aa.echo import entrypoint; entrypoint()",
                                         "hi"])]
    if anopa:
        rows.append(("upstream aa-echo", [str(Path(anopa) / "aa-echo"), "hi"]))
    print("| command | min | median |\n|---|---|---|")
    for label, argv in rows:
        lo, med = wall(argv, env)
        print(f"| {label} | {lo * 1000:.1f} ms | {med * 1000:.1f} ms |")
    lean = "lean" in installed("ovis")
    cmd = ([PY, "-I", "-S", "-X", "importtime", str(bindir / "ovis"), "status"] if lean
           else [PY, "-X", "importtime", "-m", "ovis", "status"])
    p = subprocess.run(cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    mods = [ln.split("|")[-1].strip() for ln in p.stderr.splitlines() if ln.startswith("import time:")]
    ours = [m for m in mods[1:] if m.startswith("ovis")]
    print(f"\n`ovis status` imports {len(mods) - 1} modules ({len(ours)} of ovis): "
          + ", ".join(ours))
    shutil.rmtree(root, ignore_errors=True)


def execs() -> None:
    """execve until the program runs, for the run scripts the compiler writes today."""
    from ovis.paths import Paths
    from ovis.service.compiler import Compiler
    from ovis.service.repository import Repository

    root = Path(tempfile.mkdtemp(dir=TMPFS))
    main = '[Main]\nType = classic\nDescription = "x"\n'
    body = "[Start]\nExecute = ( {} )\n"
    forms = {
        "Debian wrapper (/usr/bin/execlineb), before": None,
        "plain, no logger": main + "Options = ( !log )\n" + body.format("true"),
        "plain, logged (`fdmove -c 2 1`)": main + body.format("true"),
        "plain, [Environment] A=b": main + "Options = ( !log )\n[Environment]\nA=b\n"
                                    + body.format("true"),
        "body names an execline command (`exec true`)":
            main + "Options = ( !log )\n" + body.format("exec true"),
    }
    print("| run script form | execve until the program (`true`) runs |\n|---|---|")
    for i, (label, text) in enumerate(forms.items()):
        d = root / str(i)
        (d / "services").mkdir(parents=True)
        if text is None:
            sd = d
            (sd / "run").write_text(f"#!{execline.WRAPPER} -P\ntrue\n")
            (sd / "run").chmod(0o755)
        else:
            (d / "services" / "svc").write_text(text)
            paths = Paths(skel=d / "skel", services=(d / "services",), trees=d / "trees",
                          live=d / "live", logdir=d / "log")
            Compiler(paths).compile(Repository((d / "services",)).load("svc"))
            sd = paths.servicedir("svc")
        out = d / "trace"
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(out), "./run"],
                       check=True, cwd=sd)
        progs = [ln.split('execve("', 1)[1].split('"', 1)[0] for ln in out.read_text().splitlines()
                 if 'execve("' in ln and "= 0" in ln.rsplit(")", 1)[-1]]
        names = [os.path.basename(p) for p in progs]
        print(f"| {label} | {names.index('true') + 1} |")
    shutil.rmtree(root, ignore_errors=True)


def profiled(env: dict[str, str], args: list[str], out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "cProfile", "-o", str(out), "-m", "ovis", "-v", "0", *args],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def top(prof: Path, n: int = 12) -> str:
    s = io.StringIO()
    st = pstats.Stats(str(prof), stream=s)
    st.sort_stats("tottime").print_stats(n)
    lines = [ln.replace(sys.base_prefix, "PY") for ln in s.getvalue().splitlines() if ln.strip()]
    keep = [ln for ln in lines if "function calls" in ln or ln.lstrip()[:1].isdigit()
            or ln.lstrip().startswith("ncalls")]
    return "\n".join(keep)


def planning(prof: Path) -> float:
    st = pstats.Stats(str(prof))
    total = 0.0
    for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if file.endswith("transaction.py") or file.endswith("graph.py"):
            total += tt
    return total


def engine(n: int, anopa: str | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="prof-", dir=TMPFS))
    names = make_defs(root, n, chain=False)
    env = env_for(root)
    scandir = root / "live" / "scandir"
    svscan = subprocess.Popen([PY, "-m", "ovis", "scandir", "start"], env=env, start_new_session=True)
    wait_svscan(scandir)
    try:
        subprocess.run([PY, "-m", "ovis", "-v", "0", "start", *names], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([PY, "-m", "ovis", "-v", "0", "stop", "--all"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        t_start = profiled(env, ["start", *names], root / "start.prof")
        st_lo, st_med = wall([str(BINDIR / "ovis"), "status"], env, n=5)  # as installed
        t_stop = profiled(env, ["stop", "--all"], root / "stop.prof")
        print(f"`ovis start` of {n} (supervisors running, under cProfile): {t_start:.3f} s; "
              f"`ovis stop --all`: {t_stop:.3f} s, of which planning (graph + transaction "
              f"bookkeeping, own time): {planning(root / 'stop.prof') * 1000:.1f} ms")
        print(f"`{installed('ovis')} status` of {n} up: min {st_lo:.3f} s, median {st_med:.3f} s")
        print("\nTop of `ovis start` by own time:\n```\n" + top(root / "start.prof") + "\n```")
        print("\nTop of `ovis stop --all` by own time:\n```\n" + top(root / "stop.prof") + "\n```")
    finally:
        stop_svscan(svscan, scandir)
        shutil.rmtree(root, ignore_errors=True)
    if anopa:
        aa_status(n, anopa)


#: Run in the measured interpreter (``python -S`` on this tree): the CPU
#: (time.process_time) each part of one ``ovis start`` takes, accumulated
#: over its calls, by wrapping the engine's functions (no profiler: its
#: overhead is per call and would inflate the many small ones).
PHASES_DRIVER = r"""
import sys, time
T0 = time.process_time()
acc, cnt = {}, {}
def wrap(obj, attr, label):
    f = getattr(obj, attr)
    def w(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            acc[label] = acc.get(label, 0.0) + time.process_time() - t
            cnt[label] = cnt.get(label, 0) + 1
    setattr(obj, attr, w)
t = time.process_time()
import ovis.cli.main as M
from ovis.engine import install, manager, runner, s6backend, state, statusindex
from ovis.s6 import control, events
acc["imports (engine, CLI)"] = time.process_time() - t
cnt["imports (engine, CLI)"] = 1
for obj, attr, label in [
        (manager.Manager, "load", "definitions loaded (cache)"),
        (state.Claims, "acquire", "claims"),
        (manager.Manager, "_record_wanted", "what was asked (intents)"),
        (install.Installer, "_install", "compile check / install"),
        (s6backend.LongrunJob, "__init__", "job begun (subscribe, status, send)"),
        (events, "subscribe", "  of which: subscriptions"),
        (s6backend, "read_status", "  of which: supervise/status reads"),
        (control, "send", "  of which: control letters"),
        (runner.Runner, "_prepare_next", "subscriptions made ahead"),
        (s6backend.LongrunJob, "on_readable", "events read"),
        (runner.Runner, "_settle", "settlements"),
        (manager.Manager, "_record", "final records"),
        (s6backend.LongrunJob, "close", "jobs closed"),
        (manager.Manager, "shutting_down", "shutdown checks"),
        (statusindex, "refresh", "status index")]:
    wrap(obj, attr, label)
sys.argv = ["ovis", "-v", "0"] + sys.argv[1:]
try:
    M.entrypoint()
except SystemExit:
    pass
total = time.process_time() - T0
for k, v in acc.items():
    print(f"{k}\t{v * 1000:.1f}\t{cnt[k]}")
print(f"total (after the interpreter's start)\t{total * 1000:.1f}\t1")
"""


def phases(n: int, chain: bool, repeat: int = 3) -> None:
    """Where the CPU of a warm ``ovis start`` goes (supervisors up, services
    down), by part: medians of *repeat* runs, each after ``stop --all``."""
    root = Path(tempfile.mkdtemp(prefix="phases-", dir=TMPFS))
    names = make_defs(root, n, chain=chain)
    env = env_for(root)
    scandir = root / "live" / "scandir"
    driver = root / "phases.py"
    driver.write_text(PHASES_DRIVER)
    svscan = subprocess.Popen([PY, "-m", "ovis", "scandir", "start"], env=env, start_new_session=True)
    wait_svscan(scandir)
    runs: list[dict[str, tuple[float, int]]] = []
    try:
        subprocess.run([PY, "-m", "ovis", "-v", "0", "start", *names], env=env, check=True)
        for _ in range(repeat):
            subprocess.run([PY, "-m", "ovis", "-v", "0", "stop", "--all"], env=env, check=True)
            p = subprocess.run([PY, "-S", str(driver), "start", *names], env=env, check=True,
                               stdout=subprocess.PIPE, text=True)
            got = {}
            for line in p.stdout.splitlines():
                label, ms, calls = line.split("\t")
                got[label] = (float(ms), int(calls))
            runs.append(got)
    finally:
        stop_svscan(svscan, scandir)
        shutil.rmtree(root, ignore_errors=True)
    what = f"a {n}-long chain (no readiness)" if chain else f"{n} trivial longruns"
    print(f"CPU of a warm `ovis start` of {what} by part (python -S, medians of {repeat}; "
          "parts overlap where marked):\n")
    print("| part | CPU ms | calls | per call µs |\n|---|---|---|---|")
    for label in runs[0]:
        ms = statistics.median(r.get(label, (0.0, 0))[0] for r in runs)
        calls = runs[0][label][1]
        print(f"| {label} | {ms:.1f} | {calls} | {ms * 1000 / max(calls, 1):.0f} |")


def aa_status(n: int, anopa: str) -> None:
    sys.path.insert(0, str(BENCH))
    from compare import Svc, svscan, wait_supervisors, write_anopa

    root = Path(tempfile.mkdtemp(prefix="prof-aa-", dir=TMPFS))
    svcs = [Svc(f"w{i:04d}") for i in range(n)]
    src, repo, lst = root / "src", root / "repo", root / "list"
    write_anopa(src, svcs)
    lst.mkdir()
    for s in svcs:
        (lst / s.name).touch()
    b = Path(anopa)
    subprocess.run([str(b / "aa-enable"), "-q", "-r", str(repo), "-S", str(src), "-l", str(lst)],
                   check=True, stdout=subprocess.DEVNULL)
    p = svscan(repo / ".scandir", n)
    try:
        wait_supervisors([repo / s.name for s in svcs])
        subprocess.run([str(b / "aa-start"), "-r", str(repo), "-l", str(lst)], check=True,
                       stdout=subprocess.DEVNULL)
        lo, med = wall([str(b / "aa-status"), "-r", str(repo), "-a"], n=5)
        print(f"upstream `aa-status -a` of {n} up: min {lo:.3f} s, median {med:.3f} s")
    finally:
        stop_svscan(p, repo / ".scandir")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--anopa", metavar="DIR")
    ap.add_argument("--skip", default="", help="comma-separated: startup,execs,engine,phases")
    ap.add_argument("--write", metavar="FILE", help="replace the block in this markdown file")
    args = ap.parse_args()
    buf = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, buf)):
        report(args)
    if args.write:
        from ovis.docblock import write_block

        write_block(Path(args.write), "bench/hotspots.py", buf.getvalue().rstrip("\n"))


class Tee(io.TextIOBase):
    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)


def report(args: argparse.Namespace) -> None:
    skip = set(args.skip.split(","))
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, one run on a {os.cpu_count()}-core "
          f"shared machine, load average {os.getloadavg()[0]:.1f} at the start (seconds inflated "
          "by that load; compare within a table).\n")
    if "startup" not in skip:
        startup(args.anopa)
        print()
    if "execs" not in skip:
        execs()
        print()
    if "engine" not in skip:
        engine(args.n, args.anopa)
        print()
    if "phases" not in skip:
        phases(args.n, chain=False)
        print()
        phases(max(args.n // 3, 2), chain=True)


if __name__ == "__main__":
    main()
