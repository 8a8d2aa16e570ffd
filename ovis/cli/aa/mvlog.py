"""aa-mvlog: move a boot log to DESTDIR, named after its first TAI64N label,
with DESTDIR/current pointing to it (stage 2, once /var is writable).

Removed from anopa in 0.5.0 but still called by its stage scripts; the work
is ovis.logs.mvlog.  Exit 2 on any failure.
"""

from __future__ import annotations

import os
import stat
import sys

from ovis.errors import StateError
from ovis.logs.mvlog import mvlog

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, Tool

PROG = "aa-mvlog"
DETAILS = DOUBLE_LINE + HELP_LINES


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION] LOGFILE DESTDIR", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        for _ in tool.options(args, "DhV", COMMON_LONGOPTS):
            pass
        if len(tool.operands) != 2:
            tool.usage(1)
        logfile, destdir = tool.operands
        try:
            st = os.stat(logfile)
        except OSError as e:
            out.die_unable(2, f"stat {logfile}", e)
        if not stat.S_ISREG(st.st_mode):
            out.die(2, logfile, ": not a file")
        try:
            mvlog(logfile, destdir)
        except StateError as e:
            out.die(2, str(e))
        except OSError as e:
            out.die_unable(2, f"move {logfile} into {destdir}", e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
