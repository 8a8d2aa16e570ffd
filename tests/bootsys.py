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
        rescue = root / "rescue.sh"
        rescue.write_text(f"#!/bin/sh\necho rescue >> {self.rescue_marker}\nexit 0\n")
        rescue.chmod(0o755)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid1: int | None = None

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
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.01)
        if wait_ready:
            assert self.wait_console("system ready", timeout), self.console_text()

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

    def namespace_pids(self) -> list[int]:
        """Host pids of every process in PID 1's PID namespace (PID 1 included)."""
        if self.pid1 is None:
            return []
        try:
            ns = os.readlink(f"/proc/{self.pid1}/ns/pid")
        except OSError:
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
