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
from dataclasses import dataclass, field
from typing import Iterable

from ovis.engine.graph import Graph


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


@dataclass
class Result:
    """How one service's transition ended."""

    ok: bool
    reason: Reason | None = None
    exit: int | None = None  # exit code, or signal number when signalled
    detail: str = ""  # human words: which dependency, which signal...
    already: bool = False  # nothing had to be done
    begun: float | None = None  # monotonic time the transition began
    ended: float | None = None
    wall_begun: float | None = None  # epoch seconds, for analyze
    wall_ended: float | None = None
    session: int | None = None  # a oneshot's start left processes in this session

    @property
    def elapsed(self) -> float:
        if self.begun is None or self.ended is None:
            return 0.0
        return self.ended - self.begun


@dataclass
class Plan:
    """The state of one transaction over the services of ``graph``.

    Bookkeeping is incremental (counters of unsettled prerequisites, reverse
    edges): settling a service costs its own edges, not a scan of every
    pending service, so a 5,000-long chain is linear, not quadratic.
    """

    graph: Graph
    names: set[str]
    action: Action
    force: bool = False  # stop: a dependent that failed to stop blocks nothing
    prereq: dict[str, set[str]] = field(default_factory=dict)
    blockers: dict[str, set[str]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    results: dict[str, Result] = field(default_factory=dict)
    #: name -> services for which it is a prerequisite / a blocker
    unlocks: dict[str, set[str]] = field(default_factory=dict)
    dooms: dict[str, set[str]] = field(default_factory=dict)
    #: name -> how many of its prerequisites have not settled yet
    waiting: dict[str, int] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)

    @classmethod
    def make(cls, graph: Graph, names: Iterable[str], action: Action, force: bool = False) -> "Plan":
        plan = cls(graph, set(names), action, force)
        ns = plan.names
        if action is Action.START:
            for n in ns:
                plan.prereq[n] = graph.order[n] & ns
                plan.blockers[n] = graph.hard[n] & ns
        else:  # reversed edges, built once (not a scan of ns per name)
            for n in ns:
                plan.prereq[n] = set()
                plan.blockers[n] = set()
            for m in ns:
                for n in graph.order[m] & ns:
                    plan.prereq[n].add(m)
                if not force:
                    for n in graph.hard[m] & ns:
                        plan.blockers[n].add(m)
        for n in ns:
            plan.unlocks.setdefault(n, set())
            plan.dooms.setdefault(n, set())
        for n in ns:
            for p in plan.prereq[n]:
                plan.unlocks[p].add(n)
            for b in plan.blockers[n]:
                plan.dooms[b].add(n)
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
