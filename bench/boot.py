#!/usr/bin/env python3
"""Time from "start everything" to "all up", ovis against raw s6-svscan.

For each shape (N trivial longruns side by side, and a chain of 100 where
each needs the previous one) and each system, measured side by side in one
run on the same machine:

* raw s6: ``s6-svscan`` started on a scandir of the very servicedirs ovis
  compiled (copied, ``down`` files removed); the clock stops when every
  ``supervise/status`` shows a pid.  No dependency order: a lower bound.
* ovis cold: empty LIVE; ``ovis scandir start`` then ``ovis start`` of all
  services (compile, link, supervisors spawned, started in order); the clock
  stops when ``ovis start`` returns, i.e. when ovis has seen every service up.
* ovis warm: the same, with supervisors already running (``ovis stop --all``
  first): the cost of the engine and the s6 protocol alone.

Usage: python3 bench/boot.py [--repeat 3] [--sizes 10,100,1000] [--write docs/benchmarks.md]
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

#: LIVE lives on a tmpfs in real use (/run): measure there, not on a disk.
TMPFS = "/dev/shm" if os.path.isdir("/dev/shm") else None

DEF = """\
[Main]
Type = classic
Description = "trivial"
Options = ( !log )
{deps}
[Start]
Execute = ( sleep 100000 )
"""


def make_defs(root: Path, n: int, chain: bool) -> list[str]:
    d = root / "services"
    d.mkdir(parents=True)
    names = [f"svc{i:04d}" for i in range(n)]
    for i, name in enumerate(names):
        deps = f"Depends = ( {names[i - 1]} )" if chain and i else ""
        (d / name).write_text(DEF.format(deps=deps))
    return names


def env_for(root: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"], "PYTHONPATH": str(REPO),
        "OVIS_LIVE": str(root / "live"), "OVIS_SERVICES": str(root / "services"),
        "OVIS_TREES": str(root / "trees"), "OVIS_LOGDIR": str(root / "log"),
        "OVIS_SKEL": str(root / "skel"),
    }


#: How the benchmarks run ovis: ``installed`` (default) is the ``ovis``
#: console script next to the interpreter, as users run it (not the pyenv
#: shim on PATH); ``module`` is ``python -m ovis``; ``module-S`` is
#: ``python -S -m ovis`` (no ``site``: what ovis itself costs, without the
#: sandbox's .pth files every interpreter start imports).  Set by --via.
VIA = "installed"
VIAS = ("installed", "module", "module-S")
#: Where ``installed`` looks for the console scripts of each tree (None: the
#: interpreter's bindir, then every PATH directory with an ``ovis``).
BINDIRS: dict[str, Path] = {}


def launcher(tool: str = "ovis", tree: Path | None = None, via: str | None = None) -> list[str]:
    """The argv prefix that runs *tool* of *tree* (default REPO) the way *via* says.

    ``installed`` takes the console script from the interpreter's bindir and
    refuses one that would import another checkout's ovis (a benchmark of the
    wrong tree is worse than none): the interpreter is asked where ``ovis``
    comes from with the same environment the benchmark gives it.
    """
    tree = (tree or REPO).resolve()
    via = via or VIA
    if via == "module":
        return [sys.executable, "-m", tool.replace("-", "_")] if tool == "ovis" else [
            sys.executable, "-c", f"import sys; from ovis.cli.aa.{tool[3:]} import entrypoint; "
            "sys.exit(entrypoint())"]
    if via == "module-S":
        if tool != "ovis":
            return [sys.executable, "-S", "-c", f"import sys; from ovis.cli.aa.{tool[3:]} "
                    "import entrypoint; sys.exit(entrypoint())"]
        return [sys.executable, "-S", "-m", "ovis"]
    given = BINDIRS.get(str(tree))
    cands = [given] if given is not None else [Path(sys.executable).parent] + [
        Path(d) for d in os.environ.get("PATH", "").split(":") if d and "shims" not in d]
    why = []
    for bindir in dict.fromkeys(cands):
        script = bindir / tool
        if not script.is_file():
            continue
        err = _check_installed(script, tree)
        if err is None:
            return [str(script)]
        why.append(err)
    raise SystemExit(f"no installed {tool} runs the ovis of {tree}"
                     + (": " + "; ".join(why) if why else f" (none in {', '.join(map(str, cands))})")
                     + ": install it there, give --bindirs, or use --via module")


_CHECKED: set[tuple[str, str]] = set()


def _check_installed(script: Path, tree: Path) -> str | None:
    """Run *script* (``--version``) under its own interpreter and flags and
    look at which ``ovis`` package it imported."""
    if (str(script), str(tree)) in _CHECKED:
        return None
    first = script.read_text(errors="replace").split("\n", 1)[0]
    words = first[2:].split() if first.startswith("#!") else [sys.executable]
    if Path(words[0]).name == "env":  # #!/usr/bin/env python3 -S ...
        words = words[1:]
    probe = ("import os, runpy, sys\n"
             # a lean launcher ends with os._exit (ovis.cli.leave): here it comes back
             "os._exit = sys.exit\n"
             "s = sys.argv[1]; sys.argv = [s, '-V' if os.path.basename(s) != 'ovis' else '--version']\n"
             "if sys.path and sys.path[0] in ('', '/'): sys.path[0] = os.path.dirname(s)\n"
             "try:\n    runpy.run_path(s, run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "m = sys.modules.get('ovis')\n"
             "print('OVIS=' + (os.path.realpath(m.__file__) if m and m.__file__ else '?'))\n")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tree)}
    out = subprocess.run([*words, "-c", probe, str(script)], env=env, capture_output=True,
                         text=True, cwd="/").stdout
    got = next((ln[5:] for ln in out.splitlines() if ln.startswith("OVIS=")), "?")
    if not got.startswith(str(tree) + "/"):
        return f"{script} runs the ovis of {got}"
    _CHECKED.add((str(script), str(tree)))
    return None


def ovis(env: dict[str, str], *args: str) -> None:
    subprocess.run([*launcher(), "-v", "0", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def wait_svscan(scandir: Path, timeout: float = 60.0) -> None:
    """Wait for an s6-svscan on *scandir*; fail rather than hang when none comes.

    A benchmark whose ``ovis scandir start`` exited at once (an installation
    that cannot import ovis, say) used to spin here for good, silently.
    """
    deadline = time.monotonic() + timeout
    while not svscan_running(scandir):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: no s6-svscan on {scandir} after {timeout:.0f} s "
                             "(did the command that starts it fail?)")
        time.sleep(0.002)


def stop_svscan(proc: subprocess.Popen[bytes], scandir: Path) -> None:
    try:
        svscan_send(scandir, "t")
    except Exception:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def ovis_run(n: int, chain: bool) -> tuple[float, float, Path]:
    """(cold, warm) seconds; leaves compiled servicedirs in the returned dir."""
    root = Path(tempfile.mkdtemp(prefix="ovis-bench-", dir=TMPFS))
    names = make_defs(root, n, chain)
    env = env_for(root)
    scandir = root / "live" / "scandir"
    t0 = time.perf_counter()
    svscan = subprocess.Popen([*launcher(), "scandir", "start"], env=env,
                              start_new_session=True)
    wait_svscan(scandir)
    ovis(env, "start", *names)
    cold = time.perf_counter() - t0
    ovis(env, "stop", "--all")
    t0 = time.perf_counter()
    ovis(env, "start", *names)
    warm = time.perf_counter() - t0
    stop_svscan(svscan, scandir)
    return cold, warm, root


def copy_servicedirs(compiled: Path, scandir: Path) -> list[Path]:
    """The servicedirs ovis compiled under *compiled*, copied into *scandir* for raw s6
    (no ``down`` file, no supervise state, no ovis.json)."""
    scandir.mkdir()
    dirs = []
    for e in sorted(os.listdir(compiled / "live" / "sv")):
        if e.startswith("."):
            continue
        dst = scandir / e
        shutil.copytree(compiled / "live" / "sv" / e, dst,
                        ignore=shutil.ignore_patterns("supervise", "event", "down", "ovis.json"))
        dirs.append(dst)
    return dirs


def raw_svscan(scandir: Path, n: int) -> subprocess.Popen[bytes]:
    """s6-svscan alone on *scandir* of *n* services, in a session of its own."""
    return subprocess.Popen(["s6-svscan", "-c", str(max(1000, 4 * n)), "-t", "0", str(scandir)],
                            start_new_session=True)


def wait_all_up(dirs: list[Path], poll: float = 0.001) -> None:
    pending = list(dirs)
    while pending:
        pending = [d for d in pending if not _up(d)]
        if pending:
            time.sleep(poll)


def raw_run(compiled: Path, n: int) -> float:
    root = Path(tempfile.mkdtemp(prefix="raw-bench-", dir=TMPFS))
    scandir = root / "scandir"
    dirs = copy_servicedirs(compiled, scandir)
    t0 = time.perf_counter()
    svscan = raw_svscan(scandir, n)
    wait_all_up(dirs)
    elapsed = time.perf_counter() - t0
    stop_svscan(svscan, scandir)
    shutil.rmtree(root, ignore_errors=True)
    return elapsed


def _up(d: Path) -> bool:
    try:
        st = read_status(d)
    except Exception:
        return False
    return st is not None and st.up


def measure(n: int, chain: bool, repeat: int) -> dict[str, float]:
    colds, warms, raws = [], [], []
    for _ in range(repeat):
        cold, warm, root = ovis_run(n, chain)
        raws.append(raw_run(root, n))
        colds.append(cold)
        warms.append(warm)
        shutil.rmtree(root, ignore_errors=True)
    # the ratio is the median of the per-repetition ratios (each pair ran
    # back to back, under the same load), not a ratio of medians
    return {"raw": statistics.median(raws), "cold": statistics.median(colds),
            "warm": statistics.median(warms),
            "ratio": statistics.median(c / r for c, r in zip(colds, raws))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--chain", type=int, default=100)
    ap.add_argument("--write", metavar="FILE", help="replace the table in this markdown file")
    ap.add_argument("--via", choices=VIAS, default="installed",
                    help="how ovis is run (default: the installed console script)")
    args = ap.parse_args()
    global VIA
    VIA = args.via
    rows = []
    for n in [int(x) for x in args.sizes.split(",") if x]:
        rows.append((f"{n} wide", measure(n, False, args.repeat)))
    if args.chain:
        rows.append((f"chain of {args.chain}", measure(args.chain, True, args.repeat)))
    lines = [
        "| shape | raw s6-svscan | ovis cold | ovis warm | cold / raw (median of pairs) |",
        "|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(f"| {label} | {r['raw']:.3f} s | {r['cold']:.3f} s | {r['warm']:.3f} s "
                     f"| {r['ratio']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_block(Path(args.write), "bench/boot.py",
                    f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, one run on a "
                    f"{os.cpu_count()}-core shared machine (load average "
                    f"{os.getloadavg()[0]:.1f} at the end), median of {args.repeat} repetitions, "
                    f"ovis and raw alternated: read the ratios, not the seconds.\n\n{table}")


if __name__ == "__main__":
    main()
