"""aa-enable, aa-start, aa-stop, aa-status, aa-reset and aa-shutdown on ovis.

Run as the installed console scripts against a real s6-svscan on
REPODIR/.scandir.  Outputs are held byte for byte against upstream anopa
0.5.0's (../shared/research/anopa-ref.md, "Step 4" and "Step 4 bis"), only
PIDs and times being masked.  The last tests check that ``ovis status`` and
``aa-status`` see the same thing whoever started the services.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path

import pytest

from .nsutil import script
from .s6fixtures import MARKER, tree_pids, wait_for

REPO_ROOT = Path(__file__).resolve().parent.parent
GREEN, BLUE, RED, BOLD, OFF = "\x1b[1;32m", "\x1b[1;36m", "\x1b[1;31m", "\x1b[1;39m", "\x1b[0m"

pytestmark = pytest.mark.skipif(shutil.which("s6-svscan") is None, reason="s6 is not installed")




def mask(text: str) -> str:
    text = re.sub(r"\(PID \d+\)", "(PID N)", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}", "DATE.NS", text)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "DATE", text)


class Anopa:
    """A source directory, a listdir and a repository under one tmp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.src = root / "SRC"
        self.list = root / "LIST"
        self.repo = root / "REPO"
        self.src.mkdir()
        self.list.mkdir()
        self.token = uuid.uuid4().hex
        self.svscan: subprocess.Popen[bytes] | None = None

    def svc(self, name: str, *, run: str | None = None, start: str | None = None,
            stop: str | None = None, needs: tuple[str, ...] = (), wants: tuple[str, ...] = (),
            after: tuple[str, ...] = (), before: tuple[str, ...] = (),
            files: dict[str, str] | None = None) -> Path:
        d = self.src / name
        d.mkdir(parents=True)
        for fname, body in (("run", run), ("start", start), ("stop", stop)):
            if body is not None:
                (d / fname).write_text("#!/bin/sh\n" + body + "\n")
                (d / fname).chmod(0o755)
        for sub, names in (("needs", needs), ("wants", wants), ("after", after), ("before", before)):
            if names:
                (d / sub).mkdir()
                for n in names:
                    (d / sub / n).touch()
        for rel, body in (files or {}).items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(body)
            if body.startswith("#!"):
                (d / rel).chmod(0o755)
        return d

    def listed(self, *names: str) -> None:
        for n in names:
            (self.list / n).touch()

    def aa(self, tool: str, *args: str, input: str | None = None,
           env: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, str, str]:
        r = subprocess.run([script(tool), *args], capture_output=True, text=True, input=input,
                           env=env, timeout=timeout, cwd=self.root)
        return r.returncode, r.stdout, r.stderr

    def enable(self, *args: str) -> tuple[int, str, str]:
        return self.aa("aa-enable", "-r", str(self.repo), "-S", str(self.src), *args)

    def start_svscan(self) -> None:
        env = dict(os.environ, **{MARKER: self.token})
        self.svscan = subprocess.Popen(["s6-svscan", "-t0", str(self.repo / ".scandir")],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=open(self.root / "svscan.log", "wb"), env=env,
                                       start_new_session=True)
        ctl = self.repo / ".scandir" / ".s6-svscan" / "control"

        def listening() -> bool:
            try:
                os.close(os.open(ctl, os.O_WRONLY | os.O_NONBLOCK))
                return True
            except OSError:
                return False

        wait_for(listening, 5, what="s6-svscan")

    def wait_supervised(self, *names: str) -> None:
        for n in names:
            wait_for(lambda: (self.repo / n / "supervise" / "status").exists(), 5, what=f"supervise {n}")

    def close(self) -> None:
        if self.svscan is not None and self.svscan.poll() is None:
            self.svscan.send_signal(signal.SIGTERM)
            try:
                self.svscan.wait(3)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 5
        while pids := tree_pids(self.token):
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"leftover processes: {pids}")
            time.sleep(0.02)
        if self.svscan is not None:
            self.svscan.wait()


@pytest.fixture
def an(tmp_path: Path):  # type: ignore[no-untyped-def]
    a = Anopa(tmp_path)
    try:
        yield a
    finally:
        a.close()


def smoke(an: Anopa) -> None:
    """anopa-ref.md step 4: alpha (longrun), beta (oneshot echoing "hi", needs alpha)."""
    an.svc("alpha", run="exec sleep 1000")
    an.svc("beta", start="echo hi", needs=("alpha",))
    an.listed("beta")


