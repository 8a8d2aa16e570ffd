"""What the anopa library reports as it goes, for a tool to print.

anopa prints while it works: "==> ERROR: X: Unknown service" as a name is
loaded, "auto-add: X needs Y" as an edge is found, "Enabled: X" as a
servicedir is made.  The library keeps that order without printing: it
calls a :class:`Notes` at each of those points, with anopa's text already
made (the texts are anopa's rules too); the tool's printer
(``ovis/cli/aa/printer.py``) decides how each looks (colours, "==>" titles,
stdout or stderr).  The same pattern as the engine's
:class:`ovis.engine.manager.Reporter`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from ovis.engine.manager import Reporter
else:  # protocols only type checkers read: typing and the engine (aa-enable needs neither)
    # cost a second of every aa-enable where Python is slow (an emulated CPU, a small board)
    class Protocol:
        pass

    class Reporter:
        pass


class Notes(Protocol):
    """Reported while an aa-start/aa-stop transaction is loaded, or aa-enable runs."""

    def auto_added(self, who: str, verb: str, name: str) -> None:
        """-v: *who* brings in *name* ("needs" or "wants")."""

    def already(self, name: str, text: str) -> None:
        """*name* is left out as it is: "Already up", "Not up"."""

    def warned(self, name: str, text: str) -> None:
        """Something about *name* that does not fail it (a wanted service skipped, a loop broken)."""

    def failed(self, name: str, text: str) -> None:
        """*name* failed, *text* says why ("Unknown service", "Failed dependency: DEP: ...")."""

    def enabled(self, name: str) -> None:
        """aa-enable made the servicedir of *name*."""


class RunNotes(Reporter, Protocol):
    """Reported while a transaction runs: the engine's Reporter calls, and these."""

    def announce_started(self, name: str) -> None:
        """A readiness service is up, not ready yet."""

    def went_down(self, name: str) -> None:
        """A readiness service died before it was ready; s6 restarts it."""

    def oneshot_output(self, name: str, line: bytes) -> None:
        """One line a oneshot printed (with its newline)."""
