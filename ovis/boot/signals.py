"""Signals while PID 1 is a Python process (stage 1 ``ovis boot``, stage 4).

Python's own SIGINT handler raises KeyboardInterrupt: in PID 1 that ends
PID 1, which on a machine is a kernel panic.  So in these stages every signal
that asks init for something gets a handler of ours:

- stage 1 *records* it: s6-svscan is not there yet to act on it, and a
  signal left pending across the exec into s6-svscan is lost (measured: it
  unblocks its signals before it traps them).  Stage 2, once s6-svscan runs,
  sends the recorded signals again to PID 1, which then does what they mean
  (ctrl-alt-del reboots, SIGTERM stops a container...).
- stage 4 *ignores* it: the shutdown under way already wins.

A Python handler, unlike SIG_IGN, is reset to the default by exec(2), so the
programs these stages run (rescue shell, rc.init, rc.shutdown.final) get
normal signals.
"""

from __future__ import annotations

import signal
from types import FrameType

#: What a user, a runtime or the kernel may send to init.
INIT_SIGNALS = tuple(getattr(signal, n) for n in (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
    if hasattr(signal, n))

_received: list[int] = []


def _record(signum: int, frame: FrameType | None) -> None:
    if signum not in _received:
        _received.append(signum)


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


def restore() -> None:
    """In a forked child that stays Python: Python's usual dispositions."""
    for s in INIT_SIGNALS:
        signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
