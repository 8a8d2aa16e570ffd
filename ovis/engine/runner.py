"""Drive a :class:`Plan` with real work, in parallel, from one thread.

Every running transition is a :class:`Job` exposing one file descriptor (an
s6 event fifo, a pidfd) and an optional deadline; a single ``selectors`` loop
waits on all of them at once.  No threads, no busy polling: the loop wakes
only when s6 or the kernel has something to say, or a deadline passes.
"""

from __future__ import annotations

import heapq
import selectors
import time
from collections.abc import Callable

TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # Job and Backend are for the type checker

from ovis.engine.transaction import Action, Plan, Reason, Result
from ovis.linux import procs


class Job(Protocol):
    deadline: float | None  # monotonic; None = no timeout

    def fileno(self) -> int | None: ...

    def on_readable(self, now: float) -> Result | None: ...

    def on_timeout(self, now: float) -> Result | None:
        """Called at the deadline: a final result, or None after moving the deadline."""
        ...

    def close(self) -> None: ...


class Backend(Protocol):
    def begin(self, name: str, action: Action, now: float) -> "Job | Result": ...

    def finish(self) -> None:
        """Called once when the transaction is over (reap helpers, close fds)."""
        ...


Report = Callable[[str, Result], None]
#: Told the name of each service just before its transition begins (after its
#: prerequisites settled): aa-start prints anopa's "Starting X..." there.
OnBegin = Callable[[str], None]
#: Asked whenever the loop wakes (at least every INTERRUPT_POLL seconds): True
#: ends the transaction at once (a shutdown request wins over a start).
Interrupted = Callable[[], bool]
INTERRUPT_POLL = 0.25
#: Called after each round of beginnings (and once when the run ends, even
#: by an exception): the caller's deferred work, e.g. state records, done
#: once the services a settlement made runnable have been sent their command.
Flush = Callable[[], None]
#: Called whenever the loop would wait: a slice of background work (the cold
#: start's compile, ovis.engine.install); True while more remains, and the
#: loop then only polls for events before calling it again.  Its argument
#: says whether an event waits (a job's fd is readable): the work ends its
#: slice early then, so that the event is handled now, not after a batch
#: (a readiness chain's next link waited for a 32-service compile).
Work = Callable[[Callable[[], bool]], bool]


