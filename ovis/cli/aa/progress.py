"""aa-start and aa-stop on ovis's engine: anopa's transaction rules and output.

anopa decides *what* a transaction holds (src/libanopa/service.c,
service_start.c, src/anopa/aa-start.c, aa-stop.c), and this module keeps
those rules: services already up are left out ("Already up", and silently
for dependencies), a dependency that cannot be loaded fails its dependent
before anything runs ("Failed dependency: DEP: Unknown service"), ``wants``
is soft and does not order, ``after``/``before`` only order services that
are in the transaction, dependency loops are broken with anopa's warning,
aa-stop reverses the edges among the services that are up.  ovis's engine
then runs the transaction (ovis.engine.manager.Manager with the repository's
compiled servicedirs): the same parallel, dependency-ordered s6 protocol
``ovis start``/``ovis stop`` use, the same state files.

What is anopa's own here is only I/O: the :class:`Reporter` prints
"Starting X...", "==> X: Started" ... as the engine reports progress, and
:class:`AnopaBackend` runs oneshots with their output coming back to aa-start
(printed "X: line") and the caller's environment, as anopa does.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import select
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from ovis.engine.manager import Manager
from ovis.engine.s6backend import LongrunJob, OneshotJob, S6Backend, timeout_deadline
from ovis.engine.transaction import Action, Reason, Result
from ovis.errors import UnknownService
from ovis.paths import Paths
from ovis.service.model import (
    DEFAULT_TIMEOUT_START_MS,
    DEFAULT_TIMEOUT_STOP_MS,
    Kind,
    Service,
)
from ovis.service.repository import Repository
from ovis.aa import codes as C
from ovis.aa import repo as R

from .output import (
    ANSI_BLUE_ON,
    ANSI_GREEN_ON,
    ANSI_HIGHLIGHT_ON,
    ANSI_RED_ON,
    ANSI_YELLOW_ON,
    ERR,
    OUT,
    Output,
)

#: After a oneshot exited, how long its output may still arrive (a child it
#: left behind may hold the pipe open forever).
DRAIN_GRACE = 0.5


class Printer:
    """anopa's output helpers over :class:`Output`, safe across the thread that
    echoes oneshot output."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.lock = threading.RLock()

    def line(self, text: str | bytes, where: int = OUT) -> None:
        with self.lock:
            self.out.bs(where, text, flush=True)

    def title(self, name: str, title: str | None) -> None:
        with self.lock:
            self.out.title(True, name, title)

    def error(self, name: str, msg: str | None = None) -> None:
        with self.lock:
            self.out.error(name, msg)

    def warn(self, name: str, msg: str | None = None) -> None:
        with self.lock:
            self.out.warn(name, msg)

    def strerr_warn(self, *parts: str) -> None:
        with self.lock:
            self.out.strerr("warning: ", *parts)

    def stat_nb(self, nb: int, title: str, colour: str = ANSI_GREEN_ON) -> None:
        """aa_show_stat_nb: "  -> TITLE: N"."""
        if nb <= 0:
            return
        with self.lock:
            o = self.out
            o.ansi(OUT, ANSI_BLUE_ON)
            o.bs(OUT, "  -> ")
            o.ansi(OUT, colour)
            o.bs(OUT, title)
            o.ansi(OUT, ANSI_HIGHLIGHT_ON)
            o.bs(OUT, f": {nb}")
            o.end(OUT)

    def stat_names(self, names: list[str], title: str, colour: str = ANSI_RED_ON) -> None:
        """aa_show_stat_names: "  -> TITLE: a; b"."""
        if not names:
            return
        with self.lock:
            o = self.out
            o.title(False, title, "", end=False)
            for i, n in enumerate(names):
                if i:
                    o.bs(OUT, "; ")
                o.ansi(OUT, colour)
                o.bs(OUT, n)
                o.ansi(OUT, ANSI_HIGHLIGHT_ON)
            o.end(OUT)


