"""The real side-effect boundary of the engine: s6 for longruns, fork for oneshots.

Longruns speak s6's on-disk protocol directly (subscribe to ``event/``, write
``U``/``D`` to ``supervise/control``, read ``supervise/status``): no
``s6-svc`` process per transition.  Oneshots are run by ovis itself, in a
new session, with a clean environment (the boot environment plus what the
definition gives, never the caller's), their output piped into an ``s6-log``
writing the service's log directory.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: signal.py wraps it in enums (enum, functools...)
TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this), pathlib ~25

from ovis import atomic
from ovis.engine.transaction import Action, Reason, Result
from ovis.errors import NotSupervised, StateError
from ovis.linux import procs
from ovis.linux.spawn import STDOUT, Child, spawn
from ovis.paths import Paths
from ovis.s6 import control, events
from ovis.s6.status import SupervisorStatus, read_status, signal_name
from ovis.service import compiler
from ovis.service.restart import STATE_FILE as RESTART_STATE, finish_aside, finish_back
from ovis.service.model import (
    DEFAULT_TIMEOUT_START_MS,
    DEFAULT_TIMEOUT_STOP_MS,
    Kind,
    LoggerSpec,
    Service,
)

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping

ONESHOT_KILL_GRACE = 2.0
#: How long a start waits for s6-svscan to spawn the service's supervisor,
#: on top of its own timeout (which begins when the command is sent).
SUPERVISOR_WAIT = 60.0
#: How long past timeout-kill a stop may take before ovis calls it timed out.
STOP_MARGIN = 1.0


def _deadline(now: float, ms: int | None, default_ms: int) -> float | None:
    v = default_ms if ms is None else ms
    return None if v == 0 else now + v / 1000.0


timeout_deadline = _deadline  #: public: ``now`` plus a timeout in ms (0: none), for other backends


def failure_from_status(st: SupervisorStatus | None) -> Result:
    if st is not None and st.signal is not None:
        name = signal_name(st.signal) or str(st.signal)
        return Result(False, Reason.SIGNALLED, exit=st.signal, detail=f"killed by {name}")
    code = st.exit_code if st is not None else None
    return Result(False, Reason.EXITED, exit=code, detail=f"exited {code}")


def started_by_s6(st: SupervisorStatus | None) -> bool:
    """Whether s6 was bringing the service up on its own when a start found it so.

    A supervisor spawned for a servicedir without a ``down`` file (an
    ``earlier`` service at boot) writes its status, down and wanting up,
    then forks ``./run``: a start that reads it in between, or finds it up
    and short of ready, has nothing to do but wait, and did not start it.
    A service down after a signal or a failing exit (a restart pending) is
    not this: its start is the user's.  (One that exited 0 and waits for
    its restart reads as a new supervisor's status, and is taken for one.)
    """
    return st is not None and st.want_up and (
        st.up or (st.pid == 0 and st.wstat == 0 and not st.finishing))


class LongrunJob:
    """Bring one supervised service up (``U``) or down (``D``) and watch its events."""

    def __init__(self, svc: Service, servicedir: Path | str, action: Action, now: float,
                 fresh: bool = False, sub: events.Subscription | None = None) -> None:
        """*sub*: a subscription to *servicedir* made ahead (:meth:`S6Backend.prepare`)."""
        self.svc = svc
        self.action = action
        #: created up just now by this start (ovis.engine.install): found up, it
        #: was started now; its supervisor starts it without being told
        self.fresh = fresh and action is Action.START
        self.want_ready = svc.notify is not None
        if action is Action.START:
            self.wanted = "ready" if self.want_ready else "up"
        else:
            self.wanted = "finished"
        if action is Action.START:
            self.deadline = _deadline(now, svc.timeout_start, DEFAULT_TIMEOUT_START_MS)
            if self.deadline is not None:  # until sent, also the wait for its supervisor
                self.deadline += SUPERVISOR_WAIT
        else:
            stop_ms = svc.timeout_stop if svc.timeout_stop is not None else DEFAULT_TIMEOUT_STOP_MS
            self.deadline = None if stop_ms == 0 else now + stop_ms / 1000.0 + STOP_MARGIN
        self.session: int | None = None
        self.aside = False  # a stop moved finish aside (restart.finish_aside)
        self._d = str(servicedir)  # the hot path joins strings, not Paths
        if sub is None:
            self.sub = events.subscribe(self._d)
        else:
            # What it heard so far is older than the status read next: dropped,
            # so that only later letters are fed, as from a fresh subscription.
            self.sub = sub
            sub.read()
        self.tracker: events.Tracker | None = None
        self.result: Result | None = None
        #: s6 was bringing it up before this command (see :func:`started_by_s6`)
        self.by_s6 = False
        self._send(now)

    def _send(self, now: float) -> None:
        """Send the command; a supervisor not there yet will announce itself with 's'."""
        d = self._d
        before = read_status(d)
        if self.fresh:
            # Created up by this start: its supervisor starts it once spawned
            # (no down file to fix, no restart count to reset, nothing to send).
            if before is None:
                return  # not spawned yet: it will announce itself with 's'
        else:
            if self.action is Action.START:
                self.by_s6 = started_by_s6(before)
                try:  # a start through ovis begins a new restart count
                    os.unlink(f"{d}/{RESTART_STATE}")
                except OSError:
                    pass
                finish_back(d)  # a stop interrupted while its finish was aside
            if self.action is Action.STOP and before is not None and before.up:
                self.session = before.pid  # s6-supervise runs ./run as a session leader
                # (no sh for a finish that would do nothing: put back once down)
                self.aside = finish_aside(d)
            try:
                # Sent even when already there: U/D also fix the down file, so a
                # restarted supervisor keeps the state ovis was asked for.
                control.send(d, "U" if self.action is Action.START else "D")
            except NotSupervised:
                if self.action is Action.STOP:
                    self.result = Result(True, already=True)
                return
        if self.action is Action.START:
            # The timeout counts from the command, as s6-svc -wU -T counts it
            # (66, s6-rc): not the time s6-svscan took to spawn the supervisor,
            # which on a slow CPU starting many services is seconds.
            self.deadline = _deadline(now, self.svc.timeout_start, DEFAULT_TIMEOUT_START_MS)
        tracker = events.Tracker(before if before is not None else read_status(d))
        if before is not None and tracker.satisfies(self.wanted) and not (
                self.action is Action.STOP and before.want_up):
            # (down but wanted up: a crash loop between restarts; the D stopped it)
            self.result = Result(True, already=not self.fresh)
            return
        # Subscribed before *before* was read: what changed since comes as
        # letters, so the status need not be read again (one file per service).
        self.tracker = tracker
        self.result = self._check()

    def _check(self) -> Result | None:
        t = self.tracker
        assert t is not None
        if self.action is Action.START:
            if t.satisfies(self.wanted):
                return Result(True, already=self.by_s6)
            if t.permanent_failure:
                return failure_from_status(read_status(self._d))
            if t.supervisor_gone:
                return Result(False, Reason.SUPERVISOR_GONE, detail="s6-supervise exited")
        else:
            if t.satisfies(self.wanted) or t.supervisor_gone:
                self._finish_back()
                procs.end_session(self.session)  # children s6 did not signal
                return Result(True)
        return None

    def _finish_back(self) -> None:
        if self.aside:
            self.aside = False
            finish_back(self._d)

    @property
    def dir(self) -> Path:
        from pathlib import Path

        return Path(self._d)

    def fileno(self) -> int | None:
        return self.sub.fileno()

    def on_readable(self, now: float) -> Result | None:
        letters = self.sub.read()
        if self.result is not None:
            return self.result
        if self.tracker is None:
            if "s" in letters or control.is_supervised(self._d):
                self._send(now)
            return self.result
        self.tracker.feed(letters)
        self.result = self._check()
        return self.result

    def on_timeout(self, now: float) -> Result | None:
        if self.action is Action.START:
            # Do not leave a half-started service behind: bring it down.
            try:
                control.send(self._d, "D")
            except NotSupervised:
                pass
            if self.tracker is None and self.result is None:
                return Result(False, Reason.TIMED_OUT, detail="s6-supervise did not appear in time")
            what = "ready" if self.want_ready else "up"
            return Result(False, Reason.TIMED_OUT, detail=f"not {what} in time")
        return Result(False, Reason.TIMED_OUT, detail="still not down")

    def close(self) -> None:
        self._finish_back()  # (a stop that timed out or was given up)
        self.sub.close()


class OneshotJob:
    """Run a oneshot's start or stop script as a child, its output into s6-log."""

    #: class defaults: subclasses with their own __init__ (aa-start's) keep working
    action: Action = Action.START
    end_after: int | None = None

    def __init__(self, svc: Service, servicedir: str, script: str, action: Action,
                 env: Mapping[str, str], logdir: str | None, now: float,
                 loggers: list[Child], end_after: int | None = None) -> None:
        self.svc = svc
        self.action = action
        self.end_after = end_after  # stop: the session the start script left
        ms = svc.timeout_start if action is Action.START else svc.timeout_stop
        self.deadline = _deadline(now, ms, DEFAULT_TIMEOUT_START_MS if action is Action.START
                                  else DEFAULT_TIMEOUT_STOP_MS)
        self.killed = False
        self.pidfd: int | None = None
        env = dict(env)
        # posix_spawn, not subprocess (ovis.linux.spawn: its import and its
        # Python side were a millisecond per oneshot): the same fds, session,
        # signals and directory as Popen gave them
        if logdir is not None:
            out_r, out_w = os.pipe()
            try:
                spec = svc.logger or LoggerSpec()
                # it may outlive this command (a daemon the script left
                # writes to it): it must not hold the caller's stderr open
                loggers.append(spawn(["s6-log", "--", *compiler.s6log_script(spec), str(logdir)],
                                     env, stdin=out_r, setsid=True))
                self.proc = spawn([str(script)], env, cwd=str(servicedir), stdout=out_w,
                                  stderr=STDOUT, setsid=True)
            finally:
                os.close(out_r)
                os.close(out_w)
        else:
            self.proc = spawn([str(script)], env, cwd=str(servicedir), stderr=STDOUT,
                              setsid=True)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.marker: str | None = f"{servicedir}/{RUNNING}"
        try:  # if this ovis is killed, the next one must not run the script twice
            atomic.write_text(self.marker, f"{self.proc.pid}\n")
        except OSError:
            self.marker = None

    def fileno(self) -> int | None:
        return self.pidfd

    def on_readable(self, now: float) -> Result | None:
        code = self.proc.poll()
        if code is None:
            return None
        res = self._result(code)
        if self.action is Action.STOP:
            procs.end_session(self.end_after)
            procs.end_session(self.proc.pid)
        elif procs.young_session_members(self.proc.pid):
            res.session = self.proc.pid  # it left a daemon: ended at the stop
        return res

    def _result(self, code: int) -> Result:
        if self.killed:
            return Result(False, Reason.TIMED_OUT, detail="script killed after timeout")
        if code == 0:
            return Result(True)
        if code < 0:
            return Result(False, Reason.SIGNALLED, exit=-code, detail=f"killed by {signal_name(-code) or str(-code)}")
        if code in (126, 127):
            return Result(False, Reason.EXEC_FAILED, exit=code, detail=f"exited {code}")
        return Result(False, Reason.EXITED, exit=code, detail=f"exited {code}")

    def on_timeout(self, now: float) -> Result | None:
        sig = signal.SIGKILL if self.killed else signal.SIGTERM
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        if not self.killed:
            self.killed = True
            self.deadline = now + ONESHOT_KILL_GRACE
            return None
        self.deadline = None
        return None

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        if self.proc.poll() is None:  # transaction aborted: do not leave it running
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        marker = getattr(self, "marker", None)
        if marker is not None:
            try:
                os.unlink(marker)
            except OSError:
                pass
            self.marker = None


