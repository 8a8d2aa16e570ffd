"""aa-kill: signal (almost) every process, at the end of stage 3.

Without -s it is kill(-1, SIG) (everything but PID 1 and ourselves), after
ignoring SIG ourselves.  With -s, ovis.linux.procs walks /proc and spares
PID 1, ourselves, kernel threads and processes whose argv[0] starts with '@'
(what must outlive the root filesystem, e.g. a network-root daemon).  Signals
go in the order SIGHUP, SIGTERM+SIGCONT, SIGKILL.
"""

from __future__ import annotations

import os
import sys

try:  # the C module signal.py wraps: its enums cost aa-kill some 14 modules (enum, functools,
    import _signal as signal  # collections...) at each of its calls at shutdown; plain ints
except ImportError:  # pragma: no cover - CPython always has it
    import signal  # type: ignore[no-redef]

from ovis.linux import procs

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, Tool

PROG = "aa-kill"
DETAILS = (
    DOUBLE_LINE
    + " -u, --hup                     Send SIGHUP\n"
    " -t, --term                    Send SIGTERM then SIGCONT\n"
    " -k, --kill                    Send SIGKILL\n"
    " -s, --skip-at                 Skip processes whose cmdline starts with '@'\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (
    ("hup", NO_ARG, "u"),
    ("kill", NO_ARG, "k"),
    ("skip-at", NO_ARG, "s"),
    ("skip", NO_ARG, "s"),  # the name anopa's man page uses
    ("term", NO_ARG, "t"),
)


def signals_for(hup: bool, term: bool, kill: bool) -> list[int]:
    sigs: list[int] = []
    if hup:
        sigs.append(signal.SIGHUP)
    if term:
        sigs += [signal.SIGTERM, signal.SIGCONT]
    if kill:
        sigs.append(signal.SIGKILL)
    return sigs


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...]", DETAILS)

    def body(args: list[str]) -> int:
        seen: set[str] = set()
        for c, _ in tool.options(args, "DhkstuV", LONGOPTS):
            seen.add(c)
        if tool.operands or not seen & {"u", "t", "k"}:
            tool.usage(1)
        sigs = signals_for("u" in seen, "t" in seen, "k" in seen)
        if "s" in seen:
            for sig in sigs:
                procs.kill_all(sig, skip_self=True, skip_at_argv0=True)
            return 0
        for sig in sigs:
            if sig not in (signal.SIGKILL, signal.SIGCONT):
                signal.signal(sig, signal.SIG_IGN)
            try:
                os.kill(-1, sig)
            except OSError:
                pass  # ESRCH: nobody else left
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
