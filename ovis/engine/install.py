"""Compile and link a start's servicedirs while its transaction runs.

Why: a cold start of hundreds used to write every servicedir before the
first service was sent its command, so the supervisors and the services
waited for the last compile.  Every definition has been parsed, validated
and its graph checked before an :class:`Installer` exists (bad input is an
exit 2 with nothing written), so what is left is I/O that can overlap with
the services starting: the runner asks for a batch between its waits
(:meth:`Installer.step`, in dependency order, roots first) and a service
it is about to begin is compiled at once if its turn had not come yet
(:meth:`Installer.ensure`).

A longrun with no prerequisite in the transaction whose servicedir is
created now gets no ``down`` file: s6-supervise starts it the moment
s6-svscan spawns it, as raw s6-svscan would, instead of waiting for the
transaction to send ``U`` to a supervisor that announced itself.  Its job
then watches it come up like any other (:attr:`Installer.fresh`: an up
service it finds is a start done now, not an "already up").

The LIVE lock is taken per batch, never across the waits (the transaction's
claims keep other commands off these services meanwhile), and s6-svscan is
told to rescan once per batch that linked new longruns: a few rescans, not
one per service, so its scans do not starve the supervisors on two cores.
"""

from __future__ import annotations

from collections import deque
TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)

from ovis import atomic
from ovis.engine import state as statefile
from ovis.engine.transaction import Action, Plan, Result
from ovis.service.model import Kind, Service

if TYPE_CHECKING:
    from typing import Callable, Mapping

    from ovis.engine.runner import Backend, Job
    from ovis.paths import Paths
    from ovis.service.compiler import Compiler

#: Services compiled per :meth:`Installer.step` (the first one is smaller:
#: the roots' supervisors are spawned while the rest is written).
FIRST_BATCH = 8
BATCH = 32


def dependency_order(plan: Plan) -> list[str]:
    """The plan's services, each after its prerequisites (Kahn's algorithm, by name)."""
    waiting = {n: len(p) for n, p in plan.prereq.items()}
    level = sorted(n for n, w in waiting.items() if w == 0)
    out: list[str] = []
    while level:
        out.extend(level)
        nxt = []
        for n in level:
            for m in plan.unlocks.get(n, ()):
                waiting[m] -= 1
                if waiting[m] == 0:
                    nxt.append(m)
        level = sorted(nxt)
    if len(out) < len(waiting):  # a cycle (checked at load): whatever is left, by name
        seen = set(out)
        out.extend(sorted(n for n in waiting if n not in seen))
    return out


