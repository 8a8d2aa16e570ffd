"""Fifth pass on the per-service syscalls of a transaction (issue 13, run17).

A known umask spares the chmod of every record and fifo; the fifo names
come from a pool of random bytes; a temporary is created exclusively.  Each
test fails if its shortcut gives a file another mode, follows a planted
link or repeats a name.
"""

from __future__ import annotations

import os
import time
import stat
from pathlib import Path

import pytest

from ovis import atomic
from ovis.s6 import events


@pytest.fixture
def umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    os.umask(old)

    def set_(m: int) -> None:
        os.umask(m)

    yield set_
    os.umask(old)
    atomic.forget_umask()


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277, 0o777])
def test_a_record_has_its_mode_whatever_the_umask(tmp_path: Path, umask, mask: int) -> None:  # type: ignore[no-untyped-def]
    umask(mask)
    for known in (False, True):
        if known:
            atomic.know_umask()
        p = tmp_path / f"r{known}"
        atomic.write_bytes(p, b"x", 0o644)
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, (oct(mask), known)
        assert p.read_bytes() == b"x"
        atomic.forget_umask()


def test_exact_mode_is_only_claimed_for_a_known_umask(umask) -> None:  # type: ignore[no-untyped-def]
    umask(0o022)
    assert not atomic.exact_mode(0o644)  # unknown
    atomic.know_umask()
    assert atomic.exact_mode(0o644) and atomic.exact_mode(0o600) and not atomic.exact_mode(0o666)
    assert os.umask(0o022) == 0o022  # reading it left it as it was
    atomic.forget_umask()
    assert not atomic.exact_mode(0o600)


def test_a_left_temporary_or_a_planted_link_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    dest = tmp_path / "rec.json"
    tmp = tmp_path / f".rec.json.{os.getpid()}.tmp"
    os.symlink(target, tmp)
    atomic.write_bytes(dest, b"new", 0o644)
    assert target.read_text() == "keep" and dest.read_bytes() == b"new"
    assert not os.path.lexists(tmp)
    tmp.write_text("old")
    tmp.chmod(0o666)  # a dead process's (same pid) with another mode
    atomic.know_umask()
    try:
        atomic.write_bytes(dest, b"newer", 0o644)
    finally:
        atomic.forget_umask()
    assert dest.read_bytes() == b"newer" and stat.S_IMODE(dest.stat().st_mode) == 0o644


@pytest.mark.parametrize("mask", [0o022, 0o277])
def test_a_subscription_fifo_is_0600_with_a_known_umask(tmp_path: Path, umask, mask: int) -> None:  # type: ignore[no-untyped-def]
    sd = tmp_path / "svc"
    (sd / "event").mkdir(parents=True)
    umask(mask)
    atomic.know_umask()
    with events.subscribe(sd) as sub:
        assert stat.S_IMODE(os.stat(sub.path).st_mode) == 0o600


def test_fifo_names_are_unique_and_a_forked_child_draws_its_own(tmp_path: Path) -> None:
    names = {events._random_suffix() for _ in range(500)}
    assert len(names) == 500  # the pool is consumed, not reread
    assert all(len(n) == 6 and n.isalnum() and n.isascii() for n in names)
    events._random_suffix()  # the pool is not empty now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        os.write(w, events._random_suffix().encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 16).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert child != events._random_suffix()  # not the next name of the parent's pool


# Subscriptions made ahead (S6Backend.prepare) ---------------------------------

import threading  # noqa: E402

from ovis.engine.graph import Graph  # noqa: E402
from ovis.engine.runner import run  # noqa: E402
from ovis.engine.s6backend import LongrunJob  # noqa: E402
from ovis.engine.transaction import Action, Plan  # noqa: E402
from ovis.engine import state as statefile  # noqa: E402
from ovis.engine.manager import Manager  # noqa: E402
from ovis.s6.control import is_supervised  # noqa: E402
from ovis.paths import Paths  # noqa: E402
from ovis.service.compiler import compiled_services  # noqa: E402
from ovis.service.model import Kind, Service  # noqa: E402

from tests.defs import LONGRUN  # noqa: E402
from tests.livesys import LiveSystem, system  # noqa: E402,F401
from tests.pipejob import PipeJob  # noqa: E402


