"""What ovis remembers about each service, under ``LIVE/state``.

For longruns s6's own ``supervise/status`` is the truth about the process;
this file adds what s6 cannot know: whether ovis was asked to keep the
service up, why it last failed (dependency, timeout...), and the timings of
each transition (for ``analyze``).  For oneshots it is the only record.

One small JSON file per service, each written atomically, so a crash in the
middle of a transaction loses at most the transitions still in flight (and
a longrun's final record of the last event-loop round: it is written once
the services its settlement made runnable were sent their command, while
s6's own status already says it is up; ``wanted`` was recorded before, for
all the transaction's services at once, in :data:`INTENTS`).
"""

from __future__ import annotations

import fcntl
import os

TYPE_CHECKING = False  # typing costs ~30 modules at import (ovis status imports this)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any, Callable

from ovis import atomic
from ovis.jsonlite import dumps as _dumps
from ovis.jsonlite import loads as _loads
from ovis.paths import Paths, check_name, safe_component
from ovis.record import Record
from ovis.smallfile import identity, read_fd


class ServiceState(Record):
    __slots__ = ("name", "state", "wanted", "reason", "exit", "detail", "since", "timings",
                 "crashes", "reset_from", "session")

    def __init__(self, name: str, state: str = "down", wanted: str | None = None,
                 reason: str | None = "never-started", exit: int | None = None, detail: str = "",
                 since: float | None = None, timings: dict[str, float] | None = None,
                 crashes: int = 0, reset_from: list[str] | None = None,
                 session: int | None = None) -> None:
        self.name = name
        self.state = state  # up | down | failed
        self.wanted = wanted  # up | down: what ovis was last asked
        self.reason = reason
        self.exit = exit
        self.detail = detail
        self.since = since
        self.timings = {} if timings is None else timings
        # deaths s6 recorded between the last start and the stop that ended it
        # (a crash loop stopped by hand is no success for ``analyze``)
        self.crashes = crashes
        # [reason, detail] of a failure cleared by ``ovis reset``: history for ``analyze``
        self.reset_from = reset_from
        # session a oneshot's start script left processes in (ended at its stop)
        self.session = session

    def to_json(self) -> str:
        # Not dataclasses.asdict: its deepcopy of every field was a third of
        # a transaction's per-service state cost.  The fields are scalars but
        # for ``timings`` (a flat dict) and ``reset_from`` (a flat list).
        return _ENCODE({k: getattr(self, k) for k in _FIELDS})


_FIELDS = tuple(sorted(ServiceState._fields))


def _ENCODE(obj: Any) -> str:
    """json.dumps(obj, sort_keys=True) (jsonlite: no json, no re imported)."""
    return _dumps(obj, sort_keys=True)

_KNOWN = frozenset(_FIELDS)


def _path(paths: Paths, name: str) -> str:
    return f"{paths.state_str}/{safe_component(name)}.json"


