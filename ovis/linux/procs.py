"""Processes seen through /proc: the stage-4 "kill everything" step.

Signals go to each PID in turn rather than through kill(-1, sig) so that we
can spare what anopa's ``aa-kill -s`` spares: processes whose argv[0]
starts with '@' (a root-on-network daemon, a logger that must see the end).
Kernel threads and PID 1 are always spared; so are we.
"""

from __future__ import annotations

import os
import time

try:  # the C module: signal.py's enums cost stage 4 some 8 modules (enum, functools...)
    import _signal as signal
except ImportError:  # pragma: no cover - not CPython
    import signal
TYPE_CHECKING = False  # typing costs ~30 modules at import: it matters where Python is slow
if TYPE_CHECKING:
    from typing import Callable

    Log = Callable[[str], None] | None


PF_KTHREAD = 0x00200000  # include/linux/sched.h
PF_EXITING = 0x00000004  # getting shut down (include/linux/sched.h)


def list_pids() -> list[int]:
    """Every PID visible in /proc (our PID namespace when /proc is ours)."""
    return sorted(int(n) for n in os.listdir("/proc") if n.isdigit())


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after ``comm`` (which may hold ')' and spaces).

    Index 0 is the state letter, index 6 the flags.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    end = raw.rfind(b")")
    if end < 0:
        return None
    return raw[end + 2 :].decode("ascii", "replace").split()


