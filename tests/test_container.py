"""Container-grade PID 1 (issue 10), as PID 1 of PID+mount namespaces.

Stage-1 errors end a container at once, essential services end it with
their exit code, service output reaches PID 1's stdout, restarts back off,
the runtime's environment stays out of services unless asked for.  The same
boots under a real OCI runtime are in tests/test_runc.py.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import time

from tests.bootsys import BootedSystem, booted  # noqa: F401
from tests.defs import LONGRUN as DAEMON


def wait_rusage(b: BootedSystem, timeout: float) -> tuple[int, float, float]:
    """(exit status, seconds until it ended, CPU seconds of the whole namespace)."""
    assert b.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, ru = os.wait4(b.proc.pid, os.WNOHANG)
        if pid:
            b.proc.returncode = os.waitstatus_to_exitcode(status)
            return b.proc.returncode, time.monotonic() - b.t0, ru.ru_utime + ru.ru_stime
        time.sleep(0.02)
    raise AssertionError(f"still running after {timeout} s:\n{b.console_text()}")


def test_stage1_error_in_container_mode_ends_pid1(booted: BootedSystem) -> None:
    booted.set_conf(CONTAINER="1", UMASK="not-octal")
    booted.write("d", DAEMON.format(name="d", extra="", run="sleep 1000"))
    booted.boot("true", wait_ready=False)
    code, took, cpu = wait_rusage(booted, 30)
    assert code == 2, booted.console_text()
    assert took < 10 and cpu < 3, (took, cpu)
    conf = booted.skel / "init.conf"
    line = next(i for i, l in enumerate(conf.read_text().splitlines(), 1) if l.startswith("UMASK="))
    console = booted.console_text()
    assert console.count("ovis: fatal:") == 1, console
    assert f"ovis: fatal: {conf}:{line}: UMASK: must be an octal umask" in console
    assert not booted.rescue_marker.exists()  # never a rescue shell in a container
    assert "rescue shell" not in console


def test_hardware_rescue_that_ends_at_once_backs_off(booted: BootedSystem) -> None:
    # Three bad values: three rescues, each shell (and its sh -i fallback)
    # ends at once; PID 1 waits 1, 2 and 4 s instead of spinning.
    booted.set_conf(UMASK="x", RESCAN="y", GRACETIME="z")
    booted.write("d", DAEMON.format(name="d", extra="", run="sleep 1000"))
    booted.boot(timeout=60)
    took = time.monotonic() - booted.t0
    assert booted.rescue_marker.read_text() == "rescue\n" * 3
    console = booted.console_text()
    assert console.count("trying sh -i") == 3
    assert "going on in 1 s" in console and "going on in 2 s" in console
    assert "going on in 4 s" in console
    assert took >= 7
    booted.ovis("poweroff")
    booted.wait_exit(30)
