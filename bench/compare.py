#!/usr/bin/env python3
"""ovis against raw s6-svscan, s6-rc and upstream anopa, side by side in one run.

Three workloads, the same services written in each contender's own format:

* ``wide``: 300 trivial longruns (``exec sleep``), no dependencies;
* ``dag``: 200 services in a random DAG (fixed seed): about a quarter are
  oneshots, the longruns signal readiness on fd 3 after a short sleep, each
  service needs up to three earlier ones;
* ``chain``: 100 longruns with readiness, each needing the previous one.

For each workload and each contender, *cold* is definitions to all up (and
ready): compile or enable from the source definitions, start s6-svscan, start
everything; *warm* is the start alone with the supervisors already running
(after a stop of everything). Contenders are alternated inside each
repetition (the order rotates), so machine load hits all of them alike; the
report gives min and median seconds and, per pair, the median of the
per-repetition ratios ``ovis / other``.

Contenders: ``raw`` (s6-svscan on a scandir of the same run scripts; it
knows no order, so it is a lower bound; cold only), ``ovis`` (66 frontend
files, ``ovis scandir start`` + ``ovis start``), ``ovis-aa`` (ovis's own
``aa-enable``/``aa-start`` on anopa directories), and, only when their
builds are given, ``s6rc`` (``--s6rc PREFIX``: s6-rc-compile, s6-rc-init,
``s6-rc -u change``) and ``anopa`` (``--anopa DIR``: upstream ``aa-enable``,
``aa-start``). docs/benchmarks.md says how to build those two locally.

ovis and its aa-* run the way users run them (``--via installed``): the
console scripts next to the interpreter, checked to import this checkout's
ovis; ``--via module-S`` runs ``python -S -m ovis`` instead, to tell ovis's
own cost from what the interpreter's ``site`` costs on this machine.

Usage: python3 bench/compare.py [--repeat 5] [--s6rc PREFIX] [--anopa DIR]
                                [--workloads wide,dag,chain] [--via installed|module|module-S]
                                [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import boot  # noqa: E402
from boot import REPO, TMPFS, env_for, raw_svscan, stop_svscan, wait_svscan  # noqa: E402

from ovis.docblock import write_block  # noqa: E402
from ovis.s6.status import read_status  # noqa: E402

SEED = 13
SLEEP = "sleep 100000"


@dataclass
class Svc:
    """One service of a workload, independent of any format."""
    name: str
    oneshot: bool = False
    ready_after: float | None = None  # longrun: seconds before it writes to fd 3
    needs: list[str] = field(default_factory=list)

    def sh_run(self) -> str:
        """The longrun's program as one sh command line (the same for every contender)."""
        if self.ready_after is None:
            return f"exec {SLEEP}"
        pre = f"sleep {self.ready_after}; " if self.ready_after else ""
        return f"{pre}echo >&3; exec 3>&-; exec {SLEEP}"


def workload(kind: str) -> list[Svc]:
    if kind == "wide":
        return [Svc(f"w{i:03d}") for i in range(300)]
    if kind == "chain":
        return [Svc(f"c{i:03d}", ready_after=0, needs=[f"c{i - 1:03d}"] if i else [])
                for i in range(100)]
    if kind == "dag":
        rnd = random.Random(SEED)
        out: list[Svc] = []
        for i in range(200):
            needs = sorted({out[rnd.randrange(i)].name for _ in range(rnd.randint(0, 3))}) if i else []
            if rnd.random() < 0.25:
                out.append(Svc(f"d{i:03d}", oneshot=True, needs=needs))
            else:
                out.append(Svc(f"d{i:03d}", ready_after=rnd.choice([0, 0.01, 0.02, 0.05]),
                               needs=needs))
        return out
    raise SystemExit(f"unknown workload {kind!r}")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


# -- the same services in each format ------------------------------------------------

#: How the 66 frontends say their program (``--build``): ``custom`` (default)
#: is the very ``#!/bin/sh`` script the other contenders' run files hold, as
#: 66's ``Build = custom``; ``auto`` is an execline body ``/bin/sh -c "..."``
#: (one exec more per start than the others: execlineb, then sh).
BUILD = "custom"


def write_66(d: Path, svcs: list[Svc]) -> None:
    for s in svcs:
        deps = f"Depends = ( {' '.join(s.needs)} )\n" if s.needs else ""
        if s.oneshot:
            start = "Build = custom\nExecute = (#!/bin/sh\ntrue\n)" if BUILD == "custom" \
                else "Execute = ( true )"
            body = f"[Main]\nType = oneshot\nOptions = ( !log )\n{deps}\n[Start]\n{start}\n"
        else:
            notify = "Notify = 3\n" if s.ready_after is not None else ""
            start = f"Build = custom\nExecute = (#!/bin/sh\n{s.sh_run()}\n)" if BUILD == "custom" \
                else f"Execute = ( /bin/sh -c \"{s.sh_run()}\" )"
            body = (f"[Main]\nType = classic\nOptions = ( !log )\n{notify}{deps}\n"
                    f"[Start]\n{start}\n")
        _write(d / s.name, body)


