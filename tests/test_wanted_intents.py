"""What ovis was asked, recorded once per transaction (LIVE/state/.wanted), not per record.

A transaction used to rewrite every service's record before it began, so
that a killed command left records saying what it was asked.  It now writes
one intents file instead; these tests fail if a reader stops applying it, if
an older intent beats a newer record, if a transaction leaves its entries
behind or rewrites each record twice, or if a killed transaction's wish is
lost (docs/guarantees.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ovis import atomic
from ovis.engine import state as statefile
from ovis.engine.manager import Manager
from ovis.paths import Paths

from tests.defs import LONGRUN
from tests.livesys import LiveSystem, system, wait_until  # noqa: F401


def _paths(tmp_path: Path) -> Paths:
    return Paths.resolve({"OVIS_LIVE": str(tmp_path / "live")})


def test_an_intent_newer_than_the_record_says_what_is_wanted(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    statefile.save(paths, statefile.ServiceState("a", state="down", wanted="down"))
    statefile.save(paths, statefile.ServiceState("b", state="down", wanted="down"))
    time.sleep(0.05)  # the records' mtimes (a coarse clock) are before the intent
    with statefile.Lock(paths):
        statefile.record_intents(paths, ["a", "missing"], "up", time.time_ns())
    assert statefile.load(paths, "a").wanted == "up"  # type: ignore[union-attr]
    assert statefile.load(paths, "b").wanted == "down"  # type: ignore[union-attr]
    assert statefile.load(paths, "missing") is None  # an intent makes no record
    # the record as written, for the transaction that owns the intent
    assert statefile.load(paths, "a", {}).wanted == "down"  # type: ignore[union-attr]


def test_a_record_written_after_the_intent_wins(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    statefile.save(paths, statefile.ServiceState("a", wanted="down"))
    when = time.time_ns()
    with statefile.Lock(paths):
        statefile.record_intents(paths, ["a"], "up", when)
    time.sleep(0.05)
    # e.g. `ovis reset` after a killed start: a later record, wanted down
    statefile.save(paths, statefile.ServiceState("a", state="down", wanted="down", reason="reset"))
    assert statefile.load(paths, "a").wanted == "down"  # type: ignore[union-attr]


def test_a_transaction_drops_only_its_own_entries(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    with statefile.Lock(paths):
        statefile.record_intents(paths, ["a", "b"], "up", 100)
        statefile.record_intents(paths, ["c"], "down", 200)
        statefile.drop_intents(paths, ["a", "b", "c"], 100)
    assert statefile.read_intents(paths) == {"c": ("down", 200)}
    with statefile.Lock(paths):
        statefile.drop_intents(paths, ["c"], 200)
    assert not os.path.lexists(f"{paths.state_str}/{statefile.INTENTS}")  # empty: removed
    assert statefile.read_intents(paths) == {}


def test_a_corrupt_or_planted_intents_file_is_ignored(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    statefile.save(paths, statefile.ServiceState("a", wanted="down"))
    path = f"{paths.state_str}/{statefile.INTENTS}"
    atomic.write_bytes(path, b'{"a": ["sideways", 99999999999999999999], "b": 3}\n')
    assert statefile.read_intents(paths) == {}
    assert statefile.load(paths, "a").wanted == "down"  # type: ignore[union-attr]
    os.unlink(path)
    target = tmp_path / "elsewhere"
    target.write_text('{"a": ["up", %d]}\n' % (time.time_ns() * 2))
    os.symlink(target, path)  # not followed
    assert statefile.read_intents(paths) == {}


def _count_record_writes(monkeypatch) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts: dict[str, int] = {}
    write = atomic.write_bytes

    def counting(path, data, *a, **k):  # type: ignore[no-untyped-def]
        counts[os.path.basename(os.fspath(path))] = counts.get(os.path.basename(os.fspath(path)), 0) + 1
        return write(path, data, *a, **k)

    monkeypatch.setattr(atomic, "write_bytes", counting)
    return counts


def test_a_start_and_a_stop_write_each_record_once_and_leave_no_intent(
        system: LiveSystem, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    names = [f"w{i}" for i in range(4)]
    for n in names:
        system.write(n, LONGRUN.format(name=n, run="sleep 1000", extra=""))
    paths = Paths.resolve(system.env)
    Manager(paths).start(names)
    Manager(paths).stop(names)
    counts = _count_record_writes(monkeypatch)
    out = Manager(paths).start(names)
    assert not out.failed
    assert {n: counts.get(f"{n}.json") for n in names} == {n: 1 for n in names}, counts
    assert counts.get(statefile.INTENTS) == 1  # one write for the whole transaction
    assert statefile.read_intents(paths) == {}
    assert not os.path.lexists(f"{paths.state_str}/{statefile.INTENTS}")
    for n in names:
        st = statefile.load(paths, n, {})
        assert st is not None and st.wanted == "up" and st.state == "up", st
    counts.clear()
    Manager(paths).stop(names)
    assert {n: counts.get(f"{n}.json") for n in names} == {n: 1 for n in names}, counts
    assert all(statefile.load(paths, n, {}).wanted == "down" for n in names)  # type: ignore[union-attr]


def test_already_up_but_wanted_down_records_the_wish(system: LiveSystem) -> None:
    """s6 has it up, its record says wanted down: a start changes only the wish."""
    system.write("a", LONGRUN.format(name="a", run="sleep 1000", extra=""))
    paths = Paths.resolve(system.env)
    Manager(paths).start(["a"])
    st = statefile.load(paths, "a")
    assert st is not None
    st.wanted, st.detail = "down", "kept"
    statefile.save(paths, st)
    out = Manager(paths).start(["a"])
    assert out.results["a"].already
    st = statefile.load(paths, "a", {})
    assert st is not None and st.wanted == "up" and st.detail == "kept", st


def test_a_killed_starts_wish_is_kept_until_the_next_transaction(system: LiveSystem) -> None:
    system.write("stuck", LONGRUN.format(name="stuck", extra="Notify = 3\nTimeoutStart = 0",
                                         run="sleep 1000"))
    system.write("other", LONGRUN.format(name="other", run="sleep 1000", extra=""))
    system.ovis("start", "other", check=True)
    paths = Paths.resolve(system.env)
    p = subprocess.Popen([sys.executable, "-m", "ovis", "start", "stuck"], env=system.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: system.status("stuck")["stuck"]["pid"] is not None, 30)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert "stuck" in statefile.read_intents(paths)  # the killed start's entry stays
    system.ovis("stop", "stuck", check=True)
    assert "stuck" not in statefile.read_intents(paths)  # replaced, then dropped
    st = system.status("stuck")["stuck"]
    assert st["wanted"] == "down" and st["state"] == "down", st
    assert system.status("other")["other"]["wanted"] == "up"


def test_a_fifo_planted_as_the_intents_file_does_not_hang_a_reader(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    statefile.save(paths, statefile.ServiceState("a", wanted="down"))
    os.mkfifo(f"{paths.state_str}/{statefile.INTENTS}")
    assert statefile.read_intents(paths) == {}  # returns (would block forever without O_NONBLOCK)
    assert statefile.load(paths, "a").wanted == "down"  # type: ignore[union-attr]
