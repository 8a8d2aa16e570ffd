"""The rescue shell: what stage 1 offers instead of dying.

PID 1 must never exit in hardware mode (the kernel would panic), so every
stage-1 failure ends here: a message on the console, then ``sulogin`` (or
``sh -i``) on the console.  When the shell exits, the caller carries on.
Tests substitute the command with ``OVIS_RESCUE`` (taken from the
environment ``ovis boot`` was started with, before it is cleared).

A shell that cannot start or ends at once (``sulogin`` without a tty, a
console nobody types on) is no rescue, and PID 1 calling it in a loop would
spin at full CPU: such a shell is retried once as ``sh -i``, and each quick
rescue in a row then waits longer before returning (1 s doubling to 60 s).
Container mode never gets here (stage 1 exits instead).
"""

from __future__ import annotations

import os
import shlex
import sys
import time

#: A rescue shell that ends sooner than this (seconds) did not really run.
QUICK = 2.0
#: Delays after consecutive quick rescues: BACKOFF_FIRST doubling to BACKOFF_MAX seconds.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
FALLBACK = ["sh", "-i"]

_quick_in_a_row = 0
_rescue_cmd: list[str] | None = None


def configure(original_env: dict[str, str]) -> None:
    global _rescue_cmd
    cmd = original_env.get("OVIS_RESCUE")
    if cmd:
        _rescue_cmd = shlex.split(cmd)


def command() -> list[str]:
    if _rescue_cmd:
        return _rescue_cmd
    import shutil  # here, not at import: PID 1 imports this module on every boot

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
    """Print *message*, run the rescue shell on the console, return its status.

    Never returns sooner than the back-off allows when the shells end at once.
    """
    global _quick_in_a_row
    rfd, wfd = console_fds()
    cmd = command()
    text = f"ovis: fatal: {message}\novis: starting a rescue shell ({' '.join(cmd)})\n"
    try:
        os.write(wfd, text.encode())
    except OSError:
        sys.stderr.write(text)
    try:
        code, quick = _run_shell(cmd, rfd, wfd, env)
        if quick and cmd != FALLBACK:
            _write(wfd, f"ovis: the rescue shell ended at once: trying {' '.join(FALLBACK)}\n")
            code, quick = _run_shell(FALLBACK, rfd, wfd, env)
    finally:
        if rfd > 2:
            os.close(rfd)
    if quick:
        _quick_in_a_row += 1
        delay = min(BACKOFF_FIRST * 2 ** (_quick_in_a_row - 1), BACKOFF_MAX)
        _write(wfd, f"ovis: no usable rescue shell: going on in {delay:g} s\n")
        time.sleep(delay)
    else:
        _quick_in_a_row = 0
    return code


def _write(fd: int, text: str) -> None:
    try:
        os.write(fd, text.encode())
    except OSError:
        pass


def _run_shell(cmd: list[str], rfd: int, wfd: int, env: dict[str, str] | None) -> tuple[int, bool]:
    """(exit status, whether it ended at once or could not start)."""
    t0 = time.monotonic()
    try:
        import subprocess

        p = subprocess.run(cmd, stdin=rfd, stdout=wfd, stderr=wfd, env=env or {
            "PATH": "/usr/bin:/usr/sbin:/bin:/sbin"}, check=False)
    except OSError as e:
        _write(wfd, f"ovis: cannot run the rescue shell: {e}\n")
        return 127, True
    return p.returncode, time.monotonic() - t0 < QUICK