class Runner:
    def __init__(self, plan: Plan, backend: Backend, report: Report,
                 clock: Callable[[], float] = time.monotonic,
                 on_begin: OnBegin | None = None,
                 interrupted: Interrupted | None = None,
                 flush: Flush | None = None, work: Work | None = None) -> None:
        self.plan = plan
        self.flush = flush
        self.work = work
        #: settled jobs, closed after the next round of beginnings: from an
        #: event to the next service's command nothing else is done
        self._closing: list[Job] = []
        self.interrupted = interrupted
        self.backend = backend
        self.report = report
        self.clock = clock
        self.on_begin = on_begin
        self.sel = selectors.DefaultSelector()
        self.jobs: dict[str, Job] = {}
        self.begun: dict[str, tuple[float, float]] = {}  # name -> (monotonic, wall)
        self._timers: list[tuple[float, int, str]] = []  # (deadline, seq, name) heap
        self._armed: dict[str, float] = {}  # name -> the deadline it has in the heap
        self._seq = 0
        #: the backend's ``prepare(name)`` if it has one (S6Backend: subscribe ahead)
        self._prepare = getattr(backend, "prepare", None)
        #: services just begun or settled, whose dependents may be prepared
        self._moved: list[str] = []
        self._prepared: set[str] = set()

    def run(self) -> dict[str, Result]:
        """Run the plan to completion; ``report`` is called once per settled service."""
        plan = self.plan
        try:
            while not plan.done:
                if self.interrupted is not None and self.interrupted():
                    self._interrupt()
                    break
                self._begin_runnable()
                self._after_round()
                if plan.done:
                    break
                busy = self.work is not None and self.work(self._event_waits)
                if not self.jobs and not busy:  # nothing running, nothing runnable: impossible on a DAG
                    raise RuntimeError("transaction stalled: " + ", ".join(sorted(plan.pending)))
                now = self.clock()
                first = self._next_deadline()
                wait = None if first is None else max(0.0, first - now)
                if busy:
                    wait = 0.0
                if self.interrupted is not None:
                    wait = INTERRUPT_POLL if wait is None else min(wait, INTERRUPT_POLL)
                if self._moved and not busy:
                    self._prepare_next()
                events = self.sel.select(wait)
                now = self.clock()
                procs.new_round()  # the leftover checks of this wake-up share one /proc listing
                try:
                    for key, _ in events:
                        job = self.jobs.get(key.data)
                        if job is not None:
                            res = job.on_readable(now)
                            if res is not None:
                                self._settle(key.data, res, now)
                finally:
                    procs.end_round()
                for name, job in self._due(now):
                    res = job.on_timeout(now)
                    if res is not None:
                        self._settle(name, res, now)
                    else:
                        self._arm(name, job)  # it moved its deadline (or dropped it)
        finally:
            try:
                self._after_round()
            finally:
                for job in self.jobs.values():
                    job.close()
                self.sel.close()
                self.backend.finish()
        return plan.results

    def _event_waits(self) -> bool:
        """Whether a job's fd is readable now (epoll, level-triggered: nothing is consumed)."""
        return bool(self.jobs) and bool(self.sel.select(0))

    def _prepare_next(self) -> None:
        """Let the backend get ready for the services whose last unsettled
        prerequisite has begun: done while the loop would only wait, so that
        the path from that prerequisite's event to their command is shorter."""
        moved, self._moved = self._moved, []
        prepare = self._prepare
        if prepare is None:
            return
        plan = self.plan
        for m in moved:
            for n in plan.unlocks.get(m, ()):
                if plan.waiting[n] == 1 and n in plan.pending and n not in self._prepared:
                    self._prepared.add(n)
                    prepare(n)

    def _after_round(self) -> None:
        closing, self._closing = self._closing, []
        sel = self.sel
        for job in closing:
            fd = job.fileno()
            if fd is not None:  # unregistered here, after the next commands were sent
                try:
                    sel.unregister(fd)
                except (KeyError, ValueError):
                    pass
            job.close()
        if self.flush is not None:
            self.flush()

    # Deadlines: a heap, not a scan of every job at every wake-up (that made a
    # 1000-service transaction quadratic).  A job moves its deadline only in
    # on_timeout (the Job protocol), after which it is armed again; entries
    # whose job settled or moved on are dropped when they surface.
    def _arm(self, name: str, job: Job) -> None:
        d = job.deadline
        if d is not None and self._armed.get(name) != d:
            self._armed[name] = d
            self._seq += 1
            heapq.heappush(self._timers, (d, self._seq, name))

    def _live_top(self) -> tuple[float, int, str] | None:
        timers = self._timers
        while timers:
            d, _, name = timers[0]
            job = self.jobs.get(name)
            if job is not None and job.deadline == d and self._armed.get(name) == d:
                return timers[0]
            heapq.heappop(timers)
            if job is not None and job.deadline is not None and job.deadline != d:
                self._armed.pop(name, None)
                self._arm(name, job)
        return None

    def _next_deadline(self) -> float | None:
        top = self._live_top()
        return None if top is None else top[0]

    def _due(self, now: float) -> list[tuple[str, Job]]:
        """Jobs whose deadline passed, earliest first (begin order on a tie)."""
        out = []
        while (top := self._live_top()) is not None and top[0] <= now:
            heapq.heappop(self._timers)
            name = top[2]
            self._armed.pop(name, None)
            out.append((name, self.jobs[name]))
        return out

    def _interrupt(self) -> None:
        """Settle everything still open as interrupted; what is up stays up
        (the shutdown's stop takes it down), running scripts are ended."""
        now = self.clock()
        for name in sorted(self.plan.running | self.plan.pending):
            res = Result(False, Reason.INTERRUPTED, detail="shutdown requested")
            if name in self.plan.running:
                self._settle(name, res, now)
            else:
                res.begun = res.ended = now
                res.wall_begun = res.wall_ended = time.time()
                self.plan._settle(name, res)
                self.report(name, res)

    def _begin_runnable(self) -> None:
        # Beginning a job may settle it at once (already up, no script...),
        # which can make more services runnable: loop until nothing new begins.
        while names := self.plan.runnable():
            for name in names:
                now = self.clock()
                self.plan.begin(name)
                if self.on_begin is not None:
                    self.on_begin(name)
                self.begun[name] = (now, time.time())
                started = self.backend.begin(name, self.plan.action, now)
                if isinstance(started, Result):
                    self._settle(name, started, now)
                    continue
                self.jobs[name] = started
                self._arm(name, started)
                fd = started.fileno()
                if fd is not None:
                    self.sel.register(fd, selectors.EVENT_READ, name)
                if self._prepare is not None:
                    self._moved.append(name)

    def _settle(self, name: str, res: Result, now: float) -> None:
        job = self.jobs.pop(name, None)
        if job is not None:
            # Unregistered and closed after the next round of beginnings: its
            # fd stays open (not reused) until then, and no select runs between.
            self._closing.append(job)
        wall_now = time.time()
        mono, wall = self.begun.pop(name, (now, wall_now))
        if res.begun is None:
            res.begun, res.wall_begun = mono, wall
        if res.ended is None:
            res.ended, res.wall_ended = now, wall_now
        self.report(name, res)
        for n, r in self.plan.complete(name, res):
            self.report(n, r)
        if self._prepare is not None:
            self._moved.append(name)  # a dependent may now wait on one running service only


def run(plan: Plan, backend: Backend, report: Report,
        clock: Callable[[], float] = time.monotonic,
        on_begin: OnBegin | None = None,
        interrupted: Interrupted | None = None,
        flush: Flush | None = None, work: Work | None = None) -> dict[str, Result]:
    return Runner(plan, backend, report, clock, on_begin, interrupted, flush, work).run()
