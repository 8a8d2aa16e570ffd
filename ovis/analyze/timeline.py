"""Per-service start timings gathered from LIVE, the input of every analysis.

The engine records, in each service's state file (``LIVE/state/NAME.json``),
the wall-clock times its last start began and ended (``timings``), and the
outcome (``state``, ``reason``, ``detail``).  That is all ``analyze`` needs:
it runs after the fact, as a short-lived client, and never asks s6 anything,
so it works the same on a live system, on a copy of a LIVE directory taken
from a broken machine, or on hand-made files in a test.

The *outcome of the start* has to be inferred, because the state file holds
the *latest* transition: a service that started fine and was stopped later
says ``state: down, reason: stopped``, and one whose stop failed says
``state: failed``.  The rule (see :func:`start_outcome`) is: if a stop was
recorded after the start ended, the start itself went well (a service whose
start failed is not up, so there was nothing to stop); otherwise the state
and reason are those of the start.

Times are epoch seconds.  The *origin* of the timeline is when stage 1 of
``ovis boot`` began (``LIVE/boot.json``), so that ``@T`` reads as "seconds
since boot" like ``systemd-analyze``; on a system where ovis does not run as
init (no boot.json) it is the earliest recorded start.
"""

from __future__ import annotations

import os
from typing import Any

from ovis.engine import state as statefile
from ovis.paths import Paths
from ovis.record import Frozen, Record
from ovis.service.model import Service

#: Outcome classes, in the words of the plot legend and the JSON ``outcome``.
OK = "ok"
FAILED = "failed"
DEPENDENCY_FAILED = "dependency-failed"

#: Reason recorded for a service whose start failed for lack of a reason.
UNKNOWN_REASON = "failed"


class Entry(Frozen):
    """How one service's last start went.

    ``begun``/``ended`` are epoch seconds.  A service that was never really
    run because a hard dependency failed has ``begun == ended`` (the moment
    the dependency failed) and ``reason == "dependency-failed"``.
    """

    __slots__ = ("name", "type", "begun", "ended", "ok", "reason", "detail")

    def __init__(self, name: str, type: str | None, begun: float, ended: float, ok: bool,
                 reason: str | None = None, detail: str = "") -> None:
        s = object.__setattr__
        s(self, "name", name)
        s(self, "type", type)  # longrun | oneshot; None when the service is no longer compiled
        s(self, "begun", begun)
        s(self, "ended", ended)
        s(self, "ok", ok)
        s(self, "reason", reason)  # None when ok
        s(self, "detail", detail)

    @property
    def duration(self) -> float:
        """Seconds the start took (never negative, even if the clock stepped back)."""
        return max(0.0, self.ended - self.begun)

    @property
    def outcome(self) -> str:
        """``ok``, ``failed`` or ``dependency-failed``: the three colours of the plot."""
        if self.ok:
            return OK
        return DEPENDENCY_FAILED if self.reason == DEPENDENCY_FAILED else FAILED

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type,
            "begun": self.begun, "ended": self.ended,
            "duration": round(self.duration, 6),
            "ok": self.ok, "reason": self.reason, "detail": self.detail,
        }


class Timeline(Record):
    """Everything an analysis needs: timings, the live services, the origin."""

    __slots__ = ("entries", "services", "origin", "origin_source")

    def __init__(self, entries: dict[str, Entry], services: dict[str, Service] | None = None,
                 origin: float = 0.0, origin_source: str = "first-start") -> None:
        self.entries = entries
        self.services = {} if services is None else services
        self.origin = origin
        self.origin_source = origin_source  # "boot": LIVE/boot.json stage1_start

    def at(self, t: float) -> float:
        """*t* as seconds since the origin."""
        return t - self.origin

    @property
    def end(self) -> float:
        """The last recorded end of a start (the origin when nothing started)."""
        return max((e.ended for e in self.entries.values()), default=self.origin)

    def by_start(self) -> list[Entry]:
        """Entries in the order their starts began (name breaks ties): the plot's rows."""
        return sorted(self.entries.values(), key=lambda e: (e.begun, e.ended, e.name))