@dataclasses.dataclass
class Tally:
    """What the summary lists, in anopa's order."""

    nb_already: int = 0
    nb_done: int = 0
    timedout: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    depend: list[str] = dataclasses.field(default_factory=list)
    io: list[str] = dataclasses.field(default_factory=list)
    unknown: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    rc: int = 0

    def summary(self, p: Printer, prog: str, start: bool) -> None:
        p.line("\n")
        p.title(prog, "Completed.")
        p.stat_nb(self.nb_already, "Already up" if start else "Not up")
        p.stat_nb(self.nb_done, "Started" if start else "Stopped")
        p.stat_names(self.timedout, "Timed out")
        p.stat_names(self.failed, "Failed")
        p.stat_names(self.depend, "Dependency failed")
        p.stat_names(self.io, "I/O error")
        p.stat_names(self.unknown, "Unknown")
        if start:
            p.stat_names(self.skipped, "Skipped", ANSI_YELLOW_ON)


# -- loading: what goes into the transaction -----------------------------------

class _Loader:
    """The part of anopa's service table both modes share."""

    def __init__(self, services: R.Services, p: Printer, tally: Tally, *, dry: bool,
                 verbose: bool) -> None:
        self.services = services
        self.p = p
        self.tally = tally
        self.dry = dry
        self.verbose = verbose
        self.main: list[str] = []  # in the transaction, in the order met
        self.tmp: list[str] = []  # known, not (or no longer) in it
        self.ls: dict[str, str] = {}  # "ing" | "done" | "fail"
        self.code: dict[str, int] = {}
        self.needs: dict[str, list[str]] = {}
        self.after: dict[str, list[str]] = {}

    def get(self, name: str, in_main: bool) -> int:
        """anopa's aa_get_service: 0, or -ERR_* when *name* is no servicedir."""
        if name in self.main or name in self.tmp:
            return 0
        r = R.check_name(name)
        if r == 0 and R.is_logger(name):
            # Loggers are part of their service's servicedir in ovis, supervised
            # with it; they are no services of their own to start or stop.
            r = -C.ERR_UNKNOWN
        if r < 0:
            return r
        (self.main if in_main else self.tmp).append(name)
        self.needs.setdefault(name, [])
        self.after.setdefault(name, [])
        return 0

    def _to_main(self, name: str) -> None:
        if name in self.tmp:
            self.tmp.remove(name)
        if name not in self.main:
            self.main.append(name)

    def _to_tmp(self, name: str) -> None:
        if name in self.main:
            self.main.remove(name)
        if name not in self.tmp:
            self.tmp.append(name)

    def auto_add(self, who: str, verb: str, name: str) -> None:
        if self.verbose:
            self.p.line(f"auto-add: {who} {verb} {name}\n", ERR if self.dry else OUT)

    def check_essential(self, name: str) -> None:
        if self.tally.rc == 0 and os.path.lexists(self.services.dir(name) / "essential"):
            self.tally.rc = 1

    def break_loops(self) -> None:
        """anopa's aa_prepare_mainlist: drop after-edges leaving the
        transaction, then break each loop at its first after-only edge (or, a
        loop of needs, at its last edge), saying so."""
        inside = set(self.main)
        for n in self.main:
            self.after[n] = [a for a in self.after[n] if a in inside]
            self.needs[n] = [a for a in self.needs[n] if a in inside]
        checked: set[str] = set()
        for root in self.main:
            while (cycle := self._find_loop(root, checked)) is not None:
                text = " -> ".join(cycle)
                for cur, nxt in zip(cycle, cycle[1:]):
                    if nxt not in self.needs[cur]:
                        self.after[cur].remove(nxt)
                        self.p.warn(cur, f"remove {cur} after {nxt} to break loop: {text}")
                        break
                else:
                    cur, nxt = cycle[-2], cycle[-1]
                    self.needs[cur].remove(nxt)
                    self.after[cur].remove(nxt)
                    self.p.error(cur, f"remove {cur} needs/after {nxt} to break dependency loop: {text}")

    def _find_loop(self, root: str, checked: set[str]) -> list[str] | None:
        if root in checked:
            return None
        path, onpath = [root], {root}
        iters = [iter(list(self.after[root]))]
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                n = path.pop()
                onpath.discard(n)
                checked.add(n)
                iters.pop()
                continue
            if nxt in checked:
                continue
            if nxt in onpath:
                return path[path.index(nxt):] + [nxt]
            path.append(nxt)
            onpath.add(nxt)
            iters.append(iter(list(self.after[nxt])))
        return None

    def waves(self) -> list[str]:
        """-n: the transaction in a valid order, wave by wave (anopa's dry run)."""
        left = list(self.main)
        out: list[str] = []
        while left:
            done = set(out)
            wave = [n for n in left if all(a in done for a in self.after[n])]
            if not wave:  # cannot happen once loops are broken
                wave = left[:1]
            out.extend(wave)
            left = [n for n in left if n not in wave]
        return out


