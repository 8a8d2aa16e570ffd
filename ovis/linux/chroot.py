"""Changing root: aa-pivot and aa-chroot, as the shutdown path uses them.

At stage 3/4 anopa moves into the shutdown initramfs unpacked in
/run/initramfs: ``cd /run/initramfs; aa-pivot . root-fs; aa-chroot . /shutdown``.
After that the old root is only a mount under /root-fs, which the
initramfs can unmount completely.  Only os is used here: chroot_exec must
work from a minimal initramfs.
"""

from __future__ import annotations

import errno
import os
TYPE_CHECKING = False  # typing costs ~30 modules at import: it matters where Python is slow
if TYPE_CHECKING:
    from typing import NoReturn

from . import syscalls as sc
from .mounts import MountEntry, read_mounts


def chroot_exec(newroot: str, argv: list[str]) -> NoReturn:
    """chdir(newroot), chroot("."), chdir("/"), then exec argv (PATH searched
    inside the new root, as aa-chroot does).

    chdir first and chroot(".") so that no path is resolved twice, and the
    final chdir("/") so the program cannot walk back out through its cwd.
    """
    if not argv:
        raise ValueError("chroot_exec: empty command")
    os.chdir(newroot)
    os.chroot(".")
    os.chdir("/")
    os.execvp(argv[0], argv)


def _covers(top: str, path: str) -> bool:
    return top == "/" or path == top or path.startswith(top + "/")


def mount_of(path: str, entries: list[MountEntry]) -> MountEntry | None:
    """The (topmost) mount that ``path`` lives on."""
    best: MountEntry | None = None
    for e in entries:
        if not _covers(e.target, path):
            continue
        if best is None or len(e.target) > len(best.target) or (
            e.target == best.target and e.parent_id == best.mount_id
        ):
            best = e
    return best


def _needs_private(new: str, put_old: str, entries: list[MountEntry]) -> bool:
    by_id = {e.mount_id: e for e in entries}
    suspects: list[MountEntry | None] = [mount_of("/", entries), mount_of(put_old, entries)]
    new_mnt = mount_of(new, entries)
    suspects.append(new_mnt)
    if new_mnt is not None:
        suspects.append(by_id.get(new_mnt.parent_id))
    return any(m is not None and m.shared for m in suspects)


def pivot(newroot: str, oldroot_rel: str) -> None:
    """Make ``newroot`` the root; the old root ends up at ``newroot/oldroot_rel``.

    pivot_root(2) refuses (EINVAL) when
    - ``newroot`` is not a mount point: we bind-mount it onto itself first
      (MS_BIND|MS_REC, keeping its submounts);
    - the current root, ``newroot`` or its parent mount, or ``put_old``'s mount
      has *shared* propagation (systemd makes everything shared): we then
      make the whole tree private (``mount --make-rprivate /``), which also
      keeps the pivot from propagating into other namespaces;
    - the current root is the initramfs rootfs itself, which cannot be
      pivoted away from (use MS_MOVE + chroot_exec, i.e. switch_root, there).
    ``newroot/oldroot_rel`` is created (mode 0700) if missing.
    Every process whose root or cwd was the old root is moved too
    (same mount namespace).  Ends with chdir("/").
    """
    new = os.path.realpath(newroot)
    put_old = os.path.join(new, oldroot_rel.lstrip("/"))
    if not os.path.isdir(put_old):
        os.makedirs(put_old, mode=0o700, exist_ok=True)
    try:
        entries = read_mounts()
    except OSError:
        entries = []  # no /proc: just try
    if entries and not any(e.target == new for e in entries):
        sc.mount(new, new, None, sc.MS_BIND | sc.MS_REC)
        entries = read_mounts()
    made_private = False
    if entries and _needs_private(new, put_old, entries):
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        made_private = True
    os.chdir(new)
    try:
        sc.pivot_root(".", put_old)
    except OSError as e:
        if e.errno != errno.EINVAL or made_private:
            raise
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        sc.pivot_root(".", put_old)
    os.chdir("/")
