"""Signals while PID 1 is a Python process (stage 1 ``ovis boot``, stage 4).

Python's own SIGINT handler raises KeyboardInterrupt: in PID 1 that ends
PID 1, which on a machine is a kernel panic.  So in these stages every signal
that asks init for something gets a handler of ours:

- stage 1 *records* it: s6-svscan is not there yet to act on it, and a
  signal left pending across the exec into s6-svscan is lost (measured: it
  unblocks its signals before it traps them).  Stage 2, once s6-svscan runs,
  sends the recorded signals again to PID 1, which then does what they mean
  (ctrl-alt-del reboots, SIGTERM stops a container...).
  A signal that arrives after stage 2 was forked still reaches it: from the
  fork on, each recorded signal is also written to a pipe the child reads
  once s6-svscan runs (:func:`relay_pipe`).  Stage 2 sends them again only
  once s6-svscan has trapped its signals (:func:`traps_set`): sent before,
  they would meet the default disposition, which PID 1 does not get.
  One window is left that no process can close: from the execve(2) into
  s6-svscan until s6-svscan traps its signals (well under a millisecond on
  an idle machine), PID 1 has default dispositions, and the kernel drops
  such signals to a namespace's init; blocking them first does not help,
  as s6-svscan unblocks everything before it traps.
- stage 4 *ignores* it: the shutdown under way already wins.

A Python handler, unlike SIG_IGN, is reset to the default by exec(2), so the
programs these stages run (rescue shell, rc.init, rc.shutdown.final) get
normal signals.
"""

from __future__ import annotations

import os
import select

try:  # the C module signal.py wraps: its enums would cost stage 4 some 8 modules (enum,
    import _signal as signal  # functools, collections...) where Python is slow; plain ints
except ImportError:  # pragma: no cover - not CPython
    import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

#: What a user, a runtime or the kernel may send to init.
INIT_SIGNALS = tuple(getattr(signal, n) for n in (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
    if hasattr(signal, n))

_received: list[int] = []

#: write end of the pipe to stage 2 (:func:`relay_pipe`), in stage 1 only
_relay: int | None = None


def _record(signum: int, frame: FrameType | None) -> None:
    if signum not in _received:
        _received.append(signum)
        _relay_one(signum)


def _relay_one(signum: int) -> None:
    if _relay is not None:
        try:
            os.write(_relay, bytes((signum,)))
        except OSError:  # a full pipe holds that signal already
            pass


def _ignore(signum: int, frame: FrameType | None) -> None:
    pass


def hold() -> None:
    """Stage 1: remember init signals instead of dying of them."""
    for s in INIT_SIGNALS:
        signal.signal(s, _record)


def ignore() -> None:
    """Stage 4: nothing interrupts the kill, sync and unmount."""
    for s in INIT_SIGNALS:
        signal.signal(s, _ignore)


def received() -> list[int]:
    """The signals recorded by :func:`hold` so far, first one first."""
    return list(_received)


def relay_pipe() -> int:
    """Stage 1, before it forks stage 2: the read end of a pipe of later signals.

    The child's copy of :func:`received` is what PID 1 had recorded when it
    forked; whatever PID 1 records after that, until it becomes s6-svscan,
    is written to this pipe (one byte a signal).  The write end is
    close-on-exec, so the child reads until end of file once PID 1 has
    exec'd (:func:`late_signals`).
    """
    global _relay
    r, w = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(w, False)  # a signal handler must never wait
    _relay = w
    return r


def late_signals(fd: int, timeout: float = 10.0) -> list[int]:
    """Stage 2: the signals PID 1 relayed after the fork, read until end of file.

    Called once s6-svscan runs, so the end of file is there already; the
    timeout only keeps a stage 1 that never exec'd from holding stage 2.
    """
    got: list[int] = []
    try:
        while select.select([fd], [], [], timeout)[0]:
            data = os.read(fd, 64)
            if not data:
                break
            got.extend(b for b in data if b not in got)
    finally:
        os.close(fd)
    return got


def traps_set(pid: int, signum: int) -> bool:
    """Whether s6-svscan, as *pid*, handles *signum* now.

    skalibs' selfpipe blocks the signals it traps and reads them from a
    signalfd; a handler shows as caught.  Either bit, once the process is
    s6-svscan (the mask of the Python it replaced does not count: exec
    resets handlers, and stage 1 blocks nothing).
    """
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "s6-svscan":
                return False
        with open(f"/proc/{pid}/status") as f:
            masks = {k: int(v, 16) for k, _, v in (line.partition(":\t") for line in f)
                     if k in ("SigBlk", "SigCgt")}
    except (OSError, ValueError):
        return False
    bit = 1 << (signum - 1)
    return any(m & bit for m in masks.values())


def restore() -> None:
    """In a forked child that stays Python: Python's usual dispositions."""
    global _relay
    if _relay is not None:  # the child's copy: PID 1's exec must end the pipe
        os.close(_relay)
        _relay = None
    for s in INIT_SIGNALS:
        signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
