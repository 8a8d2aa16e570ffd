"""aa-terminate: close whatever is left at the very end of shutdown (stage 4).

Turns swaps off, unmounts everything but / /dev /proc /sys /run, closes loop
devices and removes device-mapper devices, and repeats while a pass gets
something done (one unmount can free a loop file, which frees a mount...).
-l then retries the mounts lazily; -a finally unmounts the API filesystems.
Exit 2 if anything is left.

Like anopa, it never remounts anything read-only (that is the job of the
stage-4 code that owns the root filesystem, ovis.linux.mounts.umount_all):
so it is safe to run in a namespace that shares filesystems with a host.
Mounts are listed from mountinfo in unmount order (children first), so
names with blanks and stacked mounts are handled.
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys

TYPE_CHECKING = False  # collections.abc's import costs modules at each start under TCG
if TYPE_CHECKING:
    from collections.abc import Callable

from ovis.linux import mounts, swap, syscalls

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, NO_ARG, OUT, Output, Tool

PROG = "aa-terminate"
DETAILS = (
    DOUBLE_LINE
    + " -v, --verbose                 Show what was done\n"
    " -q, --quiet                   No warnings for what's left\n"
    " -l, --lazy-umounts            Try lazy umount as last resort\n"
    " -a, --apis                    Umount /run, /sys, /proc & /dev too\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (
    ("apis", NO_ARG, "a"),
    ("lazy-umounts", NO_ARG, "l"),
    ("quiet", NO_ARG, "q"),
    ("verbose", NO_ARG, "v"),
)
KEEP = frozenset({"/", "/dev", "/proc", "/sys", "/run"})
APIS = ("/run", "/sys", "/proc", "/dev")

# ioctls (<linux/loop.h>, <linux/dm-ioctl.h>); not in ovis.linux.syscalls since
# fcntl.ioctl needs no ctypes.
LOOP_CLR_FD = 0x4C01
LOOP_GET_STATUS64 = 0x4C05
LOOP_INFO64_SIZE = 232
DM_IOCTL_SIZE = 312
DM_DEV_REMOVE = (3 << 30) | (DM_IOCTL_SIZE << 16) | (0xFD << 8) | 4  # _IOWR(0xfd, 4, struct dm_ioctl)
DM_VERSION = (4, 0, 0)  # the kernel accepts any minor up to its own


def loop_in_use(path: str) -> bool:
    """/dev/loop* nodes always exist; LOOP_GET_STATUS64 says ENXIO for a free one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.ioctl(fd, LOOP_GET_STATUS64, bytearray(LOOP_INFO64_SIZE))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def loop_close(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, LOOP_CLR_FD, 0)
    finally:
        os.close(fd)


def dm_remove(path: str) -> None:
    """DM_DEV_REMOVE by device number, through /dev/mapper/control."""
    rdev = os.stat(path).st_rdev
    dm = bytearray(DM_IOCTL_SIZE)
    dm[0:16] = b"".join(n.to_bytes(4, sys.byteorder) for n in (*DM_VERSION, DM_IOCTL_SIZE))
    dm[40:48] = rdev.to_bytes(8, sys.byteorder)
    fd = os.open("/dev/mapper/control", os.O_WRONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, DM_DEV_REMOVE, dm)
    finally:
        os.close(fd)


def block_devices(devdir: str = "/dev") -> tuple[list[str], list[str]]:
    """(loop devices in use, dm devices) found directly in /dev."""
    loops: list[str] = []
    dms: list[str] = []
    with os.scandir(devdir) as it:
        for entry in it:
            name = entry.name
            is_loop = name.startswith("loop") and name[4:5].isdigit()
            if not (is_loop or name.startswith("dm-")):
                continue
            try:
                if not stat.S_ISBLK(entry.stat(follow_symlinks=False).st_mode):
                    continue
            except OSError:
                continue
            path = os.path.join(devdir, name)
            if not is_loop:
                dms.append(path)
            elif loop_in_use(path):
                loops.append(path)
    return loops, dms


class Terminator:
    """One run: the verbosity, the umount mode and the actions with their messages."""

    def __init__(self, out: Output, level: int) -> None:
        self.out = out
        self.level = level  # 0 quiet, 1 default, 2 verbose
        self.umount_flags = 0

    def _verbose(self, *parts: str) -> None:
        if self.level >= 2:
            self.out.bs(OUT, "".join(parts) + "...\n", flush=True)

    def _attempt(self, doing: str, path: str, done: str, action: Callable[[], None]) -> bool:
        self._verbose(doing, path)
        try:
            action()
        except OSError as e:
            if self.level >= 2:
                self.out.bs(OUT, f"Failed: {os.strerror(e.errno or 0)}\n", flush=True)
            return False
        if self.level > 0:
            self.out.title(False, done, path)
        return True

    def swapoff(self, path: str) -> bool:
        return self._attempt("Turning off swap on ", path, "Swap turned off", lambda: syscalls.swapoff(path))

    def umount(self, path: str) -> bool:
        return self._attempt("Unmounting ", path, "Unmounted", lambda: syscalls.umount2(path, self.umount_flags))

    def loop_close(self, path: str) -> bool:
        return self._attempt("Closing loop device ", path, "Loop device closed", lambda: loop_close(path))

    def dm_close(self, path: str) -> bool:
        return self._attempt("Removing block device ", path, "Block device removed", lambda: dm_remove(path))

    def umount_api(self, path: str) -> None:
        def action() -> None:
            try:
                syscalls.umount2(path, 0)
            except OSError:
                syscalls.umount2(path, syscalls.MNT_DETACH)

        self._attempt("Unmounting ", path, "Unmounted", action)


def _work(items: list[str], do: Callable[[str], bool]) -> bool:
    """Try each item; keep the failures in *items*; True if one succeeded."""
    left = [item for item in items if not do(item)]
    did = len(left) < len(items)
    items[:] = left
    return did


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        apis = lazy = False
        level = 1
        for c, _ in tool.options(args, "aDhlqVv", LONGOPTS):
            if c == "a":
                apis = True
            elif c == "l":
                lazy = True
            elif c == "q":
                level = 0
            else:
                level = 2
        if tool.operands:
            tool.usage(1)
        t = Terminator(out, level)
        while True:
            while True:
                try:
                    swaps = swap.read_swaps()
                except OSError as e:
                    out.die_unable(2, "read /proc/swaps", e)
                try:
                    entries = mounts.unmount_order(mounts.read_mounts())
                except OSError as e:
                    out.die_unable(2, "read /proc/mounts", e)
                targets = [e.target for e in entries if e.target not in KEEP]
                try:
                    loops, dms = block_devices()
                except OSError as e:
                    out.die_unable(2, "scan /dev", e)
                did = _work(swaps, t.swapoff)
                did = _work(targets, t.umount) or did
                did = _work(loops, t.loop_close) or did
                did = _work(dms, t.dm_close) or did
                if not did:
                    break
            if lazy and t.umount_flags == 0 and targets:
                t._verbose("Switching to lazy umount mode", "")
                t.umount_flags = syscalls.MNT_DETACH
                continue
            break
        if apis:
            for path in APIS:
                t.umount_api(path)
        if level > 0:
            for what, items in (
                ("Remaining swap", swaps),
                ("Remaining mountpoint", targets),
                ("Remaining loop device", loops),
                ("Remaining block device", dms),
            ):
                for item in items:
                    out.warn(what, item)
        return 2 if swaps or targets or loops or dms else 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
