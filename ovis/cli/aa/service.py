"""aa-service: substitute the service's name into PROG... and exec it (execline helper).

In a run script, the current directory is the servicedir ("getty@tty1"), or
its log/ subdirectory with -l.  ${SERVICE_NAME} becomes that name,
${SERVICE} the part before '@', ${INSTANCE} the part after it (or "").
Substitution follows execline's rules: $NAME works too when followed by the
end of the word or one of \\ $ { }, and 2n+1 backslashes before the '$'
quote it (n backslashes stay).  Exit 2 -l outside a log/ directory, 3 no
current directory, 6 PROG cannot be executed.
"""

from __future__ import annotations

import os
import re
import sys

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, Tool

PROG = "aa-service"
DETAILS = DOUBLE_LINE + " -l, --log                     Use parent directory as servicedir\n" + HELP_LINES
LONGOPTS = COMMON_LONGOPTS + (("log", NO_ARG, "l"),)
_KEYS = "SERVICE_NAME|SERVICE|INSTANCE"
_REF = re.compile(r"(\\*)\$(?:\{(" + _KEYS + r")\}|(" + _KEYS + r")(?=[\\${}]|\Z))")


def names(cwd: str, log: bool) -> dict[str, str]:
    """SERVICE_NAME / SERVICE / INSTANCE for a servicedir path; ValueError if -l does not fit."""
    parent, base = os.path.split(cwd.rstrip("/") or "/")
    if log:
        if base != "log" or parent == "/":
            raise ValueError("option --log used while not in a subfolder 'log'")
        base = os.path.basename(parent)
    service, _, instance = base.partition("@")
    return {"SERVICE_NAME": base, "SERVICE": service, "INSTANCE": instance}


def substitute(word: str, values: dict[str, str]) -> str:
    """execline substitution of *values* in one word."""

    def repl(m: re.Match[str]) -> str:
        backslashes = len(m.group(1))
        keep = "\\" * (backslashes // 2)
        if backslashes % 2:
            return keep + m.group(0)[backslashes:]
        return keep + values[m.group(2) or m.group(3)]

    return _REF.sub(repl, word)


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION] PROG...", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        log = False
        for _ in tool.options(args, "+DhlV", LONGOPTS):
            log = True
        if not tool.operands:
            tool.usage(1)
        try:
            cwd = os.getcwd()
        except OSError:
            out.die_unable(3, "get current dirname")
        try:
            values = names(cwd, log)
        except ValueError as e:
            out.die(2, str(e))
        prog = [substitute(w, values) for w in tool.operands]
        out.flush()
        try:
            os.execvp(prog[0], prog)
        except OSError as e:
            out.die_unable(6, f"exec {prog[0]}", e)
        return 6  # not reached

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
