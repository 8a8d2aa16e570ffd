"""``ovis reset`` (systemd's reset-failed): clear a failure, keep its history.

A failed service stays failed in ``ovis status`` until it starts again or
its failure is cleared.  Clearing marks it down with reason ``reset``; the
failure (reason and detail) is kept in the state file so that ``analyze``
still shows what happened at boot.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ovis.engine import state as statefile
from ovis.errors import NotSupervised

if TYPE_CHECKING:
    from ovis.engine.manager import Manager


def reset_failed(manager: Manager, names: list[str] | None) -> list[str]:
    """Clear the failure of *names* (None: of every failed service); returns who was reset.

    Names that are not failed are left alone; unknown names raise before
    anything is changed.
    """
    from ovis.engine.status import gather
    from ovis.s6 import control

    items = gather(manager, names or None)  # UnknownService for a name that is nothing
    failed = [it for it in items if it["state"] == "failed"]
    done = []
    with statefile.Lock(manager.paths, manager.reporter.message):
        for it in failed:
            n = it["name"]
            st = statefile.load(manager.paths, n) or statefile.ServiceState(n)
            st.reset_from = [it.get("reason") or "", it.get("detail") or ""]
            st.state, st.wanted, st.reason, st.since = "down", "down", "reset", time.time()
            statefile.save(manager.paths, st)
            if it["type"] == "longrun" and it.get("compiled"):
                try:  # s6 gave up or is still trying: either way, down is what is wanted now
                    control.send(manager.paths.servicedir(n), "D")
                except NotSupervised:
                    pass
            done.append(n)
    return done
