"""Talk to s6-supervise and s6-svscan through their control fifos.

This is what s6-svc and s6-svscanctl do, without forking them: open the fifo
``O_WRONLY|O_NONBLOCK`` (so a missing reader is ENXIO instead of a hang),
write all letters in one write(2), close.  The supervisor reads the letters
one by one and applies them in order; it silently ignores unknown bytes, so
we refuse them up front instead.

"Is something supervising this?" is answered like s6-svok does: the
supervisor holds a POSIX (fcntl) write lock on ``supervise/lock`` for its
whole life, and ``F_GETLK`` tells us whether someone holds it *without*
taking it.  Taking it, even briefly, would make a supervisor starting at
that moment exit with "another instance is already running".
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

from ovis.errors import NotSupervised
from ovis.paths import normpath

TYPE_CHECKING = False  # pathlib costs ~25 modules (re, enum...): every start and stop sends
if TYPE_CHECKING:
    from pathlib import Path

# Control letters understood by s6-supervise 2.11 (handle_control).
VALID_LETTERS = "abqhkti12pcyroduDUxOQ"
# Control letters understood by s6-svscan 2.11 (s6-svscanctl -zabhitqnN).
SVSCAN_LETTERS = "zabhitqnN"

# struct flock in native layout: short l_type, short l_whence, off_t l_start,
# off_t l_len, pid_t l_pid.  Python is built with 64-bit off_t, and its
# F_GETLK is the matching (64-bit) command.  Pad generously: the kernel writes
# sizeof(struct flock), which includes tail padding struct.calcsize omits.
_FLOCK = struct.Struct("hhqqi")
_FLOCK_BUFSIZE = _FLOCK.size + 16


def _check_letters(letters: str, valid: str, who: str) -> bytes:
    bad = sorted({c for c in letters if c not in valid})
    if bad:
        raise ValueError(f"invalid {who} control letter(s) {''.join(bad)!r}; valid: {valid}")
    return letters.encode("ascii")


def _write_fifo(fifo: Path | str, data: bytes, owner: Path | str, what: str) -> None:
    """One non-blocking open + one write; map "nobody listens" to NotSupervised."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise NotSupervised(normpath(owner), f"no {what} is listening") from None
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
            head, _, name = normpath(fifo).rpartition("/")
            raise NotSupervised(normpath(owner),
                                f"not supervised (no {head.rpartition('/')[2]}/{name})") from None
        raise
    try:
        if not data:
            return
        try:
            # Stays non-blocking: a control fifo is only full if its reader
            # is wedged, and then failing beats hanging forever.
            n = os.write(fd, data)
        except OSError as e:
            if e.errno == errno.EPIPE:
                raise NotSupervised(normpath(owner), f"{what} went away") from None
            if e.errno == errno.EAGAIN:
                raise NotSupervised(normpath(owner), f"{what} is not reading its control fifo") from None
            raise
        if n != len(data):
            raise NotSupervised(normpath(owner), f"{what} is not reading its control fifo (short write)")
    finally:
        os.close(fd)


def _is_locked(lockfile: Path | str) -> bool:
    """True if some process holds a POSIX lock on *lockfile* (never locks it)."""
    try:
        fd = os.open(lockfile, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise
    try:
        query = _FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0).ljust(_FLOCK_BUFSIZE, b"\0")
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        l_type: int = _FLOCK.unpack_from(answer)[0]
        return l_type != fcntl.F_UNLCK
    finally:
        os.close(fd)


def send(servicedir: Path | str, letters: str) -> None:
    """Send control *letters* to the s6-supervise of *servicedir*.

    Raises ``ValueError`` for letters s6-supervise does not know (before
    touching anything) and ``NotSupervised`` if no supervisor reads the fifo.
    Never blocks.  An empty *letters* only checks that a supervisor listens.
    """
    data = _LETTERS.get(letters) or _check_letters(letters, VALID_LETTERS, "s6-supervise")
    d = os.fspath(servicedir)
    _write_fifo(f"{d}/supervise/control", data, d, "supervisor")


#: The letters the engine sends for every transition, checked once.
_LETTERS = {"U": b"U", "D": b"D", "u": b"u", "d": b"d"}


def is_supervised(servicedir: Path | str) -> bool:
    """True if an s6-supervise currently runs on *servicedir* (like s6-svok)."""
    return _is_locked(f"{os.fspath(servicedir)}/supervise/lock")


def svscan_send(scandir: Path | str, letters: str) -> None:
    """Send control *letters* to the s6-svscan of *scandir* (like s6-svscanctl).

    ``a`` rescans, ``h`` rescans and prunes, ``t`` tears the tree down, ...
    Raises ``ValueError`` for unknown letters, ``NotSupervised`` if no
    s6-svscan reads the fifo.
    """
    data = _check_letters(letters, SVSCAN_LETTERS, "s6-svscan")
    scandir = normpath(scandir)
    _write_fifo(f"{scandir}/.s6-svscan/control", data, scandir, "s6-svscan")


def svscan_running(scandir: Path | str) -> bool:
    """True if an s6-svscan currently runs on *scandir* (lock probe).

    ``.s6-svscan/lock`` is mode 0600: a user other than svscan's owner gets
    ``PermissionError``, which is deliberately not turned into an answer.
    """
    return _is_locked(f"{normpath(scandir)}/.s6-svscan/lock")
