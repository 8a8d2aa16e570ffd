"""A whole ovis system in a temporary directory, driven through the real CLI.

``LiveSystem`` lays out services/, trees/, live/ and log/ under a tmp dir,
runs ``ovis scandir start`` (a real s6-svscan) in the background, and runs
``python3 -m ovis ...`` commands against it exactly as a user would.
Teardown stops s6-svscan and makes sure no process of the test survives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent


def svscan_running(scandir: Path) -> bool:
    from ovis.s6.control import svscan_running as running

    return running(scandir)


class LiveSystem:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.services = root / "services"
        self.trees = root / "trees"
        self.live = root / "live"
        self.logdir = root / "log"
        self.skel = root / "skel"
        for d in (self.services, self.trees, self.skel):
            d.mkdir(parents=True, exist_ok=True)
        self.svscan: subprocess.Popen[bytes] | None = None
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "OVIS_LIVE": str(self.live),
            "OVIS_SERVICES": str(self.services),
            "OVIS_TREES": str(self.trees),
            "OVIS_LOGDIR": str(self.logdir),
            "OVIS_SKEL": str(self.skel),
        }

    # Definitions -----------------------------------------------------------
    def write(self, name: str, text: str) -> Path:
        """A 66 frontend file (leading indentation stripped)."""
        import textwrap

        p = self.services / name
        p.write_text(textwrap.dedent(text).lstrip())
        return p

    def anopa(self, name: str, files: dict[str, str], needs: tuple[str, ...] = (),
              wants: tuple[str, ...] = ()) -> Path:
        """An anopa service directory; files named run/start/stop/finish become executable."""
        d = self.services / name
        d.mkdir(parents=True, exist_ok=True)
        for rel, content in files.items():
            f = d / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(content)
            if rel.split("/")[-1] in ("run", "start", "stop", "finish"):
                f.chmod(0o755)
        for sub, names in (("needs", needs), ("wants", wants)):
            if names:
                (d / sub).mkdir(exist_ok=True)
                for n in names:
                    (d / sub / n).touch()
        return d

    # Running -----------------------------------------------------------------
    def ovis(self, *args: str, check: bool | None = None, timeout: float = 60,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "ovis", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"ovis {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def status(self, *names: str) -> dict[str, dict[str, Any]]:
        out = self.ovis("--json", "status", *names)
        return {it["name"]: it for it in json.loads(out.stdout)}

    def start_scandir(self) -> None:
        self.svscan = subprocess.Popen([sys.executable, "-m", "ovis", "scandir", "start"],
                                       env=self.env, stdout=subprocess.DEVNULL,
                                       stderr=open(self.root / "svscan.err", "wb"),
                                       start_new_session=True)
        deadline = time.monotonic() + 10
        while not svscan_running(self.live / "scandir"):
            if time.monotonic() > deadline or self.svscan.poll() is not None:
                raise AssertionError("s6-svscan did not start: "
                                     + (self.root / "svscan.err").read_text())
            time.sleep(0.01)

    def stop_scandir(self) -> None:
        if self.svscan is None:
            return
        if self.svscan.poll() is None:
            self.svscan.send_signal(signal.SIGTERM)  # s6-svscan: bring all down, exit
            try:
                self.svscan.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the session (supervisors, services): gone.
        try:
            os.killpg(self.svscan.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.svscan.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.svscan = None
        _kill_leftovers(self.root)


def _kill_leftovers(root: Path) -> None:
    """Any process whose cwd or argv mentions the test's directory is a leak: kill it."""
    me = os.getpid()
    key = str(root)
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if key in cmd or cwd.startswith(key):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def wait_until(pred: Any, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


import pytest  # noqa: E402


@pytest.fixture
def system(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A LiveSystem with its s6-svscan running; torn down whatever happens."""
    sys_ = LiveSystem(tmp_path)
    sys_.start_scandir()
    try:
        yield sys_
    finally:
        sys_.stop_scandir()


@pytest.fixture
def offline(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A LiveSystem with no s6-svscan (for commands that must not need one)."""
    sys_ = LiveSystem(tmp_path)
    try:
        yield sys_
    finally:
        _kill_leftovers(tmp_path)


def tools66_system(tmp_path: Path) -> Iterator[LiveSystem]:
    """A running LiveSystem whose services find the execl-* console scripts on PATH.

    Installed system-wide they are in /usr/local/bin or /usr/bin, on the
    default PATH; a test's pip may have put them elsewhere, so the boot
    environment (LIVE/environment, what oneshots and s6-svscan run with)
    gets their directory first.  For fixtures: ``yield from``.
    """
    from tests.nsutil import script

    s = LiveSystem(tmp_path)
    bindir = os.path.dirname(script("execl-cmdline"))
    s.env["PATH"] = f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin"
    s.live.mkdir(parents=True)
    (s.live / "environment").write_text(f"PATH={s.env['PATH']}\n")
    s.start_scandir()
    try:
        yield s
    finally:
        s.stop_scandir()