def write_anopa(d: Path, svcs: list[Svc]) -> None:
    for s in svcs:
        sd = d / s.name
        if s.oneshot:
            _write(sd / "start", "#!/bin/sh\ntrue\n", 0o755)
        else:
            _write(sd / "run", f"#!/bin/sh\n{s.sh_run()}\n", 0o755)
            if s.ready_after is not None:
                _write(sd / "notification-fd", "3\n")
        for n in s.needs:
            _write(sd / "needs" / n, "")


def write_s6rc(d: Path, svcs: list[Svc]) -> None:
    for s in svcs:
        sd = d / s.name
        if s.oneshot:
            _write(sd / "type", "oneshot\n")
            _write(sd / "up", "true\n")
        else:
            _write(sd / "type", "longrun\n")
            _write(sd / "run", f"#!/bin/sh\n{s.sh_run()}\n", 0o755)
            if s.ready_after is not None:
                _write(sd / "notification-fd", "3\n")
        if s.needs:
            _write(sd / "dependencies", "".join(n + "\n" for n in s.needs))
    _write(d / "all" / "type", "bundle\n")
    _write(d / "all" / "contents", "".join(s.name + "\n" for s in svcs))


def write_raw(scandir: Path, svcs: list[Svc]) -> list[Path]:
    dirs = []
    for s in svcs:
        sd = scandir / s.name
        prog = s.sh_run() if not s.oneshot else "exec " + SLEEP
        _write(sd / "run", f"#!/bin/sh\n{prog}\n", 0o755)
        if s.ready_after is not None and not s.oneshot:
            _write(sd / "notification-fd", "3\n")
        dirs.append(sd)
    return dirs


# -- running ---------------------------------------------------------------------------

#: CPU seconds (user + system, from the reaped child's rusage) of the last
#: :func:`run`, and of the commands c_ovis times, by case: robust under load
#: where wall seconds are not (bench/start_ab.py reports them).
LAST_CPU = 0.0
CPU: dict[str, float] = {}
#: Wall seconds of single steps of a run, by case (``enable``: the
#: ``aa-enable`` of _aa, ``stop``: its ``aa-stop -a``), for bench/start_ab.py.
WALL: dict[str, float] = {}


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    global LAST_CPU
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}...: exit {p.returncode}: "
                           f"{p.stderr.decode(errors='replace')[-300:]}")