def start_outcome(st: statefile.ServiceState) -> tuple[bool, str | None, str]:
    """(ok, reason, detail) of the last *start* recorded in *st*.

    A stop recorded after the start ended means the start had succeeded;
    whatever ``state`` says now is about that stop (see the module notes).
    """
    t = st.timings
    stopped_later = ("stop_begun" in t and "start_ended" in t
                     and t["stop_begun"] >= t["start_ended"])
    if st.state == "failed" and not stopped_later:
        return False, st.reason or UNKNOWN_REASON, st.detail or ""
    if st.reason == "reset" and st.reset_from and not stopped_later:
        return False, st.reset_from[0] or UNKNOWN_REASON, st.reset_from[1] if len(st.reset_from) > 1 else ""
    if stopped_later and st.crashes:
        return False, "crashed", f"died {st.crashes} time{'s' if st.crashes != 1 else ''} before it was stopped"
    return True, None, ""


def entry_of(st: statefile.ServiceState, svc: Service | None) -> Entry | None:
    """The :class:`Entry` of a state record, or None when it holds no start."""
    t = st.timings
    try:
        begun, ended = float(t["start_begun"]), float(t["start_ended"])
    except (KeyError, TypeError, ValueError):
        return None
    ok, reason, detail = start_outcome(st)
    return Entry(st.name, svc.kind.value if svc is not None else None,
                 begun, ended, ok, reason, detail)


def boot_start(paths: Paths) -> float | None:
    """``stage1_start`` of ``LIVE/boot.json`` when this LIVE was set up by ``ovis boot``."""
    from ovis.boot.shutdown import boot_info
    from ovis.errors import OvisError

    try:
        value = boot_info(paths.live).get("stage1_start")
    except OvisError:
        return None
    except AttributeError:  # boot.json is not an object
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def state_names(paths: Paths) -> list[str]:
    """Names that have a state file (a service removed from LIVE may still have one)."""
    try:
        files = os.listdir(paths.state)
    except OSError:
        return []
    return sorted(f[:-5] for f in files if f.endswith(".json") and not f.startswith("."))


def gather(paths: Paths) -> Timeline:
    """Read every state file and compiled service of LIVE into a :class:`Timeline`.

    The origin is boot's stage-1 start when known and not later than the
    first recorded start (a LIVE directory copied between machines, or a
    clock that stepped, must not produce negative times); otherwise it is
    the first recorded start.
    """
    from ovis.service.compiler import compiled_services

    services = compiled_services(paths)
    entries: dict[str, Entry] = {}
    for name in sorted(set(state_names(paths)) | set(services)):
        st = statefile.load(paths, name)
        if st is None:
            continue
        e = entry_of(st, services.get(name))
        if e is not None:
            entries[name] = e
    return make_timeline(entries, services, boot_start(paths))


def make_timeline(entries: dict[str, Entry], services: dict[str, Service] | None = None,
                  stage1_start: float | None = None) -> Timeline:
    """A :class:`Timeline` with its origin chosen as :func:`gather` explains."""
    first = min((e.begun for e in entries.values()), default=None)
    if stage1_start is not None and (first is None or stage1_start <= first):
        origin, source = stage1_start, "boot"
    else:
        origin, source = (first if first is not None else 0.0), "first-start"
    return Timeline(entries, dict(services or {}), origin, source)



def seconds(t: float) -> str:
    """``0.205s``, ``12.300s``, ``2min 3.400s``: millisecond precision at any size.

    ``analyze`` compares times that differ by milliseconds even minutes into
    a boot, so it does not round like the status table's ``duration()``.
    """
    sign = "-" if t < 0 else ""
    t = abs(t)
    if t < 60:
        return f"{sign}{t:.3f}s"
    m, s = divmod(t, 60)
    return f"{sign}{int(m)}min {s:.3f}s"
