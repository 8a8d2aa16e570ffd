"""What aa-status shows of a service: s6's view or ovis's, and anopa's filters.

anopa 0.5.0's rules (src/anopa/aa-status.c): a longrun's state is what s6's
``supervise/status`` says, unless a failure ovis recorded (dependency
failed, ...) is newer; a oneshot's is anopa's event, derived from ovis's
state file (:func:`ovis.aa.repo.anopa_event`).  So aa-status agrees with
``ovis --live REPODIR status``.  How an :class:`Entry` is drawn is the
tool's (ovis/cli/aa/status.py).
"""

from __future__ import annotations

from ovis.record import Record
from ovis.s6.status import SupervisorStatus

from . import codes as C
from . import repo as R

TYPE_FILTERS = {
    "os": "oneshot", "oneshot": "oneshot",
    "lr": "longrun", "longrun": "longrun",
    "all": "all", "os+lr+log": "all",
    "log": "log",
    "logged": "logged", "lr+log": "logged",
}  # fmt: skip
STATUS_FILTERS = {
    "up": "up", "start": "up", "started": "up",
    "down": "down", "stop": "down", "stopped": "down",
    "error": "error", "fail": "error", "failed": "error",
}  # fmt: skip


class Entry(Record):
    __slots__ = ("name", "longrun", "readiness", "anopa", "s6", "is_s6", "stamp")

    def __init__(self, name: str, longrun: bool, readiness: bool, anopa: R.AnopaStatus,
                 s6: SupervisorStatus | None, is_s6: bool, stamp: float | None) -> None:
        self.name = name
        self.longrun = longrun
        self.readiness = readiness
        self.anopa = anopa
        self.s6 = s6
        self.is_s6 = is_s6
        self.stamp = stamp

    @property
    def no_status(self) -> bool:
        return not self.is_s6 and self.anopa.event == C.EVT_NONE


def match_status(e: Entry, want: str) -> bool:
    if e.is_s6:
        assert e.s6 is not None
        return ("up" if e.s6.up else "down") == want
    ev = e.anopa.event
    if ev in (C.EVT_STARTED, C.EVT_STOPPING):
        return want == "up"
    if ev in (C.EVT_NONE, C.EVT_STOPPED, C.EVT_STARTING):
        return want == "down"
    if ev in (C.EVT_ERROR, C.EVT_STARTING_FAILED, C.EVT_START_FAILED):
        return want in ("error", "down")
    return want in ("error", "up")  # stopping failed, stop failed


def type_matches(ftype: str | None, name: str, longrun: bool) -> bool:
    """-f oneshot|longrun|log|logged|all (None: no type filter)."""
    if ftype in (None, "all"):
        return True
    if longrun != (ftype != "oneshot"):
        return False
    return not (ftype == "log" and not R.is_logger(name))


def entry_for(services: R.Services, name: str, longrun: bool, ready_stamp: bool) -> Entry:
    """The state aa-status shows for *name*; *ready_stamp*: a ready longrun's time is
    when it became ready (the -L list), else when it went up or down."""
    st = services.state(name)
    if longrun:
        # s6 knows better, but for a failure ovis recorded after it
        anopa = R.anopa_event(st) if st is not None and st.state == "failed" else R.AnopaStatus()
    else:
        anopa = R.anopa_event(st)
    s6 = services.s6(name) if longrun else None
    is_s6 = s6 is not None and (anopa.stamp is None or anopa.stamp < s6.stamp)
    stamp: float | None
    if is_s6:
        assert s6 is not None
        stamp = s6.ready_stamp if ready_stamp and s6.ready_flag else s6.stamp
    else:
        stamp = anopa.stamp
    return Entry(name, longrun, longrun and services.readiness(name), anopa, s6, is_s6, stamp)