class _Later(PipeJob):
    """A job settled by a timer (its pipe written): the runner waits for it."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name, log)
        threading.Timer(0.05, os.write, (self.w, b"u")).start()


def test_the_next_of_a_chain_is_prepared_while_its_prerequisite_runs() -> None:
    names = ["a", "b", "c"]
    services = {n: Service(name=n, kind=Kind.LONGRUN, source=Path(f"/defs/{n}"),
                           depends=(names[i - 1],) if i else ()) for i, n in enumerate(names)}
    services["x"] = Service(name="x", kind=Kind.LONGRUN, source=Path("/defs/x"),
                            depends=("a", "b"))  # waits on two: prepared once b runs
    log: list[str] = []

    class Backend:
        def prepare(self, name: str) -> None:
            log.append(f"prepare {name}")

        def begin(self, name: str, action: Action, now: float) -> _Later:
            return _Later(name, log)

        def finish(self) -> None:
            pass

    plan = Plan.make(Graph.build(services), set(services), Action.START)
    results = run(plan, Backend(), lambda n, r: log.append(f"report {n}"))
    assert all(r.ok for r in results.values()) and len(results) == 4
    for prev, nxt in (("a", "b"), ("b", "c"), ("b", "x")):
        assert log.index(f"begin {prev}") < log.index(f"prepare {nxt}") \
            < log.index(f"report {prev}") < log.index(f"begin {nxt}"), log
    assert "prepare a" not in log  # runnable at once: nothing to get ready
    assert sum(e.startswith("prepare ") for e in log) == 3  # each once


def test_a_prepared_subscription_forgets_what_it_heard_before_the_command(
        system: LiveSystem) -> None:
    """Letters a subscription made ahead received before the job began are
    older than the status it reads: fed, a stale 'uU' would pass a service
    that never gets ready for started."""
    system.write("stuck", LONGRUN.format(name="stuck", extra="Notify = 3\nTimeoutStart = 0",
                                         run="sleep 1000"))
    paths = Paths.resolve(system.env)
    m = Manager(paths)
    with statefile.Lock(paths):  # compiled and supervised, down
        m._compile_and_link(m.load(["stuck"]))
    svc = compiled_services(paths)["stuck"]
    d = paths.servicedir("stuck")
    deadline = time.monotonic() + 30
    while not is_supervised(d) and time.monotonic() < deadline:
        time.sleep(0.02)
    sub = events.subscribe(d)
    with open(sub.path, "wb", buffering=0) as f:
        f.write(b"uU")  # as if heard from an earlier start
    job = LongrunJob(svc, d, Action.START, time.monotonic(), sub=sub)
    try:
        assert job.result is None  # up, never ready: still waiting
        deadline = time.monotonic() + 30
        while not job.tracker.up and time.monotonic() < deadline:  # type: ignore[union-attr]
            if job.on_readable(time.monotonic()) is not None:
                break
            time.sleep(0.02)
        assert job.result is None and not job.tracker.ready  # type: ignore[union-attr]
    finally:
        job.close()
        system.ovis("stop", "stuck", check=False)


# A oneshot's session checked without listing /proc ----------------------------

import subprocess  # noqa: E402

from ovis.linux import procs  # noqa: E402


def _script_session(script: str) -> int:
    p = subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.wait(timeout=30)
    return p.pid


@pytest.mark.parametrize("wide", [False, True])
def test_a_just_ended_scripts_session_is_found_as_the_listing_finds_it(
        monkeypatch, tmp_path: Path, wide: bool) -> None:  # type: ignore[no-untyped-def]
    if procs._last_pid() is None:
        pytest.skip("no /proc/sys/kernel/ns_last_pid here")
    if wide:  # too many pids since: the listing itself
        monkeypatch.setattr(procs, "CATCH_UP_PIDS", -1)
    left = _script_session("sleep 30 & sleep 30 & exit 0")
    gone = _script_session("exit 0")
    # the script ends only once its child has left the session (setsid ran)
    mark = tmp_path / "left"
    away = _script_session(f"setsid sh -c 'echo > {mark}; exec sleep 30' & "
                           f"while [ ! -e {mark} ]; do sleep 0.01; done; exit 0")
    try:
        members = procs.young_session_members(left)
        assert len(members) == 2 and members == procs.session_members(left, fresh=True)
        assert all(os.getsid(m) == left for m in members)
        assert procs.young_session_members(gone) == [] == procs.session_members(gone, fresh=True)
        assert procs.young_session_members(away) == []  # it left the session with setsid
    finally:
        procs.end_session(left, grace=2)
        for pid in range(away, away + 64):  # the setsid'd sleep: its own session, above
            try:
                if os.getsid(pid) == pid and open(f"/proc/{pid}/cmdline", "rb").read() \
                        .startswith(b"sleep\0" + b"30"):
                    os.kill(pid, 9)
            except OSError:
                pass
    assert procs.young_session_members(left) == []
