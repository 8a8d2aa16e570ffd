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


#: pid -> session id as last read. A process changes session only by
#: setsid(), which makes it leave (its new session id is its own pid): a
#: cached "not in session S" stays true, so each stat is read once per
#: process, and only the candidates are read again.
_SESSION_OF: dict[int, int] = {}


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
_listing: tuple[float, list[int]] | None = None


def new_round() -> None:
    global _round
    _round = time.monotonic()


def end_round() -> None:
    global _round, _listing, _indexed
    _round = _listing = _indexed = None


def _pids(fresh: bool) -> list[int]:
    global _listing
    if not fresh and _round is not None and _listing is not None and _listing[0] >= _round:
        return _listing[1]
    t = time.monotonic()
    pids = list_pids()
    if _round is not None:
        _listing = (t, pids)
    return pids


#: The listing :func:`_by_session` last indexed, and its index.
_indexed: tuple[list[int], dict[int, list[int]]] | None = None


def _by_session(pids: list[int]) -> dict[int, list[int]]:
    """Session id -> pids of one listing, from the cache (new pids read once).

    Built once per listing, so the checks of the services settled in one
    wake-up cost one pass over /proc together, not one pass each: with a few
    thousand processes on the machine, a 300-service stop spent most of its
    time walking the listing again for every service.
    """
    global _indexed
    if _indexed is not None and _indexed[0] is pids:
        return _indexed[1]
    alive = set(pids)
    for p in [p for p in _SESSION_OF if p not in alive]:
        del _SESSION_OF[p]
    index: dict[int, list[int]] = {}
    getsid = os.getsid
    for pid in pids:
        sid = _SESSION_OF.get(pid)
        if sid is None:
            # getsid(2), not /proc/PID/stat: one syscall for each process
            # new since the last listing, where a busy machine has thousands
            # (the candidates' stat is read below, for their state letter)
            try:
                sid = _SESSION_OF[pid] = getsid(pid)
            except OSError:
                continue
        members = index.get(sid)
        if members is None:
            index[sid] = [pid]
        else:
            members.append(pid)
    _indexed = (pids, index)
    return index


def session_members(sid: int, fresh: bool = False) -> list[int]:
    """Live processes of session *sid* (zombies excluded): what a service left.

    Called after every oneshot and every longrun stop: reading every
    /proc/PID/stat each time made a 300-service stop read 180,000 files,
    and listing /proc once per service made a 1000-service stop spend
    seconds in ``listdir``. *fresh*: never the round's shared listing.
    The candidates the index names are read again (one may have left the
    session with setsid, died, or be a zombie now).
    """
    index = _by_session(_pids(fresh))
    out = []
    for pid in index.pop(sid, ()):
        st = _session_state(pid)
        if st is None:
            _SESSION_OF.pop(pid, None)
            continue
        _SESSION_OF[pid] = st[0]
        index.setdefault(st[0], []).append(pid)  # where a later check looks for it
        if st[0] == sid and st[1] not in ("Z", "X"):
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
