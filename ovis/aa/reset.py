"""aa-reset's rule: which event a oneshot is reset to, and writing it as ovis's state.

What anopa keeps in status.anopa ovis keeps in its state files: resetting to
Started makes the oneshot up (so aa-start and ``ovis start`` leave it
alone), to Stopped makes it down (anopa 0.5.0, src/anopa/aa-reset.c).
"""

from __future__ import annotations

import time

from ovis.engine import state as statefile
from ovis.paths import Paths

from . import codes as C


def reset_to(old: int, mode: str) -> int | None:
    """The event to reset to from *old*, or None to leave it: mode "a" (-a, Started),
    "o" (-o, Stopped) or "A" (-A: a failed start to Started, a failed stop to Stopped)."""
    if old in (C.EVT_STARTING, C.EVT_STOPPING):
        return None
    if mode == "A":
        if old in (C.EVT_STARTING_FAILED, C.EVT_START_FAILED):
            new = C.EVT_STARTED
        elif old in (C.EVT_STOPPING_FAILED, C.EVT_STOP_FAILED):
            new = C.EVT_STOPPED
        else:
            return None
    else:
        new = C.EVT_STARTED if mode == "a" else C.EVT_STOPPED
    return None if old == new else new


def write_reset(paths: Paths, name: str, new: int) -> None:
    """Record *name* as up (EVT_STARTED) or stopped, under the repository's lock.  OSError."""
    st = statefile.load(paths, name) or statefile.ServiceState(name)
    if new == C.EVT_STARTED:
        st.state, st.wanted, st.reason = "up", "up", None
    else:
        st.state, st.wanted, st.reason = "down", "down", "stopped"
    st.exit, st.detail, st.since = None, "", time.time()
    with statefile.Lock(paths):
        statefile.save(paths, st)
