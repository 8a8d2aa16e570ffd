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

    @property
    def elapsed(self) -> float:
        if self.begun is None or self.ended is None:
            return 0.0
        return self.ended - self.begun


@dataclass
class Plan:
    """The state of one transaction over the services of ``graph``."""

    graph: Graph
    names: set[str]
    action: Action
    force: bool = False  # stop: a dependent that failed to stop blocks nothing
    prereq: dict[str, set[str]] = field(default_factory=dict)
    blockers: dict[str, set[str]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    results: dict[str, Result] = field(default_factory=dict)

    @classmethod
    def make(cls, graph: Graph, names: Iterable[str], action: Action, force: bool = False) -> "Plan":
        plan = cls(graph, set(names), action, force)
        ns = plan.names
        for n in ns:
            if action is Action.START:
                plan.prereq[n] = graph.order[n] & ns
                plan.blockers[n] = graph.hard[n] & ns
            else:
                plan.prereq[n] = {m for m in ns if n in graph.order[m]}
                plan.blockers[n] = set() if force else {m for m in ns if n in graph.hard[m]}
        plan.pending = set(ns)
        return plan

    def runnable(self) -> list[str]:
        """Pending services whose prerequisites have all settled."""
        out = [n for n in self.pending if not (self.prereq[n] - self.results.keys())]
        out.sort()
        return out

    def begin(self, name: str) -> None:
        self.pending.discard(name)
        self.running.add(name)

    def complete(self, name: str, result: Result) -> list[tuple[str, Result]]:
        """Record *result*; return the services that fail because of it."""
        self.running.discard(name)
        self.pending.discard(name)
        self.results[name] = result
        cascaded: list[tuple[str, Result]] = []
        if result.ok:
            return cascaded
        failed = [name]
        while failed:
            f = failed.pop()
            for n in sorted(self.pending):
                if f in self.blockers[n]:
                    r = Result(False, Reason.DEPENDENCY_FAILED, detail=f,
                               begun=result.ended, ended=result.ended,
                               wall_begun=result.wall_ended, wall_ended=result.wall_ended)
                    self.pending.discard(n)
                    self.results[n] = r
                    cascaded.append((n, r))
                    failed.append(n)
        return cascaded

    @property
    def done(self) -> bool:
        return not self.pending and not self.running

    def failed(self) -> list[str]:
        return sorted(n for n, r in self.results.items() if not r.ok)
