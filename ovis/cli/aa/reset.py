"""aa-reset: reset the status of oneshots of an anopa repository.

anopa 0.5.0's options, output and exit codes (doc/aa-reset.pod,
src/anopa/aa-reset.c).  What anopa keeps in status.anopa ovis keeps in its
state files: resetting to Started makes the oneshot up (so aa-start and
``ovis start`` leave it alone), to Stopped makes it down.
"""

from __future__ import annotations

import sys
import time

from ovis.engine import state as statefile
from ovis.aa import codes as C
from ovis.aa import repo as R

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
            st = services.state(name)
            old = R.anopa_event(st).event
            if old in (C.EVT_STARTING, C.EVT_STOPPING):
                return
            if mode == "A":
                if old in (C.EVT_STARTING_FAILED, C.EVT_START_FAILED):
                    new = C.EVT_STARTED
                elif old in (C.EVT_STOPPING_FAILED, C.EVT_STOP_FAILED):
                    new = C.EVT_STOPPED
                else:
                    return
            else:
                new = C.EVT_STARTED if mode == "a" else C.EVT_STOPPED
            if old == new:
                return
            st = st or statefile.ServiceState(name)
            if new == C.EVT_STARTED:
                st.state, st.wanted, st.reason = "up", "up", None
            else:
                st.state, st.wanted, st.reason = "down", "down", "stopped"
            st.exit, st.detail, st.since = None, "", time.time()
            try:
                with statefile.Lock(paths):
                    statefile.save(paths, st)
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
