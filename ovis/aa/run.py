"""Running an anopa transaction on ovis's engine, with anopa's oneshot conventions.

The engine is ovis's own (:class:`ovis.engine.manager.Manager` with the
repository's compiled servicedirs, no recompiling): the same parallel,
dependency-ordered s6 protocol ``ovis start``/``ovis stop`` use, the same
state files.  What is anopa's here: :class:`AnopaBackend` runs oneshots as
anopa's exec_oneshot does, their output coming back to the caller (each
line reported as the service's) with the caller's environment, and reports
"Started; Getting ready..." and "Down; Will restart..." of readiness
services, all to the reporter (:class:`ovis.aa.notes.RunNotes`).
"""

from __future__ import annotations

import functools
import os
import select
import time
TYPE_CHECKING = False  # typing costs ~10 modules at import (aa-start imports this)
if TYPE_CHECKING:
    from typing import Callable, Iterable

from ovis.engine.manager import Manager
from ovis.engine.s6backend import LongrunJob, OneshotJob, S6Backend, timeout_deadline
from ovis.engine.transaction import Action, Reason, Result
from ovis.errors import UnknownService
from ovis.paths import Paths
from ovis.s6 import control
from ovis.service.model import DEFAULT_TIMEOUT_START_MS, DEFAULT_TIMEOUT_STOP_MS, Kind, Service
from ovis.service.repository import Repository

from . import codes as C
from . import repo as R
from .notes import RunNotes

#: After a oneshot exited, how long its output may still arrive (a child it
#: left behind may hold the pipe open forever).
DRAIN_GRACE = 0.5


def failure_text(res: Result) -> str:
    """anopa's text for a start or stop that failed by itself: "Failed: exitcode 3", ..."""
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

    def __init__(self, svc: Service, servicedir: str, script: str, action: Action,
                 env: dict[str, str], now: float, emit: Callable[[str, bytes], None]) -> None:
        self.svc = svc
        ms = svc.timeout_start if action is Action.START else svc.timeout_stop
        self.deadline = timeout_deadline(now, ms, DEFAULT_TIMEOUT_START_MS if action is Action.START
                                  else DEFAULT_TIMEOUT_STOP_MS)
        self.killed = False
        self.pidfd = None
        self._emit = emit
        self._stop_at: float | None = None
        import subprocess  # here, as threading: only oneshots need them
        import threading

        rfd, wfd = os.pipe()
        try:
            self.proc = subprocess.Popen([script.rpartition("/")[2]], executable=script, cwd=servicedir,
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

    def __init__(self, job: LongrunJob, name: str, reporter: RunNotes) -> None:
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
                 oneshot_up: dict[str, bool], *, reporter: RunNotes) -> None:
        super().__init__(paths, services, dict(os.environ), oneshot_up)
        self.reporter = reporter

    def begin(self, name: str, action: Action, now: float):  # type: ignore[no-untyped-def]
        svc = self.services[name]
        if svc.kind is Kind.ONESHOT:
            # aa-start/aa-stop only put oneshots that need it in the transaction.
            sdir = f"{self.paths.servicedirs_str}/{name}"
            script = f"{sdir}/{'start' if action is Action.START else 'stop'}"
            if not os.path.exists(script):
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

    def locate(self, name: str) -> str | None:
        svc = self.fixed.get(name)
        return (svc.source or name) if svc is not None else None

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

    def __init__(self, paths: Paths, reporter: RunNotes, services: dict[str, Service]) -> None:
        super().__init__(paths, reporter, repo=FixedRepository(services), compile=False)
        self.fixed = services
        self.backend_factory = functools.partial(AnopaBackend, reporter=reporter)

    def live_services(self) -> dict[str, Service]:
        return dict(self.fixed)


def run_transaction(paths: Paths, reporter: RunNotes, services: dict[str, Service],
                    order: Iterable[str], action: Action, force: bool = False) -> None:
    names = list(order)
    if not names:
        return
    m = TransactionManager(paths, reporter, services)
    if action is Action.START:
        m.start(names)
    else:
        m.stop(names, everything=True, force=force)


def start(paths: Paths, reporter: RunNotes, services: dict[str, Service], order: Iterable[str]) -> None:
    """Start an aa-start transaction (:meth:`ovis.aa.plan.StartLoader.transaction`)."""
    run_transaction(paths, reporter, services, order, Action.START)


def stop(paths: Paths, reporter: RunNotes, services: dict[str, Service], order: Iterable[str],
         force: bool = False) -> None:
    """Stop an aa-stop transaction (:meth:`ovis.aa.plan.StopLoader.transaction`)."""
    run_transaction(paths, reporter, services, order, Action.STOP, force=force)


def tell_supervisor(services: R.Services, name: str, letters: str) -> None:
    """Send *letters* to NAME's s6-supervise (aa-stop -aa: ``x`` to exit, ``dx`` for a
    logger).  NotSupervised or OSError."""
    control.send(services.dir(name), letters)


def loggers(services: R.Services, skip: str | None) -> list[str]:
    """aa-stop -aa: the ``NAME/log`` loggers of the repository, but the skipped service's
    (it logs as long as its service runs).  In ovis a logger is part of its servicedir,
    no service of its own, so the loader never holds it."""
    return [f"{name}/log" for name, is_dir in R.scan_dir(".", files_only=False)
            if is_dir and not name.startswith(".") and name != skip
            and services.is_longrun(f"{name}/log")]
