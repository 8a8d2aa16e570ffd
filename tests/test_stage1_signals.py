"""Stage 1's signals between the fork of stage 2 and the exec into s6-svscan.

Stage 2 (the forked child) sends PID 1's recorded signals again once
s6-svscan runs.  Its copy of the record is the one of the fork: a signal that
reached PID 1 after the fork (PID 1 still Python, about to exec) used to be
lost, so a container's SIGTERM sent at that moment did nothing and the
container ran its command (tests/test_container.py's SIGTERM-during-stage-1
test failed now and then).  These tests play PID 1 in a forked process: it
forks a "stage 2", receives a signal and execs a program; what stage 2
reads is sent back to the test.  Stage 2 sends them once s6-svscan has
trapped its signals (a real s6-svscan here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Callable

from ovis.boot import signals


def play_pid1(after_fork: Callable[[], None], exec_argv: list[str] | None = None) -> list[int]:
    """Fork a PID 1 stand-in that forks stage 2, runs *after_fork* and execs."""
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # PID 1's stand-in
        try:
            os.close(res_r)
            signals.hold()
            late = signals.relay_pipe()
            child = os.fork()
            if child == 0:  # stage 2
                try:
                    signals.restore()
                    got = signals.late_signals(late, timeout=20)
                    os.write(res_w, json.dumps(got).encode())
                finally:
                    os._exit(0)
            os.close(late)
            os.close(res_w)
            after_fork()
            argv = exec_argv or ["true"]
            os.execvp(argv[0], argv)
        finally:
            os._exit(111)
    os.close(res_w)
    data = b""
    while chunk := os.read(res_r, 4096):
        data += chunk
    os.close(res_r)
    os.waitpid(pid, 0)
    return json.loads(data)


def test_signal_caught_after_the_fork_reaches_stage2() -> None:
    got = play_pid1(lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert got == [signal.SIGTERM]


def test_no_signal_no_relay_and_end_of_file_at_exec() -> None:
    # stage 2 is not held: the exec closes the pipe (a sleeping program keeps
    # running after it, yet stage 2 has its end of file at once)
    got = play_pid1(lambda: None, ["sleep", "0.2"])
    assert got == []


def test_repeated_signal_relayed_once() -> None:
    def twice() -> None:
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGHUP)

    got = play_pid1(twice)
    assert sorted(got) == sorted([signal.SIGHUP, signal.SIGINT])


def test_traps_set_only_once_s6_svscan_traps(tmp_path) -> None:
    scandir = tmp_path / "scandir"
    scandir.mkdir()
    assert not signals.traps_set(os.getpid(), signal.SIGTERM)  # not s6-svscan
    proc = subprocess.Popen(["s6-svscan", str(scandir)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not signals.traps_set(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert signals.traps_set(proc.pid, signal.SIGTERM)
    finally:
        proc.kill()
        proc.wait()
    assert not signals.traps_set(proc.pid, signal.SIGTERM)  # gone
