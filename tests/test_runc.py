"""ovis as PID 1 under a real OCI runtime (runc), as docker would run it.

See tests/runcsys.py for the bundle: read-only root from the host's
directories, Docker's default capabilities, a tmpfs /run, no terminal.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.defs import LONGRUN as DAEMON
from tests.runcsys import RuncContainer, require_runc


@pytest.fixture
def container(tmp_path: Path):  # type: ignore[no-untyped-def]
    require_runc()
    c = RuncContainer(tmp_path)
    c.set_conf(CONTAINER="1", GRACETIME="1000")
    try:
        yield c
    finally:
        c.cleanup()


def test_runc_boots_to_ready_and_term_exits_143(container: RuncContainer) -> None:
    container.write("web", DAEMON.format(name="web", extra="",
                                         run='sh -c "echo listening; exec sleep 1000"'))
    container.boot("sleep", "1000", timeout=40)
    assert container.wait_console("web: listening", 20), container.console_text()
    r = container.kill("TERM")
    assert r.returncode == 0, r.stderr
    assert container.wait_exit(30) == 143, container.console_text()


@pytest.mark.parametrize("code", [0, 3, 130])
def test_runc_propagates_the_commands_exit_code(container: RuncContainer, code: int) -> None:
    container.write("web", DAEMON.format(name="web", extra="", run="sleep 1000"))
    container.boot("sh", "-c", f"exit {code}", wait_ready=False, timeout=40)
    assert container.wait_exit(40) == code, container.console_text()


def test_runc_essential_death_exits_with_its_code(container: RuncContainer) -> None:
    container.write("core", DAEMON.format(
        name="core", extra="Flags = ( essential )\nMaxDeath = 2", run='sh -c "sleep 1; exit 9"'))
    container.boot("sleep", "1000", wait_ready=False, timeout=40)
    assert container.wait_console("ESSENTIAL SERVICE core FAILED", 40), container.console_text()
    t = time.monotonic()
    assert container.wait_exit(40) == 9, container.console_text()
    assert time.monotonic() - t < 1 + 2 + 5  # grace (1 s) + 2 s, with a margin for a busy machine


def test_runc_stage1_error_ends_the_container(container: RuncContainer) -> None:
    container.set_conf(UMASK="not-octal")
    container.boot("true", wait_ready=False, timeout=40)
    assert container.wait_exit(30) == 2
    assert time.monotonic() - container.t0 < 10
    assert "ovis: fatal: " in container.console_text() and "UMASK" in container.console_text()


def test_runc_sigint_exits_130(container: RuncContainer) -> None:
    container.write("web", DAEMON.format(name="web", extra="", run="sleep 1000"))
    container.boot("sleep", "1000", timeout=40)
    assert container.kill("INT").returncode == 0
    assert container.wait_exit(30) == 130 + 0 * signal.SIGINT, container.console_text()


def test_runc_environment_reaches_the_command_not_the_services(container: RuncContainer) -> None:
    plain, cmd = container.root / "plain", container.root / "cmd"
    container.write("plain", DAEMON.format(name="plain", extra="", run=(
        f'sh -c "env > {plain}; exec sleep 1000"')))
    container.boot("sh", "-c", f"sleep 1; env > {cmd}", wait_ready=False, timeout=40,
                   extra_env={"FROM_RUNTIME": "yes"})
    assert container.wait_exit(40) == 0, container.console_text()
    assert "FROM_RUNTIME" not in plain.read_text()
    assert "FROM_RUNTIME=yes\n" in cmd.read_text()


def test_runc_crash_loop_backs_off(container: RuncContainer) -> None:
    starts = container.root / "starts"
    container.write("crash", DAEMON.format(
        name="crash", extra="", run=f'sh -c "echo x >> {starts}; exit 3"'))
    container.boot("sleep", "7", wait_ready=False, timeout=40)
    assert container.wait_exit(40) == 0, container.console_text()
    n = len(starts.read_text().splitlines())
    assert 2 <= n <= 5, n  # 1 s, 2 s, 4 s apart: not once a second
    assert container.console_text().count("crash: ") == 0  # it printed nothing itself
