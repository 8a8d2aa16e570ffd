"""66 frontends that call the 66-tools commands, started by ``ovis start`` on a real s6-svscan.

The definitions are written the way 66 0.7 compiles a frontend into its
run.user (``execl-envfile CONF`` in front of the Execute text) and the way
packaged frontends write Execute (``execl-toc -d ...`` chains, then
``execl-cmdline -s { prog ${args} }``).  The daemon's /proc/PID/cmdline and
environ are the proof.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.livesys import LiveSystem, tools66_system, wait_until

DAEMON = "import time; time.sleep(1000)"


@pytest.fixture
def tools_system(tmp_path: Path) -> Iterator[LiveSystem]:
    """A running LiveSystem whose services find the execl-* commands on PATH."""
    yield from tools66_system(tmp_path)


def proc_words(pid: int, what: str) -> list[str]:
    return Path(f"/proc/{pid}/{what}").read_bytes().split(b"\0")[:-1]  # type: ignore[return-value]


def test_frontend_with_toc_envfile_and_cmdline_runs_the_daemon_as_66_would(
        tools_system: LiveSystem) -> None:
    s = tools_system
    rundir = s.root / "run" / "mydaemon"
    sockdir = s.root / "run" / "sock"
    conf = s.root / "conf" / "mydaemon"
    conf.parent.mkdir()
    conf.write_text(f'args=-c "{DAEMON}" "a  b" -x\n'
                    f"socket_dir={sockdir}\n"
                    "token=!not-for-the-daemon\n"
                    "mode=${token}-seen\n")
    s.write("mydaemon", f"""
        [main]
        @type = classic
        @version = 0.0.1
        @description = "a daemon started through the 66-tools"
        @user = ( root )

        [start]
        @execute = (
            execl-envfile {conf}
            execl-toc -d {rundir} -m 0750
            execl-toc -d ${{socket_dir}}
            execl-cmdline -s {{ {sys.executable} ${{args}} ${{mode}} }}
        )
        """)
    r = s.ovis("start", "mydaemon")
    assert r.returncode == 0, r.stdout + r.stderr
    st = s.status("mydaemon")["mydaemon"]
    assert st["state"] == "up" and st["pid"]
    pid = st["pid"]
    assert wait_until(lambda: proc_words(pid, "cmdline")[:2] == [sys.executable.encode(), b"-c"])
    assert proc_words(pid, "cmdline") == [sys.executable.encode(), b"-c", DAEMON.encode(),
                                          b"a b", b"-x", b"not-for-the-daemon-seen"]
    environ = proc_words(pid, "environ")
    assert f"socket_dir={sockdir}".encode() in environ
    assert b"mode=not-for-the-daemon-seen" in environ
    assert not any(e.startswith(b"token=") for e in environ)
    assert stat.S_IMODE(rundir.stat().st_mode) == 0o750 and sockdir.is_dir()
    s.ovis("stop", "mydaemon", check=True)


def test_unknown_user_in_execl_toc_fails_the_start_with_one_log_line(tools_system: LiveSystem) -> None:
    s = tools_system
    marker = s.root / "ran"
    s.write("needsuser", f"""
        [Main]
        Type = oneshot
        Version = 0.0.1
        Description = "wants a user this machine lacks"
        [Start]
        Execute = (
            execl-toc -d {s.root}/run/needsuser -u no-such-user-66 -g no-such-user-66
            execl-cmdline -s {{ touch {marker} }}
        )
        """)
    r = s.ovis("start", "needsuser", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert not marker.exists()
    log = (s.logdir / "needsuser" / "current").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in log] == ["execl-toc: fatal: unknown user: no-such-user-66"]
    assert s.status("needsuser")["needsuser"]["state"] == "failed"


def test_environment_section_substituted_into_execl_cmdline_block(tools_system: LiveSystem) -> None:
    """The 0.8 dialect as packaged: ``${args}`` of [Environment] split by execl-cmdline -s."""
    s = tools_system
    rundir = s.root / "run" / "envd"
    s.write("envd", f"""
        [Main]
        Type = classic
        Version = 0.0.1
        Description = "environment into a block"

        [Start]
        Execute = (
            execl-toc -d ${{rundir}} -m 0700
            execl-cmdline -s {{ {sys.executable} ${{args}} }}
        )

        [Environment]
        rundir={rundir}
        args=-c "{DAEMON}" "x  y" ${{rundir}}
        """)
    r = s.ovis("start", "envd")
    assert r.returncode == 0, r.stdout + r.stderr
    pid = s.status("envd")["envd"]["pid"]
    assert wait_until(lambda: proc_words(pid, "cmdline")[:2] == [sys.executable.encode(), b"-c"])
    assert proc_words(pid, "cmdline") == [sys.executable.encode(), b"-c", DAEMON.encode(),
                                          b"x y", str(rundir).encode()]
    assert stat.S_IMODE(rundir.stat().st_mode) == 0o700
    s.ovis("stop", "envd", check=True)


def test_unknown_group_in_a_longrun_shows_exit_111_and_its_log_line(
        tools_system: LiveSystem) -> None:
    """A longrun has no readiness here, so start returns at once; it must not loop unseen.

    Without MaxDeath the restart policy keeps trying with growing delays:
    status says so (``restarting``, exit 111); with MaxDeath it ends ``failed``.
    """
    s = tools_system
    s.write("lrgroup", f"""
        [Main]
        Type = classic
        Version = 0.0.1
        Description = "a daemon whose group is missing"
        [Start]
        Execute = ( execl-toc -d {s.root}/run/lrgroup -g no-such-group-66 sleep 1000 )
        """)
    s.ovis("start", "lrgroup", timeout=60)
    assert wait_until(lambda: s.status("lrgroup")["lrgroup"]["reason"] == "restarting", timeout=60,
                      interval=0.2), s.status("lrgroup")
    st = s.status("lrgroup")["lrgroup"]
    assert (st["state"], st["exit"]) == ("down", 111), st
    current = s.logdir / "lrgroup" / "current"
    # s6-log writes the line on its own schedule: the death may be seen first
    wait_until(lambda: current.exists() and current.read_text().strip(), timeout=60, interval=0.1)
    lines = current.read_text().splitlines()
    assert lines and {line.split(" ", 1)[1] for line in lines} == {
        "execl-toc: fatal: unknown group: no-such-group-66"}
    assert not (s.root / "run" / "lrgroup").exists()
