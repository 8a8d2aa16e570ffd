"""High-level operations behind the ``ovis`` verbs.

Each operation loads and validates everything first (raising
:class:`ConfigError` before touching LIVE), then takes the LIVE lock, writes
servicedirs, runs the transaction and records state.  Nothing here prints:
progress goes to a :class:`Reporter` supplied by the caller.
"""

from __future__ import annotations

import os
import time
TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Any, Iterable, Protocol
else:
    Protocol = object  # Reporter is for the type checker

from ovis import atomic
from ovis.engine import state as statefile
from ovis.engine.graph import Graph
from ovis.engine.runner import run
from ovis.engine.transaction import Action, Plan, Reason, Result
from ovis.errors import ConfigError, StateError, UnknownService
from ovis.paths import Paths, check_name
from ovis.record import Record
from ovis.service.compiler import Compiler, compiled_services
from ovis.service.model import Kind, Service
from ovis.service.repository import Repository



#: How often, at most, a start's loop looks for a shutdown request
#: (``LIVE/shutdown``): a request waits this long more, at worst, to be seen.
SHUTDOWN_POLL = 0.02
#: While compiling, s6-svscan is told to rescan after the 1st, 8th and
#: every EARLY_RESCAN-th new link (and once after the last).
EARLY_RESCAN = 32


class Reporter(Protocol):
    def progress(self, name: str, action: Action, result: Result) -> None: ...

    def message(self, text: str) -> None: ...

    # Optional: ``begin(name, action)`` is called, when a reporter has it,
    # as each service's transition begins (anopa's "Starting X...").


class NullReporter:
    def progress(self, name: str, action: Action, result: Result) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class Outcome(Record):
    __slots__ = ("action", "results", "elapsed")

    def __init__(self, action: Action, results: dict[str, Result] | None = None,
                 elapsed: float = 0.0) -> None:
        self.action = action
        self.results = {} if results is None else results
        self.elapsed = elapsed

    @property
    def failed(self) -> list[str]:
        return sorted(n for n, r in self.results.items() if not r.ok)


