"""Decode ``supervise/status``, the 35-byte state file of s6-supervise.

s6-supervise rewrites the file atomically (``status.new`` + rename) on every
state change, so reading it never needs a lock and never needs s6-svstat.
Layout (big-endian, s6 2.11 ``s6_svstatus_pack``)::

    0  12  stamp       tain: last up/down change
    12 12  readystamp  tain: readiness reached, or service fully down
    24  8  pid         0 = no process; pid of ./finish while finishing
    32  2  wstat       waitpid() status of the last ./run death
    34  1  flags       1 paused, 2 finishing, 4 want up, 8 ready
"""

from __future__ import annotations

import errno
import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

from ovis.errors import ProtocolError
from ovis.record import Frozen
from ovis.s6.tai import tain_to_unix

STATUS_SIZE = 35
_FORMAT = struct.Struct(">QIQIQHB")
assert _FORMAT.size == STATUS_SIZE

FLAG_PAUSED = 0x01
FLAG_FINISHING = 0x02
FLAG_WANTUP = 0x04
FLAG_READY = 0x08


class SupervisorStatus(Frozen):
    """One snapshot of a supervisor's view of its service.

    Times are Unix time stamps.  ``ready_flag`` is s6's raw ready bit, which
    is also set for a service that is fully down ("down and ready"); use
    :attr:`ready` for "up and has notified readiness".
    """

    __slots__ = ("stamp", "ready_stamp", "pid", "wstat", "paused", "finishing", "want_up",
                 "ready_flag")

    def __init__(self, stamp: float, ready_stamp: float, pid: int, wstat: int, paused: bool,
                 finishing: bool, want_up: bool, ready_flag: bool) -> None:
        s = object.__setattr__
        s(self, "stamp", stamp)
        s(self, "ready_stamp", ready_stamp)
        s(self, "pid", pid)
        s(self, "wstat", wstat)
        s(self, "paused", paused)
        s(self, "finishing", finishing)
        s(self, "want_up", want_up)
        s(self, "ready_flag", ready_flag)

    @property
    def up(self) -> bool:
        """./run is alive (while ./finish runs, ``pid`` is finish's)."""
        return self.pid != 0 and not self.finishing

    @property
    def ready(self) -> bool:
        return self.up and self.ready_flag

    @property
    def exit_code(self) -> int | None:
        """Exit code of the last ./run, if it is down and exited normally."""
        if self.up or not os.WIFEXITED(self.wstat):
            return None
        return os.WEXITSTATUS(self.wstat)

    @property
    def signal(self) -> int | None:
        """Signal that killed the last ./run, if it is down and was killed."""
        if self.up or not os.WIFSIGNALED(self.wstat):
            return None
        return os.WTERMSIG(self.wstat)


def decode_status(data: bytes) -> SupervisorStatus:
    """Decode the raw bytes of a status file; ``ProtocolError`` if not 35 bytes."""
    if len(data) != STATUS_SIZE:
        raise ProtocolError(
            f"s6 status record must be {STATUS_SIZE} bytes, got {len(data)}"
        )
    sec, nano, rsec, rnano, pid, wstat, flags = _FORMAT.unpack(data)
    return SupervisorStatus(
        stamp=tain_to_unix(sec, nano),
        ready_stamp=tain_to_unix(rsec, rnano),
        pid=pid,
        wstat=wstat,
        paused=bool(flags & FLAG_PAUSED),
        finishing=bool(flags & FLAG_FINISHING),
        want_up=bool(flags & FLAG_WANTUP),
        ready_flag=bool(flags & FLAG_READY),
    )


def read_status(servicedir: Path | str) -> SupervisorStatus | None:
    """Read ``servicedir/supervise/status``; ``None`` if it does not exist.

    A missing file means no supervisor ever ran on this servicedir.  An
    existing file says nothing about whether one runs *now*: use
    :func:`ovis.s6.control.is_supervised` for that.
    """
    path = f"{os.fspath(servicedir)}/supervise/status"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    try:
        # Read one byte more than expected so an oversized file is noticed.
        # A regular file gives all it holds up to the size asked: the usual
        # 35 bytes in one read(2), no second one to see the end.
        first = os.read(fd, STATUS_SIZE + 1)
        if len(first) == STATUS_SIZE:
            return decode_status(first)
        chunks: list[bytes] = [first] if first else []
        size = len(first)
        while first and size <= STATUS_SIZE:
            chunk = os.read(fd, STATUS_SIZE + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    try:
        return decode_status(b"".join(chunks))
    except ProtocolError as e:
        raise ProtocolError(f"{path}: {e}") from None


_SIGNAMES: dict[int, str] | None = None


def signal_name(num: int) -> str | None:
    """``SIGTERM`` for 15; None for a number that is no signal (callers choose the fallback).

    ``signal.Signals(num).name`` without the signal module, which imports
    enum (about 10 modules on ovis status and aa-status): the same names,
    from the C module's constants, the first in sorted order for a number
    with aliases (SIGABRT, not SIGIOT), as enum's conversion picks them.
    """
    global _SIGNAMES
    if _SIGNAMES is None:
        import _signal

        names: dict[int, str] = {}
        for n in sorted(dir(_signal)):
            if n.startswith("SIG") and not n.startswith("SIG_") and n.isupper():
                v = getattr(_signal, n)
                if isinstance(v, int):
                    names.setdefault(v, n)
        _SIGNAMES = names
    return _SIGNAMES.get(num) if isinstance(num, int) else None


#: One record of ``supervise/death_tally``: a 12-byte tain, the exit code, the signal.
DEATH_RECORD = 14


def read_death_stamps(servicedir: Path | str) -> list[float]:
    """When the service died, oldest first, from ``supervise/death_tally``.

    s6-supervise appends one record per death and empties the file when it
    starts; it keeps at most max-death-tally records (100 by default), so
    the count saturates there.  Missing or unreadable: no deaths known.
    """
    import struct

    from ovis.s6.tai import tain_to_unix

    from ovis.smallfile import read_fd

    try:  # os.read, not open(): ovis status reads this for every longrun
        fd = os.open(f"{os.fspath(servicedir)}/supervise/death_tally", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = read_fd(fd)
        finally:
            os.close(fd)
    except OSError:
        return []
    out = []
    for i in range(0, len(data) - DEATH_RECORD + 1, DEATH_RECORD):
        sec, nano = struct.unpack(">QL", data[i:i + 12])
        out.append(tain_to_unix(sec, nano))
    return out
