"""aa-sync: sync(2), for the end of stage 3 (no getopt, no -D, as in anopa)."""

from __future__ import annotations

import sys

from ovis.linux import syscalls

from .output import HELP_LINES, Tool

PROG = "aa-sync"


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION]", HELP_LINES)

    def body(args: list[str]) -> int:
        if not args:
            syscalls.sync()
            return 0
        if len(args) == 1 and args[0] in ("-V", "--version"):
            tool.version()
        tool.usage(0 if len(args) == 1 and args[0] in ("-h", "--help") else 1)

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
