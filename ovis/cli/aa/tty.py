"""aa-tty: print the device of the active console (e.g. /dev/tty1).

Reads /sys/class/tty/console/active (its last entry is the active one),
then follows NAME/active files down (tty0 -> tty1) as far as they go.
Exit 2 if sysfs cannot be read.
"""

from __future__ import annotations

import errno
import os
import sys

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, OUT, Tool

PROG = "aa-tty"
DETAILS = DOUBLE_LINE + HELP_LINES
SYSFS = "/sys/class/tty/"


def _read(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read(4096).decode("utf-8", "surrogateescape")
    if not data:
        raise OSError(errno.ENODATA, os.strerror(errno.ENODATA))  # anopa treats empty like a failure
    return data


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        for _ in tool.options(args, "DhV", COMMON_LONGOPTS):
            pass
        if tool.operands:
            tool.usage(1)
        path = SYSFS + "console/active"
        try:
            entries = _read(path).split()
        except OSError as e:
            out.die_unable(2, f"read {path}", e)
        name = entries[-1] if entries else ""
        for _ in range(64):  # sysfs has no loops; be safe anyway
            path = SYSFS + name + "/active"
            try:
                entries = _read(path).split()
            except FileNotFoundError:
                break
            except OSError as e:
                out.die_unable(2, f"read {path}", e)
            if not entries:
                break
            name = entries[-1]
        out.bs(OUT, f"/dev/{name}\n", flush=True)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