def both(rc: int, out: str, err: str) -> str:
    """-D: stdout and stderr carry the same bytes."""
    assert out == err
    return out


# -- the reference outputs ------------------------------------------------------------

def test_reference_session_byte_for_byte(an: Anopa) -> None:
    smoke(an)
    W = str(an.root)
    rc, out, err = an.aa("aa-enable", "-D", "-r", f"{W}/REPO", "-S", f"{W}/SRC", "-l", f"{W}/LIST")
    assert rc == 0
    assert both(rc, out, err) == "Enabled: beta\nEnabled: alpha\n\n==> aa-enable: Completed\n  -> Enabled: 2\n"
    tree = sorted(str(p.relative_to(an.repo)) for p in an.repo.rglob("*"))
    for path in (".scandir", ".scandir/alpha", "alpha", "alpha/down", "alpha/run", "alpha/supervise",
                 "beta", "beta/needs", "beta/needs/alpha", "beta/start"):
        assert path in tree
    assert os.readlink(an.repo / ".scandir/alpha") == "../alpha"
    assert stat.S_IMODE((an.repo / "alpha/supervise").stat().st_mode) == 0o711
    assert stat.S_IMODE((an.repo / ".scandir").stat().st_mode) == 0o700
    assert not (an.repo / "beta/down").exists() and not (an.repo / ".scandir/beta").exists()
    assert (an.repo / "alpha/ovis.json").exists() and (an.repo / "beta/ovis.json").exists()

    an.start_svscan()
    an.wait_supervised("alpha")
    rc, out, err = an.aa("aa-start", "-D", "-r", f"{W}/REPO", "-l", f"{W}/LIST")
    assert rc == 0
    assert both(rc, out, err) == (
        "Starting alpha...\n==> alpha: Started\nStarting beta...\nbeta: hi\n==> beta: Started\n"
        "\n==> aa-start: Completed.\n  -> Started: 2\n")
    assert not (an.repo / "alpha/down").exists()

    rc, out, err = an.aa("aa-status", "-r", f"{W}/REPO", "-a", "-L")
    assert (rc, mask(out), err) == (0, (
        "Service Type    Since               Status\n"
        "alpha   longrun DATE Up (PID N)\n"
        "beta    oneshot DATE Started\n"), "")
    rc, out, err = an.aa("aa-status", "-r", f"{W}/REPO", "-a")
    assert (rc, err) == (0, "")
    assert re.fullmatch(
        r"Service: alpha \(long-run\)\nSince:   DATE\.NS \(\d+s ago\)\nStatus:  Up \(PID N\)\n"
        r"Mode:    Automatic restart \(want up\)\n\n"
        r"Service: beta \(one-shot\)\nSince:   DATE\.NS \(\d+s ago\)\nStatus:  Started\n", mask(out))

    rc, out, err = an.aa("aa-start", "-D", "-r", f"{W}/REPO", "nosuch")
    assert rc == 0
    assert both(rc, out, err) == (
        "==> ERROR: nosuch: Unknown service\n\n==> aa-start: Completed.\n  -> Unknown: nosuch\n")

    rc, out, err = an.aa("aa-stop", "-D", "-r", f"{W}/REPO", "-a")
    assert rc == 0
    assert both(rc, out, err) == (
        "Stopping beta...\n==> beta: Stopped\nStopping alpha...\n==> alpha: Stopped\n"
        "\n==> aa-stop: Completed.\n  -> Stopped: 2\n")
    assert (an.repo / "alpha/down").exists()
    rc, out, err = an.aa("aa-status", "-r", f"{W}/REPO", "-a", "-L")
    assert (rc, mask(out), err) == (0, (
        "Service Type    Since               Status\n"
        "beta    oneshot DATE Stopped\n"
        "alpha   longrun DATE Down & Ready (signal SIGTERM)\n"), "")


