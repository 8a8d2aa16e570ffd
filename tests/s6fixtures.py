"""A real s6-svscan on a throw-away scandir, for tests.

Usage (the ``scandir`` fixture in conftest.py does the start/stop)::

    with Scandir(tmp_path) as sd:                 # starts s6-svscan
        svc = sd.add("web", "exec sleep 1000", notification_fd=3)
        sd.wait_supervised("web")
        ...                                       # stop() at exit, always

Layout under *root*: ``scandir/`` is what s6-svscan watches; servicedirs
live in ``sv/<name>`` and are symlinked into the scandir (as ovis does), so
a test can prepare a servicedir before any supervisor exists and link it
later.  s6-svscan's output goes to ``svscan.log``.

Teardown must never leak processes, even when a test leaves a service that
ignores SIGTERM or is stopped.  Services call setsid(), so process groups
don't help; instead s6-svscan gets a unique marker in its environment, which
every supervisor, run script and their children inherit, and :meth:`stop`
sweeps /proc for it.

Nothing here uses ovis: the fixture must not depend on the code it tests.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import struct
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Callable, Mapping

MARKER = "OVIS_TEST_S6_TREE"

__all__ = ["Scandir", "MARKER", "wait_for", "svstat", "tree_pids"]


def wait_for(predicate: Callable[[], object], timeout: float = 3.0, interval: float = 0.005, what: str = "condition") -> object:
    """Poll *predicate* until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def svstat(servicedir: Path, fields: str = "up,ready,pid,exitcode,signal") -> list[str]:
    """``s6-svstat -o FIELDS`` split into words: the reference to cross-check against."""
    out = subprocess.run(
        ["s6-svstat", "-o", fields, str(servicedir)],
        check=True, capture_output=True, text=True, timeout=5,
    ).stdout
    return out.split()


def _locked(lockfile: Path) -> bool:
    """F_GETLK probe (what s6-svok does), independent of ovis."""
    try:
        fd = os.open(lockfile, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fl = struct.pack("hhqqi", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0).ljust(64, b"\0")
        l_type: int = struct.unpack_from("h", fcntl.fcntl(fd, fcntl.F_GETLK, fl))[0]
        return l_type != fcntl.F_UNLCK
    finally:
        os.close(fd)


def tree_pids(token: str) -> dict[int, str]:
    """Live processes carrying ``MARKER=token`` in their environment: pid -> comm."""
    needle = f"{MARKER}={token}".encode()
    found: dict[int, str] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue  # gone, or not ours
        if needle in env.split(b"\0"):
            found[int(entry)] = comm
    return found


class Scandir:
    """One s6-svscan on ``root/scandir`` plus helpers to add services."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / "scandir"
        self.svdir = self.root / "sv"
        self.log = self.root / "svscan.log"
        self.token = uuid.uuid4().hex
        self.proc: subprocess.Popen[bytes] | None = None
        self.path.mkdir(parents=True, exist_ok=True)
        self.svdir.mkdir(parents=True, exist_ok=True)

    # -- services -----------------------------------------------------------
    def servicedir(self, name: str) -> Path:
        return self.svdir / name

    def add(
        self,
        name: str,
        run: str,
        notification_fd: int | None = None,
        down: bool = False,
        *,
        finish: str | None = None,
        files: Mapping[str, str | bytes] | None = None,
        link: bool = True,
    ) -> Path:
        """Create servicedir ``sv/name`` and (unless ``link=False``) link it in.

        *run*/*finish* are script bodies; ``#!/bin/sh`` is prepended unless
        they start with ``#!``.  *files* are extra files (``timeout-kill``,
        ``data/x``...); ones starting with ``#!`` are made executable.  If
        s6-svscan already runs, linking triggers a rescan.
        """
        sd = self.servicedir(name)
        sd.mkdir(parents=True)
        self._write(sd / "run", run, script=True)
        if finish is not None:
            self._write(sd / "finish", finish, script=True)
        if notification_fd is not None:
            self._write(sd / "notification-fd", f"{notification_fd}\n")
        if down:
            self._write(sd / "down", "")
        for rel, content in (files or {}).items():
            p = sd / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            self._write(p, content, script=None)
        if link:
            self.link(name)
        return sd

    @staticmethod
    def _write(path: Path, content: str | bytes, script: bool | None = False) -> None:
        data = content.encode() if isinstance(content, str) else content
        if script and not data.startswith(b"#!"):
            data = b"#!/bin/sh\n" + data
        path.write_bytes(data)
        path.chmod(0o755 if (script or data.startswith(b"#!")) else 0o644)

    def link(self, name: str, rescan: bool | None = None) -> Path:
        """Symlink ``sv/name`` into the scandir; rescan if running (or if asked)."""
        link = self.path / name
        link.symlink_to(self.servicedir(name))
        if rescan or (rescan is None and self.running):
            self.control("a")
        return link

    # -- s6-svscan ------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 5.0) -> "Scandir":
        """Start s6-svscan and wait until its control fifo has a reader."""
        if self.proc is not None:
            raise RuntimeError("s6-svscan already started")
        env = dict(os.environ, **{MARKER: self.token})
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["s6-svscan", "-t0", str(self.path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,  # ^C on pytest must not hit the tree
            )
        ctl = self.path / ".s6-svscan" / "control"

        def listening() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"s6-svscan exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                os.close(os.open(ctl, os.O_WRONLY | os.O_NONBLOCK))
                return True
            except OSError as e:
                if e.errno in (errno.ENXIO, errno.ENOENT):
                    return False
                raise

        wait_for(listening, timeout, what="s6-svscan control fifo")
        return self

    def control(self, letters: str) -> None:
        """Write raw letters to s6-svscan's control fifo (s6-svscanctl)."""
        fd = os.open(self.path / ".s6-svscan" / "control", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, letters.encode())
        finally:
            os.close(fd)

    def wait_supervised(self, name: str, timeout: float = 3.0) -> Path:
        """Wait until an s6-supervise holds ``sv/name`` and has written its status."""
        sd = self.servicedir(name)
        wait_for(
            lambda: _locked(sd / "supervise" / "lock") and (sd / "supervise" / "status").exists(),
            timeout, what=f"s6-supervise on {name}",
        )
        return sd

    def pids(self) -> dict[int, str]:
        """Every live process of this tree (s6-svscan, supervisors, services...)."""
        return tree_pids(self.token)

    def stop(self, grace: float = 1.5) -> None:
        """Tear the tree down and reap it; never leaves a process behind.

        Polite first (SIGTERM to s6-svscan = ``t``: every supervisor brings
        its service down and exits); services still alive after *grace*
        seconds get SIGKILL so their supervisors can finish; whatever is left
        then is SIGKILLed outright.  Idempotent.
        """
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                # Kill the services (not the s6 processes) so supervisors can
                # reap them, run ./finish and exit, and s6-svscan can reap those.
                self._kill(lambda comm: not comm.startswith("s6-sv") and comm != "s6-supervise")
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        # Leftovers: children that escaped their service, restarted
        # supervisors after a forced kill, etc.
        deadline = time.monotonic() + 5.0
        while self._kill(lambda comm: True):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not reap s6 test tree: {self.pids()}")
            time.sleep(0.01)

    def _kill(self, which: Callable[[str], bool]) -> bool:
        """SIGKILL matching tree processes; True if any was found."""
        victims = [pid for pid, comm in self.pids().items() if which(comm)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return bool(victims)

    # -- context manager ------------------------------------------------------
    def __enter__(self) -> "Scandir":
        if self.proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

