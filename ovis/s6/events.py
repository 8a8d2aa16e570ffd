"""Listen to s6-supervise events and wait for state changes without races.

s6-supervise announces every transition by writing a letter into each fifo
of ``servicedir/event/`` (its "fifodir") named ``ftrig1:@<tai64n>:<random>``:

    s supervisor started      u ./run spawned        U readiness notified
    d ./run died              D ./finish done (fully down)
    O ./finish exited 125 (permanent failure, sent as "OD")
    x supervisor exiting

Polling supervise/status can miss a short up/down blip; the fifo cannot, as
long as one subscribes *before* causing or checking the transition.  This
module does it the way s6-svwait/s6-svlisten1 do, in Python, with no helper
process (s6 uses s6-ftrigrd for that; a plain fifo we read ourselves is the
same protocol).
"""

from __future__ import annotations

import errno
import os
import select
import stat
import time

TYPE_CHECKING = False  # pathlib costs ~25 modules (re, enum...): made only when asked for
if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

from ovis.atomic import exact_mode
from ovis.errors import StateError
from ovis.s6 import control
from ovis.s6.status import SupervisorStatus, read_status
from ovis.s6.tai import tai64n_label

FIFODIR = "event"
_PREFIX = "ftrig1:"
_NAME_LEN = 39  # the writer ignores any other length (ftrigw_notifyb_nosig)
_RANDOM_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"  # [A-Za-z0-9]
WANTS = ("up", "ready", "down", "finished")


def ensure_fifodir(servicedir: Path | str) -> Path:
    """Create ``servicedir/event`` like s6-supervise does, if missing.

    Mode 03730 owned by our egid: group members may create fifos (subscribe)
    but not list them; setgid keeps new fifos in the group, sticky stops
    users from deleting each other's.  An existing directory is left alone,
    as s6 does.  Creating it ourselves lets a caller subscribe before the
    supervisor exists and still see its very first events.
    """
    from pathlib import Path

    return Path(_ensure_fifodir(os.fspath(servicedir)))


def make_fifodir(servicedir: str) -> str:
    """:func:`ensure_fifodir` on a string, returning one (the compiler's
    servicedirs being built: no Path made per service)."""
    return _ensure_fifodir(servicedir)


def _ensure_fifodir(servicedir: str) -> str:
    """:func:`ensure_fifodir` on strings: one mkdir (and one lstat) in the
    common case, as it runs once per service of every transaction."""
    fifodir = f"{servicedir}/{FIFODIR}"
    target = fifodir
    try:
        os.mkdir(fifodir, 0o700)
    except FileExistsError:
        st = os.lstat(fifodir)
        if stat.S_ISDIR(st.st_mode):
            return fifodir
        # A dangling symlink is created through, like s6-supervise's trymkdir.
        if stat.S_ISLNK(st.st_mode) and not os.path.exists(fifodir):
            target = os.path.join(servicedir, os.readlink(fifodir))
            os.mkdir(target, 0o700)
        elif os.path.isdir(fifodir):  # a symlink to a directory
            return fifodir
        else:
            raise NotADirectoryError(errno.ENOTDIR, "s6 fifodir is not a directory", fifodir)
    os.chown(target, -1, os.getegid())
    os.chmod(target, 0o3730)
    return fifodir


#: byte b -> _RANDOM_ALPHABET[b % 62], for bytes.translate
_RANDOM_TABLE = bytes(ord(_RANDOM_ALPHABET[b % len(_RANDOM_ALPHABET)]) for b in range(256))


#: random bytes for the next fifo names: one getrandom(2) per 64 fifos, not per fifo
_POOL = [b""]
os.register_at_fork(after_in_child=lambda: _POOL.__setitem__(0, b""))  # not the parent's names


def _random_suffix() -> str:
    """Six characters of [A-Za-z0-9] (secrets.choice made one syscall per
    character), mapped by one translate, from a pool refilled by one
    getrandom(2) per 64 names."""
    pool = _POOL[0]
    if len(pool) < 6:
        pool = os.urandom(384)
    _POOL[0] = pool[6:]
    return pool[:6].translate(_RANDOM_TABLE).decode("ascii")


#: What one read(2) of an event fifo asks for: s6 writes one letter per event.
_READ = 4096


