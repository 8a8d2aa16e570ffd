"""aa-pivot: make NEWROOT the root, the old one ending up at OLDROOT (stage 3).

OLDROOT is taken relative to the current directory, as pivot_root(2) does;
it must lie inside NEWROOT.  The work is ovis.linux.chroot.pivot, which also
copes with what makes a bare pivot_root(2) fail with EINVAL (NEWROOT not a
mount point, shared propagation).  Like anopa it does not chroot: run
``aa-chroot . CMD`` next.  Exit 2 on failure.
"""

from __future__ import annotations

import errno
import os
import sys

from ovis.linux import chroot

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, Tool

PROG = "aa-pivot"
DETAILS = DOUBLE_LINE + HELP_LINES


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "NEWROOT OLDROOT", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        for _ in tool.options(args, "DhV", COMMON_LONGOPTS):
            pass
        if len(tool.operands) < 2:
            tool.usage(1)
        newroot, oldroot = tool.operands[:2]
        new = os.path.realpath(newroot)
        old = os.path.abspath(oldroot)
        rel = os.path.relpath(old, new)
        try:
            if not os.path.isdir(new):
                raise OSError(errno.ENOENT if not os.path.exists(new) else errno.ENOTDIR, newroot)
            if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
                raise OSError(errno.EINVAL, oldroot)  # pivot_root(2): put_old must be under new_root
            chroot.pivot(new, rel)
        except OSError as e:
            out.die_unable(2, f"pivot into {newroot}", e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
