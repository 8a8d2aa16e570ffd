"""aa-test: test a file's type or access, with exit codes a stage script can branch on.

0 true, 1 syntax, 2 system error, 3 FILE missing, 4 exists but test failed.
Uses lstat(2) like anopa, so -d/-f/... look at a symlink itself.  ``-R``
retries a missing FILE every second, TIMES tries in all (0 or none: forever);
as documented, TIMES may also be given as a separate word (``-R 5 FILE``).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, OPTIONAL_ARG, Tool

PROG = "aa-test"
DETAILS = (
    DOUBLE_LINE
    + " -b, --block                   Test whether FILE is a block special\n"
    " -d, --directory               Test whether FILE is a directory\n"
    " -e, --exists                  Test whether FILE exists\n"
    " -f, --file                    Test whether FILE is a regular file\n"
    " -L, --symlink                 Test whether FILE is a symbolic link\n"
    " -p, --pipe                    Test whether FILE is a named pipe\n"
    " -S, --socket                  Test whether FILE is a socket\n"
    " -r, --read                    Test for read permission on FILE\n"
    " -w, --write                   Test for write permission on FILE\n"
    " -x, --execute                 Test for execute permission on FILE\n"
    " -R, --repeat[=TIMES]          Repeat test every second up to TIMES times\n"
    "\n" + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (
    ("block", NO_ARG, "b"),
    ("directory", NO_ARG, "d"),
    ("exists", NO_ARG, "e"),
    ("file", NO_ARG, "f"),
    ("symlink", NO_ARG, "L"),
    ("pipe", NO_ARG, "p"),
    ("read", NO_ARG, "r"),
    ("repeat", OPTIONAL_ARG, "R"),
    ("socket", NO_ARG, "S"),
    ("write", NO_ARG, "w"),
    ("execute", NO_ARG, "x"),
)
TYPES = {
    "b": stat.S_ISBLK,
    "d": stat.S_ISDIR,
    "f": stat.S_ISREG,
    "L": stat.S_ISLNK,
    "p": stat.S_ISFIFO,
    "S": stat.S_ISSOCK,
}
ACCESS = {"r": os.R_OK, "w": os.W_OK, "x": os.X_OK}


def _in_group(gid: int) -> bool:
    return gid in (os.getgid(), os.getegid()) or gid in os.getgroups()


def check(test: str, st: os.stat_result) -> bool:
    """The test on an existing file, by mode bits as anopa does (not access(2))."""
    if test == "e":
        return True
    if test in TYPES:
        return TYPES[test](st.st_mode)
    mode = ACCESS[test]
    if os.geteuid() == 0:
        # root may read/write anything, and execute what has any x bit
        return mode != os.X_OK or bool(st.st_mode & 0o111)
    if st.st_uid == os.geteuid():
        mode <<= 6
    elif _in_group(st.st_gid):
        mode <<= 3
    return bool(st.st_mode & mode)


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "OPTION FILE", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        test = ""
        repeat = 0  # anopa's counter: 0 no retry, 1 forever, N+1 for N tries
        bare_repeat = False
        for c, arg in tool.options(args, "bDdefhLprR::SVwx", LONGOPTS):
            if c == "R":
                bare_repeat = arg is None
                if arg is None:
                    repeat = 1
                elif not (arg.isascii() and arg.isdigit()):
                    out.die_unable(1, f"set repeat counter to {arg}", errno.EINVAL)
                else:
                    repeat = int(arg) + 1
            else:
                test = c
        operands = tool.operands
        if bare_repeat and len(operands) == 2 and operands[0].isascii() and operands[0].isdigit():
            repeat = int(operands[0]) + 1
            operands = operands[1:]
        if len(operands) != 1 or not test:
            tool.usage(1)
        path = operands[0]
        while True:
            try:
                st = os.lstat(path)
                break
            except FileNotFoundError:
                if repeat == 0 or repeat == 2:
                    return 3
                if repeat > 2:
                    repeat -= 1
                time.sleep(1)
            except OSError as e:
                out.die_unable(2, f"stat {path}", e)
        return 0 if check(test, st) else 4

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
