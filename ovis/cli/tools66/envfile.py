"""execl-envfile: import key=value files, substitute them into prog, exec it."""

from __future__ import annotations

import os
import sys

from ovis.tools66 import envfile
from ovis.tools66.argv import scan_options
from ovis.tools66.errors import UsageError

from .common import execute, run, warn

PROG = "execl-envfile"
HELP = f"""usage: {envfile.USAGE}

Read key=value lines from the file src, or from the files of the directory
src, substitute ${{key}} into prog, export them (not those written
key=!value) and exec prog.
  -v N   verbosity: 1 errors only (default), 2 also warnings
  -l     loose: when src is missing or unreadable, exec prog unchanged
  -h     print this help
"""


def main(argv: list[str]) -> int:
    opts, index = scan_options(argv, "hl", "v")
    loose, verbosity = False, 1
    for letter, value in opts:
        if letter == "h":
            sys.stdout.write(HELP)
            return 0
        if letter == "l":
            loose = True
        else:
            if not value.isdigit():
                raise UsageError(f"-v: not a number: {value}")
            verbosity = int(value)
    rest = argv[index:]
    if len(rest) < 2:
        raise UsageError("missing src or prog")
    src, prog = rest[0], rest[1:]
    try:
        plan = envfile.plan(src, prog, os.environ)
    except envfile.EnvFileError as e:
        if not loose:
            raise
        if verbosity >= 2:
            warn(PROG, str(e))
        execute(PROG, prog)
    if not plan.argv:
        return 0
    execute(PROG, plan.argv, plan.environment(os.environ))


def entrypoint() -> int:
    return run(PROG, envfile.USAGE, main)
