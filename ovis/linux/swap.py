"""Turning swap off at shutdown, before the filesystems holding it go away."""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing costs ~30 modules at import: it matters where Python is slow
if TYPE_CHECKING:
    from typing import Callable

    Log = Callable[[str], None] | None

from . import syscalls as sc
from .mounts import unescape



def read_swaps(path: str = "/proc/swaps") -> list[str]:
    """Active swap areas (device or file names, escapes decoded).

    /proc/swaps escapes blanks in names like mountinfo does, so splitting
    on whitespace is safe once the first column is unescaped.
    """
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []  # kernel built without CONFIG_SWAP
    return [unescape(line.split()[0]) for line in lines[1:] if line.strip()]


def swapoff_all(log: Log = None) -> list[str]:
    """swapoff every active area; return those still active afterwards."""
    say = log or (lambda _msg: None)
    for name in read_swaps():
        try:
            sc.swapoff(name)
            say(f"swap turned off: {name}")
        except OSError as e:
            say(f"cannot turn swap off: {name}: {os.strerror(e.errno or 0)}")
    left = read_swaps()
    for name in left:
        say(f"swap still active: {name}")
    return left
