"""What the second pass on the start/stop hot path must not break (issue 13).

The runner closes settled jobs and the manager writes longruns' final
records only after the services a settlement made runnable were sent their
command; a transaction reads each record once; a subscription makes its
fifodir only when the fifo cannot be made; sessions are indexed with
getsid(2).  Each test fails if its shortcut loses a record, a close, a
fifodir or a leftover process.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ovis.engine import state as statefile
from ovis.engine.graph import Graph
from ovis.engine.runner import run
from ovis.engine.transaction import Action, Plan
from ovis.linux import procs
from ovis.paths import Paths
from ovis.s6 import events
from ovis.service.model import Kind, Service

from tests.defs import LONGRUN
from tests.livesys import LiveSystem, system  # noqa: F401
from tests.pipejob import PipeJob


def _chain(n: int) -> dict[str, Service]:
    names = [f"s{i}" for i in range(n)]
    return {m: Service(name=m, kind=Kind.LONGRUN, source=Path(f"/defs/{m}"),
                       depends=(names[i - 1],) if i else ()) for i, m in enumerate(names)}


def test_a_settlement_begins_the_next_service_before_its_close_and_flush() -> None:
    log: list[str] = []
    services = _chain(3)

    class Backend:
        def begin(self, name: str, action: Action, now: float) -> PipeJob:
            job = PipeJob(name, log)
            os.write(job.w, b"u")  # "up" as soon as it is asked
            return job

        def finish(self) -> None:
            log.append("finish")

    plan = Plan.make(Graph.build(services), set(services), Action.START)
    results = run(plan, Backend(), lambda n, r: log.append(f"report {n}"),
                  flush=lambda: log.append("flush"))
    assert all(r.ok for r in results.values()) and len(results) == 3
    # s0 settles: s1 is begun before s0's job is closed and before the flush
    assert log.index("report s0") < log.index("begin s1") < log.index("close s0") \
        < log.index("flush", log.index("begin s1"))
    assert log.count("close s0") == log.count("close s1") == log.count("close s2") == 1
    assert log[-2:] == ["flush", "finish"]  # the last settlement is flushed before the end


def test_settled_jobs_are_closed_and_flushed_when_a_begin_raises() -> None:
    log: list[str] = []
    services = _chain(2)

    class Backend:
        def begin(self, name: str, action: Action, now: float) -> PipeJob:
            if name == "s1":
                raise RuntimeError("boom")
            job = PipeJob(name, log)
            os.write(job.w, b"u")
            return job

        def finish(self) -> None:
            log.append("finish")

    plan = Plan.make(Graph.build(services), set(services), Action.START)
    with pytest.raises(RuntimeError):
        run(plan, Backend(), lambda n, r: log.append(f"report {n}"),
            flush=lambda: log.append("flush"))
    assert "close s0" in log and log.index("report s0") < log.index("flush", log.index("close s0"))
    assert log[-1] == "finish"


def test_every_record_is_written_once_a_chain_start_and_stop_return(system: LiveSystem) -> None:
    names = [f"c{i}" for i in range(6)]
    for i, n in enumerate(names):
        system.write(n, LONGRUN.format(name=n, extra=f"Depends = ( {names[i - 1]} )" if i else "",
                                       run="sleep 1000"))
    paths = Paths.resolve({"OVIS_LIVE": str(system.live)})
    system.ovis("start", names[-1], check=True)
    for n in names:
        st = statefile.load(paths, n)
        assert st is not None and st.state == "up" and st.wanted == "up", (n, st)
        assert st.timings["start_begun"] <= st.timings["start_ended"]
    # a record's other fields survive the one read per transaction
    st = statefile.load(paths, "c0")
    assert st is not None
    st.reset_from = ["exited", "exited 3"]
    statefile.save(paths, st)
    system.ovis("stop", "c0", check=True)
    for n in names:
        st = statefile.load(paths, n)
        assert st is not None and st.state == "down" and st.wanted == "down", (n, st)
        assert st.timings["stop_begun"] >= st.timings["start_ended"]
    assert statefile.load(paths, "c0").reset_from == ["exited", "exited 3"]  # type: ignore[union-attr]


def test_a_subscription_makes_a_missing_fifodir_like_s6(tmp_path: Path) -> None:
    sd = tmp_path / "svc"
    sd.mkdir()
    with events.subscribe(sd) as sub:
        st = os.stat(sd / "event")
        assert stat.S_IMODE(st.st_mode) == 0o3730 and st.st_gid == os.getegid()
        assert sub.path.parent == sd / "event" and stat.S_ISFIFO(os.stat(sub.path).st_mode)
    # through a dangling symlink, as s6-supervise's mkdir does
    other = tmp_path / "other"
    other.mkdir()
    sd2 = tmp_path / "svc2"
    sd2.mkdir()
    os.symlink("../other/ev", sd2 / "event")
    with events.subscribe(sd2) as sub:
        assert (other / "ev").is_dir() and sub.path.name in os.listdir(other / "ev")
    # a file where the fifodir should be is an error, not a crash loop
    sd3 = tmp_path / "svc3"
    sd3.mkdir()
    (sd3 / "event").write_text("")
    with pytest.raises(NotADirectoryError):
        events.subscribe(sd3)
    with pytest.raises(FileNotFoundError):
        events.subscribe(tmp_path / "missing")


def test_session_members_finds_a_leftover_among_many_processes() -> None:
    # a session leader that leaves a child and exits, among a crowd of others
    crowd = [subprocess.Popen(["sleep", "60"], start_new_session=True) for _ in range(20)]
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!"], stdout=subprocess.PIPE,
                              start_new_session=True, text=True)
    try:
        child = int(leader.stdout.readline())  # type: ignore[union-attr]
        leader.wait()
        procs.new_round()
        try:
            assert procs.session_members(leader.pid) == [child]
            assert procs.session_members(crowd[0].pid) == [crowd[0].pid]
        finally:
            procs.end_round()
        assert procs.end_session(leader.pid) == 1
        deadline = time.monotonic() + 30
        while procs.session_members(leader.pid, fresh=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs.session_members(leader.pid, fresh=True) == []
    finally:
        for p in crowd:
            p.send_signal(signal.SIGKILL)
            p.wait()


def test_a_record_larger_than_one_read_loads_whole(tmp_path: Path) -> None:
    paths = Paths.resolve({"OVIS_LIVE": str(tmp_path / "live")})
    st = statefile.ServiceState("big", state="failed", detail="x" * 200_000 + "end")
    statefile.save(paths, st)
    assert statefile.load(paths, "big") == st
    (paths.state / "cut.json").write_bytes(st.to_json().encode()[:70_000])
    assert statefile.load(paths, "cut") is None  # a damaged record reads as none, no crash


def test_status_files_of_every_size_but_35_are_refused(tmp_path: Path) -> None:
    from ovis.errors import ProtocolError
    from ovis.s6.status import STATUS_SIZE, read_status

    (tmp_path / "supervise").mkdir()
    f = tmp_path / "supervise" / "status"
    for size in (0, 1, STATUS_SIZE - 1, STATUS_SIZE + 1, 4096):
        f.write_bytes(b"\0" * size)
        with pytest.raises(ProtocolError):
            read_status(tmp_path)
    f.write_bytes(b"\0" * STATUS_SIZE)
    st = read_status(tmp_path)
    assert st is not None and not st.up