def svscan(scandir: Path, n: int) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(["s6-svscan", "-c", str(max(1000, 4 * n)), "-t", "0", str(scandir)],
                         start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_svscan(scandir)
    return p


def wait_supervisors(dirs: list[Path]) -> None:
    pending = [d / "supervise" / "control" for d in dirs]
    while pending:
        pending = [c for c in pending if not _listening(c)]
        if pending:
            time.sleep(0.001)


def _listening(control: Path) -> bool:
    try:
        os.close(os.open(control, os.O_WRONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False


def _all_up(dirs: list[Path], ready: set[str]) -> bool:
    for d in dirs:
        try:
            st = read_status(d)
        except Exception:
            return False
        if st is None or not st.up or (d.name in ready and not st.ready):
            return False
    return True


Result = tuple[float, float | None]  # (cold, warm)


def c_raw(root: Path, svcs: list[Svc], tools: dict[str, str]) -> Result:
    scandir = root / "scandir"
    dirs = write_raw(scandir, svcs)
    ready = {s.name for s in svcs if s.ready_after is not None and not s.oneshot}
    t0 = time.perf_counter()
    p = raw_svscan(scandir, len(svcs))
    while not _all_up(dirs, ready):
        time.sleep(0.001)
    cold = time.perf_counter() - t0
    stop_svscan(p, scandir)
    return cold, None


def c_ovis(root: Path, svcs: list[Svc], tools: dict[str, str]) -> Result:
    write_66(root / "services", svcs)
    env = env_for(root)
    names = [s.name for s in svcs]
    ovis = [*boot.launcher("ovis"), "-v", "0"]
    scandir = root / "live" / "scandir"
    t0 = time.perf_counter()
    p = subprocess.Popen([*ovis, "scandir", "start"], env=env, start_new_session=True)
    wait_svscan(scandir)
    run([*ovis, "start", *names], env)
    cold = time.perf_counter() - t0
    CPU["cold start"] = LAST_CPU
    run([*ovis, "stop", "--all"], env)
    CPU["stop --all"] = LAST_CPU
    t0 = time.perf_counter()
    run([*ovis, "start", *names], env)
    warm = time.perf_counter() - t0
    CPU["warm start"] = LAST_CPU
    stop_svscan(p, scandir)
    return cold, warm


def _aa(root: Path, svcs: list[Svc], bindir: str | None, env: dict[str, str] | None) -> Result:
    """*bindir* None: ovis's own aa-* tools, as boot.launcher runs them."""
    src, repo, lst = root / "src", root / "repo", root / "list"
    write_anopa(src, svcs)
    lst.mkdir()
    for s in svcs:
        (lst / s.name).touch()
    def aa(tool: str) -> list[str]:
        return [str(Path(bindir) / tool)] if bindir is not None else boot.launcher(tool)

    scandir = repo / ".scandir"
    t0 = time.perf_counter()
    run([*aa("aa-enable"), "-q", "-r", str(repo), "-S", str(src), "-l", str(lst)], env)
    WALL["enable"] = time.perf_counter() - t0
    CPU["enable"] = LAST_CPU
    p = svscan(scandir, len(svcs))
    wait_supervisors([repo / s.name for s in svcs if not s.oneshot])
    run([*aa("aa-start"), "-r", str(repo), "-l", str(lst)], env)
    cold = time.perf_counter() - t0
    CPU["cold start"] = LAST_CPU
    t1 = time.perf_counter()
    run([*aa("aa-stop"), "-r", str(repo), "-a"], env)
    WALL["stop"] = time.perf_counter() - t1
    CPU["stop --all"] = LAST_CPU
    t0 = time.perf_counter()
    run([*aa("aa-start"), "-r", str(repo), "-l", str(lst)], env)
    warm = time.perf_counter() - t0
    CPU["warm start"] = LAST_CPU
    stop_svscan(p, scandir)
    return cold, warm


def c_anopa(root: Path, svcs: list[Svc], tools: dict[str, str]) -> Result:
    env = dict(os.environ, PATH=f"{tools['anopa']}:{os.environ['PATH']}")
    return _aa(root, svcs, tools["anopa"], env)


def c_ovis_aa(root: Path, svcs: list[Svc], tools: dict[str, str]) -> Result:
    # anopa's aa-enable runs the aa-* it needs by PATH name: ovis's own first
    bindir = str(Path(boot.launcher("aa-start")[0]).parent) if boot.VIA == "installed" else None
    env = dict(os.environ, PYTHONPATH=str(boot.REPO),
               PATH=f"{bindir}:{os.environ['PATH']}" if bindir else os.environ["PATH"])
    return _aa(root, svcs, None, env)


def c_s6rc(root: Path, svcs: list[Svc], tools: dict[str, str]) -> Result:
    b = Path(tools["s6rc"]) / "bin"
    src, db, live, scandir = root / "src", root / "compiled", root / "live", root / "scandir"
    write_s6rc(src, svcs)
    scandir.mkdir()
    t0 = time.perf_counter()
    run([str(b / "s6-rc-compile"), str(db), str(src)])
    p = svscan(scandir, len(svcs))
    run([str(b / "s6-rc-init"), "-c", str(db), "-l", str(live), str(scandir)])
    run([str(b / "s6-rc"), "-l", str(live), "-u", "change", "all"])
    cold = time.perf_counter() - t0
    run([str(b / "s6-rc"), "-l", str(live), "-d", "change", "all"])
    t0 = time.perf_counter()
    run([str(b / "s6-rc"), "-l", str(live), "-u", "change", "all"])
    warm = time.perf_counter() - t0
    stop_svscan(p, scandir)
    return cold, warm


def c_ovis1(root: Path, svcs: list[Svc], tools: dict[str, str]) -> Result:
    """``ovis start --scandir``: the cold start in one command (one Python; with --only)."""
    write_66(root / "services", svcs)
    env = env_for(root)
    names = [s.name for s in svcs]
    # run as c_ovis runs ovis (boot.launcher where the bench has it)
    ovis = [*(boot.launcher("ovis") if hasattr(boot, "launcher") else [sys.executable, "-m", "ovis"]),
            "-v", "0"]
    t0 = time.perf_counter()
    run([*ovis, "start", "--scandir", *names], env)
    cold = time.perf_counter() - t0
    run([*ovis, "stop", "--all"], env)
    t0 = time.perf_counter()
    run([*ovis, "start", *names], env)
    warm = time.perf_counter() - t0
    run([*ovis, "scandir", "stop"], env)
    return cold, warm


CONTENDERS: dict[str, Callable[[Path, list[Svc], dict[str, str]], Result]] = {
    "ovis": c_ovis, "ovis1": c_ovis1, "ovis-aa": c_ovis_aa, "raw": c_raw, "s6rc": c_s6rc, "anopa": c_anopa,
}


def one(name: str, svcs: list[Svc], tools: dict[str, str]) -> Result:
    root = Path(tempfile.mkdtemp(prefix=f"cmp-{name}-", dir=TMPFS))
    try:
        return CONTENDERS[name](root, svcs, tools)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def measure(kind: str, names: list[str], repeat: int, tools: dict[str, str]
            ) -> dict[str, list[Result]]:
    svcs = workload(kind)
    out: dict[str, list[Result]] = {n: [] for n in names}
    for r in range(repeat):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            out[n].append(one(n, svcs, tools))
            print(f"  {kind} #{r + 1} {n}: cold {out[n][-1][0]:.3f} s"
                  + (f", warm {out[n][-1][1]:.3f} s" if out[n][-1][1] is not None else ""),
                  file=sys.stderr)
    return out


def table(kind: str, res: dict[str, list[Result]], repeat: int) -> str:
    lines = [f"| {kind} | cold min | cold median | warm min | warm median "
             "| ovis/it cold (median of pairs) | ovis/it warm |", "|---|---|---|---|---|---|---|"]
    base = res.get("ovis")
    for n, rs in res.items():
        colds = [c for c, _ in rs]
        warms = [w for _, w in rs if w is not None]
        row = [n, f"{min(colds):.3f} s", f"{statistics.median(colds):.3f} s",
               f"{min(warms):.3f} s" if warms else "—",
               f"{statistics.median(warms):.3f} s" if warms else "—"]
        if base is not None and n != "ovis":
            row.append(f"{statistics.median(b[0] / o[0] for b, o in zip(base, rs)):.2f}x")
            ws = [b[1] / o[1] for b, o in zip(base, rs) if b[1] is not None and o[1] is not None]
            row.append(f"{statistics.median(ws):.2f}x" if ws else "—")
        else:
            row += ["—", "—"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workloads", default="wide,dag,chain")
    ap.add_argument("--s6rc", metavar="PREFIX", help="s6-rc install prefix (PREFIX/bin/s6-rc)")
    ap.add_argument("--anopa", metavar="DIR", help="directory holding upstream anopa's aa-* binaries")
    ap.add_argument("--only", help="comma-separated contenders to run (default: all available)")
    ap.add_argument("--write", metavar="FILE", help="replace the table in this markdown file")
    ap.add_argument("--via", choices=boot.VIAS, default="installed",
                    help="how ovis and its aa-* are run: the console scripts next to the "
                    "interpreter (default, as users run them), python -m, or python -S -m "
                    "(no site: ovis's own cost)")
    ap.add_argument("--build", choices=("custom", "auto"), default="custom",
                    help="66 frontends' Build: custom (the others' #!/bin/sh script, default) "
                         "or auto (execline: /bin/sh -c ...)")
    ap.add_argument("--tree", help="measure the ovis of this checkout (default: this one's)")
    ap.add_argument("--bindir", help="where --via installed finds that tree's console scripts")
    args = ap.parse_args()
    boot.VIA = args.via
    global BUILD
    BUILD = args.build
    if args.tree:
        boot.REPO = Path(args.tree).resolve()
    if args.bindir:
        boot.BINDIRS[str(boot.REPO)] = Path(args.bindir)
    write = Path(args.write).resolve() if args.write else None
    os.chdir("/")  # python -m and -c put the current directory first on sys.path
    tools: dict[str, str] = {}
    names = ["ovis", "ovis-aa", "raw"]
    if args.s6rc:
        tools["s6rc"] = args.s6rc
        names.append("s6rc")
    if args.anopa:
        tools["anopa"] = args.anopa
        names.append("anopa")
    if args.only:
        names = [n for n in names + ["ovis1"] if n in args.only.split(",")]
    blocks = []
    for kind in [k for k in args.workloads.split(",") if k]:
        blocks.append(table(kind, measure(kind, names, args.repeat, tools), args.repeat))
    load = os.getloadavg()
    head = (f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, one run of `bench/compare.py "
            f"--repeat {args.repeat} --via {args.via} --build {args.build}` (ovis of {boot.REPO}) on a {os.cpu_count()}-core shared machine (load average "
            f"{load[0]:.1f} at the end): contenders alternated, seconds and ratios from this one "
            "run only; ratios < 1 mean ovis is faster.")
    text = head + "\n\n" + "\n\n".join(blocks)
    print(text)
    if write is not None:
        write_block(write, "bench/compare.py", text)


if __name__ == "__main__":
    main()