class Subscription:
    """One listening fifo in a servicedir's fifodir.

    The fifo is opened once, read-write (Linux, fifo(7)): that one
    descriptor is both the reader the supervisor's non-blocking open needs
    (no ENXIO, which would make it delete the fifo) and a writer, so reads
    never see EOF.  s6's ftrigr keeps a second, write-only descriptor for
    that; one fewer open and close per service of every transaction.
    Callers must :meth:`close` (or use ``with``): a forgotten fifo only
    costs a stale file, which s6-supervise removes at its next event once
    our process is gone.
    """

    def __init__(self, servicedir: Path | str) -> None:
        self._dir = os.fspath(servicedir)
        # The fifodir is made (or checked) only when the fifo cannot be made
        # in it: it exists for every servicedir s6-supervise ever ran on,
        # and this runs for every service of every transaction.
        fifodir = f"{self._dir}/{FIFODIR}"
        ensured = False
        self._rfd = -1
        for _ in range(100):
            name = f"{_PREFIX}{tai64n_label(time.time())}:{_random_suffix()}"
            tmp = f"{fifodir}/.{name}"
            try:
                os.mkfifo(tmp, 0o600)
            except FileExistsError:
                continue
            except (FileNotFoundError, NotADirectoryError):
                if ensured:
                    raise
                fifodir = _ensure_fifodir(self._dir)
                ensured = True
                continue
            break
        else:  # pragma: no cover - 100 collisions of 62**6 names
            raise FileExistsError(errno.EEXIST, "cannot create a unique fifo", fifodir)
        assert len(name) == _NAME_LEN
        self._path = f"{fifodir}/{name}"
        try:
            if not exact_mode(0o600):  # mkfifo obeys the umask; s6 wants exactly 0600
                os.chmod(tmp, 0o600)
            self._rfd = os.open(tmp, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            # Only now make it visible: writers skip dot-names, so they never
            # see a fifo without a reader.
            os.rename(tmp, self._path)
        except BaseException:
            self._close_fds()
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    @property
    def servicedir(self) -> Path:
        from pathlib import Path

        return Path(self._dir)

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self._path)

    @property
    def closed(self) -> bool:
        return self._rfd < 0

    def fileno(self) -> int:
        """The read end, for select/poll/selectors."""
        if self._rfd < 0:
            raise ValueError("subscription is closed")
        return self._rfd

    def read(self) -> str:
        """All event letters received so far ('' if none); never blocks.

        A read shorter than asked for emptied the fifo (a pipe hands over
        what it holds at once): no second read just to see EAGAIN.
        """
        fd = self.fileno()
        try:
            chunk = os.read(fd, _READ)
        except BlockingIOError:
            return ""
        if len(chunk) < _READ:
            return chunk.decode("latin-1")
        chunks = [chunk]
        while True:
            try:
                chunk = os.read(fd, _READ)
            except BlockingIOError:
                break
            if not chunk:  # cannot happen while we hold a write end
                break
            chunks.append(chunk)
        return b"".join(chunks).decode("latin-1")

    def _close_fds(self) -> None:
        fd = self._rfd
        if fd >= 0:
            self._rfd = -1
            os.close(fd)

    def close(self) -> None:
        """Unlink the fifo, then close it.  Idempotent."""
        if self._rfd < 0:
            return
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass
        finally:
            self._close_fds()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._rfd}"
        return f"<Subscription {self.path} {state}>"


def subscribe(servicedir: Path | str) -> Subscription:
    """Start listening to *servicedir*'s events (creating ``event/`` if needed)."""
    return Subscription(servicedir)


