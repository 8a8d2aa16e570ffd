"""execl-subuidgid: substitute UID and GID of the running user into prog, exec it."""

from __future__ import annotations

import sys

from ovis.tools66 import subuidgid

from .common import execute, run

PROG = "execl-subuidgid"
HELP = f"""usage: {subuidgid.USAGE}

Replace $UID/${{UID}} and $GID/${{GID}} in prog with the real uid of the
process and the primary gid of that user, then exec prog.
  -o, --owner USER   use USER's uid and gid instead
  -h, --help         print this help
"""


def main(argv: list[str]) -> int:
    want_help, owner, prog = subuidgid.parse(argv)
    if want_help:
        sys.stdout.write(HELP)
        return 0
    command = subuidgid.command(owner, prog)
    if not command:
        return 0
    execute(PROG, command)


def entrypoint() -> int:
    return run(PROG, subuidgid.USAGE, main)
