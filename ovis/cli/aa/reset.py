"""aa-reset: reset the status of oneshots of an anopa repository.

anopa 0.5.0's options, output and exit codes (doc/aa-reset.pod,
src/anopa/aa-reset.c); what a reset does to ovis's state is
:mod:`ovis.aa.reset`.
"""

from __future__ import annotations

import sys

from ovis.aa import codes as C
from ovis.aa import repo as R
from ovis.aa.reset import reset_to, write_reset

from . import common
from .output import ANSI_HIGHLIGHT_ON, ANSI_OFF, COMMON_LONGOPTS, NO_ARG, OUT, REQUIRED_ARG, Tool

PROG = "aa-reset"
DETAILS = (
    " -D, --double-output           Enable double-output mode\n"
    " -r, --repodir DIR             Use DIR as repository directory\n"
    " -A, --auto                    Automatic mode\n"
    " -a, --started                 Reset to Started\n"
    " -o, --stopped                 Reset to Stopped\n"
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
LONGOPTS = COMMON_LONGOPTS + (
    ("auto", NO_ARG, "A"),
    ("started", NO_ARG, "a"),
    ("stopped", NO_ARG, "o"),
    ("repodir", REQUIRED_ARG, "r"),
)


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] [service...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        repodir = R.DEFAULT_REPODIR
        mode = None
        for c, arg in tool.options(args, "AaDhor:V", LONGOPTS):
            if c in "Aao":
                mode = c
            elif c == "r":
                repodir = R.unslash(arg)  # type: ignore[arg-type]
        if not tool.operands or mode is None:
            tool.usage(1)
        paths = common.open_repo(out, repodir, write=False, rc=2)
        services = R.Services(paths)

        def reset(name: str) -> None:
            r = R.check_name(name)
            if r == 0 and R.is_logger(name):
                r = -C.ERR_UNKNOWN
            if r < 0:
                out.error(name, C.ERRMSG[-r])
                return
            if services.is_longrun(name):
                out.error(name, "Can only reset ont-shot services")  # sic
                return
            old = R.anopa_event(services.state(name)).event
            new = reset_to(old, mode)
            if new is None:
                return
            try:
                write_reset(paths, name, new)
            except OSError as e:
                out.error(name, f"Failed to write service status file: {e.strerror}")
                return
            out.title(True, name, "", end=False)
            out.ansi(OUT, ANSI_OFF)
            out.bs(OUT, C.EVENTMSG[old])
            out.ansi(OUT, ANSI_HIGHLIGHT_ON)
            out.bs(OUT, " -> " + C.EVENTMSG[new])
            out.end(OUT)

        for arg in tool.operands:
            for name in (common.names_from_stdin() if arg == "-" else [arg]):
                reset(name)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
