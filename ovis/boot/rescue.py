"""The rescue shell: what stage 1 offers instead of dying.

PID 1 must never exit in hardware mode (the kernel would panic), so every
stage-1 failure ends here: a message on the console, then ``sulogin`` (or
``sh -i``) on the console.  When the shell exits, the caller carries on.
Tests substitute the command with ``OVIS_RESCUE`` (taken from the
environment ``ovis boot`` was started with, before it is cleared).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

_rescue_cmd: list[str] | None = None


def configure(original_env: dict[str, str]) -> None:
    global _rescue_cmd
    cmd = original_env.get("OVIS_RESCUE")
    if cmd:
        _rescue_cmd = shlex.split(cmd)


def command() -> list[str]:
    if _rescue_cmd:
        return _rescue_cmd
    if shutil.which("sulogin"):
        return ["sulogin"]
    return ["sh", "-i"]


#: Where stage 1 keeps the original console in a namespace (see stage1.CONSOLE_FD).
KEPT_CONSOLE = 19


def console_fds() -> tuple[int, int]:
    """(read, write) fds on the console: the one kept by stage 1, /dev/console, or stdio."""
    try:
        os.fstat(KEPT_CONSOLE)
        return 0, KEPT_CONSOLE
    except OSError:
        pass
    try:
        fd = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
        return fd, fd
    except OSError:
        return 0, 2


def rescue(message: str, env: dict[str, str] | None = None) -> int:
    """Print *message*, run the rescue shell on the console, return its status."""
    rfd, wfd = console_fds()
    text = f"ovis: fatal: {message}\novis: starting a rescue shell ({' '.join(command())})\n"
    try:
        os.write(wfd, text.encode())
    except OSError:
        sys.stderr.write(text)
    try:
        p = subprocess.run(command(), stdin=rfd, stdout=wfd, stderr=wfd, env=env or {
            "PATH": "/usr/bin:/usr/sbin:/bin:/sbin"}, check=False)
        code = p.returncode
    except OSError as e:
        os.write(wfd, f"ovis: cannot run the rescue shell: {e}\n".encode())
        code = 127
    finally:
        if rfd > 2:
            os.close(rfd)
    return code
