"""Boot ovis as a real PID 1 inside new PID and mount namespaces.

``BootedSystem`` installs the default skeleton in a tmp dir, points the
boot environment at the test's own services, trees and log directory, and
runs ``unshare --pid --fork --mount --mount-proc -- ovis boot -s SKEL``.
PID 1's output (the "console") goes to a file; commands are run inside the
namespaces with ``nsenter``; LIVE (a tmpfs on the namespace's /run) is read
from outside through ``/proc/PID/root``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.nsutil import REPO, namespace_problem, skip_or_fail


def namespaces_available() -> str | None:
    """None when PID+mount namespaces (and nsenter) work here, else why not."""
    problem = namespace_problem()
    if problem is None and shutil.which("nsenter") is None:
        problem = "needs nsenter (util-linux)"
    return problem


def require_namespaces() -> None:
    reason = namespaces_available()
    if reason is not None:
        skip_or_fail(reason)


#: rc.shutdown.final of every booted test system: after stage 4 killed,
#: unmounted and remounted read-only (its / may be read-only now, so it
#: writes to the console it inherited), it mounts a fresh /proc of the
#: namespace and reports every process and every mount left.
FINAL_PROBE = """\
#!/bin/sh
P={procview}
mount -t proc proc "$P" || echo "{tag} error: cannot mount proc on $P"
echo "{tag} self $$"
for d in "$P"/[0-9]*; do read -r s < "$d/stat" && echo "{tag} proc $s"; done
while IFS= read -r m; do echo "{tag} mount $m"; done < "$P/self/mountinfo"
echo "{tag} end"
""".replace("{tag}", "OVIS-TEST-FINAL")


def atomic_exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@dataclass
class FinalView:
    """What rc.shutdown.final saw at the very end of stage 4."""

    self_pid: int
    procs: dict[int, tuple[str, str, int]]  # pid -> (comm, state, ppid)
    mounts: list[list[str]]                 # /proc/self/mountinfo lines, split
    errors: list[str]

    def others(self) -> dict[int, tuple[str, str, int]]:
        """Processes besides PID 1 (stage 4) and the probe itself."""
        return {p: v for p, v in self.procs.items() if p not in (1, self.self_pid)}

    def mount_points(self) -> dict[str, list[str]]:
        """Mount point -> its mountinfo fields (the last mount wins)."""
        return {f[4]: f for f in self.mounts}


def parse_final(console: str) -> FinalView | None:
    """The probe's report in a console text, or None if rc.shutdown.final never ran."""
    tag = "OVIS-TEST-FINAL "
    lines = [l[len(tag):] for l in console.splitlines() if l.startswith(tag)]
    if "end" not in lines:
        return None
    self_pid, procs, mounts, errors = 0, {}, [], []
    for l in lines:
        kind, _, rest = l.partition(" ")
        if kind == "self":
            self_pid = int(rest)
        elif kind == "proc":
            pid, _, tail = rest.partition(" (")
            comm, _, fields = tail.rpartition(") ")
            state, ppid = fields.split()[:2]
            procs[int(pid)] = (comm, state, int(ppid))
        elif kind == "mount":
            mounts.append(rest.split())
        elif kind == "error":
            errors.append(rest)
    return FinalView(self_pid, procs, mounts, errors)


