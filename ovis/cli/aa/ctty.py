"""aa-ctty: make a terminal our controlling tty (TIOCSCTTY), then exec PROG.

Used by aa-stage2 as ``s6-setsid aa-ctty -D aa-start ...`` so that ^C on the
console reaches the boot.  A failed ioctl is only a warning; exit 111 if
PROG cannot be executed, 1 on a bad -f.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
import termios

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, REQUIRED_ARG, Tool

PROG = "aa-ctty"
DETAILS = (
    DOUBLE_LINE
    + " -f, --fd=FD                   Use FD as terminal (Default: 0)\n"
    " -s, --steal                   Steal terminal from other session if needed\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (("fd", REQUIRED_ARG, "f"), ("steal", NO_ARG, "s"))


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] PROG...", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        fd = 0
        steal = 0
        for c, arg in tool.options(args, "+Df:hsV", LONGOPTS):
            if c == "f":
                if not (arg and arg.isascii() and arg.isdigit()):
                    out.die_unable(1, "set fd", errno.EINVAL)
                fd = int(arg)
            else:
                steal = 1
        if not tool.operands:
            tool.usage(1)
        try:
            fcntl.ioctl(fd, termios.TIOCSCTTY, steal)
        except OSError as e:
            out.warn_unable("set controlling terminal", e)
        prog = tool.operands
        out.flush()
        try:
            os.execvp(prog[0], prog)
        except OSError as e:
            out.die_unable(111, f"exec {prog[0]}", e)
        return 111  # not reached

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
