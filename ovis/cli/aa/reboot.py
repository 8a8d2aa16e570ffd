"""aa-reboot: reboot(2) now (-r reboot, -p power off, -H halt), the last act of stage 4.

Goes through ovis.linux.power.reboot_system, which syncs first.  In a child
PID namespace this ends the namespace instead (its parent sees the init die
of SIGHUP for reboot, SIGINT otherwise).  Exit 2 if the kernel refuses.
"""

from __future__ import annotations

import sys

from ovis.linux import power

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, Tool

PROG = "aa-reboot"
DETAILS = (
    DOUBLE_LINE
    + " -r, --reboot                  Reboot the machine NOW\n"
    " -H, --halt                    Halt the machine NOW\n"
    " -p, --poweroff                Power off the machine NOW\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (("halt", NO_ARG, "H"), ("poweroff", NO_ARG, "p"), ("reboot", NO_ARG, "r"))
ACTIONS = {"H": ("halt", "halt"), "p": ("poweroff", "power off"), "r": ("reboot", "reboot")}


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "OPTION", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        choice = ""
        for c, _ in tool.options(args, "DHhprV", LONGOPTS):
            choice = c
        if tool.operands or not choice:
            tool.usage(1)
        action, desc = ACTIONS[choice]
        out.flush()
        try:
            power.reboot_system(action)
        except OSError as e:
            out.die_unable(2, f"{desc} the machine", e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