class BootedSystem:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.skel = root / "skel"
        self.services = root / "services"
        self.trees = root / "trees"
        self.tree = self.trees / "boot"
        self.logdir = root / "log"
        self.console = root / "console"
        self.cmdline = root / "cmdline"
        self.rescue_marker = root / "rescued"
        for d in (self.services, self.tree):
            d.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "ovis", "skel", "install", str(self.skel)],
                       check=True, capture_output=True, env=self.host_env())
        (self.skel / "environment" / "test").write_text(
            f"OVIS_SERVICES={self.services}\nOVIS_TREES={self.trees}\n"
            f"OVIS_LOGDIR={self.logdir}\n")
        self.cmdline.write_text("BOOT_IMAGE=/vmlinuz ro quiet\n")
        self.procview = root / "procview"
        self.procview.mkdir()
        # The last look at the system (stage 4's rc.shutdown.final): which
        # processes are left and what is still mounted, on the console.
        atomic_exe(self.skel / "rc.shutdown.final", FINAL_PROBE.format(procview=self.procview))
        rescue = root / "rescue.sh"
        rescue.write_text(f"#!/bin/sh\necho rescue >> {self.rescue_marker}\nexit 0\n")
        rescue.chmod(0o755)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid1: int | None = None
        self.pidns: str | None = None

    def host_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}

    # Definitions -----------------------------------------------------------
    def write(self, name: str, text: str, enable: bool = True) -> None:
        (self.services / name).write_text(textwrap.dedent(text).lstrip())
        if enable:
            (self.tree / name).touch()

    def set_conf(self, **values: str) -> None:
        """Change init.conf keys in place (keeps the file's other lines)."""
        from ovis.boot.skel import set_conf

        set_conf(self.skel / "init.conf", **values)

    # Running -----------------------------------------------------------------
    def boot(self, *command: str, args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
             wait_ready: bool = True, timeout: float = 20) -> None:
        argv = [sys.executable, "-m", "ovis", "boot", "-s", str(self.skel), *args]
        if command:
            argv += ["--", *command]
        self.boot_argv(argv, extra_env=extra_env, wait_ready=wait_ready, timeout=timeout)

    def boot_argv(self, init: list[str], extra_env: dict[str, str] | None = None,
                  wait_ready: bool = True, timeout: float = 20) -> None:
        """Run *init* as PID 1 of new PID and mount namespaces."""
        env = self.host_env()
        env.update({"OVIS_CMDLINE": str(self.cmdline),
                    "OVIS_RESCUE": str(self.root / "rescue.sh")})
        env.update(extra_env or {})
        argv = ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation",
                "private", "--kill-child", *init]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.console, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while self.pid1 is None and time.monotonic() < deadline:
            kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            if kids:
                self.pid1 = int(kids[0])
                try:
                    self.pidns = os.readlink(f"/proc/{self.pid1}/ns/pid")
                except OSError:
                    pass
            elif self._exited():
                break
            else:
                time.sleep(0.01)
        if wait_ready:
            assert self.wait_console("system ready", timeout), self.console_text()

    def _exited(self) -> bool:
        """Whether the namespace's process ended, without reaping it (WNOWAIT).

        A stage 1 that fails at once can end before pgrep sees its PID 1:
        reaping it here (Popen.poll) would take its exit status and rusage
        from a test that waits for them with os.wait4.
        """
        assert self.proc is not None
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.proc.poll() is not None
        return info is not None

    def console_text(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def wait_console(self, text: str, timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console_text():
                return True
            if self.proc is not None and self.proc.poll() is not None:
                return text in self.console_text()
            time.sleep(0.02)
        return False

    def inside(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a command inside PID 1's namespaces."""
        assert self.pid1 is not None
        return subprocess.run(["nsenter", "-t", str(self.pid1), "-p", "-m", *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=self.host_env())

    def ovis(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return self.inside(sys.executable, "-m", "ovis", *args, timeout=timeout)

    def live(self) -> Path:
        return Path(f"/proc/{self.pid1}/root/run/ovis")

    def wait_exit(self, timeout: float = 20) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def final_view(self) -> FinalView:
        """rc.shutdown.final's report (the system must have shut down through stage 4)."""
        view = parse_final(self.console_text())
        assert view is not None, "rc.shutdown.final did not report:\n" + self.console_text()
        assert not view.errors, view.errors
        return view

    def assert_nothing_survived_stage4(self) -> None:
        """At stage 4's end only PID 1 (and the probe) were left in the namespace."""
        left = self.final_view().others()
        assert left == {}, f"processes left at the end of stage 4: {left}"

    def namespace_pids(self) -> list[int]:
        """Host pids of every process in PID 1's PID namespace (PID 1 included).

        Only meaningful while PID 1 lives: once it has exited the kernel has
        killed the whole namespace, so an empty list then proves nothing
        (see :meth:`assert_nothing_survived_stage4`).
        """
        ns = self.pidns
        if ns is None:
            return []
        out = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    if os.readlink(f"/proc/{p}/ns/pid") == ns:
                        out.append(int(p))
                except OSError:
                    pass
        return out

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if self.pid1:
                try:
                    os.kill(self.pid1, signal.SIGKILL)  # ends the namespace, all of it
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def booted(tmp_path: Path):  # type: ignore[no-untyped-def]
    require_namespaces()
    b = BootedSystem(tmp_path)
    try:
        yield b
    finally:
        b.cleanup()