class StartLoader(_Loader):
    """anopa's aa_mark_service/aa_ensure_service_loaded in start mode."""

    def __init__(self, services: R.Services, p: Printer, tally: Tally, *, dry: bool,
                 dry_full: bool, verbose: bool, no_wants: bool) -> None:
        super().__init__(services, p, tally, dry=dry, verbose=verbose)
        self.dry_full = dry_full
        self.no_wants = no_wants
        self.wants: dict[str, list[str]] = {}
        self.nb_mark: dict[str, int] = {}
        self.msg: dict[str, str] = {}
        self.getting_ready: set[str] = set()
        #: (name, "DEP: errmsg") to record as failed once the loading is over
        self.load_errors: list[tuple[str, str]] = []

    def add(self, name: str) -> None:
        """A service asked for (listdir or command line): anopa's add_service."""
        r = self.get(name, True)
        if r == 0:
            r = self.mark(name)
        if r == 0:
            return
        if r == -C.ERR_UNKNOWN:
            self.p.error(name, C.ERRMSG[C.ERR_UNKNOWN])
            self.tally.unknown.append(name)
        elif r == -C.ERR_IO and name not in self.ls:
            self.p.error(name, C.ERRMSG[C.ERR_IO])
            self.tally.io.append(name)
        elif r == -C.ERR_ALREADY_UP:
            if not self.dry:
                self.p.title(name, C.ERRMSG[C.ERR_ALREADY_UP])
            self.tally.nb_already += 1
        else:
            msg = self.msg.get(name)
            self.p.error(name, C.ERRMSG[-r] + (f": {msg}" if msg and not self.dry else ""))
            (self.tally.depend if r == -C.ERR_DEPEND else self.tally.failed).append(name)
            if name in self.ls:
                self.check_essential(name)

    def mark(self, name: str) -> int:
        in_main = name in self.main
        r = self.ensure_loaded(name)
        if r < 0:
            if in_main:
                self._to_tmp(name)
            return r
        if not in_main:
            self._to_main(name)
        self.nb_mark[name] = self.nb_mark.get(name, 0) + 1
        return 0

    def unmark(self, name: str) -> None:
        self.nb_mark[name] = self.nb_mark.get(name, 1) - 1
        if self.nb_mark[name] > 0:
            return
        for n in self.needs.get(name, []) + self.wants.get(name, []):
            self.unmark(n)
        self._to_tmp(name)

    def fail(self, name: str, code: int) -> int:
        self.ls[name] = "fail"
        self.code[name] = code
        return -code

    def ensure_loaded(self, name: str) -> int:
        ls = self.ls.get(name)
        if ls in ("ing", "done"):
            return 0
        if ls == "fail":
            return -self.code[name]
        svc = self.services.get(name)
        if svc is None:
            return self.fail(name, C.ERR_IO)
        if not self.dry_full:
            level = R.up_level(self.services, name, stopping=False)
            if svc.kind is Kind.LONGRUN and self.services.readiness(name) and level < 2:
                if level == 1:
                    self.getting_ready.add(name)
            elif level:
                return self.fail(name, C.ERR_ALREADY_UP)
        self.ls[name] = "ing"
        self.wants[name] = []
        for dep in svc.depends:
            if self._need(name, dep) < 0:
                return self.fail(name, C.ERR_DEPEND)
        if not self.no_wants:
            for dep in svc.wants:
                self._want(name, dep)
        for dep in svc.after:
            if self.get(dep, False) == 0 and dep not in self.after[name]:
                self.after[name].append(dep)
        for dep in svc.before:
            if self.get(dep, False) == 0 and name not in self.after[dep]:
                self.after[dep].append(name)
        self.ls[name] = "done"
        return 0

    def _need(self, name: str, dep: str) -> int:
        r = self.get(dep, True)
        if r == 0:
            r = self.mark(dep)
        if r == -C.ERR_ALREADY_UP:
            return 0
        if r < 0:
            for n in self.needs[name]:
                self.unmark(n)
            self.msg[name] = f"{dep}: {C.ERRMSG[-r]}"
            if not self.dry:
                self.load_errors.append((name, self.msg[name]))
        else:
            self.needs[name].append(dep)
            if dep not in self.after[name]:
                self.after[name].append(dep)
        self.auto_add(name, "needs", dep)
        return r

    def _want(self, name: str, dep: str) -> None:
        r = self.get(dep, True)
        if r == 0:
            r = self.mark(dep)
        if r == -C.ERR_ALREADY_UP:
            return
        if r == 0:
            self.wants[name].append(dep)
        self.auto_add(name, "wants", dep)
        if r < 0:
            # Documented anopa behaviour: a wanted service is soft, its failure
            # to load only skips it (anopa 0.5.0's code failed the wanter).
            self.p.warn(name, f"Skipping wanted service {dep}: {C.ERRMSG[-r]}")
            self.tally.skipped.append(dep)

    def transaction(self, default_timeout: int) -> dict[str, Service]:
        """The services to start, as the engine gets them: hard edges = needs,
        order = needs + after (wants neither), anopa's timeouts and readiness."""
        self.break_loops()
        out = {}
        for n in self.main:
            svc = self.services.get(n)
            assert svc is not None
            notify = svc.notify
            if notify is None and svc.kind is Kind.LONGRUN and self.services.readiness(n):
                notify = 3  # gets-ready: the engine only needs to know to wait for 'U'
            timeout = svc.timeout_start if svc.timeout_start is not None else default_timeout * 1000
            out[n] = dataclasses.replace(
                svc, depends=tuple(self.needs[n]), wants=(), after=tuple(self.after[n]),
                before=(), requiredby=(), notify=notify, timeout_start=timeout)
        return out


