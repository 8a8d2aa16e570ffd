"""``ovis apply``: bring LIVE in line with the definitions on disk.

What 66 calls reconfigure and s6-rc ``s6-rc-update``: compile every
definition again and compare the compiler's digest with the one recorded
in ``LIVE/sv/NAME/ovis.json``.  A service whose compiled form is the same
is not touched (same pid); one whose form changed is recompiled and, when
it was up, restarted; one whose definition is gone is stopped and removed
from LIVE.  Every definition is parsed before anything changes, so a typo
is an exit 2 with LIVE as it was.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from ovis.errors import UnknownService
from ovis.record import Record
from ovis.engine.drift import compiled_digest
from ovis.service.model import Service

if TYPE_CHECKING:
    from ovis.engine.manager import Manager, Outcome

#: Actions of a plan, in the words ``ovis apply`` prints.
RESTART = "restart"      # compiled form changed, service was up
RECOMPILE = "recompile"  # compiled form changed, service was down: nothing to restart
REMOVE = "remove"        # definition gone: stop (if up) and remove from LIVE


class Change(Record):
    __slots__ = ("name", "action", "why")

    def __init__(self, name: str, action: str, why: str) -> None:
        self.name = name
        self.action = action
        self.why = why


class ApplyPlan(Record):
    __slots__ = ("changes", "unchanged", "services")

    def __init__(self, changes: list[Change] | None = None, unchanged: list[str] | None = None,
                 services: dict[str, Service] | None = None) -> None:
        self.changes = [] if changes is None else changes
        self.unchanged = [] if unchanged is None else unchanged
        self.services = {} if services is None else services  # new models of changed ones

    def of(self, action: str) -> list[str]:
        return [c.name for c in self.changes if c.action == action]


def plan(manager: Manager, names: list[str] | None = None) -> ApplyPlan:
    """What ``apply`` would do; raises (exit 2) on any broken definition.

    With *names*, only those (each must be compiled or defined); without,
    every service compiled in LIVE.  A service defined but never compiled
    is not started by apply: that is ``ovis start``'s job.
    """
    from ovis.engine.status import service_status

    live = manager.live_services()
    targets = list(dict.fromkeys(names)) if names else sorted(live)
    for n in targets:
        if n not in live and manager.repo.locate(n) is None:
            raise UnknownService(n)
    out = ApplyPlan()
    present = [n for n in targets if n in live and manager.repo.locate(n) is not None]
    new = manager.load(present) if present else {}  # every error before any change
    for n in targets:
        if n not in live:
            out.unchanged.append(n)  # defined, never compiled: nothing to apply
            continue
        st = service_status(manager.paths, live[n], True)
        running = st["state"] == "up" or st.get("wanted") == "up"
        if n not in new:
            out.changes.append(Change(n, REMOVE, "definition deleted"
                                      + (", was up" if running else "")))
            continue
        if manager.compiler.digest(new[n]) == compiled_digest(manager, n):
            out.unchanged.append(n)
            continue
        out.services[n] = new[n]
        out.changes.append(Change(n, RESTART if running else RECOMPILE, "definition changed"))
    return out


def execute(manager: Manager, p: ApplyPlan) -> list[Outcome]:
    """Carry out *p*: stop and remove, recompile, restart.  Returns the transactions run."""
    from ovis.engine import state as statefile

    outcomes: list[Outcome] = []
    gone = p.of(REMOVE)
    restart = p.of(RESTART)
    if gone:
        outcomes.append(manager.stop(gone))
        remove_from_live(manager, gone)
    for n in p.of(RECOMPILE):
        with statefile.Lock(manager.paths, manager.reporter.message):
            manager.compiler.compile(p.services[n])
    if restart:
        stopped = manager.stop(restart)
        was_up = [n for n, r in stopped.results.items() if r.ok and not r.already]
        outcomes.append(stopped)
        outcomes.append(manager.start(list(dict.fromkeys(restart + was_up))))
    return outcomes


def remove_from_live(manager: Manager, names: list[str]) -> None:
    """Unlink stopped services from the scandir, let s6-svscan drop them, delete their dirs.

    Their state files go too: a service whose definition is gone leaves
    ``status``, ``analyze blame``, ``plot`` and ``dot``.
    """
    from ovis.engine import state as statefile
    from ovis.s6.control import svscan_running, svscan_send

    with statefile.Lock(manager.paths, manager.reporter.message):
        unlinked = [n for n in names if manager.compiler.unlink(n)]
        if unlinked and svscan_running(manager.paths.scandir):
            svscan_send(manager.paths.scandir, "an")  # rescan, then end the orphaned supervisors
            _wait_unsupervised(manager, unlinked)
        for n in names:
            shutil.rmtree(manager.paths.servicedir(n), ignore_errors=True)
            statefile.remove(manager.paths, n)


def _wait_unsupervised(manager: Manager, names: list[str], timeout: float = 5.0) -> None:
    import time

    from ovis.s6.control import is_supervised

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(is_supervised(manager.paths.servicedir(n)) for n in names):
            return
        time.sleep(0.02)