class Tracker:
    """Up/ready state of one service, kept current from event letters.

    ``up``/``ready`` mirror s6-svlisten's two bits: ``ready`` is s6's ready
    bit, so "up and ready" means a ready service and "not up and ready" a
    service that is fully down.  ``down_finished`` says ./finish is done.

    The tracker is pure (no I/O).  An ``s`` letter means a (new) supervisor
    has just written a fresh status: callers that care re-read it and
    :meth:`reset`, as :func:`wait` does.
    """

    def __init__(self, initial: SupervisorStatus | None) -> None:
        self.deaths = 0
        self.permanent_failure = False
        self.supervisor_gone = False
        self.reset(initial)

    def reset(self, status: SupervisorStatus | None) -> None:
        """Take the state from a status snapshot (e.g. after an 's' event)."""
        if status is None:
            self.up = self.ready = self.down_finished = False
        else:
            self.up = status.up
            self.ready = status.ready_flag
            self.down_finished = not status.up and not status.finishing

    def feed(self, letters: str) -> None:
        """Apply event letters in order; unknown letters are ignored."""
        for c in letters:
            if c == "u":
                self.up, self.ready, self.down_finished = True, False, False
            elif c == "U":
                self.up, self.ready, self.down_finished = True, True, False
            elif c == "d":
                self.up, self.ready, self.down_finished = False, False, False
                self.deaths += 1
            elif c == "D":
                self.up, self.ready, self.down_finished = False, True, True
            elif c == "O":
                self.permanent_failure = True
            elif c == "x":
                self.supervisor_gone = True
            elif c == "s":
                self.supervisor_gone = False

    def satisfies(self, want: str) -> bool:
        """Is the tracked state the one *want* names (see :func:`wait`)?"""
        if want == "up":
            return self.up
        if want == "ready":
            return self.up and self.ready
        if want == "down":
            return not self.up
        if want == "finished":
            return not self.up and self.down_finished
        raise ValueError(f"unknown wanted state {want!r}; expected one of {', '.join(WANTS)}")


def wait(
    servicedir: Path | str,
    want: str,
    timeout: float | None,
    *,
    send: str | None = None,
) -> SupervisorStatus:
    """Wait until *servicedir* is in state *want*; return its status then.

    *want*: ``up`` (./run alive), ``ready`` (up and readiness notified),
    ``down`` (./run gone, ./finish may still run), ``finished`` (down and
    ./finish done).  With *send*, these control letters are sent after
    subscribing and before looking at the status, like ``s6-svc -w``, so a
    transition they cause cannot be missed however fast it is.

    If the servicedir has never been supervised, waits for a supervisor to
    start (its 's' event) and goes on from its first status.  Like
    s6-svwait, it trusts an existing status file: a status left by a dead
    supervisor is taken at face value (check ``is_supervised`` if needed).
    ``send="r"`` with ``want="up"`` returns at once (still up): wait for
    ``down`` first, as ``s6-svc -wr`` does.

    Raises ``TimeoutError`` (*timeout* seconds, ``None`` = forever),
    ``StateError`` on permanent failure (finish exited 125) while waiting for
    ``up``/``ready`` or if the supervisor exits first, and whatever
    :func:`ovis.s6.control.send` raises.
    """
    if want not in WANTS:
        raise ValueError(f"unknown wanted state {want!r}; expected one of {', '.join(WANTS)}")
    if send is not None:
        control._check_letters(send, control.VALID_LETTERS, "s6-supervise")
    from ovis.paths import normpath

    servicedir = normpath(servicedir)  # (printed as str(Path(servicedir)) was)
    deadline = None if timeout is None else time.monotonic() + timeout

    with subscribe(servicedir) as sub:
        if send:
            control.send(servicedir, send)
        status = read_status(servicedir)
        tracker = Tracker(status)
        known = status is not None
        if status is not None and tracker.satisfies(want):
            return status

        poller = select.poll()
        poller.register(sub.fileno(), select.POLLIN)
        while True:
            if deadline is None:
                ms = None
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{servicedir}: timed out after {timeout}s waiting for {want}")
                ms = max(1, int(left * 1000 + 0.999))
            if not poller.poll(ms):
                continue
            for c in sub.read():
                if c == "s":
                    # A (new) supervisor wrote its status before announcing
                    # itself: start over from it.  Later letters still apply.
                    tracker.reset(read_status(servicedir))
                    known = True
                tracker.feed(c)
                if known and tracker.satisfies(want):
                    final = read_status(servicedir)
                    if final is None:
                        raise StateError(f"{servicedir}: supervise/status disappeared")
                    return final
                if c == "O" and want in ("up", "ready"):
                    raise StateError(
                        f"{servicedir}: permanent failure (./finish exited 125) while waiting for {want}"
                    )
                if c == "x":
                    raise StateError(f"{servicedir}: supervisor exited while waiting for {want}")