def run_pty(argv: list[str], cwd: Path) -> tuple[int, str]:
    """stdout+stderr on an 80x24 pty, as anopa-ref.md's `script` runs."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(10), b"".join(chunks).decode()


def test_reference_session_on_a_tty(an: Anopa) -> None:
    smoke(an)
    W = str(an.root)
    rc, _, _ = an.enable("-l", f"{W}/LIST")
    an.start_svscan()
    an.wait_supervised("alpha")
    nl = "\r\n"
    rc, out = run_pty([script("aa-start"), "-r", f"{W}/REPO", "-l", f"{W}/LIST"], an.root)
    assert rc == 0 and out == nl.join([
        "Starting alpha...", f"{GREEN}==> {BOLD}alpha: Started{OFF}", "Starting beta...", "beta: hi",
        f"{GREEN}==> {BOLD}beta: Started{OFF}", "", f"{GREEN}==> {BOLD}aa-start: Completed.{OFF}",
        f"{BLUE}  -> {GREEN}Started{BOLD}: 2{OFF}", ""])
    rc, out = run_pty([script("aa-start"), "-r", f"{W}/REPO", "-l", f"{W}/LIST"], an.root)
    assert out == nl.join([
        f"{GREEN}==> {BOLD}beta: Already up{OFF}", "", f"{GREEN}==> {BOLD}aa-start: Completed.{OFF}",
        f"{BLUE}  -> {GREEN}Already up{BOLD}: 1{OFF}", ""])
    rc, out = run_pty([script("aa-status"), "-r", f"{W}/REPO", "-a", "-L"], an.root)
    assert mask(out) == nl.join([
        f"{BOLD}Service Type    Since               Status{OFF}",
        f"alpha   longrun DATE {GREEN}Up{OFF} (PID N)", f"beta    oneshot DATE {GREEN}Started{OFF}", ""])
    rc, out = run_pty([script("aa-start"), "-r", f"{W}/REPO", "nosuch"], an.root)
    assert out == nl.join([
        f"{RED}==> ERROR: {BOLD}nosuch: Unknown service{OFF}", "",
        f"{GREEN}==> {BOLD}aa-start: Completed.{OFF}", f"{BLUE}  -> {BOLD}Unknown: {RED}nosuch{BOLD}{OFF}", ""])
    rc, out = run_pty([script("aa-stop"), "-r", f"{W}/REPO", "-a"], an.root)
    assert rc == 0 and out == nl.join([
        "Stopping beta...", f"{GREEN}==> {BOLD}beta: Stopped{OFF}", "Stopping alpha...",
        f"{GREEN}==> {BOLD}alpha: Stopped{OFF}", "", f"{GREEN}==> {BOLD}aa-stop: Completed.{OFF}",
        f"{BLUE}  -> {GREEN}Stopped{BOLD}: 2{OFF}", ""])


# -- aa-enable -------------------------------------------------------------------------

def test_enable_copies_as_anopa_does(an: Anopa) -> None:
    an.svc("getty@", run="exec sleep 1000", needs=("setup@",), files={"log": ""})
    an.svc("setup@", start='echo "setup $(basename $(pwd))"')
    an.svc("log", run="exec cat >/dev/null", files={"run-args": "# args\n", "notification-fd": "3\n"})
    an.svc("catchall", run="exec sleep 1000", files={"data/conf": "x\n"})
    os.mkfifo(an.src / "catchall" / "fifo")
    an.svc("other", start="true", wants=("nosuch",), files={"essential": "", "timeout": "7\n"})
    cfg = an.list / "getty@tty1"
    cfg.mkdir()
    (cfg / "+run").write_text("# appended\n")
    (cfg / "+run").chmod(0o755)  # anopa gives the file the mode of the "+" file
    (cfg / "-nothing").write_text("")
    an.listed("catchall")
    rc, out, err = an.enable("-l", str(an.list), "-k", "catchall", "other")
    assert rc == 0, err
    enabled = [line for line in out.splitlines() if line.startswith("Enabled: ")]
    assert sorted(enabled) == ["Enabled: catchall", "Enabled: getty@tty1", "Enabled: getty@tty1/log",
                               "Enabled: other", "Enabled: setup@tty1"]
    # the wanted "nosuch" is tried too, and fails
    assert out.endswith("\n==> aa-enable: Completed\n  -> Enabled: 5\n  -> Failed: nosuch\n")
    assert err == "==> ERROR: nosuch: Unknown service\n"
    r = an.repo
    assert (r / "getty@tty1/needs/setup@tty1").is_file()  # instance appended
    assert (r / "getty@tty1/run").read_text().endswith("exec sleep 1000\n# appended\n")
    assert (r / "getty@tty1/log/run").read_text() == "#!/bin/sh\nexec cat >/dev/null\n# args\n"
    assert not (r / "getty@tty1/log/run-args").exists()
    assert (r / "getty@tty1/log/notification-fd").read_text() == "3\n"
    assert (r / "getty@tty1/log/supervise").is_dir()
    assert (r / "getty@tty1/down").exists() and not (r / "catchall/down").exists()  # -k
    assert os.readlink(r / ".scandir/catchall") == "../catchall"
    assert stat.S_ISFIFO((r / "catchall/fifo").stat().st_mode)
    assert (r / "catchall/data/conf").read_text() == "x\n"
    assert (r / "other/essential").exists() and (r / "other/timeout").read_text() == "7\n"
    assert sorted(os.listdir(r / ".scandir")) == ["catchall", "getty@tty1"]  # longruns, not loggers
    meta = json.loads((r / "getty@tty1/ovis.json").read_text())
    assert meta["depends"] == ["setup@tty1"] and meta["kind"] == "longrun" and meta["logged"]
    assert json.loads((r / "other/ovis.json").read_text())["timeout_start"] == 7000
    assert not [p for p in r.iterdir() if p.name.startswith(".aa-enable")]

    # again: everything exists already
    rc, out, err = an.enable("catchall", "nosuch", "bad@", "-q")
    assert rc == 0
    assert out == "\n==> aa-enable: Completed\n  -> Failed: catchall; nosuch; bad@\n"
    assert err == ("==> ERROR: catchall: I/O error: File exists\n==> ERROR: nosuch: Unknown service\n"
                   "==> ERROR: bad@: Invalid name\n")


def test_enable_options_and_bad_input(an: Anopa) -> None:
    an.svc("a", run="exec sleep 1000", needs=("b",), wants=("c",))
    an.svc("b", start="true")
    an.svc("c", start="true")
    rc, out, err = an.enable("-N", "-W", "a")
    assert (rc, out) == (0, "Enabled: a\n\n==> aa-enable: Completed\n  -> Enabled: 1\n")
    rc, out, err = an.enable("b", "--no-supervise", "-W")
    assert rc == 0 and not (an.repo / "c").exists()
    # bad option / no service: usage, exit 1, nothing created
    rc, out, err = an.aa("aa-enable", "-r", str(an.root / "NEW"), "-x", "a")
    assert rc == 1 and out.startswith("Usage: aa-enable [OPTION...] [service...]\n\n")
    assert "invalid option -- 'x'" in err and not (an.root / "NEW").exists()
    rc, out, err = an.aa("aa-enable", "-r", str(an.root / "NEW"))
    assert rc == 1 and not (an.root / "NEW").exists()
    rc, out, err = an.aa("aa-enable", "-r", str(an.src / "a" / "run"), "a")
    assert rc == 1 and err.startswith("aa-enable: fatal: unable to create repository ")
    # -u: files refreshed, down/supervise/state kept, no new down file
    (an.repo / "a/supervise/keep").touch()
    (an.src / "a/run").write_text("#!/bin/sh\nexec sleep 999\n")
    rc, out, err = an.enable("-u", "a", "-N", "-W")
    assert rc == 0, err
    assert (an.repo / "a/run").read_text().endswith("sleep 999\n")
    assert (an.repo / "a/down").exists() and (an.repo / "a/supervise/keep").exists()
    rc, out, err = an.enable("-u", "c")
    assert "==> ERROR: c: I/O error: No such file or directory" in err
    # "-": names from stdin
    rc, out, err = an.aa("aa-enable", "-r", str(an.repo), "-S", str(an.src), "-q", "-", input="c\n")
    assert (rc, out, err) == (0, "\n==> aa-enable: Completed\n  -> Enabled: 1\n", "")
    assert (an.repo / "c/start").exists()


def test_finish_bridge_and_shutdown(an: Anopa) -> None:
    an.svc("a", run="exec sleep 1000")
    target = an.root / "target"
    target.write_text(f'#!/bin/sh\necho "$# $*" > {an.root}/finish-args\n')
    target.chmod(0o755)
    rc, out, err = an.enable("a", "-f", str(target), "-c", str(target))
    assert rc == 0, err
    finish = an.repo / ".scandir/.s6-svscan/finish"
    assert os.access(finish, os.X_OK) and (an.repo / ".scandir/.s6-svscan/crash").exists()
    # no action recorded: reboot
    assert subprocess.run([str(finish)], timeout=5).returncode == 0
    assert (an.root / "finish-args").read_text() == "1 reboot\n"
    # no s6-svscan: 100, nothing recorded
    rc, out, err = an.aa("aa-shutdown", "--repodir", str(an.repo), "-p")
    assert (rc, out) == (100, "")
    assert err == f"aa-shutdown: fatal: unable to control {an.repo}/.scandir: supervisor not listening\n"
    assert not (an.repo / ".scandir/.s6-svscan/action").exists()
    rc, out, _ = an.aa("aa-shutdown", "--repodir", str(an.repo))
    assert rc == 1 and out.startswith("Usage: aa-shutdown [OPTION]\n -r, --reboot")
    an.start_svscan()
    # argv0 "halt": what a distribution's /sbin/halt -> aa-shutdown link does
    link = an.root / "halt"
    link.symlink_to(script("aa-shutdown"))
    r = subprocess.run([str(link), "--repodir", str(an.repo)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert an.svscan is not None and an.svscan.wait(5) == 0
    wait_for(lambda: (an.root / "finish-args").read_text() == "1 halt\n", 5, what="finish ran")
    assert (an.repo / ".scandir/.s6-svscan/action").read_text() == "halt\n"


# -- aa-start / aa-stop ----------------------------------------------------------------

def test_start_failures_dependencies_and_exit_codes(an: Anopa) -> None:
    an.svc("base", run="exec sleep 1000")
    an.svc("ready", run="sleep 0.2; echo >&3; exec sleep 1000", files={"notification-fd": "3\n"})
    an.svc("bad", start="echo failing >&2; exit 3")
    an.svc("vital", start="exit 2", files={"essential": ""})
    an.svc("dependent", start="echo never", needs=("bad",))
    an.svc("orphan", start="true", needs=("ghost",))
    an.svc("ghost", start="true")  # enabled, then removed below
    an.svc("soft", start="echo soft", wants=("ghost", "base"))
    an.svc("slow", start="exec sleep 30")
    an.svc("loopa", start="true", after=("loopb",))
    an.svc("loopb", start="true", after=("loopa",))
    rc, out, err = an.enable("base", "ready", "bad", "vital", "dependent", "orphan", "soft", "slow",
                             "loopa", "loopb")
    assert rc == 0, err
    shutil.rmtree(an.repo / "ghost")
    an.start_svscan()
    an.wait_supervised("base", "ready")

    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-n", "-k", "dependent", "dependent", "slow")
    assert (rc, out, err) == (0, "slow\n", "")  # -k: skipped when asked for
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-n", "-W", "soft")
    assert (rc, out, err) == (0, "soft\n", "")  # -W: no wants (so no warning either)
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-n", "-v", "dependent", "soft", "ready")
    assert rc == 0 and err.startswith("auto-add: dependent needs bad\n")
    assert out.split("\n")[:-1] == ["bad", "soft", "base", "ready", "dependent"]  # wants do not order
    assert "==> WARNING: soft: Skipping wanted service ghost: Unknown service" in err

    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "dependent", "orphan", "ready", "soft")
    assert rc == 0, out + err  # failures without an `essential` file: still 0
    assert "Starting bad...\n" in out and "bad: failing\n" in out
    assert out.index("Starting ready...\n") < out.index("ready: Started; Getting ready...\n") \
        < out.index("==> ready: Ready\n")
    assert "soft: soft\n" in out and "==> soft: Started\n" in out and "Starting base...\n" in out
    assert out.index("soft: soft\n") < out.index("==> soft: Started\n")
    assert "==> ERROR: orphan: Failed dependency: ghost: Unknown service\n" in err
    assert "==> ERROR: bad: Failed: exitcode 3\n" in err
    assert "==> ERROR: dependent: Failed dependency: bad\n" in err
    assert "==> WARNING: soft: Skipping wanted service ghost: Unknown service\n" in err
    assert "never" not in out
    assert out.endswith("\n==> aa-start: Completed.\n  -> Started: 3\n  -> Failed: bad\n"
                        "  -> Dependency failed: orphan; dependent\n  -> Skipped: ghost\n")

    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "vital")
    assert rc == 1 and "==> ERROR: vital: Failed: exitcode 2\n" in err

    t0 = time.monotonic()
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-t", "1", "slow")
    assert rc == 0 and "==> ERROR: slow: Timed out\n" in err and "  -> Timed out: slow\n" in out
    assert time.monotonic() - t0 < 6

    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "loopa", "loopb")
    assert "==> WARNING: loopa: remove loopa after loopb to break loop: loopa -> loopb -> loopa\n" in err
    assert "==> loopa: Started" in out and "==> loopb: Started" in out

    rc, out, err = an.aa("aa-status", "-r", str(an.repo), "-L", "-s", "name",
                         "bad", "dependent", "orphan", "slow", "ready", "base")
    assert mask(out) == (
        "Service   Type    Since               Status\n"
        "bad       oneshot DATE Start failed: exitcode 3\n"
        "base      longrun DATE Up (PID N)\n"
        "dependent oneshot DATE Starting failed: Failed dependency: bad\n"
        "orphan    oneshot DATE Error: Failed dependency: ghost: Unknown service\n"
        "ready     longrun DATE Up & Ready (PID N)\n"
        "slow      oneshot DATE Starting failed: Timed out\n")

    # bad input
    rc, out, err = an.aa("aa-start", "-r", str(an.repo))
    assert rc == 1 and out.startswith("Usage: aa-start [OPTION...] [service...]\n")
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-t", "x", "base")
    assert (rc, err) == (4, "aa-start: fatal: unable to set default timeout to x: Invalid argument\n")
    rc, out, err = an.aa("aa-start", "-r", str(an.root / "nope"), "base")
    assert (rc, err) == (4, f"aa-start: fatal: unable to init repository {an.root}/nope: "
                             "No such file or directory\n")
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-l", "nolist")
    assert (rc, err) == (4, "aa-start: fatal: unable to read list directory "
                             "/etc/anopa/listdirs/nolist: No such file or directory\n")


def test_stop_order_not_up_and_stop_all(an: Anopa) -> None:
    an.svc("logs", run="exec sleep 1000")
    an.svc("db", run="exec sleep 1000")
    an.svc("web", run="exec sleep 1000", needs=("db",))
    an.svc("job", start="true", stop="echo bye", after=("web",))
    an.svc("idle", run="exec sleep 1000")
    an.listed("logs", "web", "job")
    assert an.enable("-l", str(an.list), "idle")[0] == 0
    an.start_svscan()
    an.wait_supervised("logs", "db", "web", "idle")
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-l", str(an.list))
    assert rc == 0 and out.endswith("  -> Started: 4\n"), out + err

    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-n", "db")
    assert (rc, out) == (0, "web\ndb\n")
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "db", "idle", "nosuch")
    assert rc == 0
    assert out.index("==> web: Stopped") < out.index("Stopping db...")
    assert "==> idle: Not up\n" in out and "==> ERROR: nosuch: Unknown service\n" in err
    assert out.endswith("\n==> aa-stop: Completed.\n  -> Not up: 1\n  -> Stopped: 2\n"
                        "  -> Unknown: nosuch\n")
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-n", "-l", str(an.list), "job")
    assert rc == 0 and sorted(out.split()) == ["job", "logs"]  # listdir and names; web is down
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-a", "web")
    assert rc == 1 and out.startswith("Usage: aa-stop")
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo))
    assert rc == 1

    # stage 3: stop all but the catch-all logger; every supervisor told to exit
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-aak", "logs", "-t", "5")
    assert rc == 0, err
    assert "Stopping s6-supervise for logs...\n" in out
    assert "Stopping s6-supervise for idle...\n" in out and "Stopping s6-supervise for web...\n" in out
    assert "Stopping job...\njob: bye\n==> job: Stopped\n" in out
    assert out.endswith("  -> Stopped: 1\n")
    # with s6-svscan gone, no supervisor is left but the logger's, whose service still runs
    an.svscan.send_signal(signal.SIGKILL) if an.svscan else None
    wait_for(lambda: sorted(c for c in tree_pids(an.token).values()) == ["s6-supervise", "sleep"],
             30, what="only the catch-all logger left")  # a hang guard: supervisors exit late at load 80+


def test_edges_added_to_the_repository_after_enable_count(an: Anopa) -> None:
    """anopa reads needs/ (and wants/, after/, before/) of REPODIR/NAME at each aa-start and
    aa-stop: an edge a user adds there after aa-enable counts, as does one taken away."""
    an.svc("alpha", run="exec sleep 1000")
    an.svc("beta", start="echo hi")
    an.svc("gamma", start="true")
    assert an.enable("alpha", "beta", "gamma")[0] == 0
    an.start_svscan()
    an.wait_supervised("alpha")
    (an.repo / "beta" / "needs").mkdir()
    (an.repo / "beta" / "needs" / "alpha").touch()

    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "-n", "-v", "beta")
    assert (rc, out, err) == (0, "alpha\nbeta\n", "auto-add: beta needs alpha\n")
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "beta")
    assert rc == 0, err
    assert out.index("==> alpha: Started\n") < out.index("Starting beta...\n"), out
    assert out.endswith("  -> Started: 2\n"), out

    (an.repo / "gamma" / "needs").mkdir()
    (an.repo / "gamma" / "needs" / "nosuch").touch()
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "gamma")
    assert rc == 0 and "==> ERROR: gamma: Failed dependency: nosuch: Unknown service\n" in err, err
    assert "Starting gamma" not in out

    # aa-stop reverses the edges it finds now: beta (up, needs alpha) stops first ...
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-n", "alpha")
    assert (rc, out) == (0, "beta\nalpha\n"), err
    # ... and not once the edge is gone again
    (an.repo / "beta" / "needs" / "alpha").unlink()
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-n", "alpha")
    assert (rc, out) == (0, "alpha\n"), err


def test_a_66_service_ovis_compiled_into_the_repository_keeps_its_edges(an: Anopa) -> None:
    """A servicedir ``ovis --live REPODIR start`` compiled from a 66 file has no needs/
    directory: aa-stop orders it by the compiled Depends."""
    an.svc("alpha", run="exec sleep 1000")
    (an.src / "front").write_text("[Main]\nType = classic\nDepends = ( alpha )\n\n"
                                  "[Start]\nExecute = ( sleep 1000 )\n")
    assert an.enable("alpha")[0] == 0
    an.start_svscan()
    an.wait_supervised("alpha")
    r = ovis(an, "start", "front")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (an.repo / "front" / "ovis.json").exists() and not (an.repo / "front" / "needs").exists()
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "-n", "alpha")
    assert (rc, out) == (0, "front\nalpha\n"), err


# -- aa-status / aa-reset ---------------------------------------------------------------

def test_status_filters_sorting_and_reset(an: Anopa) -> None:
    an.svc("lr", run="exec sleep 1000", files={"log": ""})
    an.svc("log", run="exec cat >/dev/null")
    an.svc("os1", start="true")
    an.svc("os2", start="exit 1")
    an.svc("never", start="true")
    assert an.enable("lr", "os1", "os2", "never")[0] == 0
    an.start_svscan()
    an.wait_supervised("lr", "lr/log")
    for name in ("lr", "os1", "os2"):  # one after the other: the default sort is by time
        an.aa("aa-start", "-r", str(an.repo), name)
    R = str(an.repo)
    st = lambda *a: an.aa("aa-status", "-r", R, *a)  # noqa: E731
    assert st("-a", "-n")[1] == "never\nlr\nos1\nos2\n"  # time: no status first
    assert st("-a", "-n", "-N")[1] == "lr\nnever\nos1\nos2\n"
    assert st("-a", "-n", "-N", "-R")[1] == "os2\nos1\nnever\nlr\n"
    assert st("-a", "-n", "-f", "os", "-N")[1] == "never\nos1\nos2\n"
    assert st("-a", "-n", "-f", "lr")[1] == "lr\n"
    assert st("-a", "-n", "-f", "log")[1] == "lr/log\n"
    assert st("-a", "-n", "-f", "all", "-N")[1] == "lr\nlr/log\nnever\nos1\nos2\n"
    assert st("-a", "-n", "-f", "up", "-N")[1] == "lr\nos1\n"
    assert st("-a", "-n", "-f", "error")[1] == "os2\n"
    assert st("-a", "-n", "-f", "down", "-N")[1] == "never\nos2\n"
    assert an.aa("aa-status", "-r", R, "-n", "-", input="os2\nos1\n")[1] == "os1\nos2\n"
    (an.list / "os2").touch()
    assert st("-n", "-l", str(an.list))[1] == "os2\n"
    rc, out, err = st("never", "nosuch", "-L")
    assert (rc, mask(out), err) == (0, "Service Type    Since               Status\n"
                                       "never   oneshot -                   Unknown status\n",
                                    "==> ERROR: nosuch: Unknown service\n")
    rc, out, err = st("-f", "bogus", "-a")
    assert (rc, err) == (1, "aa-status: fatal: unable to set filter 'bogus': Invalid argument\n")
    rc, out, err = st("-s", "bogus", "-a")
    assert (rc, err) == (1, "aa-status: fatal: unable to set sort order 'bogus': Invalid argument\n")
    rc, out, err = an.aa("aa-status", "-r", str(an.root / "nope"), "-a")
    assert rc == 2 and err.startswith("aa-status: fatal: unable to init repository ")
    assert st()[0] == 1

    rs = lambda *a: an.aa("aa-reset", "-r", R, *a)  # noqa: E731
    assert rs("-A", "os2", "os1", "lr", "nosuch") == (
        0, "==> os2: Start failed -> Started\n",
        "==> ERROR: lr: Can only reset ont-shot services\n==> ERROR: nosuch: Unknown service\n")
    assert rs("-o", "os1", "os2")[1] == "==> os1: Started -> Stopped\n==> os2: Started -> Stopped\n"
    assert rs("-a", "never")[1] == "==> never: Unknown status -> Started\n"
    rc, out, err = an.aa("aa-start", "-r", R, "never", "os1")
    assert "==> never: Already up\n" in out and "==> os1: Started\n" in out
    assert rs("os1")[0] == 1  # no mode


# -- ovis and aa-* see the same services ---------------------------------------------

def ovis(an: Anopa, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OVIS_SERVICES=str(an.src),
               OVIS_LOGDIR=str(an.root / "logs"))
    return subprocess.run([sys.executable, "-m", "ovis", "--live", str(an.repo), *args],
                          capture_output=True, text=True, env=env, timeout=30)


def test_ovis_status_sees_what_aa_start_started_and_back(an: Anopa) -> None:
    smoke(an)
    an.svc("gamma", run="exec sleep 1000", needs=("delta",))
    an.svc("delta", start="true")
    assert an.enable("-l", str(an.list), "gamma")[0] == 0
    an.start_svscan()
    an.wait_supervised("alpha", "gamma")
    assert an.aa("aa-start", "-r", str(an.repo), "-l", str(an.list))[0] == 0

    r = ovis(an, "--json", "status")
    assert r.returncode == 0, r.stderr
    items = {it["name"]: it for it in json.loads(r.stdout)}
    assert set(items) == {"alpha", "beta", "gamma", "delta"}
    assert items["alpha"]["state"] == "up" and items["beta"]["state"] == "up"
    assert items["gamma"]["state"] == "down" and items["delta"]["reason"] == "never-started"
    _, out, _ = an.aa("aa-status", "-r", str(an.repo), "-L", "-N", "alpha", "beta")
    assert f"Up (PID {items['alpha']['pid']})" in out and "Started" in out

    # the other way: ovis starts gamma (and delta) in the same repository
    r = ovis(an, "start", "gamma")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (an.repo / "gamma/needs/delta").exists()  # not recompiled: same definition
    pid = json.loads(ovis(an, "--json", "status", "gamma").stdout)[0]["pid"]
    rc, out, err = an.aa("aa-status", "-r", str(an.repo), "-L", "-N", "gamma", "delta")
    assert mask(out) == ("Service Type    Since               Status\n"
                         "delta   oneshot DATE Started\n"
                         "gamma   longrun DATE Up (PID N)\n")
    assert f"(PID {pid})" in out
    rc, out, err = an.aa("aa-start", "-r", str(an.repo), "gamma")
    assert out.startswith("==> gamma: Already up\n")
    rc, out, err = an.aa("aa-stop", "-r", str(an.repo), "delta")
    assert "==> gamma: Stopped" in out and "==> delta: Stopped" in out
    items = {it["name"]: it for it in json.loads(ovis(an, "--json", "status").stdout)}
    assert items["gamma"]["state"] == "down" and items["delta"]["state"] == "down"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_mtime_ns)
            for p in root.rglob("*")}


@pytest.mark.parametrize("tool", ["aa-enable", "aa-start", "aa-stop", "aa-status", "aa-reset", "aa-shutdown"])
def test_bad_option_is_usage_and_changes_nothing(an: Anopa, tool: str) -> None:
    smoke(an)
    assert an.enable("-l", str(an.list))[0] == 0
    before = _snapshot(an.root)
    repo = ["--repodir", str(an.repo)] if tool == "aa-shutdown" else ["-r", str(an.repo)]
    rc, out, err = an.aa(tool, *repo, "-x", "beta", "alpha")
    assert rc == 1
    assert out.startswith(f"Usage: {tool} [OPTION")
    assert err == f"{tool}: invalid option -- 'x'\n"
    rc, out, err = an.aa(tool, *repo, "--bogus")
    assert rc == 1 and err == f"{tool}: unrecognized option '--bogus'\n"
    rc, out, err = an.aa(tool, "--help")
    assert rc == 0 and out.startswith(f"Usage: {tool} [OPTION") and err == ""
    assert _snapshot(an.root) == before
