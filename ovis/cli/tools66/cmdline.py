"""execl-cmdline: clean and split a block into a command line, then exec it."""

from __future__ import annotations

import sys

from ovis.tools66 import cmdline

from .common import execute, run, warn

PROG = "execl-cmdline"
HELP = f"""usage: {cmdline.USAGE}

Exec the command of the block, each word's whitespace squeezed and empty
words dropped.
  -s, --split   split words at whitespace; "..." inside a word stays one word
  -h, --help    print this help
"""


def main(argv: list[str]) -> int:
    req = cmdline.parse(argv)
    if req.help:
        sys.stdout.write(HELP)
        return 0
    if req.ignored:
        warn(PROG, "ignoring the words after the block: " + " ".join(req.ignored))
    execute(PROG, req.command)


def entrypoint() -> int:
    return run(PROG, cmdline.USAGE, main)