#: In a oneshot's servicedir while ovis runs one of its scripts: the script's pid.
RUNNING = ".ovis-running"


def orphan_script(servicedir: str) -> int | None:
    """The pid of a script a killed ovis left running in *servicedir*, if any.

    It is that script when the pid still leads its own session (ovis starts
    scripts with setsid) and runs in the servicedir (their cwd): a reused pid
    is not mistaken for it.
    """
    try:
        with open(f"{servicedir}/{RUNNING}") as f:
            pid = int(f.read().split()[0])
        if os.getsid(pid) == pid and os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(servicedir):
            return pid
    except (OSError, ValueError, IndexError):
        pass
    return None


class S6Backend:
    """Begins jobs for the runner; knows where things are under LIVE."""

    def __init__(self, paths: Paths, services: Mapping[str, Service],
                 base_env: Mapping[str, str], oneshot_up: Mapping[str, bool]) -> None:
        self.paths = paths
        self.services = services
        self.base_env = dict(base_env)
        self.oneshot_up = oneshot_up
        self.loggers: list[Child] = []
        self.session_of: dict[int, int] = {}  # logger pid -> its script's session
        self._sv = paths.servicedirs_str
        #: longruns whose servicedir this start created up (ovis.engine.install)
        self.fresh: set[str] | frozenset[str] = frozenset()
        #: subscriptions made ahead of a longrun's beginning (:meth:`prepare`)
        self._ahead: dict[str, events.Subscription] = {}

    def prepare(self, name: str) -> None:
        """Subscribe to *name*'s events now, while the loop would only wait:
        the runner calls it for a service whose last prerequisite is running,
        so that from that one's readiness to *name*'s command no fifo is made."""
        if name in self._ahead or self.services[name].kind is not Kind.LONGRUN:
            return
        try:
            self._ahead[name] = events.subscribe(f"{self._sv}/{name}")
        except OSError:
            pass  # its begin subscribes (and reports what fails)

    def begin(self, name: str, action: Action, now: float) -> LongrunJob | OneshotJob | Result:
        svc = self.services[name]
        if svc.kind is Kind.LONGRUN:
            sub = self._ahead.pop(name, None)
            try:
                job = LongrunJob(svc, f"{self._sv}/{name}", action, now, name in self.fresh, sub)
            except (OSError, StateError) as e:
                if sub is not None:
                    sub.close()
                return Result(False, Reason.NOT_SUPERVISED, detail=str(e))
            if job.result is not None:
                job.close()
                return job.result
            return job
        sdir = f"{self._sv}/{name}"
        if svc.kind is Kind.BUNDLE:  # its members were settled first: nothing of its own
            if (action is Action.START) == self.oneshot_up.get(name, False):
                return Result(True, already=True)
            return Result(True, detail="" if svc.contents or action is Action.STOP
                          else "nothing to run")
        is_up = self.oneshot_up.get(name, False)
        if (action is Action.START) == is_up:
            return Result(True, already=True)
        script = f"{sdir}/{'start' if action is Action.START else 'stop'}"
        orphan = orphan_script(sdir)
        if orphan is not None:
            return Result(False, Reason.STILL_RUNNING,
                          detail=f"a script started by an interrupted ovis still runs (pid {orphan})")
        left: int | None = None
        if action is Action.STOP:
            from ovis.engine import state as statefile

            st = statefile.load(self.paths, name)
            left = st.session if st is not None else None
        if not os.path.exists(script):
            procs.end_session(left)
            return Result(True, detail="nothing to run" if action is Action.START else "")
        logdir = compiler.log_destination(svc, self.paths)
        try:
            job = OneshotJob(svc, sdir, script, action, self.base_env, logdir, now, self.loggers,
                             end_after=left)
        except OSError as e:
            return Result(False, Reason.EXEC_FAILED, detail=str(e))
        if logdir is not None:
            self.session_of[self.loggers[-1].pid] = job.proc.pid
        return job

    def finish(self) -> None:
        for sub in self._ahead.values():  # made for services that never began
            sub.close()
        self._ahead.clear()
        # Loggers exit on EOF once the scripts (and whatever they left behind)
        # close their output; give them a moment so logs are complete on return.
        for p in self.loggers:
            sid = self.session_of.get(p.pid)
            if sid is not None and procs.session_members(sid):
                continue  # a daemon the script left writes to it: it lives as long
            try:
                p.wait(timeout=2)
            except TimeoutError:
                pass
        self.loggers.clear()
        self.session_of.clear()
