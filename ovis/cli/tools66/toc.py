"""execl-toc: test an element, create it if missing, then exec prog."""

from __future__ import annotations

import sys

from ovis.tools66 import toc
from ovis.tools66.errors import EXIT_SYS

from .common import execute, run

PROG = "execl-toc"
HELP = f"""usage: {toc.USAGE}

main options:   -h help, -v N verbosity, -n negate the test, -t exit 0 when
                the test fails, -D test only (never create), -X do not exec prog
test and create: -d directory, -p fifo, -S socket, -m mountpoint, -L symlink
test only:      -e exists, -b block, -c character, -k sticky, -n non-empty
                string, -g setgid, -r readable, -s size > 0, -t fd is a tty,
                -u setuid, -w writable, -x executable, -f regular file,
                -z empty string, -O owned by euid, -U owned by egid,
                -N modified since read, -V variable set, -E empty directory
create options: -o mount options, -t mount type or symlink target,
                -d device, -u user, -g group, -m mode, -M parents' mode,
                -s datagram socket, -D no rebinding, -B blocking socket,
                -b backlog
"""


def main(argv: list[str]) -> int:
    req = toc.parse(argv)
    if req.help:
        sys.stdout.write(HELP)
        return 0
    outcome = toc.run(req)
    if outcome.ok == req.negate:
        if outcome.loud or req.verbosity >= 2:
            message = outcome.message if not outcome.ok else f"{req.element}: test succeeded (negated)"
            label = "fatal" if outcome.loud and not req.fail_ok else "warning"
            sys.stderr.write(f"{PROG}: {label}: {message}\n")
        return 0 if req.fail_ok else EXIT_SYS
    if req.no_prog:
        return 0
    execute(PROG, req.prog)


def entrypoint() -> int:
    return run(PROG, toc.USAGE, main)
