"""Real Debian daemons started from 66 frontends, by ``ovis start`` on a real s6-svscan.

The frontends are written the way distributions' collections write them:
``[Environment]`` values used in Execute (``${conf_file}``, ``!`` for what
the daemon must not see, ``PATH=/x:${PATH}``), both dialects, and
``execl-cmdline -s { daemon ${cmd_args} }``.  The proof is what the kernel
says of the running daemon: /proc/PID/cmdline and /proc/PID/environ, and
the daemon doing its job with the configuration it was pointed at.
scripts/setup.sh --test installs haveged, lighttpd and rsyslog (never
started by apt).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from tests.livesys import LiveSystem, tools66_system, wait_until
from tests.nsutil import skip_or_fail


def need(program: str) -> str:
    path = shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        skip_or_fail(f"needs {program} (scripts/setup.sh --test installs it)")
    assert path is not None
    return path


@pytest.fixture
def system66(tmp_path: Path) -> Iterator[LiveSystem]:
    """A running LiveSystem whose services find the execl-* commands on PATH."""
    yield from tools66_system(tmp_path)


def started_pid(s: LiveSystem, name: str) -> int:
    out = s.ovis("start", name, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    st = s.status(name)[name]
    assert st["state"] == "up" and st["pid"], st
    return int(st["pid"])


def cmdline(pid: int) -> list[str]:
    return [w.decode() for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]]


def environ(pid: int) -> dict[str, str]:
    words = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")[:-1]
    return dict(w.decode().split("=", 1) for w in words)


def free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return int(sk.getsockname()[1])


def test_lighttpd_from_an_at_key_frontend(system66: LiveSystem) -> None:
    lighttpd = need("lighttpd")
    s = system66
    port = free_port()
    www = s.root / "www"
    www.mkdir()
    (www / "index.html").write_text("served by ovis\n")
    conf = s.root / "etc" / "lighttpd.conf"
    conf.parent.mkdir()
    conf.write_text(f'server.document-root = "{www}"\nserver.port = {port}\n'
                    f'server.bind = "127.0.0.1"\nindex-file.names = ( "index.html" )\n'
                    f'server.errorlog = "{s.root}/lighttpd.err"\n')
    s.write("lighttpd", f"""
        [main]
        @type = classic
        @version = 1.4.69
        @description = "lighttpd web server"
        @user = ( root )

        [start]
        @execute = ( {lighttpd} -D -f ${{conf_file}} )

        [environment]
        conf_file=!{conf}
        PATH=/opt/lighttpd/bin:${{PATH}}
        LIGHTTPD_ROLE=test web
    """)
    pid = started_pid(s, "lighttpd")
    assert cmdline(pid) == [lighttpd, "-D", "-f", str(conf)]
    env = environ(pid)
    assert "conf_file" not in env
    assert env["PATH"].startswith("/opt/lighttpd/bin:") and env["PATH"].endswith("/usr/sbin:/usr/bin:/sbin:/bin")
    assert env["LIGHTTPD_ROLE"] == "test web"
    body = ""

    def served() -> bool:
        nonlocal body
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                body = r.read().decode()
            return True
        except OSError:
            return False

    assert wait_until(served, timeout=30), (s.root / "lighttpd.err").read_text() \
        if (s.root / "lighttpd.err").exists() else "no error log"
    assert body == "served by ovis\n"
    # The run script holding the values is root's alone.
    run = s.live / "sv" / "lighttpd" / "run"
    assert oct(run.stat().st_mode & 0o777) == "0o700"
    assert s.ovis("stop", "lighttpd").returncode == 0


def test_rsyslog_from_a_v08_frontend_with_runas_and_file_stdout(system66: LiveSystem) -> None:
    rsyslogd = need("rsyslogd")
    logger = need("logger")
    s = system66
    sock = s.root / "run" / "log.sock"
    sock.parent.mkdir()
    messages = s.root / "var" / "messages"
    messages.parent.mkdir()
    conf = s.root / "etc" / "rsyslog.conf"
    conf.parent.mkdir()
    conf.write_text('module(load="imuxsock" SysSock.Use="off")\n'
                    f'input(type="imuxsock" Socket="{sock}")\n'
                    f'global(workDirectory="{s.root / "var"}")\n'
                    f'*.* action(type="omfile" file="{messages}")\n')
    out = s.root / "var" / "rsyslog" / "stdout.log"
    s.write("rsyslog", f"""
        [Main]
        Type = classic
        Version = 8.2302.0
        Description = "rsyslog system logger"
        User = ( root )
        StdOut = file:{out}

        [Start]
        RunAs = root:root
        Execute = (
            {rsyslogd} -n -f ${{conf}} -i ${{rundir}}/rsyslogd.pid
        )

        [Environment]
        rundir=${{base}}/run
        base={s.root}
        conf=!{conf}
    """)
    pid = started_pid(s, "rsyslog")
    assert cmdline(pid) == [rsyslogd, "-n", "-f", str(conf), "-i", f"{s.root}/run/rsyslogd.pid"]
    env = environ(pid)
    assert "conf" not in env and env["rundir"] == f"{s.root}/run" and env["base"] == str(s.root)
    assert os.readlink(f"/proc/{pid}/fd/1") == str(out)
    assert out.parent.is_dir()
    # No logger for a service whose StdOut is a file, as in 66.
    assert not (s.live / "sv" / "rsyslog" / "log").exists()
    assert wait_until(lambda: sock.exists(), timeout=30)
    tag = f"ovis-{os.getpid()}-{time.monotonic_ns()}"

    def logged() -> bool:
        subprocess.run([logger, "-u", str(sock), "-t", "ovistest", tag], timeout=30)
        return messages.exists() and tag in messages.read_text()

    assert wait_until(logged, timeout=30, interval=0.5)
    assert s.ovis("stop", "rsyslog").returncode == 0


def test_haveged_through_execl_cmdline(system66: LiveSystem, request: pytest.FixtureRequest) -> None:
    haveged = need("haveged")
    s = system66
    # The logger runs as nobody: its directory must be reachable by nobody
    # (pytest's tmp_path is root's alone).
    world = Path(tempfile.mkdtemp(prefix="ovis-haveged-", dir="/tmp"))
    os.chmod(world, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(world, ignore_errors=True))
    s.write("haveged", f"""
        [Main]
        Type = classic
        Version = 1.9.14
        Description = "haveged entropy daemon"
        User = ( root )

        [Start]
        Execute = (
            execl-cmdline -s {{ {haveged} -F ${{cmd_args}} ${{verbose}} }}
        )

        [Environment]
        cmd_args=-w ${{watermark}}  -r 0
        watermark=1024
        verbose=!-v 1
        SECRET_SEED=!do-not-export

        [Logger]
        RunAs = nobody:nogroup
        Destination = {world}/log/haveged
    """)
    pid = started_pid(s, "haveged")
    assert cmdline(pid) == [haveged, "-F", "-w", "1024", "-r", "0", "-v", "1"]
    env = environ(pid)
    assert env["cmd_args"] == "-w 1024  -r 0" and env["watermark"] == "1024"
    assert "verbose" not in env and "SECRET_SEED" not in env
    # The logger (default StdOut = s6log) got haveged's start-up lines.
    current = world / "log" / "haveged" / "current"
    assert wait_until(lambda: current.exists() and "haveged" in current.read_text(), timeout=30)
    # The logger ran as [Logger] RunAs says, by name.
    nobody = pwd.getpwnam("nobody").pw_uid
    assert current.stat().st_uid == nobody and current.parent.stat().st_uid == nobody
    assert s.ovis("stop", "haveged").returncode == 0
