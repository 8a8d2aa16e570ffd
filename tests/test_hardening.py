"""Issue 11 (hardening): hostile names, signals to PID 1, shutdown under faults.

Each test reproduces one finding of the hostile review on the real thing
(real s6-svscan in a temp dir, real PID 1 in namespaces) and checks the
promise of docs/guarantees.md that covers it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.defs import LONGRUN, ONESHOT
from tests.livesys import LiveSystem, offline, system  # noqa: F401


# Item 5: path traversal ------------------------------------------------------
@pytest.mark.parametrize("verb", ["disable", "enable", "stop", "start", "status", "reload",
                                  "restart", "log"])
@pytest.mark.parametrize("name", ["../../victim", "..", "a/b", "web\n", ".hidden"])
def test_names_reaching_a_path_are_rejected(offline: LiveSystem, verb: str, name: str) -> None:
    victim = offline.root / "victim"
    victim.write_text("precious\n")
    (offline.trees / "boot").mkdir(parents=True)
    (offline.trees / "boot" / "web").touch()
    offline.write("web", LONGRUN.format(name="web", extra="", run="sleep 100"))
    (offline.live / "sv").mkdir(parents=True)
    r = offline.ovis(verb, name, timeout=30)
    assert r.returncode == 2, (verb, name, r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [f"ovis: error: invalid service name: {name!r}"]
    assert victim.read_text() == "precious\n"
    assert (offline.trees / "boot" / "web").exists()


def test_tree_name_is_validated_too(offline: LiveSystem) -> None:
    offline.write("web", LONGRUN.format(name="web", extra="", run="sleep 100"))
    r = offline.ovis("enable", "-t", "../x", "web")
    assert r.returncode == 2 and "invalid tree name: '../x'" in r.stderr, r.stderr
    assert not (offline.root / "x").exists()


# Item 1: signals while PID 1 is Python ---------------------------------------
from tests.bootsys import BootedSystem, booted  # noqa: E402,F401


def test_sigint_during_stage1_does_not_kill_pid1_and_is_acted_on(booted: BootedSystem) -> None:
    """Ctrl-alt-del while stage 1 runs (here: during a rescue shell) reboots, later."""
    import signal

    booted.set_conf(UMASK="99x")  # stage 1 opens the rescue shell...
    marker = booted.root / "in-rescue"
    (booted.root / "rescue.sh").write_text(f"#!/bin/sh\ntouch {marker}\nsleep 2\nexit 0\n")
    booted.write("d", LONGRUN.format(name="d", extra="", run="sleep 1000"))
    booted.boot(wait_ready=False)
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), booted.console_text()
    assert booted.pid1 is not None
    os.kill(booted.pid1, signal.SIGINT)  # ...and is still Python when this arrives
    code = booted.wait_exit(timeout=40)
    console = booted.console_text()
    assert "interrupted" not in console and "Traceback" not in console, console
    assert "system ready" in console, console  # the boot went on...
    assert code == -signal.SIGHUP, (code, console)  # ...and SIGINT then rebooted, cleanly
    assert "stage 4 done" in console
    assert booted.namespace_pids() == []


def test_sigint_during_stage4_grace_does_not_skip_the_kill_and_unmount(booted: BootedSystem) -> None:
    import signal

    booted.set_conf(GRACETIME="3000")
    booted.write("stray", ONESHOT.format(
        name="stray", extra="",
        start="background { sh -c \"trap '' TERM; exec sleep 1000\" } exit 0"))
    booted.boot()
    booted.ovis("poweroff")
    assert booted.wait_console("sending all processes the TERM signal"), booted.console_text()
    assert booted.pid1 is not None
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        os.kill(booted.pid1, sig)  # stage 4 is Python, PID 1, waiting out the grace time
    code = booted.wait_exit(timeout=30)
    console = booted.console_text()
    assert "interrupted" not in console and "Traceback" not in console, console
    assert "sent SIGKILL" in console and "stage 4 done" in console, console
    assert code == -signal.SIGINT, (code, console)  # poweroff's reboot(2), not exit 130
    assert booted.namespace_pids() == []


def test_container_sigint_exits_130_and_never_0(booted: BootedSystem) -> None:
    import signal

    booted.set_conf(CONTAINER="1")
    booted.write("svc", LONGRUN.format(name="svc", extra="", run="sleep 1000"))
    booted.boot("sleep", "1000", wait_ready=False)
    assert booted.wait_console("system ready"), booted.console_text()
    assert booted.pid1 is not None
    os.kill(booted.pid1, signal.SIGINT)
    assert booted.wait_exit(timeout=30) == 130, booted.console_text()
    assert "EXITCODE=130" in (booted.skel / "container" / "0" / "halt").read_text()