class StopLoader(_Loader):
    """aa-stop: every servicedir preloaded, edges reversed among those up."""

    def __init__(self, services: R.Services, p: Printer, tally: Tally, *, dry: bool,
                 verbose: bool, skip: str | None) -> None:
        super().__init__(services, p, tally, dry=dry, verbose=verbose)
        self.skip = skip

    def preload_all(self) -> None:
        for name, is_dir in R.scan_dir(".", files_only=False):
            if is_dir and not name.startswith("."):
                self.preload(name)

    def preload(self, name: str) -> None:
        if self.get(name, False) < 0 or name in self.ls:
            return
        svc = self.services.get(name)
        if svc is None:
            self.ls[name], self.code[name] = "fail", C.ERR_IO
            return
        if not R.up_level(self.services, name, stopping=True):
            self.ls[name], self.code[name] = "fail", C.ERR_NOT_UP
            return
        self.ls[name] = "done"
        for dep in svc.depends:  # stopping DEP needs stopping NAME first
            if self.get(dep, False) == 0:
                self.auto_add(dep, "needs", name)
                if name not in self.needs[dep]:
                    self.needs[dep].append(name)
                if name not in self.after[dep]:
                    self.after[dep].append(name)
        for dep in svc.after:
            if self.get(dep, False) == 0 and name not in self.after[dep]:
                self.after[dep].append(name)
        for dep in svc.before:
            if self.get(dep, False) == 0 and dep not in self.after[name]:
                self.after[name].append(dep)

    def add(self, name: str) -> None:
        """A service asked for: it, and first whatever up needs it."""
        if self.skip is not None and name == self.skip:
            return
        r = self.get(name, False)
        if r < 0:
            if r == -C.ERR_IO:
                self.p.error(name, C.ERRMSG[C.ERR_IO])
                self.tally.io.append(name)
            else:
                self.p.error(name, C.ERRMSG[-r])
                if r == -C.ERR_UNKNOWN:
                    self.tally.unknown.append(name)
            return
        if name in self.main:
            return
        if name not in self.ls:
            self.preload(name)
        if self.ls[name] == "fail":
            if self.code[name] == C.ERR_NOT_UP:
                if not self.dry:
                    self.p.title(name, C.ERRMSG[C.ERR_NOT_UP])
                self.tally.nb_already += 1
            else:
                self.p.error(name, C.ERRMSG[self.code[name]])
                self.tally.failed.append(name)
            return
        self._to_main(name)
        for dependent in list(self.needs[name]):
            self.add(dependent)

    def add_all(self, on_not_up: Callable[[str], None] | None,
                on_skip: Callable[[str], None] | None) -> None:
        """-a: every service up, but the skipped one."""
        skip = self.skip
        for name in list(self.tmp):
            if self.ls.get(name) == "done":
                if skip is None or name != skip:
                    self._to_main(name)
                else:
                    skip = None
                    if on_skip is not None:
                        on_skip(name)
            elif on_not_up is not None and self.code.get(name) == C.ERR_NOT_UP:
                on_not_up(name)

    def transaction(self, default_timeout: int, stop_all: bool) -> dict[str, Service]:
        """The services to stop, edges turned back into the engine's forward
        form (it walks them in reverse to stop)."""
        self.break_loops()
        inside = set(self.main)
        out = {}
        for n in self.main:
            svc = self.services.get(n)
            assert svc is not None
            t = svc.timeout_stop
            if t is None:
                t = default_timeout * 1000
            elif stop_all and (t == 0 or t > default_timeout * 1000):
                t = default_timeout * 1000  # in stop-all mode the default is also a maximum
            depends = tuple(m for m in self.main if n in self.needs[m])
            after = tuple(m for m in self.main if n in self.after[m] and m in inside)
            out[n] = dataclasses.replace(svc, depends=depends, wants=(), after=after, before=(),
                                         requiredby=(), timeout_stop=t)
        return out


