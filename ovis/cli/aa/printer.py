"""How aa-start, aa-stop and aa-enable print: anopa's lines over :class:`Output`.

:class:`Printer` is anopa's output helpers (titles, warnings, errors, the
"  -> Title: N" summary lines) and the :class:`ovis.aa.notes.Notes` the
library reports to while it loads a transaction or enables services;
:class:`Reporter` is the engine's reporter, printing "Starting X...",
"==> X: Started" ... as services settle and keeping the :class:`Tally`
the summary is made of.
"""

from __future__ import annotations

import os
from _thread import RLock  # threading.RLock itself, without importing threading

from ovis.aa import codes as C
from ovis.aa import repo as R

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ovis.aa.plan import Tally
    from ovis.engine.transaction import Action, Result

from .output import (
    ANSI_BLUE_ON,
    ANSI_GREEN_ON,
    ANSI_HIGHLIGHT_ON,
    ANSI_RED_ON,
    ANSI_YELLOW_ON,
    ERR,
    OUT,
    Output,
)


class Printer:
    """anopa's output helpers over :class:`Output`, safe across the thread that
    echoes oneshot output."""

    def __init__(self, out: Output, dry: bool = False) -> None:
        self.out = out
        self.dry = dry  # -n: auto-add lines go to stderr, stdout is the list
        self.lock = RLock()

    def line(self, text: str | bytes, where: int = OUT) -> None:
        with self.lock:
            self.out.bs(where, text, flush=True)

    def title(self, name: str, title: str | None) -> None:
        with self.lock:
            self.out.title(True, name, title)

    def error(self, name: str, msg: str | None = None) -> None:
        with self.lock:
            self.out.error(name, msg)

    def warn(self, name: str, msg: str | None = None) -> None:
        with self.lock:
            self.out.warn(name, msg)

    def strerr_warn(self, *parts: str) -> None:
        with self.lock:
            self.out.strerr("warning: ", *parts)

    def stat_nb(self, nb: int, title: str, colour: str = ANSI_GREEN_ON) -> None:
        """aa_show_stat_nb: "  -> TITLE: N"."""
        if nb <= 0:
            return
        with self.lock:
            o = self.out
            o.ansi(OUT, ANSI_BLUE_ON)
            o.bs(OUT, "  -> ")
            o.ansi(OUT, colour)
            o.bs(OUT, title)
            o.ansi(OUT, ANSI_HIGHLIGHT_ON)
            o.bs(OUT, f": {nb}")
            o.end(OUT)

    def stat_names(self, names: list[str], title: str, colour: str = ANSI_RED_ON) -> None:
        """aa_show_stat_names: "  -> TITLE: a; b"."""
        if not names:
            return
        with self.lock:
            o = self.out
            o.title(False, title, "", end=False)
            for i, n in enumerate(names):
                if i:
                    o.bs(OUT, "; ")
                o.ansi(OUT, colour)
                o.bs(OUT, n)
                o.ansi(OUT, ANSI_HIGHLIGHT_ON)
            o.end(OUT)

    # -- ovis.aa.notes.Notes ---------------------------------------------------
    def auto_added(self, who: str, verb: str, name: str) -> None:
        self.line(f"auto-add: {who} {verb} {name}\n", ERR if self.dry else OUT)

    def already(self, name: str, text: str) -> None:
        self.title(name, text)

    def warned(self, name: str, text: str) -> None:
        self.warn(name, text)

    def failed(self, name: str, text: str) -> None:
        self.error(name, text)

    def enabled(self, name: str) -> None:
        self.line(f"Enabled: {name}\n")


def summary(p: Printer, tally: Tally, prog: str, start: bool) -> None:
    """anopa's closing lines: "==> PROG: Completed." and the counts."""
    p.line("\n")
    p.title(prog, "Completed.")
    p.stat_nb(tally.nb_already, "Already up" if start else "Not up")
    p.stat_nb(tally.nb_done, "Started" if start else "Stopped")
    p.stat_names(tally.timedout, "Timed out")
    p.stat_names(tally.failed, "Failed")
    p.stat_names(tally.depend, "Dependency failed")
    p.stat_names(tally.io, "I/O error")
    p.stat_names(tally.unknown, "Unknown")
    if start:
        p.stat_names(tally.skipped, "Skipped", ANSI_YELLOW_ON)


class Reporter:
    """The engine's reporter: anopa's lines as each service begins and settles."""

    def __init__(self, p: Printer, tally: Tally, services: R.Services,
                 getting_ready: set[str], readiness: set[str]) -> None:
        self.p = p
        self.tally = tally
        self.services = services
        self.getting_ready = getting_ready
        self.readiness = readiness
        self.announced: set[str] = set()

    def begin(self, name: str, action: Action) -> None:
        from ovis.engine.transaction import Action  # here: aa-enable prints without the engine

        start = action is Action.START
        if start and name in self.getting_ready:
            self.p.line(f"{name}: Getting ready...\n")
        else:
            self.p.line(f"{'Starting' if start else 'Stopping'} {name}...\n")

    def announce_started(self, name: str) -> None:
        """A readiness service is up, not ready yet."""
        if name not in self.announced and name not in self.getting_ready:
            self.announced.add(name)
            self.p.line(f"{name}: Started; Getting ready...\n")

    def went_down(self, name: str) -> None:
        self.announced.discard(name)
        self.p.line(f"{name}: Down; Will restart...\n")

    def oneshot_output(self, name: str, line: bytes) -> None:
        self.p.line(name.encode() + b": " + line)

    def message(self, text: str) -> None:
        self.p.strerr_warn(text)

    def progress(self, name: str, action: Action, res: Result) -> None:
        from ovis.engine.transaction import Action, Reason

        start = action is Action.START
        if res.ok:
            if res.already:
                self.p.title(name, C.ERRMSG[C.ERR_ALREADY_UP if start else C.ERR_NOT_UP])
                self.tally.nb_already += 1
                return
            if start and name in self.readiness:
                self.announce_started(name)
                self.p.title(name, "Ready")
            else:
                self.p.title(name, "Started" if start else "Stopped")
            self.tally.nb_done += 1
            return
        reason = res.reason
        if reason is Reason.DEPENDENCY_FAILED:
            self.p.error(name, f"{C.ERRMSG[C.ERR_DEPEND]}: {res.detail}")
            self.tally.depend.append(name)
        elif reason is Reason.TIMED_OUT:
            self.p.error(name, C.ERRMSG[C.ERR_TIMEDOUT])
            self.tally.timedout.append(name)
        else:
            from ovis.aa import run

            self.p.error(name, run.failure_text(res))
            self.tally.failed.append(name)
        if start and self.tally.rc == 0 and os.path.lexists(f"{self.services.dir(name)}/essential"):
            self.tally.rc = 1
