"""aa-umount: umount2(2) one mount point (-f force, -l lazy); exit 3 on failure."""

from __future__ import annotations

import sys

from ovis.linux import syscalls

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, Tool

PROG = "aa-umount"
DETAILS = (
    DOUBLE_LINE
    + " -f, --force                   Force unmount even if busy (NFS only)\n"
    " -l, --lazy                    Perform lazy unmounting\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (("force", NO_ARG, "f"), ("lazy", NO_ARG, "l"))


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTIONS...] MOUNTPOINT", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        flags = 0
        for c, _ in tool.options(args, "DfhlV", LONGOPTS):
            # the last of -f/-l wins, as in anopa
            flags = syscalls.MNT_FORCE if c == "f" else syscalls.MNT_DETACH
        if len(tool.operands) != 1:
            tool.usage(1)
        target = tool.operands[0]
        try:
            syscalls.umount2(target, flags)
        except OSError as e:
            out.die_unable(3, f"unmount {target}", e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