# -- running: the engine, reporting as anopa ------------------------------------

class Reporter:
    """The engine's reporter: anopa's lines as each service begins and settles."""

    def __init__(self, p: Printer, tally: Tally, services: R.Services,
                 getting_ready: set[str], readiness: set[str]) -> None:
        self.p = p
        self.tally = tally
        self.services = services
        self.getting_ready = getting_ready
        self.readiness = readiness
        self.announced: set[str] = set()

    def begin(self, name: str, action: Action) -> None:
        if action is Action.START and name in self.getting_ready:
            self.p.line(f"{name}: Getting ready...\n")
        else:
            self.p.line(f"{'Starting' if action is Action.START else 'Stopping'} {name}...\n")

    def announce_started(self, name: str) -> None:
        """A readiness service is up, not ready yet."""
        if name not in self.announced and name not in self.getting_ready:
            self.announced.add(name)
            self.p.line(f"{name}: Started; Getting ready...\n")

    def went_down(self, name: str) -> None:
        self.announced.discard(name)
        self.p.line(f"{name}: Down; Will restart...\n")

    def oneshot_output(self, name: str, line: bytes) -> None:
        self.p.line(name.encode() + b": " + line)

    def message(self, text: str) -> None:
        self.p.strerr_warn(text)

    def progress(self, name: str, action: Action, res: Result) -> None:
        start = action is Action.START
        if res.ok:
            if res.already:
                self.p.title(name, C.ERRMSG[C.ERR_ALREADY_UP if start else C.ERR_NOT_UP])
                self.tally.nb_already += 1
                return
            if start and name in self.readiness:
                self.announce_started(name)
                self.p.title(name, "Ready")
            else:
                self.p.title(name, "Started" if start else "Stopped")
            self.tally.nb_done += 1
            return
        reason = res.reason
        if reason is Reason.DEPENDENCY_FAILED:
            self.p.error(name, f"{C.ERRMSG[C.ERR_DEPEND]}: {res.detail}")
            self.tally.depend.append(name)
        elif reason is Reason.TIMED_OUT:
            self.p.error(name, C.ERRMSG[C.ERR_TIMEDOUT])
            self.tally.timedout.append(name)
        else:
            self.p.error(name, _failure_text(res))
            self.tally.failed.append(name)
        if start and self.tally.rc == 0 and os.path.lexists(self.services.dir(name) / "essential"):
            self.tally.rc = 1


