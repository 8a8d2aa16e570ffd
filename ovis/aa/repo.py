"""anopa's repository conventions, on top of ovis's paths, compiled servicedirs and state.

What aa-enable, aa-start, aa-stop, aa-status and aa-reset share: names,
listdirs, the servicedirs of a repository and whether they are up, and
anopa's events derived from ovis's state.

An anopa repository (``/run/services``) is an ovis LIVE directory in the
"anopa" layout (:meth:`ovis.paths.Paths.with_anopa_repo`): one servicedir per
enabled service, compiled by ovis (``ovis.json`` next to anopa's files),
longruns linked in ``.scandir``, ovis's state in ``.ovis-state``.  anopa's
``status.anopa`` is not written: the events anopa keeps there (Started,
Start failed: exitcode 3, Starting failed: Failed dependency: x ...) are
derived from ovis's state files (:func:`anopa_event`), so ``ovis status`` and
``aa-status`` can never disagree.

Names, listdirs and messages follow anopa 0.5.0 (src/libanopa/service_name.c,
scan_dir.c, errmsg.c, eventmsg.c, src/anopa/util.c).
"""

from __future__ import annotations

import errno
import os
import stat
import time

from ovis.paths import Paths
from ovis.record import Frozen, Record
from ovis.s6.status import SupervisorStatus, read_status
from ovis.s6.status import signal_name as s6_signal_name

TYPE_CHECKING = False  # typing, pathlib, the model: ~40 modules aa-status does not need
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from ovis.engine import state as statefile

    from ovis.service.model import Service

from .codes import (
    ERR_DEPEND, ERR_EXEC, ERR_FAILED, ERR_INVALID_NAME, ERR_IO, ERR_IO_REPODIR, ERR_S6, ERR_TIMEDOUT,
    ERR_UNKNOWN, ERRMSG, EVT_ERROR, EVT_NONE, EVT_START_FAILED, EVT_STARTED, EVT_STARTING_FAILED,
    EVT_STOP_FAILED, EVT_STOPPED, EVT_STOPPING_FAILED, AaError,
)

def _statefile() -> Any:
    """ovis.engine.state, imported by the first caller that reads or writes a state:
    aa-enable, which writes none, does without it (and ovis.engine)."""
    from ovis.engine import state

    return state


DEFAULT_REPODIR = "/run/services"
LISTDIR_PREFIX = "/etc/anopa/listdirs/"
DEFAULT_TIMEOUT_SECS = 300
SCANDIR = ".scandir"

# -- names, listdirs ----------------------------------------------------------

def unslash(s: str) -> str:
    """anopa's unslash(): drop one trailing '/' (but keep "/")."""
    return s[:-1] if len(s) > 1 and s.endswith("/") else s


def is_valid_name(name: str) -> bool:
    """anopa's rule: not empty, no leading '.', no leading/trailing '@', and a
    '/' only as the "/log" suffix of a logger."""
    if not name or name.startswith(".") or name.startswith("@") or name.endswith("@"):
        return False
    slash = name.find("/")
    return slash < 0 or name[slash:] == "/log"


def is_logger(name: str) -> bool:
    return name.endswith("/log")


def listdir_path(path: str) -> str:
    """-l DIR: a name not starting with '/' or '.' is under /etc/anopa/listdirs/."""
    path = unslash(path)
    return path if path.startswith(("/", ".")) else LISTDIR_PREFIX + path


def scan_dir(path: str, files_only: bool) -> list[tuple[str, bool]]:
    """(name, is_dir) of the regular files (and directories unless *files_only*)
    of *path*, in readdir order as anopa's aa_scan_dir; symlinks are skipped.
    Names starting with '.' are left to the callers, as anopa does."""
    out = []
    with os.scandir(path) as it:
        for entry in it:
            if entry.is_file(follow_symlinks=False):
                out.append((entry.name, False))
            elif not files_only and entry.is_dir(follow_symlinks=False):
                out.append((entry.name, True))
    return out


def open_repo(repodir: str, write: bool) -> Paths:
    """anopa's aa_init_repo for an existing repository: chdir into it (relative
    listdirs such as "./x" are then relative to it, as with anopa) and check
    access.  Returns ovis's paths for it (anopa layout); raises AaError."""
    try:
        os.chdir(repodir)
        if not os.access(".", os.R_OK | (os.W_OK if write else 0)):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as e:
        raise AaError(ERR_IO_REPODIR, f"init repository {repodir}", e) from None
    return Paths.resolve().with_anopa_repo(os.getcwd())


