"""What the start/stop hot path's speed-ups must not break (issue 13).

State records written without dataclasses.asdict and with one mkdir per
process, deadlines kept in a heap, s6-svscan told to rescan while the rest
of a transaction is still compiled: each test fails if its shortcut loses
a field, a directory, a timeout or the early supervisors.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from ovis.record import fields
from pathlib import Path

from ovis.engine import state as statefile
from ovis.engine.graph import Graph
from ovis.engine.manager import EARLY_RESCAN, Manager
from ovis.engine.runner import run
from ovis.engine.transaction import Action, Plan, Reason, Result
from ovis.paths import Paths
from ovis.s6.control import is_supervised
from ovis.service.model import Kind, Service

from tests.defs import LONGRUN
from tests.livesys import LiveSystem, system  # noqa: F401


def test_a_record_round_trips_every_field_and_survives_its_directory_going(tmp_path: Path) -> None:
    paths = Paths.resolve({"OVIS_LIVE": str(tmp_path / "live")})
    st = statefile.ServiceState("svc", state="failed", wanted="up", reason="exited", exit=3,
                                detail="exited 3", since=12.5,
                                timings={"start_begun": 1.0, "start_ended": 2.0}, crashes=2,
                                reset_from=["exited", "exited 3"], session=4242)
    statefile.save(paths, st)
    data = json.loads((paths.state / "svc.json").read_text())
    assert list(data) == sorted(fields(statefile.ServiceState))
    assert statefile.load(paths, "svc") == st
    st.timings["stop_begun"] = 3.0  # the record written is a copy, not a view
    assert "stop_begun" not in statefile.load(paths, "svc").timings  # type: ignore[union-attr]
    shutil.rmtree(paths.state)  # the directory this process already made is gone
    statefile.save(paths, st)
    assert statefile.load(paths, "svc") == st


class _Timed:
    """A job that times out; *moves* times it first moves its deadline on."""

    def __init__(self, name: str, deadline: float, moves: int, log: list[str]) -> None:
        self.r, self.w = os.pipe()
        self.name, self.deadline, self.moves, self.log = name, deadline, moves, log

    def fileno(self) -> int:
        return self.r

    def on_readable(self, now: float) -> Result | None:
        return None

    def on_timeout(self, now: float) -> Result | None:
        self.log.append(self.name)
        if self.moves:
            self.moves -= 1
            self.deadline = now + 0.05
            return None
        return Result(False, Reason.TIMED_OUT)

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


def test_deadlines_fire_in_order_and_a_moved_one_fires_again() -> None:
    log: list[str] = []
    t0 = time.monotonic()
    # b times out first; a moves its deadline twice (TERM, then KILL after a
    # grace, as a oneshot does); the many others fire once each.
    due = {"a": (0.02, 2), "b": (0.01, 0)} | {f"z{i:03d}": (0.03 + i / 10000, 0) for i in range(200)}

    class Backend:
        def begin(self, name: str, action: Action, now: float) -> _Timed:
            at, moves = due[name]
            return _Timed(name, t0 + at, moves, log)

        def finish(self) -> None:
            pass

    services = {n: Service(name=n, kind=Kind.LONGRUN, source=Path(f"/defs/{n}")) for n in due}
    plan = Plan.make(Graph.build(services), set(services), Action.START)
    # A deadline lost would wait forever: a wide guard ends it (as interrupted) instead.
    results = run(plan, Backend(), lambda n, r: None, interrupted=lambda: time.monotonic() - t0 > 60)
    assert all(r.reason is Reason.TIMED_OUT for r in results.values()) and len(results) == len(due)
    assert log.count("a") == 3 and log[0] == "b"
    assert [n for n in log if n.startswith("z")] == sorted(n for n in due if n.startswith("z"))
    assert log.index("a") < log.index("z000")  # a's first deadline came before theirs


def test_supervisors_are_spawned_while_the_rest_is_still_compiled(system: LiveSystem) -> None:
    n = EARLY_RESCAN + 8
    names = [f"early{i:02d}" for i in range(n)]
    for name in names:
        system.write(name, LONGRUN.format(name=name, run="sleep 1000", extra=""))
    paths = Paths.resolve(system.env)
    m = Manager(paths)
    compiled: list[str] = []
    seen: list[bool] = []
    compile_ = m.compiler.compile

    def compile(svc: Service, *, down: bool = True) -> bool:
        compiled.append(svc.name)
        if len(compiled) == n:  # the last one: the first must be supervised by now
            first = paths.servicedir(compiled[0])
            deadline = time.monotonic() + 30  # wide: only a broken build waits it out
            while not is_supervised(first) and time.monotonic() < deadline:
                time.sleep(0.02)
            seen.append(is_supervised(first))
        return compile_(svc, down=down)

    m.compiler.compile = compile  # type: ignore[method-assign]
    out = m.start(names)
    assert seen == [True]
    assert not out.failed and len(out.results) == n
    st = system.status()
    assert all(st[name]["state"] == "up" for name in names)



def test_a_start_timeout_counts_from_the_command_not_the_supervisors_spawn(
        system: LiveSystem, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a slow CPU s6-svscan may take seconds to spawn the supervisors of a
    large transaction; TimeoutStart (s6-svc -wU -T's meaning in 66 and s6-rc)
    must not be spent waiting for them."""
    from ovis.s6 import control

    system.write("late", LONGRUN.format(name="late", run="sleep 1000", extra="TimeoutStart = 1000"))
    send = control.svscan_send
    timers: list[threading.Timer] = []

    def late_send(scandir, what):  # type: ignore[no-untyped-def]
        timers.append(threading.Timer(2.5, send, (scandir, what)))  # longer than the timeout
        timers[-1].start()

    monkeypatch.setattr(control, "svscan_send", late_send)
    try:
        out = Manager(Paths.resolve(system.env)).start(["late"])
    finally:
        for t in timers:
            t.join()
    assert timers, "the supervisor was not spawned late: the test proves nothing"
    assert not out.failed, out.results
    assert system.status("late")["late"]["state"] == "up"


def test_the_loop_looks_for_a_shutdown_at_most_every_poll(tmp_path: Path) -> None:
    """A start's loop asks at every wake-up; the file is looked at once per
    SHUTDOWN_POLL: a request is still seen, that much later at worst."""
    from ovis.engine import manager as M
    from ovis.paths import Paths

    paths = Paths(skel=tmp_path / "skel", services=(tmp_path / "services",),
                  trees=tmp_path / "trees", live=tmp_path / "live", logdir=tmp_path / "log")
    (tmp_path / "live").mkdir()
    m = M.Manager(paths)
    assert m._shutdown_asked() is False
    (tmp_path / "live" / "shutdown").touch()
    assert m.shutting_down() is True  # the exact answer, for the refusals
    assert m._shutdown_asked() is False  # looked a moment ago
    time.sleep(M.SHUTDOWN_POLL * 1.5)
    assert m._shutdown_asked() is True
    assert M.Manager(paths)._shutdown_asked() is True  # a new loop looks at once
