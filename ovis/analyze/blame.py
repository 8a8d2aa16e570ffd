"""``analyze blame``: which starts took longest.

Like ``systemd-analyze blame``, the list is sorted by each service's own
start time, longest first.  Unlike it, failed starts are listed too (marked
with their reason): a service that timed out after 60 s is exactly what a
user hunting a slow boot wants to see (systemd#8182).  Services that were
never run because a dependency failed appear with a zero duration, so the
list also answers "what did not come up".

The durations overlap (starts run in parallel), so their sum is not the
boot time: ``critical-chain`` answers that question.
"""

from __future__ import annotations

from typing import Any

from ovis.analyze.timeline import Entry, Timeline


def blame(tl: Timeline) -> list[Entry]:
    """Entries sorted by duration, longest first; equal durations by name."""
    return sorted(tl.entries.values(), key=lambda e: (-e.duration, e.name))


def outcome_text(e: Entry) -> str:
    """``ok``, or the failure reason with its detail: ``timed-out (no readiness after 0.5s)``."""
    if e.ok:
        return "ok"
    reason = e.reason or "failed"
    return f"{reason} ({e.detail})" if e.detail else reason


def blame_json(tl: Timeline) -> list[dict[str, Any]]:
    """The ``--json`` form: ``{name, type, begun, ended, duration, ok, reason, detail}``."""
    return [e.as_json() for e in blame(tl)]