class Manager:
    #: Makes the transaction's backend: ``factory(paths, services, base_env,
    #: oneshot_up)``; None means :class:`ovis.engine.s6backend.S6Backend`.
    #: Front ends with other I/O conventions (aa-start echoes oneshot output)
    #: supply a subclass of it.
    backend_factory: Any = None

    def __init__(self, paths: Paths, reporter: Reporter | None = None, *,
                 repo: Repository | None = None, compile: bool = True) -> None:
        """*compile* False: the servicedirs in LIVE are used as they are
        (anopa's aa-start/aa-stop work on what aa-enable wrote)."""
        self.paths = paths
        self.reporter: Reporter = reporter or NullReporter()
        self.repo = repo if repo is not None else Repository(paths.services_strs, live=paths.live_str)
        # Not compiling (anopa's tools): no model can come from the compile cache,
        # and neither it nor pickle is imported for the links the compiler makes.
        self.compiler = Compiler(paths, cached=compile)
        self.compile = compile
        #: the records of the running transaction's services (:meth:`_state`)
        self._states: dict[str, statefile.ServiceState | None] = {}

    # Environment --------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        """What oneshots run with: the boot environment, never the caller's."""
        return self.paths.boot_env()

    # Loading ---------------------------------------------------------------
    def load(self, names: Iterable[str]) -> dict[str, Service]:
        services = self.repo.closure(names)
        Graph.build(services).check_acyclic()
        return services

    def live_services(self) -> dict[str, Service]:
        return compiled_services(self.paths, self._live_memo)

    #: Set while a stop runs: the ovis.json files it read, so that reading
    #: LIVE again once its claims are held costs a stat per service, not a
    #: parse (see compiled_services).
    _live_memo: dict[str, Any] | None = None

    def _require_svscan(self) -> None:
        from ovis.s6.control import svscan_running

        if not svscan_running(self.paths.scandir_str):
            raise StateError(f"no s6-svscan is running on {self.paths.scandir_str} "
                             "(start one with: ovis scandir start)")

    # Transactions ------------------------------------------------------------
    def start(self, names: Iterable[str], *, skip_down: bool = False) -> Outcome:
        """Start *names* and what they need; wait for up+ready or failure.

        With *skip_down* (tree start), services flagged ``down`` are left
        alone unless something started needs them.
        """
        names = list(dict.fromkeys(names))
        services = self.load(names)
        if skip_down:
            needed = self._needed_by(services, [n for n in names if not services[n].down])
            services = {n: s for n, s in services.items() if n in needed}
        if any(s.kind is Kind.LONGRUN for s in services.values()):
            self._require_svscan()  # oneshots alone need no supervisor (anopa's stage 0)
        self._refuse_during_shutdown()
        with statefile.Claims(self.paths, self.reporter.message, "start") as claims:
            claims.acquire(set(services))
            self._refuse_during_shutdown()
            if not self.compile:  # LIVE's servicedirs as they are: only linked
                with statefile.Lock(self.paths, self.reporter.message):
                    self._compile_and_link(services)
            # else compiled and linked while the transaction runs (ovis.engine.install)
            try:
                return self._transact(services, set(services), Action.START, interruptible=True,
                                      install=self.compile)
            finally:  # what `ovis status` reads instead of each ovis.json (statusindex)
                from ovis.engine import statusindex as ix

                ix.refresh(self.paths.live_str, self.paths.servicedirs_str, services,
                           ix.file_of(self.paths.layout))

    def shutting_down(self) -> bool:
        # asked at every wake-up of a start's loop: a string joined once, no Path per call
        req = self.__dict__.get("_shutdown_str")
        if req is None:
            req = self._shutdown_str = self.paths.live_str + "/shutdown"
        return os.path.lexists(req)

    def _shutdown_asked(self) -> bool:
        """:meth:`shutting_down` for the transaction's loop, which asks at every
        wake-up (twice per link of a readiness chain): one ``lstat`` per
        SHUTDOWN_POLL seconds at most, not one per event."""
        now = time.monotonic()
        if now < self.__dict__.get("_next_shutdown_check", 0.0):
            return False
        self._next_shutdown_check = now + SHUTDOWN_POLL
        return self.shutting_down()

    def _refuse_during_shutdown(self) -> None:
        if self.shutting_down():
            raise StateError("a shutdown is in progress: nothing is started")

    def _needed_by(self, services: dict[str, Service], roots: list[str]) -> set[str]:
        out: set[str] = set()
        stack = list(roots)
        while stack:
            n = stack.pop()
            if n in out or n not in services:
                continue
            out.add(n)
            stack.extend(services[n].depends)
            stack.extend(services[n].contents)
            stack.extend(services[n].wants)
        return out

    def _compile_and_link(self, services: dict[str, Service], *, down: bool = True) -> bool:
        atomic.clean_stale_temporaries(
            [self.paths.servicedirs_str, self.paths.scandir_str, self.paths.state_str])
        from ovis.s6.control import svscan_running, svscan_send

        # s6-svscan is told to rescan while the rest is still compiled, not
        # once at the end: it spawns the first supervisors (each servicedir
        # is complete and, but for ``earlier`` ones, down) on the other core
        # meanwhile, and a cold start of hundreds no longer waits for all of
        # them to be spawned after the last compile.
        new_links = told = 0
        running: bool | None = None
        for svc in services.values():
            if self.compile:
                self.compiler.compile(svc, down=down and not svc.earlier)
            if svc.kind is Kind.LONGRUN and self.compiler.link(svc.name):
                new_links += 1
                if new_links in (1, 8) or new_links % EARLY_RESCAN == 0:
                    if running is None:
                        running = svscan_running(self.paths.scandir_str)
                    if running:
                        svscan_send(self.paths.scandir_str, "a")
                        told = new_links
        if new_links > told:
            if running is None:
                running = svscan_running(self.paths.scandir_str)
            if running:
                svscan_send(self.paths.scandir_str, "a")
        return new_links > 0

    def stop(self, names: Iterable[str], *, everything: bool = False,
             force: bool = False) -> Outcome:
        """Stop *names* and, first, whatever hard-depends on them."""
        names = list(dict.fromkeys(check_name(n) for n in names))

        def targets_now() -> tuple[dict[str, Service], set[str]]:
            live = self.live_services()
            for n in names:
                if n not in live:
                    if self.repo.locate(n) is None:
                        raise UnknownService(n)
            wanted = self._with_bundle_members(names, live)
            graph = Graph.build(live)
            return live, set(live) if everything else graph.hard_dependents_closure(
                [n for n in wanted if n in live])

        with statefile.Claims(self.paths, self.reporter.message, "stop") as claims:
            self._live_memo = {}
            try:
                live, targets = targets_now()
                while not targets <= set(claims.held):  # a start may have added dependents
                    claims.acquire(targets)
                    live, targets = targets_now()
            finally:
                self._live_memo = None
            return self._transact(live, targets, Action.STOP, force=force)

    def _with_bundle_members(self, names: list[str], live: dict[str, Service]) -> list[str]:
        """Stopping a bundle stops its members (bundles inside bundles too).

        The compiled bundle knows its members; one never started is looked
        up in the definitions.
        """
        out = list(names)
        for n in out:  # grows while walking: nested bundles
            svc = live.get(n)
            if svc is None and self.repo.locate(n) is not None:
                svc = self.repo.load(n)
            if svc is not None and svc.kind is Kind.BUNDLE:
                out.extend(m for m in svc.contents if m not in out)
        return out

    def _oneshot_up(self, services: dict[str, Service]) -> dict[str, bool]:
        out = {}
        for n, s in services.items():
            if s.kind is not Kind.LONGRUN:  # oneshots and bundles: ovis's own state says
                st = self._state(n)
                out[n] = st is not None and st.state == "up"
        return out

    def _state(self, name: str) -> statefile.ServiceState | None:
        """*name*'s record, read once per transaction: the transaction's claim
        on it means no other start or stop writes it meanwhile, so the copy
        in memory is what the next write starts from."""
        try:
            return self._states[name]
        except KeyError:  # as written: the transaction's own intents are not folded in
            st = self._states[name] = statefile.load(self.paths, name, {})
            return st

    def _transact(self, services: dict[str, Service], targets: set[str], action: Action,
                  force: bool = False, interruptible: bool = False,
                  install: bool = False) -> Outcome:
        """*install*: write and link the servicedirs as the run goes (a start's)."""
        from ovis.engine.s6backend import S6Backend

        self._states = {}
        graph = Graph.build(services)
        plan = Plan.make(graph, targets, action, force=force)
        factory = self.backend_factory or S6Backend
        backend = factory(self.paths, services, self.base_env(), self._oneshot_up(services))
        installer = None
        if install:
            from ovis.engine.install import Installer, InstallingBackend

            installer = Installer(self.paths, self.compiler, services, plan,
                                  self.reporter.message)
            backend = InstallingBackend(backend, installer)
        t0 = time.monotonic()
        # A longrun's final record waits until the services its settlement
        # made runnable have been sent their command (the runner's flush):
        # its wish was recorded before the transaction and s6 holds the truth
        # about its process meanwhile.  A oneshot's record is the only one
        # saying it ran, so it is written at once.
        deferred: list[tuple[Service, Result]] = []

        def report(name: str, res: Result) -> None:
            svc = services[name]
            if svc.kind is Kind.LONGRUN:
                deferred.append((svc, res))
            else:
                self._record(svc, action, res)
            self.reporter.progress(name, action, res)

        def flush() -> None:
            if installer is not None:  # the supervisors of services just begun, spawned
                installer.rescan_begun()
            for svc, res in deferred:
                self._record(svc, action, res)
            deferred.clear()

        wanted = "up" if action is Action.START else "down"
        atomic.know_umask()  # records and fifos made with their mode: no chmod each
        when = self._record_wanted(targets, wanted)
        begin = getattr(self.reporter, "begin", None)
        try:
            results = run(plan, backend, report,
                          on_begin=(lambda name: begin(name, action)) if begin is not None else None,
                          interrupted=self._shutdown_asked if interruptible else None, flush=flush,
                          work=installer.step if installer is not None else None)
        finally:
            try:
                flush()
                if installer is not None:  # whatever it linked is supervised, begun or not
                    installer.rescan()
            finally:
                self._finish_wanted(targets, wanted, when)
                self._states = {}
                atomic.forget_umask()
        return Outcome(action, results, time.monotonic() - t0)

    def _record_wanted(self, names: set[str], wanted: str) -> int | None:
        """What ovis was asked, before anything happens: a command killed
        half-way leaves a record that says so, not the previous wish.

        One entry per service in one file (statefile.INTENTS), written once,
        not every service's record rewritten; returns its time stamp (None
        if it could not be written).
        """
        when = time.time_ns()
        try:
            with statefile.Lock(self.paths, self.reporter.message):
                statefile.record_intents(self.paths, names, wanted, when)
        except OSError:
            return None  # a full LIVE: the transaction's own records will warn
        return when

    def _finish_wanted(self, names: set[str], wanted: str, when: int | None) -> None:
        """The records of *names* say *wanted* (those the run settled were
        written so, the others now), then their intents are dropped."""
        for n in names:
            st = self._state(n)
            if st is not None and st.wanted != wanted:
                st.wanted = wanted
                try:
                    statefile.save(self.paths, st)
                except OSError:
                    pass
        if when is not None:
            try:
                with statefile.Lock(self.paths, self.reporter.message):
                    statefile.drop_intents(self.paths, names, when)
            except OSError:
                pass  # left: older records only, which say the same

    def _record(self, svc: Service, action: Action, res: Result) -> None:
        old = self._state(svc.name)
        st = old or statefile.ServiceState(svc.name)
        if res.already and st.wanted == ("up" if action is Action.START else "down"):
            return
        if res.already and old is not None:  # only the wish changed (once its own record)
            st.wanted = "up" if action is Action.START else "down"
            try:
                statefile.save(self.paths, st)
            except OSError:
                pass
            return
        st.wanted = "up" if action is Action.START else "down"
        timings = dict(st.timings)
        if action is Action.START:
            if not res.already:
                timings["start_begun"] = res.wall_begun or time.time()
                timings["start_ended"] = res.wall_ended or time.time()
            st.state = "up" if res.ok else "failed"
            if not res.already:
                st.crashes = 0
                st.session = res.session
            if not res.ok and res.reason is Reason.DEPENDENCY_FAILED:
                st.state = "failed"
        else:
            if not res.already and svc.kind is Kind.LONGRUN and st.state == "up":
                from ovis.engine.status import restarts

                st.crashes = restarts(self.paths, svc.name, st, until=res.wall_begun)
            if not res.already:
                timings["stop_begun"] = res.wall_begun or time.time()
                timings["stop_ended"] = res.wall_ended or time.time()
            st.state = "down" if res.ok else "failed"
            if res.ok:
                st.session = None
        st.reason = None if (res.ok and action is Action.START) else (
            res.reason.value if res.reason else "stopped")
        st.exit = res.exit
        st.detail = res.detail
        if not res.already or st.since is None:
            st.since = res.wall_ended or time.time()
        st.timings = timings
        self._states[svc.name] = st
        try:
            statefile.save(self.paths, st)
        except OSError as e:  # LIVE full or gone: s6 still does the work; say it once
            if not getattr(self, "_save_warned", False):
                self._save_warned = True
                self.reporter.message(f"warning: cannot record the state of {svc.name} "
                                      f"in {self.paths.state_str}: {e.strerror or e}")

    # Simple verbs -----------------------------------------------------------
    def send_letters(self, names: Iterable[str], letters: str) -> list[str]:
        """Send s6 control letters to longruns (reload, signal); returns who got them."""
        from ovis.s6 import control

        live = self.live_services()
        names = [check_name(n) for n in names]
        sent = []
        for n in names:
            if n not in live:
                if self.repo.locate(n) is None:
                    raise UnknownService(n)
                raise StateError(f"{n}: not started (nothing compiled in {self.paths.live_str})")
            if live[n].kind is not Kind.LONGRUN:
                raise ConfigError(f"{n}: is a {live[n].kind.value}: it has no process to signal")
        from ovis.s6.status import read_status

        for n in names:
            st = read_status(f"{self.paths.servicedirs_str}/{n}")
            if st is None or not st.up:
                raise StateError(f"{n}: not up: nothing to signal")
        for n in names:
            control.send(f"{self.paths.servicedirs_str}/{n}", letters)
            sent.append(n)
        return sent

    def restart(self, names: Iterable[str]) -> tuple[Outcome, Outcome]:
        """Stop *names* (and their dependents), then start again what was up, and *names*."""
        names = list(dict.fromkeys(names))
        self.validate_restart(names)
        stopped = self.stop(names)
        was_up = [n for n, r in stopped.results.items() if r.ok and not r.already]
        started = self.start(list(dict.fromkeys(names + was_up)))
        return stopped, started

    def validate_restart(self, names: list[str]) -> dict[str, Service]:
        """Load every definition a restart of *names* will start again.

        The stop half takes dependents down too; if any definition it would
        need to bring them back is broken or gone, the error must come before
        anything is stopped (exit 2 means nothing changed).
        """
        live = self.live_services()
        for n in names:
            if n not in live and self.repo.locate(n) is None:
                raise UnknownService(n)
        affected = Graph.build(live).hard_dependents_closure([n for n in names if n in live])
        return self.load(list(dict.fromkeys(names + sorted(affected))))

    # Trees -------------------------------------------------------------------
    def tree_dir(self, tree: str) -> str:
        return f"{self.paths.trees_str}/{check_name(tree, 'tree')}"

    def tree_members(self, tree: str) -> list[str]:
        d = self.tree_dir(tree)
        try:
            return sorted(e for e in os.listdir(d) if not e.startswith(".") and os.path.isfile(f"{d}/{e}"))
        except FileNotFoundError:
            return []

    def enable(self, names: Iterable[str], tree: str) -> list[str]:
        names = list(names)
        self.load(names)  # unknown names, bad definitions: error before any change
        d = self.tree_dir(tree)
        os.makedirs(d, exist_ok=True)
        done = []
        for n in names:
            p = f"{d}/{n}"
            if not os.path.exists(p):
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
                done.append(n)
        return done

    def disable(self, names: Iterable[str], tree: str) -> list[str]:
        names = [check_name(n) for n in names]
        d = self.tree_dir(tree)
        live = self.live_services()
        for n in names:  # all or nothing: check every name before removing any
            if not os.path.exists(f"{d}/{n}") and self.repo.locate(n) is None and n not in live:
                raise UnknownService(n)
        done = []
        for n in names:
            p = f"{d}/{n}"
            if os.path.exists(p):
                os.unlink(p)
                done.append(n)
        return done

    def tree_start(self, tree: str) -> Outcome:
        """Start a tree; a member whose definition is broken fails alone.

        At boot one bad file must not keep the whole machine down: it is
        reported (and recorded) as ``invalid-definition``, the rest starts.
        """
        good, bad = self._load_members(self.tree_members(tree))
        outcome = self.start(good, skip_down=True) if good else Outcome(Action.START)
        for name, err in bad.items():
            res = Result(False, Reason.INVALID_DEFINITION, detail=str(err))
            res.wall_begun = res.wall_ended = time.time()
            st = statefile.ServiceState(name, state="failed", wanted="up",
                                        reason=res.reason.value if res.reason else None,
                                        detail=res.detail, since=res.wall_ended)
            self._save_state(st)
            self.reporter.progress(name, Action.START, res)
            outcome.results[name] = res
        return outcome

    def _load_members(self, members: list[str]) -> tuple[list[str], dict[str, Exception]]:
        good: list[str] = []
        bad: dict[str, Exception] = {}
        for n in members:
            try:
                self.load([n])
                good.append(n)
            except ConfigError as e:
                bad[n] = e
        return good, bad

    def _save_state(self, st: statefile.ServiceState) -> None:
        with statefile.Lock(self.paths, self.reporter.message):
            statefile.save(self.paths, st)

    def init_tree(self, tree: str) -> list[str]:
        """Stage 1: compile a tree's ``earlier`` services up, before s6-svscan runs.

        They are linked without a ``down`` file, so s6-svscan starts them the
        moment it starts; the rest of the tree waits for stage 2.  Returns
        the problems met (broken definitions are left to stage 2 to report).
        """
        good, bad = self._load_members(self.tree_members(tree))
        early = {n: s for n, s in self.load(good).items() if s.earlier} if good else {}
        with statefile.Lock(self.paths, self.reporter.message):
            self._compile_and_link(early, down=False)
        return [str(e) for e in bad.values()]

    def tree_stop(self, tree: str, *, force: bool = False) -> Outcome:
        members = [n for n in self.tree_members(tree) if n in self.live_services()]
        return self.stop(members, force=force)