def _cmdline_head(pid: int) -> bytes | None:
    """The first bytes of /proc/PID/cmdline, None when the process is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read(64)
    except OSError:
        return None


def is_kernel_thread(pid: int) -> bool:
    """True for kernel threads: PF_KTHREAD in stat; empty cmdline if stat is unreadable.

    The flag is authoritative; an empty cmdline alone also matches zombies
    and processes that wiped their argv.
    """
    fields = _stat_fields(pid)
    if fields is not None and len(fields) > 6:
        try:
            return bool(int(fields[6]) & PF_KTHREAD)
        except ValueError:
            pass
    return _cmdline_head(pid) == b""


def _killable(pid: int, me: int, skip_self: bool, skip_at_argv0: bool) -> bool:
    """Whether stage 4 should signal (and wait for) ``pid``."""
    if pid == 1 or (skip_self and pid == me):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return False  # gone
    if fields[0] in ("Z", "X", "x"):
        return False  # dead already: nothing to signal, only to reap
    try:
        flags = int(fields[6])
        if flags & PF_KTHREAD:
            return False
        if flags & PF_EXITING:
            # On its way out: its cmdline and exe may be gone already, yet it is not a
            # zombie (it may sit in D, closing files): wait for it (a signal is harmless),
            # or stage 4 would unmount and reboot around a process that still exists.
            return True
    except (IndexError, ValueError):
        pass
    head = _cmdline_head(pid)
    if head == b"":
        head = _settled_cmdline(pid)
    if head is None:
        return False
    if head == b"" and not _has_exe(pid):
        return False
    if skip_at_argv0 and head.startswith(b"@"):
        return False
    return True


def _settled_cmdline(pid: int, tries: int = 10) -> bytes | None:
    """Re-read an empty cmdline for a few milliseconds.

    A process in the middle of execve(2) shows an empty cmdline (observed:
    the parent's CLOEXEC pipe is already closed, the new argv not yet set
    up), so a fresh '@' process would look anonymous for a moment.
    """
    head: bytes | None = b""
    for _ in range(tries):
        time.sleep(0.001)
        head = _cmdline_head(pid)
        if head != b"":
            break
    return head


def _has_exe(pid: int) -> bool:
    try:
        os.readlink(f"/proc/{pid}/exe")
        return True
    except OSError:
        return False


def killable_pids(*, skip_self: bool = True, skip_at_argv0: bool = True) -> list[int]:
    """PIDs that kill_all would signal right now."""
    me = os.getpid()
    return [p for p in list_pids() if _killable(p, me, skip_self, skip_at_argv0)]


def kill_all(sig: int, *, skip_self: bool = True, skip_at_argv0: bool = True) -> int:
    """Send ``sig`` to every killable process; return how many were signalled.

    A process that exits between listing and kill is simply not counted.
    """
    count = 0
    for pid in killable_pids(skip_self=skip_self, skip_at_argv0=skip_at_argv0):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue
        count += 1
    return count


def reap_children() -> int:
    """Reap every exited child without blocking; return how many.

    At stage 4 we are PID 1: every orphan becomes our child, and unreaped
    zombies would keep their PIDs (harmless here, but noisy).
    """
    n = 0
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def wait_all_gone(timeout: float, *, poll: float = 0.05, skip_at_argv0: bool = True) -> bool:
    """Wait until no killable process remains; True if that happened in time.

    Reaps our own children meanwhile (waitpid(-1, WNOHANG)): note that this
    steals the exit status of any child a caller still meant to wait for.
    """
    deadline = time.monotonic() + timeout
    while True:
        reap_children()
        if not killable_pids(skip_at_argv0=skip_at_argv0):
            reap_children()  # those that just turned zombie (dead, hence not killable)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def terminate_all(grace: float, log: Log = None, *, kill_wait: float = 1.0, skip_at_argv0: bool = True) -> bool:
    """TERM (+CONT, so stopped processes see it), wait up to ``grace``, then KILL.

    Returns True when nothing killable is left (callers such as aa-stage4
    drop to a shell otherwise).  SIGKILL is re-sent while waiting, which
    catches children forked between our listing and the first KILL.
    """
    say = log or (lambda _msg: None)
    n = kill_all(signal.SIGTERM, skip_at_argv0=skip_at_argv0)
    kill_all(signal.SIGCONT, skip_at_argv0=skip_at_argv0)
    say(f"sent SIGTERM to {n} processes")
    if wait_all_gone(grace, skip_at_argv0=skip_at_argv0):
        return True
    deadline = time.monotonic() + kill_wait
    n = kill_all(signal.SIGKILL, skip_at_argv0=skip_at_argv0)
    say(f"sent SIGKILL to {n} processes")
    while True:
        if wait_all_gone(0.05, skip_at_argv0=skip_at_argv0):
            return True
        if time.monotonic() >= deadline:
            left = killable_pids(skip_at_argv0=skip_at_argv0)
            say(f"processes still alive: {' '.join(map(str, left))}")
            return False
        kill_all(signal.SIGKILL, skip_at_argv0=skip_at_argv0)


#: The last listing's index, kept from one listing to the next: /proc entry
#: name -> its session id as last read (-1: not a process, or gone before
#: getsid), and session id -> the names in it.  A process changes session
#: only by setsid(), which makes it leave (its new session id is its own
#: pid), so a cached "not in session S" stays true: only names new since the
#: previous listing cost a getsid(2), and only a session's candidates are
#: read again.  The names are /proc's own strings and the difference between
#: two listings is taken by set operations, not a Python loop over every
#: process: with thousands of processes on a machine, a chain of 100 stopped
#: one per wake-up spent most of its CPU rebuilding a pid -> session index.
_SID_OF: dict[str, int] = {}
_MEMBERS: dict[int, set[str]] = {}


def _session_state(pid: int) -> tuple[int, str] | None:
    f = _stat_fields(pid)
    if f is None or len(f) <= 3:
        return None
    try:
        return int(f[3]), f[0]
    except ValueError:
        return None


#: Set by the engine's event loop while it handles the events of one wake-up
#: (:func:`new_round`, :func:`end_round`): the checks of the services that
#: settled in it share one listing of /proc, taken after all those events
#: happened. Outside a round every check lists /proc itself.
_round: float | None = None
_listing: tuple[float, set[str]] | None = None


def new_round() -> None:
    global _round
    _round = time.monotonic()


def end_round() -> None:
    global _round, _listing, _indexed
    _round = _listing = _indexed = None


def _names(fresh: bool) -> set[str]:
    """The entries of /proc (pids and the rest), the round's own if one is shared.

    A round's first check brings the previous round's listing up to date
    instead of listing /proc again when it can (:func:`_caught_up`).
    """
    global _listing
    if not fresh and _round is not None:
        if _listing is not None and _listing[0] >= _round:
            return _listing[1]
        t = time.monotonic()
        names = _caught_up(t)
        if names is None:
            names = _full_listing(t)
        _listing = (t, names)
        return names
    return _full_listing(time.monotonic())


#: ``/proc/sys/kernel/ns_last_pid``: the last pid the kernel gave out in our
#: pid namespace.  It hands them out in increasing order, wrapping at
#: pid_max; so between two reads that did not wrap, every process created
#: has a pid in between.
LAST_PID = "/proc/sys/kernel/ns_last_pid"
#: A listing is brought up to date, instead of taken again, while it is this
#: young (a wrap of the pid space in between is out of reach) and at most
#: this many pids were given out since (each costs a getsid(2); listing
#: /proc costs about a microsecond per process on the machine).
CATCH_UP_AGE = 1.0
CATCH_UP_PIDS = 512
#: The kernel moves ns_last_pid a moment before the new process shows in
#: /proc: a fork in flight while /proc was read (or while the counter was
#: read at a catch-up) has a pid at or just below the counter and no entry
#: yet.  So every catch-up also looks again at this many pids below the
#: counter it starts from that the listing does not hold (a dead one costs
#: one failed getsid(2)); without it such a process would stay unseen until
#: the next full listing, and a session could be taken for empty.
CATCH_UP_SLACK = 16

#: (monotonic time, ns_last_pid read just before, the names) of the last
#: full listing, kept across rounds and brought up to date by _caught_up.
_kept: tuple[float, int, set[str]] | None = None


def _last_pid() -> int | None:
    try:
        fd = os.open(LAST_PID, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return int(os.read(fd, 32))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _full_listing(t: float) -> set[str]:
    global _kept
    last = _last_pid()  # before the listing: a pid given out meanwhile is above it
    names = set(os.listdir("/proc"))
    _kept = None if last is None else (t, last, names)
    return names


def _caught_up(t: float) -> set[str] | None:
    """The last listing with the processes created since added, or None
    when /proc must be listed again (none kept, too old, too many new pids,
    the pid counter wrapped or cannot be read).  Processes that ended since
    stay in it: a check reads its candidates again, and drops the dead."""
    global _kept
    if _kept is None or t - _kept[0] > CATCH_UP_AGE:
        return None
    _, before, names = _kept
    now = _last_pid()
    if now is None or now < before or now - before > CATCH_UP_PIDS:
        return None
    _update_index(names)
    getsid = os.getsid
    for pid in range(max(before - CATCH_UP_SLACK, 0) + 1, before + 1):
        name = str(pid)
        if name not in names:  # in flight when counted, or dead (and dropped) since
            try:
                sid = getsid(pid)
            except OSError:
                continue
            names.add(name)
            _file(name, sid)
    if now > before:
        for pid in range(before + 1, now + 1):
            name = str(pid)
            _forget(name)  # a new process under a pid seen before: not the old one's session
            try:
                sid = getsid(pid)
            except OSError:
                names.discard(name)
                continue
            names.add(name)
            _file(name, sid)
    _kept = (_kept[0], now, names)
    return names


#: The listing the index was last brought up to date with.
_indexed: set[str] | None = None


def _forget(name: str) -> None:
    sid = _SID_OF.pop(name, None)
    if sid is not None:
        members = _MEMBERS.get(sid)
        if members is not None:
            members.discard(name)
            if not members:
                del _MEMBERS[sid]


def _file(name: str, sid: int) -> None:
    _SID_OF[name] = sid
    members = _MEMBERS.get(sid)
    if members is None:
        _MEMBERS[sid] = {name}
    else:
        members.add(name)


def _update_index(names: set[str]) -> None:
    """Bring the session index up to date with the listing *names*."""
    global _indexed
    if _indexed is names:
        return
    for name in _SID_OF.keys() - names:  # gone since the last listing
        _forget(name)
    getsid = os.getsid
    for name in names - _SID_OF.keys():  # new since: one getsid(2) each
        sid = -1
        if name.isdigit():
            try:
                sid = getsid(int(name))
            except OSError:
                pass
        _file(name, sid)
    _indexed = names


def session_members(sid: int, fresh: bool = False) -> list[int]:
    """Live processes of session *sid* (zombies excluded): what a service left.

    Called after every oneshot and every longrun stop: reading every
    /proc/PID/stat each time made a 300-service stop read 180,000 files,
    and listing /proc once per service made a 1000-service stop spend
    seconds in ``listdir``. *fresh*: never the round's shared listing.
    The candidates the index names are read again (one may have left the
    session with setsid, died, or be a zombie now).
    """
    _update_index(_names(fresh))
    out = []
    for name in sorted(_MEMBERS.get(sid, ()), key=int):
        pid = int(name)
        st = _session_state(pid)
        if st is None:  # gone: a later listing would not have it either
            _forget(name)
            if _kept is not None:
                _kept[2].discard(name)
            continue
        if st[0] != sid:  # left with setsid: where a later check looks for it
            _forget(name)
            _file(name, st[0])
        elif st[1] not in ("Z", "X"):
            out.append(pid)
    return out


def young_session_members(sid: int) -> list[int]:
    """:func:`session_members` of a session created a moment ago (a oneshot's
    script that just ended), without /proc's listing.

    Every member of session *sid* was forked after its leader got pid *sid*
    (a process can leave a session, never join one), and the kernel gives
    out pids in increasing order: so while ns_last_pid has not wrapped past
    *sid* the members are among the pids from *sid* to it, one getsid(2)
    each (a pid not in use fails at once).  A session older than that (more
    than CATCH_UP_PIDS pids since), a wrapped counter or no counter: the
    listing.  (The listing cost about a millisecond per oneshot on a
    machine with a few thousand processes.)
    """
    now = _last_pid()
    if now is None or now < sid or now - sid > CATCH_UP_PIDS:
        return session_members(sid)
    getsid = os.getsid
    out = []
    for pid in range(sid, now + 1):
        try:
            if getsid(pid) != sid:
                continue
        except OSError:
            continue
        st = _session_state(pid)  # (zombies excluded, as session_members does)
        if st is not None and st[0] == sid and st[1] not in ("Z", "X"):
            out.append(pid)
    return out


def end_session(sid: int | None, grace: float = 0.5) -> int:
    """TERM what is left of session *sid*, KILL what is still there after *grace*.

    s6 signals only a service's main process, and a oneshot's script may
    leave a daemon behind: once the service is down, ovis ends the rest of
    the session it ran in (each service gets its own: s6-supervise and ovis
    start them with setsid).  Our own session, and PID 1's, are never touched.
    Returns how many processes were signalled.
    """
    if sid is None or sid <= 1 or sid in (os.getpid(), os.getsid(0)):
        return 0
    members = [p for p in session_members(sid) if p not in (1, os.getpid())]
    for pid in members:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    deadline = time.monotonic() + grace
    left = members
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [p for p in session_members(sid, fresh=True) if p not in (1, os.getpid())]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(members)