class Installer:
    """Writes the servicedirs of one start, as the transaction needs them."""

    def __init__(self, paths: Paths, compiler: Compiler, services: Mapping[str, Service],
                 plan: Plan, on_wait: Callable[[str], None] | None = None) -> None:
        self.paths = paths
        self.compiler = compiler
        self.services = services
        self.on_wait = on_wait
        self.todo = deque(dependency_order(plan))
        self.roots = {n for n, p in plan.prereq.items() if not p}
        self.done: set[str] = set()
        #: longruns created now without a ``down`` file (started by s6-supervise itself)
        self.fresh: set[str] = set()
        self._batches = 0
        self._unannounced = 0  # new links s6-svscan was not told about yet
        self._unannounced_names: set[str] = set()
        self._begun_unannounced = False  # one of them began: rescan at the flush
        self._links = 0  # new links made in all
        self._svscan: bool | None = None

    @property
    def busy(self) -> bool:
        """Whether servicedirs are still to be written."""
        while self.todo and self.todo[0] in self.done:
            self.todo.popleft()
        return bool(self.todo)

    def step(self, pending: Callable[[], bool] | None = None) -> bool:
        """Write the next batch (in dependency order); True while more remain.

        *pending* is asked after each service: True (an event waits for the
        runner) ends the step there, the rest of the batch first in line for
        the next one.  s6-svscan is told about the new links at the end of a
        whole batch, or once FIRST_BATCH of them wait: not at every short
        step (each rescan is a scan of the whole scandir).
        """
        batch = self._next_batch([])
        done = self._install(batch, pending) if batch else 0
        if done < len(batch):
            self.todo.extendleft(reversed(batch[done:]))
        if done == len(batch) or self._unannounced >= FIRST_BATCH:
            self.rescan()
        return self.busy

    def ensure(self, name: str) -> None:
        """*name*'s servicedir written (now, if its turn had not come).

        The next ones in dependency order are written with it, under the
        same lock: a runner beginning hundreds at once takes it once per
        batch, not once per service.
        """
        if name not in self.done:
            self._install(self._next_batch([name]))

    def _next_batch(self, batch: list[str]) -> list[str]:
        size = FIRST_BATCH if self._batches == 0 else BATCH
        while self.todo and len(batch) < size:
            n = self.todo.popleft()
            if n not in self.done and n not in batch:
                batch.append(n)
        return batch

    def begun(self, name: str) -> None:
        """*name* begins: if s6-svscan was not told about its link yet, the
        next :meth:`rescan_begun` tells it (its job waits for the supervisor)."""
        if name in self._unannounced_names:
            self._begun_unannounced = True

    def rescan_begun(self) -> None:
        """:meth:`rescan` if a service that began since needs it (the runner's flush)."""
        if self._begun_unannounced:
            self.rescan()

    def rescan(self) -> None:
        """Tell s6-svscan about the links made since it was last told."""
        self._begun_unannounced = False
        if not self._unannounced:
            return
        self._unannounced_names.clear()
        from ovis.s6.control import svscan_running, svscan_send

        if self._svscan is None:
            self._svscan = svscan_running(self.paths.scandir_str)
        if self._svscan:
            try:
                svscan_send(self.paths.scandir_str, "a")
            except OSError:
                pass  # it exited meanwhile: the jobs will time out waiting for supervisors
        self._unannounced = 0

    def _install(self, names: list[str], pending: Callable[[], bool] | None = None) -> int:
        """Write *names* (all, or up to where *pending* said stop); how many were written."""
        comp = self.compiler
        with statefile.Lock(self.paths, self.on_wait):
            if self._batches == 0:
                atomic.clean_stale_temporaries(
                    [self.paths.servicedirs_str, self.paths.scandir_str, self.paths.state_str])
            self._batches += 1
            # An OSError (a full LIVE) ends the transaction as it ended the
            # compile before it: one error line, what is running stays so.
            for i, n in enumerate(names):
                if i and pending is not None and pending():
                    return i
                self.done.add(n)
                svc = self.services[n]
                longrun = svc.kind is Kind.LONGRUN
                up = longrun and (svc.earlier or n in self.roots)
                created_before = len(comp.created)
                comp.compile(svc, down=not up)
                if longrun and comp.link(n):
                    self._unannounced += 1
                    self._unannounced_names.add(n)
                    self._links += 1
                    if up and len(comp.created) > created_before:
                        self.fresh.add(n)
                    # the 1st, the 8th and every BATCH-th new link at once:
                    # the first supervisors spawn while the rest is written
                    if self._links in (1, FIRST_BATCH) or self._unannounced >= BATCH:
                        self.rescan()
        return len(names)


class InstallingBackend:
    """A backend whose services are installed just before they begin."""

    def __init__(self, inner: Backend, installer: Installer) -> None:
        self.inner = inner
        self.installer = installer
        if hasattr(inner, "fresh"):  # S6Backend: its jobs tell a fresh start from "already up"
            inner.fresh = installer.fresh  # type: ignore[attr-defined]

    def begin(self, name: str, action: Action, now: float) -> Job | Result:
        self.installer.ensure(name)
        self.installer.begun(name)
        return self.inner.begin(name, action, now)

    def prepare(self, name: str) -> None:
        """The inner backend's, once *name*'s servicedir is written (else nothing ahead)."""
        prep = getattr(self.inner, "prepare", None)
        if prep is not None and name in self.installer.done:
            prep(name)

    def finish(self) -> None:
        self.inner.finish()
