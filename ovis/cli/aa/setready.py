"""aa-setready: mark a supervised service ready (-U) or not ready (-N) by hand.

For daemons that cannot notify readiness themselves (or lose it): rewrite
supervise/status with the ready flag (and, for -U, a fresh ready stamp),
atomically as s6-supervise does, then announce 'U' or 'N' on the event/
fifodir so s6-svwait and ovis' waiters wake up.  Exit 2 cannot read status,
3 not up, 5 cannot write status, 6 cannot send the event (4, "cannot get the
time", cannot happen here).
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

from ovis import atomic
from ovis.errors import ProtocolError
from ovis.s6 import status as s6status
from ovis.s6.tai import unix_to_tain

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, Tool

PROG = "aa-setready"
DETAILS = (
    DOUBLE_LINE
    + " -U, --ready                   Mark service ready; This is the default.\n"
    " -N, --unready                 Mark service not ready\n"
    "\n" + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (("unready", NO_ARG, "N"), ("ready", NO_ARG, "U"))

_FTRIG_PREFIX = "ftrig1"
_FTRIG_NAME_LEN = 39  # "ftrig1:@" + 24 hex + ":" + 6 random


def notify_fifodir(fifodir: Path, letter: str) -> int:
    """Write *letter* to every listener fifo of *fifodir*; return how many got it.

    s6's ftrigw_notifyb_nosig: only names "ftrig1..." of exactly 39 chars
    (dot-names are fifos being set up); open O_WRONLY|O_NONBLOCK so a
    listener that went away (ENXIO: no reader) costs nothing, and remove its
    fifo then, as s6-supervise does.  OSError if fifodir cannot be listed.
    """
    data = letter.encode("latin-1")
    sent = 0
    with os.scandir(fifodir) as it:
        for entry in it:
            name = entry.name
            if not name.startswith(_FTRIG_PREFIX) or len(name) != _FTRIG_NAME_LEN:
                continue
            try:
                fd = os.open(entry.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    _unlink(entry.path)
                continue
            try:
                if os.write(fd, data) == len(data):
                    sent += 1
            except OSError as e:
                if e.errno == errno.EPIPE:
                    _unlink(entry.path)
            finally:
                os.close(fd)
    return sent


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def set_ready_flag(raw: bytes, ready: bool, now: float) -> bytes:
    """The 35-byte status with the ready flag (and, if set, the ready stamp) changed.

    The record is patched rather than re-encoded so the other stamps keep
    their nanoseconds exactly.
    """
    flags = raw[34]
    if ready:
        sec, nano = unix_to_tain(now)
        stamp = sec.to_bytes(8, "big") + nano.to_bytes(4, "big")
        return raw[:12] + stamp + raw[24:34] + bytes([flags | s6status.FLAG_READY])
    return raw[:34] + bytes([flags & ~s6status.FLAG_READY & 0xFF])


def _read_raw(servicedir: Path) -> bytes:
    with open(servicedir / "supervise" / "status", "rb") as f:
        raw = f.read(s6status.STATUS_SIZE + 1)
    if len(raw) != s6status.STATUS_SIZE:
        raise ProtocolError(f"s6 status record must be {s6status.STATUS_SIZE} bytes, got {len(raw)}")
    return raw


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION] SERVICEDIR", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        ready = True
        for c, _ in tool.options(args, "DhNUV", LONGOPTS):
            ready = c == "U"
        if len(tool.operands) != 1:
            tool.usage(1)
        servicedir = Path(tool.operands[0])
        try:
            raw = _read_raw(servicedir)
            st = s6status.decode_status(raw)
        except (OSError, ProtocolError) as e:
            out.die_unable(2, "read s6 status", e)
        if not st.up:
            out.die(3, "service is not up")
        try:
            atomic.write_bytes(servicedir / "supervise" / "status", set_ready_flag(raw, ready, time.time()))
        except OSError as e:
            out.die_unable(5, "write s6 status", e)
        fifodir = servicedir / "event"
        letter = "U" if ready else "N"
        try:
            notify_fifodir(fifodir, letter)
        except OSError as e:
            out.die_unable(6, f"send event {letter} via {fifodir}", e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