def _failure_text(res: Result) -> str:
    if res.reason is Reason.SIGNALLED and res.exit is not None:
        return f"Failed: signal {R.signal_name(res.exit)}"
    if res.reason in (Reason.EXITED, Reason.EXEC_FAILED) and res.exit is not None:
        return f"Failed: exitcode {res.exit}"
    if res.reason is Reason.EXEC_FAILED:
        return f"{C.ERRMSG[C.ERR_EXEC]}: {res.detail}"
    if res.reason in (Reason.NOT_SUPERVISED, Reason.SUPERVISOR_GONE):
        return f"{C.ERRMSG[C.ERR_S6]}: {res.detail}"
    return C.ERRMSG[C.ERR_FAILED] + (f": {res.detail}" if res.detail else "")


class EchoingOneshot(OneshotJob):
    """A oneshot run as anopa's exec_oneshot does: ``./start`` (argv[0]
    "start") in its servicedir, stdout and stderr piped back and each line
    printed "NAME: line" (the engine's own oneshots log to s6-log instead).
    Timeouts, the TERM/2 s/KILL sequence and results are OneshotJob's."""

    def __init__(self, svc: Service, servicedir: Path, script: Path, action: Action,
                 env: dict[str, str], now: float, emit: Callable[[str, bytes], None]) -> None:
        self.svc = svc
        ms = svc.timeout_start if action is Action.START else svc.timeout_stop
        self.deadline = timeout_deadline(now, ms, DEFAULT_TIMEOUT_START_MS if action is Action.START
                                  else DEFAULT_TIMEOUT_STOP_MS)
        self.killed = False
        self.pidfd = None
        self._emit = emit
        self._stop_at: float | None = None
        rfd, wfd = os.pipe()
        try:
            self.proc = subprocess.Popen([script.name], executable=str(script), cwd=servicedir,
                                         env=env, stdin=subprocess.DEVNULL, stdout=wfd,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        except BaseException:
            os.close(rfd)
            raise
        finally:
            os.close(wfd)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self._pump = threading.Thread(target=self._read, args=(rfd,), daemon=True)
        self._pump.start()

    def _read(self, fd: int) -> None:
        buf = b""
        try:
            while self._stop_at is None or time.monotonic() < self._stop_at:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                *lines, buf = (buf + data).split(b"\n")
                for line in lines:
                    self._emit(self.svc.name, line + b"\n")
        finally:
            os.close(fd)  # an incomplete last line is dropped, as anopa does

    def _drain(self, grace: float) -> None:
        if self._stop_at is None:
            self._stop_at = time.monotonic() + grace
        self._pump.join()

    def on_readable(self, now: float) -> Result | None:
        res = super().on_readable(now)
        if res is not None:
            self._drain(DRAIN_GRACE)  # its last lines before "==> X: Started"
        return res

    def close(self) -> None:
        super().close()
        self._drain(0)


class ReadinessAnnouncer:
    """Wraps the engine's LongrunJob of a readiness service to say, as anopa,
    "X: Started; Getting ready..." at 'u' and "X: Down; Will restart..." at 'd'."""

    def __init__(self, job: LongrunJob, name: str, reporter: Reporter) -> None:
        self.job = job
        self.name = name
        self.reporter = reporter
        self.deaths = 0

    @property
    def deadline(self) -> float | None:
        return self.job.deadline

    def fileno(self) -> int | None:
        return self.job.fileno()

    def on_readable(self, now: float) -> Result | None:
        res = self.job.on_readable(now)
        t = self.job.tracker
        if t is not None:
            if t.deaths > self.deaths:
                self.deaths = t.deaths
                self.reporter.went_down(self.name)
            if t.up and not t.ready:
                self.reporter.announce_started(self.name)
        return res

    def on_timeout(self, now: float) -> Result | None:
        return self.job.on_timeout(now)

    def close(self) -> None:
        self.job.close()


class AnopaBackend(S6Backend):
    """The engine's backend, with anopa's conventions for oneshots (the
    caller's environment, output echoed) and readiness messages."""

    def __init__(self, paths: Paths, services: dict[str, Service], base_env: dict[str, str],
                 oneshot_up: dict[str, bool], *, reporter: Reporter) -> None:
        super().__init__(paths, services, dict(os.environ), oneshot_up)
        self.reporter = reporter

    def begin(self, name: str, action: Action, now: float):  # type: ignore[no-untyped-def]
        svc = self.services[name]
        if svc.kind is Kind.ONESHOT:
            # aa-start/aa-stop only put oneshots that need it in the transaction.
            sdir = self.paths.servicedir(name)
            script = sdir / ("start" if action is Action.START else "stop")
            if not script.exists():
                return Result(True)
            try:
                return EchoingOneshot(svc, sdir, script, action, self.base_env, now,
                                      self.reporter.oneshot_output)
            except OSError as e:
                return Result(False, Reason.EXEC_FAILED, detail=str(e))
        job = super().begin(name, action, now)
        if action is Action.START and svc.notify is not None and isinstance(job, LongrunJob):
            return ReadinessAnnouncer(job, name, self.reporter)
        return job


class FixedRepository(Repository):
    """Exactly the services of one anopa transaction, edges already resolved."""

    def __init__(self, services: dict[str, Service]) -> None:
        super().__init__(())
        self.fixed = services

    def locate(self, name: str) -> Path | None:
        svc = self.fixed.get(name)
        return (svc.source or Path(name)) if svc is not None else None

    def names(self) -> list[str]:
        return sorted(self.fixed)

    def load(self, name: str) -> Service:
        try:
            return self.fixed[name]
        except KeyError:
            raise UnknownService(name) from None


class TransactionManager(Manager):
    """ovis's Manager on one anopa transaction: the repository's servicedirs
    as compiled (no recompiling), the services and edges anopa's rules chose."""

    def __init__(self, paths: Paths, reporter: Reporter, services: dict[str, Service]) -> None:
        super().__init__(paths, reporter, repo=FixedRepository(services), compile=False)
        self.fixed = services
        self.backend_factory = functools.partial(AnopaBackend, reporter=reporter)

    def live_services(self) -> dict[str, Service]:
        return dict(self.fixed)


def run_transaction(paths: Paths, reporter: Reporter, services: dict[str, Service],
                    order: Iterable[str], action: Action, force: bool = False) -> None:
    names = list(order)
    if not names:
        return
    m = TransactionManager(paths, reporter, services)
    if action is Action.START:
        m.start(names)
    else:
        m.stop(names, everything=True, force=force)
