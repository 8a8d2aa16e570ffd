"""aa-mount: mount(2) from the command line, for stage scripts (no fstab, no helpers).

-B/-M/-r/-w are shorthands for the options bind/move/ro/rw; all options are
applied left to right by ovis.linux.syscalls.parse_mount_flags, except that
"defaults" resets the flags given before it (as in anopa).  Exit 2 when
-d cannot create MOUNTPOINT, 3 when mount(2) fails.
"""

from __future__ import annotations

import os
import sys

from ovis.linux import syscalls

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, REQUIRED_ARG, Tool

PROG = "aa-mount"
DETAILS = (
    DOUBLE_LINE
    + " -B, --bind                    Remount a subtree somewhere else\n"
    " -M, --move                    Move a subtree to some other place\n"
    " -t, --type FSTYPE             Use FSTYPE as type of filesystem\n"
    " -o, --options OPTIONS         Use OPTIONS as mount options\n"
    " -r, --read-only               Mount read-only\n"
    " -w, --read-write              Mount read-write\n"
    " -d, --mkdir                   Create MOUNTPOINT before mounting\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (
    ("bind", NO_ARG, "B"),
    ("mkdir", NO_ARG, "d"),
    ("move", NO_ARG, "M"),
    ("options", REQUIRED_ARG, "o"),
    ("read-only", NO_ARG, "r"),
    ("type", REQUIRED_ARG, "t"),
    ("fstype", REQUIRED_ARG, "t"),  # the name anopa's man page uses
    ("read-write", NO_ARG, "w"),
)
SHORTHANDS = {"B": "bind", "M": "move", "r": "ro", "w": "rw"}


def flags_and_data(options: list[str]) -> tuple[int, str]:
    """MS_* flags and filesystem data for the options, in command-line order."""
    items = [o for opt in options for o in opt.split(",") if o]
    last_defaults = max((i for i, o in enumerate(items) if o == "defaults"), default=-1)
    flags, _ = syscalls.parse_mount_flags(",".join(items[last_defaults + 1 :]))
    _, data = syscalls.parse_mount_flags(",".join(items))
    return flags, data


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] DEVICE MOUNTPOINT", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        options: list[str] = []
        fstype: str | None = None
        mkdir = False
        for c, arg in tool.options(args, "BDdhMo:rt:Vw", LONGOPTS):
            if c == "d":
                mkdir = True
            elif c == "t":
                fstype = arg
            elif c == "o":
                options.append(arg or "")
            else:
                options.append(SHORTHANDS[c])
        if len(tool.operands) < 2:
            tool.usage(1)
        device, mountpoint = tool.operands[:2]
        flags, data = flags_and_data(options)
        if mkdir:
            try:
                os.mkdir(mountpoint, 0o755)
            except FileExistsError:
                pass
            except OSError as e:
                out.die_unable(2, f"mkdir {mountpoint} to mount {device}", e)
        try:
            syscalls.mount(device, mountpoint, fstype, flags, data)
        except OSError as e:
            out.die_unable(3, f"mount {device} on {mountpoint}", e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
