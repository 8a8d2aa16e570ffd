"""A cold start compiles while it starts (ovis/engine/install.py): its guarantees.

Servicedirs are written and linked while the transaction runs, and the
services with no prerequisite are created without a ``down`` file (their
supervisor starts them as soon as s6-svscan spawns it).  What must still
hold: a dependent starts only once its dependencies are up and ready; bad
input anywhere (the last file, a cycle, a missing dependency) is exit 2
with nothing in LIVE and nothing started; a start done now is reported as
such, not as "already up"; a cold start killed half-way is finished by the
next one, each program run once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.livesys import LiveSystem, system, wait_until  # noqa: F401

from ovis.engine.graph import Graph
from ovis.engine.install import dependency_order
from ovis.engine.transaction import Action, Plan
from ovis.service.model import Kind, Service


def _dag(n: int, seed: int) -> list[tuple[str, bool, list[str]]]:
    """(name, oneshot, needs): a random DAG whose names do not sort in dependency order."""
    rnd = random.Random(seed)
    names = [f"s{rnd.randrange(10**6):06d}x{i}" for i in range(n)]
    out: list[tuple[str, bool, list[str]]] = []
    for i, name in enumerate(names):
        needs = sorted({names[rnd.randrange(i)] for _ in range(rnd.randint(0, 3))}) if i else []
        out.append((name, rnd.random() < 0.2, needs))
    return out


def _write_checking(s: LiveSystem, dag: list[tuple[str, bool, list[str]]], marks: Path) -> None:
    """Each service checks, when its program runs, that its dependencies left their mark
    (a longrun marks after a pause, just before it signals readiness)."""
    marks.mkdir()
    for name, oneshot, needs in dag:
        check = "".join(f"test -e {marks}/{d} || echo {d} >> {marks}/early.{name}; "
                        for d in needs)
        deps = f"Depends = ( {' '.join(needs)} )\n" if needs else ""
        if oneshot:
            s.write(name, f"[Main]\nType = oneshot\nOptions = ( !log )\n{deps}\n[Start]\n"
                          f"Execute = ( /bin/sh -c \"{check}touch {marks}/{name}\" )\n")
        else:
            s.write(name, f"[Main]\nType = classic\nOptions = ( !log )\nNotify = 3\n{deps}\n"
                          f"[Start]\nExecute = ( /bin/sh -c \"{check}echo {name} >> {marks}/runs; "
                          f"sleep 0.02; touch {marks}/{name}; echo >&3; exec sleep 1000\" )\n")


def test_cold_start_keeps_dependency_order_and_reports_each_start(system: LiveSystem) -> None:
    dag = _dag(60, seed=5)
    marks = system.root / "marks"
    _write_checking(system, dag, marks)
    names = [n for n, _, _ in dag]
    r = system.ovis("--json", "start", *names, timeout=240)
    assert r.returncode == 0, r.stderr
    res = {x["name"]: x for x in json.loads(r.stdout)["services"]}
    assert sorted(res) == sorted(names)
    # started now, every one: a root its supervisor started by itself is no "already up"
    assert [n for n, x in res.items() if not x["ok"] or x["already"]] == []
    early = sorted(p.name for p in marks.glob("early.*"))
    assert early == [], {p: (marks / p).read_text() for p in early}
    assert all((marks / n).exists() for n in names)
    st = system.status()
    assert sorted(n for n in names if st[n]["state"] != "up") == []
    # every longrun ran once; a second start finds everything up
    runs = (marks / "runs").read_text().split()
    assert sorted(runs) == sorted(n for n, oneshot, _ in dag if not oneshot)
    again = json.loads(system.ovis("--json", "start", *names, check=True).stdout)
    assert [x["name"] for x in again["services"] if not x["already"]] == []
    # the plain summary counts them as started too
    system.ovis("stop", "--all", check=True, timeout=240)
    r = system.ovis("start", names[0], check=True)
    assert "started 1 service" in r.stdout


def test_fresh_roots_have_no_down_file_and_the_rest_waits(system: LiveSystem) -> None:
    """Roots are created up; a dependent is created down and started by ovis."""
    system.write("root1", "[Main]\nType = classic\nOptions = ( !log )\n[Start]\n"
                          "Execute = ( sleep 1000 )\n")
    system.write("dep1", "[Main]\nType = classic\nOptions = ( !log )\nDepends = ( root1 )\n"
                         "[Start]\nExecute = ( sleep 1000 )\n")
    system.ovis("start", "dep1", check=True)
    st = system.status()
    assert st["root1"]["state"] == "up" and st["dep1"]["state"] == "up"
    # once started, neither has a down file (U removes it): a restarted
    # supervisor brings both back
    assert not (system.live / "sv" / "root1" / "down").exists()
    assert not (system.live / "sv" / "dep1" / "down").exists()
    # a service defined later and started alone is a root of its own start
    system.write("later", "[Main]\nType = classic\nOptions = ( !log )\nDepends = ( dep1 )\n"
                          "[Start]\nExecute = ( sleep 1000 )\n")
    r = json.loads(system.ovis("--json", "start", "later", check=True).stdout)
    by = {x["name"]: x for x in r["services"]}
    assert by["later"]["ok"] and not by["later"]["already"]
    assert by["dep1"]["already"] and by["root1"]["already"]


BAD = {
    "syntax": lambda names: {names[-1]: "[Main]\nType = classic\nBogus = 1\n[Start]\n"
                                        "Execute = ( sleep 1 )\n"},
    "cycle": lambda names: {names[-1]: f"[Main]\nType = classic\nDepends = ( {names[-2]} )\n"
                                       "[Start]\nExecute = ( sleep 1 )\n",
                            names[-2]: f"[Main]\nType = classic\nDepends = ( {names[-1]} )\n"
                                       "[Start]\nExecute = ( sleep 1 )\n"},
    "missing": lambda names: {names[-1]: "[Main]\nType = classic\nDepends = ( nowhere )\n"
                                         "[Start]\nExecute = ( sleep 1 )\n"},
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_anywhere_writes_and_starts_nothing(system: LiveSystem, kind: str) -> None:
    names = [f"n{i:03d}" for i in range(80)]
    marks = system.root / "marks"
    marks.mkdir()
    for n in names:
        system.write(n, f"[Main]\nType = classic\nOptions = ( !log )\n[Start]\n"
                        f"Execute = ( /bin/sh -c \"touch {marks}/{n}; exec sleep 1000\" )\n")
    for n, text in BAD[kind](names).items():
        system.write(n, text)
    r = system.ovis("start", *names, timeout=240)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("ovis: error: "), r.stderr
    sv = system.live / "sv"
    assert not sv.exists() or [e for e in os.listdir(sv) if not e.startswith(".")] == []
    scandir = system.live / "scandir"
    assert [e for e in os.listdir(scandir) if not e.startswith(".")] == []
    assert not (system.live / "status-index").exists()  # not even the status cache
    time.sleep(0.5)  # a service wrongly started would have marked by now
    assert sorted(os.listdir(marks)) == []


def test_a_killed_cold_start_is_finished_by_the_next(system: LiveSystem) -> None:
    dag = _dag(120, seed=11)
    marks = system.root / "marks"
    _write_checking(system, dag, marks)
    names = [n for n, _, _ in dag]
    proc = subprocess.Popen([sys.executable, "-m", "ovis", "start", *names], env=system.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # killed once the first services are up, while the rest is compiled or started
        assert wait_until(lambda: (marks / "runs").exists() or proc.poll() is not None,
                          timeout=120)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    r = system.ovis("--json", "start", *names, timeout=240)
    assert r.returncode == 0, r.stderr
    st = system.status()
    assert sorted(n for n in names if st[n]["state"] != "up") == []
    runs = (marks / "runs").read_text().split()
    assert sorted(runs) == sorted(n for n, oneshot, _ in dag if not oneshot)  # once each
    assert sorted(p.name for p in marks.glob("early.*")) == []
    leftovers = [e for e in os.listdir(system.live / "sv") if e.startswith(".")]
    assert leftovers == []  # a killed compile's temporaries are cleaned up


def _svc(name: str, depends: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> Service:
    return Service(name=name, kind=Kind.LONGRUN, source=Path("/dev/null"), depends=depends,
                   after=after)


def test_dependency_order_puts_every_service_after_its_prerequisites() -> None:
    dag = _dag(200, seed=3)
    services = {n: _svc(n, tuple(needs)) for n, _, needs in dag}
    # plus ordering-only edges, which the order must honour as well
    services["zz-last"] = _svc("zz-last")
    services["aa-first"] = _svc("aa-first", after=("zz-last",))
    plan = Plan.make(Graph.build(services), set(services), Action.START)
    order = dependency_order(plan)
    assert sorted(order) == sorted(services)
    pos = {n: i for i, n in enumerate(order)}
    for n in services:
        for p in plan.prereq[n]:
            assert pos[p] < pos[n], (p, n)


def _scandir_start_probe(tmp_path: Path, argv: list[str]) -> dict[str, object]:
    """What ``ovis ARGV`` would exec (s6-svscan's argv and environment), and whether it
    built an argparse parser to get there (os.execvpe replaced by a reporter)."""
    probe = ("import json, os, sys\n"
             "def fake(prog, args, env):\n"
             "    print(json.dumps({'argv': args, 'env': env, 'argparse': 'argparse' in sys.modules}))\n"
             "    sys.stdout.flush(); os._exit(0)\n"
             "os.execvpe = fake\n"
             "from ovis.cli.main import main\n"
             f"sys.exit(main({argv!r}))\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(Path(__file__).parent.parent),
           "OVIS_LIVE": str(tmp_path / "live"), "OVIS_SERVICES": str(tmp_path / "svc")}
    p = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_scandir_start_quick_path_execs_what_argparse_would(tmp_path: Path) -> None:
    """``ovis [-v N] scandir start`` (every cold start's first command) builds no parser
    and execs exactly the s6-svscan the parsed command line execs."""
    (tmp_path / "svc").mkdir()
    quick = _scandir_start_probe(tmp_path, ["-v", "0", "scandir", "start"])
    plain = _scandir_start_probe(tmp_path, ["scandir", "start"])
    parsed = _scandir_start_probe(tmp_path, ["--live", str(tmp_path / "live"), "scandir", "start"])
    assert quick["argparse"] is False and plain["argparse"] is False
    assert parsed["argparse"] is True  # a global option: argparse reads it, as before
    assert quick["argv"] == plain["argv"] == parsed["argv"]
    assert quick["env"] == plain["env"] == parsed["env"]
    assert quick["argv"][0] == "s6-svscan" and quick["argv"][-1] == str(tmp_path / "live" / "scandir")


class _FakeCompiler:
    """Compiles nothing; links every longrun as new (what Installer asks of the compiler)."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.compiled: list[str] = []

    def compile(self, svc: Service, down: bool = True) -> None:
        self.compiled.append(svc.name)
        self.created.append(svc.name)

    def link(self, name: str) -> bool:
        return True


def _chain_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int):  # type: ignore[no-untyped-def]
    from ovis.engine import install
    from ovis.paths import Paths
    from ovis.s6 import control

    told: list[int] = []
    monkeypatch.setattr(control, "svscan_running", lambda scandir: True)
    monkeypatch.setattr(control, "svscan_send", lambda scandir, letters: told.append(inst._links))
    names = [f"c{i:03d}" for i in range(n)]
    services = {x: Service(x, Kind.LONGRUN, source=Path(f"/defs/{x}"),
                           depends=(names[i - 1],) if i else ())
                for i, x in enumerate(names)}
    plan = Plan.make(Graph.build(services), names, Action.START)
    paths = Paths(skel=tmp_path / "skel", services=(tmp_path / "services",),
                  trees=tmp_path / "trees", live=tmp_path / "live", logdir=tmp_path / "log")
    comp = _FakeCompiler()
    inst = install.Installer(paths, comp, services, plan)  # type: ignore[arg-type]
    return inst, comp, told, names


def test_a_step_ends_early_when_an_event_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's next link must not wait for a whole batch's compile: one service
    per step while events wait, the rest of the batch next, in dependency order."""
    from ovis.engine import install

    inst, comp, told, names = _chain_installer(tmp_path, monkeypatch, 3 * install.BATCH)
    assert inst.step(lambda: False) is True  # nothing waits: the first batch whole
    assert comp.compiled == names[:install.FIRST_BATCH]
    asked: list[str] = []

    def waiting() -> bool:
        asked.append(comp.compiled[-1])
        return True

    for _ in range(3):
        inst.step(waiting)
    assert comp.compiled == names[:install.FIRST_BATCH + 3]  # one each, none skipped
    assert asked == names[install.FIRST_BATCH:install.FIRST_BATCH + 3]
    while inst.step(lambda: False):
        pass
    assert comp.compiled == names  # each once, in order
    assert told[-1] == len(names)  # s6-svscan told about the last links too


def test_short_steps_do_not_rescan_each_time_but_a_begun_service_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """s6-svscan scans the whole scandir at each 'a': short steps tell it once
    FIRST_BATCH links wait, or at once when one of them begins (its job waits
    for the supervisor)."""
    from ovis.engine import install

    inst, comp, told, names = _chain_installer(tmp_path, monkeypatch, 3 * install.BATCH)
    inst.step(lambda: False)
    assert told == [1, install.FIRST_BATCH]
    inst.step(lambda: True)  # one more link: not worth a scan yet
    assert told == [1, install.FIRST_BATCH]
    inst.rescan_begun()  # nothing unannounced began
    assert told == [1, install.FIRST_BATCH]
    inst.begun(names[install.FIRST_BATCH])
    inst.rescan_begun()
    assert told == [1, install.FIRST_BATCH, install.FIRST_BATCH + 1]
    for _ in range(install.FIRST_BATCH - 1):
        inst.step(lambda: True)
    assert told == [1, install.FIRST_BATCH, install.FIRST_BATCH + 1]
    inst.step(lambda: True)  # FIRST_BATCH links waiting now
    assert told[-1] == 2 * install.FIRST_BATCH + 1