def check_name(name: str) -> int:
    """0 when *name* is a servicedir of the repository (the cwd), else -ERR_*."""
    if not is_valid_name(name):
        return -ERR_INVALID_NAME
    try:
        st = os.stat(name)
    except FileNotFoundError:
        return -ERR_UNKNOWN
    except OSError:
        return -ERR_IO
    return 0 if stat.S_ISDIR(st.st_mode) else -ERR_IO


# -- what is in the repository -------------------------------------------------

#: The directories of a servicedir that name other services.
DEP_DIRS = ("needs", "wants", "after", "before")


class Edges(Frozen):
    """A servicedir's edges, as its directories name them."""

    __slots__ = ("needs", "wants", "after", "before")

    def __init__(self, needs: tuple[str, ...] = (), wants: tuple[str, ...] = (),
                 after: tuple[str, ...] = (), before: tuple[str, ...] = ()) -> None:
        s = object.__setattr__
        s(self, "needs", needs)
        s(self, "wants", wants)
        s(self, "after", after)
        s(self, "before", before)


class Services:
    """The services of a repository as ovis compiled them (``ovis.json``), with
    a fallback for servicedirs ovis did not write (parsed as anopa dirs)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._live: Any = None
        self._cache: dict[str, Service | None] = {}
        # A loader asks these of each service several times: strings joined
        # once, readiness read once (anopa reads it once per load too).
        self._dirs: dict[str, str] = {}
        self._ready: dict[str, bool] = {}
        self._root = paths.servicedirs_str

    @property
    def live(self) -> Any:
        """The compiled models (ovis.service.repository.LiveRepository), read at first use:
        aa-status asks s6 and the state records only, and need not import the compiler."""
        if self._live is None:
            from ovis.service.repository import LiveRepository

            self._live = LiveRepository(self.paths)
        return self._live

    def get(self, name: str) -> Service | None:
        if name in self._cache:
            return self._cache[name]
        svc: Service | None
        try:
            svc = self.live.load(name)
        except Exception:
            svc = None
            if not is_logger(name):
                from ovis.service.formats.anopa import parse_anopa_dir

                try:
                    svc = parse_anopa_dir(f"{self.paths.servicedirs_str}/{name}", name)
                except Exception:
                    svc = None
        self._cache[name] = svc
        return svc

    def dir(self, name: str) -> str:
        return f"{self.paths.servicedirs_str}/{name}"

    def _dir(self, name: str) -> str:
        d = self._dirs.get(name)
        if d is None:
            d = self._dirs[name] = f"{self._root}/{name}"
        return d

    def edges(self, name: str, svc: Service) -> Edges:
        """NAME's ``needs/``, ``wants/``, ``after/`` and ``before/`` as they are now.

        anopa reads these directories each time aa-start or aa-stop loads a
        service, so a file added to ``REPODIR/NAME/needs/`` after aa-enable
        counts: they are read here, not taken from what was compiled.  Each
        holds regular files named after services (symlinks, directories and
        dot files are left out), in name order as ovis compiles them; a
        missing directory is no edge.  OSError when one cannot be read.

        A servicedir ovis compiled from a 66 file (``ovis --live REPODIR
        start``) has no such directories: its edges are the compiled ones.
        """
        if svc.source is not None and os.path.isfile(svc.source):
            return Edges(tuple(svc.depends), tuple(svc.wants), tuple(svc.after), tuple(svc.before))
        found: dict[str, tuple[str, ...]] = {}
        for sub in DEP_DIRS:
            try:
                entries = scan_dir(f"{self._dir(name)}/{sub}", files_only=True)
            except FileNotFoundError:
                entries = []
            found[sub] = tuple(sorted(n for n, _ in entries if not n.startswith(".")))
        return Edges(**found)

    def is_longrun(self, name: str) -> bool:
        """anopa: a longrun iff NAME/run exists."""
        return os.path.lexists(f"{self._dir(name)}/run")

    def readiness(self, name: str) -> bool:
        """anopa's gets_ready: a gets-ready file, or a numeric notification-fd."""
        got = self._ready.get(name)
        if got is None:
            got = self._ready[name] = self._readiness(self._dir(name))
        return got

    @staticmethod
    def _readiness(d: str) -> bool:
        if os.path.lexists(f"{d}/gets-ready"):
            return True
        try:
            with open(f"{d}/notification-fd", encoding="utf-8", errors="replace") as f:
                line = f.read().split("\n", 1)[0]
        except OSError:
            return False
        return line.isdigit()

    def s6(self, name: str) -> SupervisorStatus | None:
        try:
            return read_status(self._dir(name))
        except Exception:
            return None

    def state(self, name: str) -> statefile.ServiceState | None:
        if is_logger(name):
            return None
        intents = self.__dict__.get("_intents")
        if intents is None:  # read once per command (aa-status -a asks of every service)
            intents = self._intents = _statefile().read_intents(self.paths)
        return _statefile().load(self.paths, name, intents)

    def oneshot_up(self, name: str) -> bool:
        """anopa counts Started, Starting, Stopping failed and Stop failed as up."""
        st = self.state(name)
        return st is not None and (st.state == "up" or (st.state == "failed" and st.wanted == "down"))


