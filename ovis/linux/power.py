"""Ending the system: reboot(2) with the right command, after a sync.

In a child PID namespace reboot(2) does not touch the machine: the kernel
kills the namespace, and its init's parent sees it die of SIGINT (poweroff,
halt) or SIGHUP (reboot).  That is how a container-managed ovis reports the
action, and how the tests observe it.
"""

from __future__ import annotations

import errno
TYPE_CHECKING = False  # typing costs ~30 modules at import: it matters where Python is slow
if TYPE_CHECKING:
    from typing import NoReturn

from . import syscalls as sc

ACTIONS: dict[str, int] = {
    "poweroff": sc.RB_POWER_OFF,
    "reboot": sc.RB_AUTOBOOT,
    "halt": sc.RB_HALT_SYSTEM,
}


def reboot_system(action: str, *, sync_first: bool = True) -> NoReturn:
    """sync(2), then reboot(2) with ``action``; raises OSError if the kernel refuses.

    ValueError for an unknown action, checked before anything is done.
    """
    try:
        cmd = ACTIONS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})") from None
    if sync_first:
        sc.sync()
    sc.reboot(cmd)
    # reboot(2) does not return on success; be explicit if a kernel ever does.
    raise OSError(errno.EINVAL, f"reboot(2) returned: {action}")


def set_ctrl_alt_del(enabled: bool) -> None:
    """Ctrl-Alt-Del: True reboots at once, False makes the kernel send SIGINT to PID 1.

    Stage 1 disables it so that PID 1 can shut down cleanly. EINVAL in a child
    PID namespace.
    """
    sc.reboot(sc.RB_ENABLE_CAD if enabled else sc.RB_DISABLE_CAD)
