"""Pure scheduling logic of a start or stop transaction (no I/O).

A :class:`Plan` answers one question again and again: which services may
begin now?  A service begins as soon as every prerequisite in the same
transaction has settled (not in waves), and a service whose *hard*
prerequisite failed is settled at once as ``dependency-failed`` without ever
being begun.  The runner (``ovis.engine.runner``) feeds results back in; unit
tests drive the plan directly, with no processes at all.
"""

from __future__ import annotations

import enum
TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Iterable

from ovis.engine.graph import NONE, Graph
from ovis.record import Record


class Action(enum.Enum):
    START = "start"
    STOP = "stop"


class Reason(str, enum.Enum):
    """Why a service is down or failed (the ``reason`` field of ``status``)."""

    STOPPED = "stopped"  # brought down on request: the normal case
    DEPENDENCY_FAILED = "dependency-failed"
    TIMED_OUT = "timed-out"
    EXITED = "exited"
    SIGNALLED = "signalled"
    EXEC_FAILED = "exec-failed"
    NEVER_STARTED = "never-started"
    NOT_SUPERVISED = "not-supervised"
    SUPERVISOR_GONE = "supervisor-gone"
    INVALID_DEFINITION = "invalid-definition"  # could not be loaded at all
    INTERRUPTED = "interrupted"  # a shutdown was asked for while it was starting
    STILL_RUNNING = "still-running"  # a oneshot script of a killed ovis has not ended


class Result(Record):
    """How one service's transition ended."""

    __slots__ = ("ok", "reason", "exit", "detail", "already", "begun", "ended", "wall_begun",
                 "wall_ended", "session")

    def __init__(self, ok: bool, reason: Reason | None = None, exit: int | None = None,
                 detail: str = "", already: bool = False, begun: float | None = None,
                 ended: float | None = None, wall_begun: float | None = None,
                 wall_ended: float | None = None, session: int | None = None) -> None:
        self.ok = ok
        self.reason = reason
        self.exit = exit  # exit code, or signal number when signalled
        self.detail = detail  # human words: which dependency, which signal...
        self.already = already  # nothing had to be done
        self.begun = begun  # monotonic time the transition began
        self.ended = ended
        self.wall_begun = wall_begun  # epoch seconds, for analyze
        self.wall_ended = wall_ended
        self.session = session  # a oneshot's start left processes in this session

    @property
    def elapsed(self) -> float:
        if self.begun is None or self.ended is None:
            return 0.0
        return self.ended - self.begun


class Plan(Record):
    """The state of one transaction over the services of ``graph``.

    Bookkeeping is incremental (counters of unsettled prerequisites, reverse
    edges): settling a service costs its own edges, not a scan of every
    pending service, so a 5,000-long chain is linear, not quadratic.
    """

    __slots__ = ("graph", "names", "action", "force", "prereq", "blockers", "pending", "running",
                 "results", "unlocks", "dooms", "waiting", "ready")

    def __init__(self, graph: Graph, names: set[str], action: Action, force: bool = False,
                 prereq: dict[str, set[str]] | None = None,
                 blockers: dict[str, set[str]] | None = None, pending: set[str] | None = None,
                 running: set[str] | None = None, results: dict[str, Result] | None = None,
                 unlocks: dict[str, set[str]] | None = None,
                 dooms: dict[str, set[str]] | None = None, waiting: dict[str, int] | None = None,
                 ready: set[str] | None = None) -> None:
        self.graph = graph
        self.names = names
        self.action = action
        self.force = force  # stop: a dependent that failed to stop blocks nothing
        self.prereq = {} if prereq is None else prereq
        self.blockers = {} if blockers is None else blockers
        self.pending = set() if pending is None else pending
        self.running = set() if running is None else running
        self.results = {} if results is None else results
        # name -> services for which it is a prerequisite / a blocker
        self.unlocks = {} if unlocks is None else unlocks
        self.dooms = {} if dooms is None else dooms
        # name -> how many of its prerequisites have not settled yet
        self.waiting = {} if waiting is None else waiting
        self.ready = set() if ready is None else ready

    @classmethod
    def make(cls, graph: Graph, names: Iterable[str], action: Action, force: bool = False) -> "Plan":
        plan = cls(graph, set(names), action, force)
        ns = plan.names
        if action is Action.START:  # a service with no edge shares graph.NONE (read-only)
            for n in ns:
                order, hard = graph.order[n], graph.hard[n]
                plan.prereq[n] = order & ns if order else NONE
                plan.blockers[n] = hard & ns if hard else NONE
        else:  # reversed edges, built once (not a scan of ns per name)
            for m in ns:
                if order := graph.order[m]:
                    for n in order & ns:
                        plan.prereq.setdefault(n, set()).add(m)
                if not force and (hard := graph.hard[m]):
                    for n in hard & ns:
                        plan.blockers.setdefault(n, set()).add(m)
            for n in ns:
                plan.prereq.setdefault(n, NONE)
                plan.blockers.setdefault(n, NONE)
        # unlocks/dooms hold only the names something waits on (read with .get)
        for n in ns:
            for p in plan.prereq[n]:
                plan.unlocks.setdefault(p, set()).add(n)
            for b in plan.blockers[n]:
                plan.dooms.setdefault(b, set()).add(n)
            plan.waiting[n] = len(plan.prereq[n])
            if not plan.prereq[n]:
                plan.ready.add(n)
        plan.pending = set(ns)
        return plan

    def runnable(self) -> list[str]:
        """Pending services whose prerequisites have all settled."""
        return sorted(self.ready)

    def begin(self, name: str) -> None:
        self.pending.discard(name)
        self.ready.discard(name)
        self.running.add(name)

    def _settle(self, name: str, result: Result) -> None:
        self.running.discard(name)
        self.pending.discard(name)
        self.ready.discard(name)
        if name in self.results:
            self.results[name] = result
            return
        self.results[name] = result
        for n in self.unlocks.get(name, ()):
            self.waiting[n] -= 1
            if self.waiting[n] == 0 and n in self.pending:
                self.ready.add(n)

    def complete(self, name: str, result: Result) -> list[tuple[str, Result]]:
        """Record *result*; return the services that fail because of it."""
        self._settle(name, result)
        cascaded: list[tuple[str, Result]] = []
        if result.ok:
            return cascaded
        failed = [name]
        while failed:
            f = failed.pop()
            for n in sorted(self.dooms.get(f, ())):
                if n not in self.pending:
                    continue
                r = Result(False, Reason.DEPENDENCY_FAILED, detail=f,
                           begun=result.ended, ended=result.ended,
                           wall_begun=result.wall_ended, wall_ended=result.wall_ended)
                self._settle(n, r)
                cascaded.append((n, r))
                failed.append(n)
        return cascaded

    @property
    def done(self) -> bool:
        return not self.pending and not self.running

    def failed(self) -> list[str]:
        return sorted(n for n, r in self.results.items() if not r.ok)