def up_level(services: Services, name: str, stopping: bool) -> int:
    """anopa's is_up: 0 down, 1 up, 2 up and ready (readiness services only).

    Stopping, a longrun s6 would restart (down but wanted up) counts as up."""
    if services.is_longrun(name):
        st = services.s6(name)
        if st is not None:
            if st.up:
                return 2 if services.readiness(name) and st.ready_flag else 1
            return 1 if stopping and st.want_up else 0
    return 1 if services.oneshot_up(name) else 0


# -- anopa's view of ovis's state ----------------------------------------------

class AnopaStatus(Record):
    __slots__ = ("event", "code", "msg", "stamp")

    def __init__(self, event: int = EVT_NONE, code: int = 0, msg: str = "",
                 stamp: float | None = None) -> None:
        self.event = event
        self.code = code
        self.msg = msg
        self.stamp = stamp


def _wstat(st: statefile.ServiceState) -> int:
    if st.reason == "signalled" and st.exit is not None:
        return st.exit & 0x7F
    return ((st.exit or 0) & 0xFF) << 8


def is_load_error(detail: str) -> bool:
    """"DEP: Unknown service": a dependency that could not even be loaded
    (anopa records it as an Error event, not Starting failed)."""
    return any(detail.endswith(": " + m) for m in ERRMSG[1:])


def anopa_event(st: statefile.ServiceState | None) -> AnopaStatus:
    """What anopa's status.anopa would say, from ovis's state file."""
    if st is None:
        return AnopaStatus()
    if st.state == "up":
        return AnopaStatus(EVT_STARTED, 0, "", st.since)
    if st.state == "down":
        if st.since is None:
            return AnopaStatus()
        return AnopaStatus(EVT_STOPPED, 0, "", st.since)
    starting = st.wanted != "down"
    ing_failed = EVT_STARTING_FAILED if starting else EVT_STOPPING_FAILED
    failed = EVT_START_FAILED if starting else EVT_STOP_FAILED
    reason = st.reason or ""
    if reason == "dependency-failed":
        if starting and is_load_error(st.detail):
            return AnopaStatus(EVT_ERROR, ERR_DEPEND, st.detail, st.since)
        return AnopaStatus(ing_failed, ERR_DEPEND, st.detail, st.since)
    if reason == "timed-out":
        return AnopaStatus(ing_failed, ERR_TIMEDOUT, "", st.since)
    if reason in ("exited", "signalled") or (reason == "exec-failed" and st.exit is not None):
        return AnopaStatus(failed, _wstat(st), "", st.since)
    if reason == "exec-failed":
        return AnopaStatus(ing_failed, ERR_EXEC, st.detail, st.since)
    if reason in ("not-supervised", "supervisor-gone"):
        return AnopaStatus(ing_failed, ERR_S6, st.detail, st.since)
    if reason == "invalid-definition":
        return AnopaStatus(EVT_ERROR, ERR_FAILED, st.detail, st.since)
    return AnopaStatus(ing_failed, ERR_FAILED, st.detail, st.since)


def record_load_error(paths: Paths, name: str, detail: str) -> None:
    """A service that could not be started because a dependency could not be
    loaded: failed, dependency-failed (what anopa writes as Error: Failed
    dependency: DEP: Unknown service)."""
    statefile = _statefile()
    st = statefile.load(paths, name) or statefile.ServiceState(name)
    st.state, st.wanted, st.reason = "failed", "up", "dependency-failed"
    st.exit, st.detail, st.since = None, detail, time.time()
    statefile.save(paths, st)


def record_load_errors(paths: Paths, errors: list[tuple[str, str]]) -> None:
    """:func:`record_load_error` for each (name, detail), under the repository's lock."""
    if errors:
        with _statefile().Lock(paths):
            for name, detail in errors:
                record_load_error(paths, name, detail)


def wstat_text(wstat: int) -> str:
    """"exitcode N" or "signal SIGX", as anopa prints a wait status."""
    if os.WIFEXITED(wstat):
        return f"exitcode {os.WEXITSTATUS(wstat)}"
    return "signal " + signal_name(os.WTERMSIG(wstat) if os.WIFSIGNALED(wstat) else 0)


def signal_name(num: int) -> str:
    """anopa prints SIG??? for a number that is no signal."""
    return s6_signal_name(num) or "SIG???"