def read_small(path: str) -> bytes | None:
    """The bytes of a small file (a state record, ovis.json), None if unreadable.

    os.open + os.read, not open(): a transaction and ``ovis status`` read a
    few files per service, and the buffered-IO layer costs more than the syscalls.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return read_fd(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def loads(data: bytes) -> Any:
    """``json.loads(data)`` for the small UTF-8 files ovis writes, the same answer or ValueError.

    json.loads of bytes first guesses the encoding and then checks what
    follows the value with a regular expression: a sixth of decoding a
    state record.  :func:`ovis.jsonlite.loads` does neither for plain UTF-8
    (and imports neither json nor re).
    """
    return _loads(data)


def load(paths: Paths, name: str,
         intents: dict[str, tuple[str, int]] | None = None) -> ServiceState | None:
    """*name*'s record, its ``wanted`` the one a transaction recorded in
    :data:`INTENTS` after the record was written, if any.

    *intents*: the caller's copy of the intents (``{}`` for the record as
    written: a transaction reading its own services' records); None reads
    the file.
    """
    try:
        fd = os.open(_path(paths, name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = read_fd(fd)
        rec = loads(data)
        st = ServiceState(**{k: v for k, v in rec.items() if k in _KNOWN})
        intent = (read_intents(paths) if intents is None else intents).get(name)
        # asked after this record was written (a running or a killed
        # transaction's wish): what status must say, as the record did when
        # each transaction rewrote every record first
        if intent is not None and os.fstat(fd).st_mtime_ns <= intent[1]:
            st.wanted = intent[0]
        return st
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    finally:
        os.close(fd)


#: ``LIVE/state/.wanted``: what each running transaction was asked for its
#: services (NAME -> [up|down, when in ns]), written once, under the LIVE
#: lock, before the transaction begins, and its entries dropped once their
#: records are written.  One write per transaction instead of one record
#: per service; a killed transaction's entries stay, and :func:`load`
#: applies each to a record older than it (the next transaction on the
#: service replaces and drops it; any later record of it wins).
INTENTS = ".wanted"
#: (identity of the intents file read last, its entries): ``ovis status``
#: of many services parses it once
_intents_memo: list = [None, {}]


def _intents_path(paths: Paths) -> str:
    return f"{paths.state_str}/{INTENTS}"


def read_intents(paths: Paths) -> dict[str, tuple[str, int]]:
    """The entries of :data:`INTENTS` ({} when missing or unreadable).  Do not modify."""
    try:
        fd = os.open(_intents_path(paths),
                     os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)  # no fifo hang
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        ident = identity(st)
        if _intents_memo[0] == ident:
            return _intents_memo[1]
        raw = loads(read_fd(fd))
        out: dict[str, tuple[str, int]] = {}
        if isinstance(raw, dict):
            for k, v in raw.items():
                if (isinstance(v, list) and len(v) == 2 and v[0] in ("up", "down")
                        and isinstance(v[1], int)):
                    out[k] = (v[0], v[1])
        _intents_memo[0], _intents_memo[1] = ident, out
        return out
    except (OSError, ValueError):
        return {}
    finally:
        os.close(fd)


def record_intents(paths: Paths, names: Iterable[str], wanted: str, when: int) -> None:
    """Add (or replace) the intents of *names*.  Under the LIVE :class:`Lock`; OSError."""
    entries = dict(read_intents(paths))
    for n in names:
        entries[n] = (wanted, when)
    _write_intents(paths, entries)


def drop_intents(paths: Paths, names: Iterable[str], when: int) -> None:
    """Remove the intents of *names* recorded at *when* (a transaction's own).
    Under the LIVE :class:`Lock`; OSError."""
    entries = dict(read_intents(paths))
    n0 = len(entries)
    for n in names:
        e = entries.get(n)
        if e is not None and e[1] == when:
            del entries[n]
    if len(entries) != n0:
        _write_intents(paths, entries)


def _write_intents(paths: Paths, entries: dict[str, tuple[str, int]]) -> None:
    path = _intents_path(paths)
    _intents_memo[0] = None
    if not entries:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    d = paths.state_str
    if d not in _made:
        os.makedirs(d, exist_ok=True)
        _made.add(d)
    atomic.write_bytes(path, _dumps({k: list(v) for k, v in entries.items()},
                                    sort_keys=True).encode() + b"\n")


#: LIVE/state directories this process made sure of: one mkdir per
#: transaction, not one per write (a removed one is made again below).
_made: set[str] = set()


def save(paths: Paths, st: ServiceState) -> None:
    """Write one record atomically (temp + rename).  No fsync: LIVE is a
    tmpfs on a booted system, and no guarantee asks a record to outlive a
    power cut (docs/guarantees.md)."""
    d = paths.state_str
    path = _path(paths, st.name)
    data = (st.to_json() + "\n").encode()
    for attempt in (0, 1):  # LIVE/state removed under our feet: make it again, once
        if attempt or d not in _made:
            os.makedirs(d, exist_ok=True)
            _made.add(d)
        try:
            atomic.write_bytes(path, data)
            return
        except FileNotFoundError:
            if attempt:
                raise


def remove(paths: Paths, name: str) -> None:
    try:
        os.unlink(_path(paths, name))
    except FileNotFoundError:
        pass


#: Who may open LIVE's control files: only their owner (root on a booted
#: system).  flock(2) works on a read-only descriptor, so a lock file other
#: users can open is a lock any local user can hold forever.
PRIVATE = 0o600


def _open_private(path: Path | str, euid: int | None = None) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, PRIVATE)
    try:
        st = os.fstat(fd)
        if st.st_uid == (os.geteuid() if euid is None else euid) and \
                st.st_mode & 0o7777 != PRIVATE:
            os.fchmod(fd, PRIVATE)  # one created by an older ovis was 0644
    except OSError:
        pass
    return fd


def _note_holder(fd: int, text: str) -> None:
    """Who holds it, for the waiter's message only (padded: no truncate needed)."""
    try:
        os.pwrite(fd, text.ljust(64)[:64].encode(), 0)
    except OSError:
        pass  # a full LIVE: the lock itself still works


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "?"
    except OSError:
        return "?"


class Lock:
    """Serialises *changes* to one LIVE directory (compile, link, records).

    flock(2) on ``LIVE/.lock`` (mode 0600): released by the kernel when the
    holder dies, so a crashed ovis never wedges the next one.  It is held only
    for short critical sections, never while waiting for services: that is
    what the per-service :class:`Claims` are for.  The holder's pid is written
    in the file only to tell the waiter whom it is waiting for.
    """

    def __init__(self, paths: Paths, on_wait: Callable[[str], None] | None = None) -> None:
        self.paths = paths
        self.on_wait = on_wait
        self.fd: int | None = None

    def __enter__(self) -> "Lock":
        os.makedirs(self.paths.live_str, exist_ok=True)
        fd = _open_private(self.paths.lockfile_str)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait:
                self.on_wait(f"waiting for another ovis command (pid {_holder(fd)}) to finish...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        _note_holder(fd, f"{os.getpid()}\n")
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            _note_holder(self.fd, "")
            os.close(self.fd)
            self.fd = None


class Claims:
    """Which transaction is working on which service: ``LIVE/claims/NAME``.

    A transaction claims every service it will start or stop (flock(2) on
    one private file per service) before it changes anything, and keeps the
    claims while it waits for s6; the LIVE :class:`Lock` is only taken to
    claim, all or nothing.  So transactions on disjoint services run in
    parallel, and on overlapping ones the second waits, saying for whom.
    """

    def __init__(self, paths: Paths, on_wait: Callable[[str], None] | None = None,
                 what: str = "") -> None:
        self.paths = paths
        self.on_wait = on_wait
        self.what = what
        self.held: dict[str, int] = {}

    @property
    def dir(self) -> Path:
        from pathlib import Path

        return Path(self.dir_str)

    @property
    def dir_str(self) -> str:
        return self.paths.live_str + ("/.ovis-claims" if self.paths.layout == "anopa" else "/claims")

    def _open(self, name: str) -> int:
        d = self.__dict__.get("_dir_str")
        if d is None:  # once per transaction, not per claim
            d = self._dir_str = self.dir_str
            self._euid = os.geteuid()
        return _open_private(f"{d}/{check_name(name)}", self._euid)

    def acquire(self, names: set[str] | list[str]) -> None:
        """Claim *names* (on top of what is held already); waits while another has one."""
        want = sorted(set(names) - set(self.held))
        while want:
            busy: str | None = None
            with Lock(self.paths, self.on_wait):
                try:
                    os.mkdir(self.dir_str, 0o700)
                except FileExistsError:
                    pass
                got: dict[str, int] = {}
                for n in want:
                    fd = self._open(n)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        busy = n
                        break
                    got[n] = fd
                if busy is None:
                    note = f"{os.getpid()} {self.what}\n"  # once, not a getpid(2) per claim
                    for fd in got.values():
                        _note_holder(fd, note)
                    self.held.update(got)
                    return
                for fd in got.values():
                    os.close(fd)
            fd = self._open(busy)  # wait outside the lock, then try all again
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if self.on_wait:
                        who = _holder(fd).split(None, 1)
                        doing = f" ({who[1]})" if len(who) > 1 else ""
                        self.on_wait(f"{busy}: waiting for another ovis command "
                                     f"(pid {who[0]}{doing})...")
                    fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                os.close(fd)

    def release(self) -> None:
        for fd in self.held.values():
            os.close(fd)
        self.held.clear()

    def __enter__(self) -> "Claims":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
