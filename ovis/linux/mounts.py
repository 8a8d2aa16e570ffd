"""The mount table: reading it, and tearing it down at shutdown.

We read ``/proc/self/mountinfo`` rather than ``/proc/mounts`` because it
carries mount and parent ids (the tree, hence a safe unmount order),
propagation state (pivot_root cares) and the per-mount options apart from
the superblock ones.
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False  # typing costs ~30 modules at import: it matters where Python is slow
if TYPE_CHECKING:
    from typing import Callable, Iterable

    Log = Callable[[str], None] | None

from . import syscalls as sc


API_FILESYSTEMS = ("/", "/proc", "/sys", "/dev", "/run")

# per-mount options that a remount must repeat, or the kernel would clear them
_KEEP_ON_REMOUNT = {
    "nosuid": sc.MS_NOSUID,
    "nodev": sc.MS_NODEV,
    "noexec": sc.MS_NOEXEC,
    "noatime": sc.MS_NOATIME,
    "nodiratime": sc.MS_NODIRATIME,
    "relatime": sc.MS_RELATIME,
    "nosymfollow": sc.MS_NOSYMFOLLOW,
}


class MountEntry:
    """One line of mountinfo (proc(5)); strings are unescaped.

    A plain class rather than a dataclass: stage 4 and the aa-* tools of
    anopa's stages import this module, and ``dataclasses`` (with ``inspect``,
    ``ast``...) costs a good part of a second under an emulated CPU.
    Compares and prints like the dataclass it was.
    """

    _FIELDS = ("mount_id", "parent_id", "source", "target", "fstype", "options", "root",
                 "super_options", "propagation", "dev")

    def __init__(self, mount_id: int, parent_id: int, source: str, target: str, fstype: str,
                 options: str, root: str = "/", super_options: str = "", propagation: str = "",
                 dev: str = "") -> None:
        self.mount_id = mount_id
        self.parent_id = parent_id
        self.source = source
        self.target = target
        self.fstype = fstype
        self.options = options  # per-mount options ("rw,nosuid,relatime")
        self.root = root  # the directory of the filesystem that is mounted (binds)
        self.super_options = super_options  # superblock options ("rw,size=1024k,mode=755")
        self.propagation = propagation  # optional fields: "shared:12 master:3", "" if private
        self.dev = dev  # "major:minor"

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass

    def __repr__(self) -> str:
        return "MountEntry(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._FIELDS) + ")"

    @property
    def read_only(self) -> bool:
        return "ro" in self.options.split(",")

    @property
    def fully_read_only(self) -> bool:
        """Both this mount and its filesystem (superblock) are read-only."""
        return self.read_only and "ro" in self.super_options.split(",")

    @property
    def shared(self) -> bool:
        return any(f.startswith("shared:") for f in self.propagation.split())


def unescape(field: bytes) -> str:
    """Decode the kernel's octal escapes (``\\040`` space, ``\\011`` tab,
    ``\\012`` newline, ``\\134`` backslash) and the bytes as a file name."""
    if b"\\" not in field:
        return os.fsdecode(field)
    out = bytearray()
    i, n = 0, len(field)
    while i < n:  # a backslash and three octal digits is one byte; anything else is as it is
        digits = field[i + 1:i + 4]
        if field[i] == 0x5C and len(digits) == 3 and all(0x30 <= c <= 0x37 for c in digits):
            out.append(int(digits, 8))  # above \377: ValueError, as bytes([...]) raised
            i += 4
        else:
            out.append(field[i])
            i += 1
    return os.fsdecode(bytes(out))


def parse_mountinfo(data: bytes) -> list[MountEntry]:
    """Parse mountinfo text; lines that do not fit the format are skipped."""
    entries: list[MountEntry] = []
    for line in data.splitlines():
        fields = line.split()
        try:
            sep = fields.index(b"-", 6)
            entries.append(
                MountEntry(
                    mount_id=int(fields[0]),
                    parent_id=int(fields[1]),
                    dev=fields[2].decode(),
                    root=unescape(fields[3]),
                    target=unescape(fields[4]),
                    options=fields[5].decode(),
                    propagation=b" ".join(fields[6:sep]).decode(),
                    fstype=unescape(fields[sep + 1]),
                    source=unescape(fields[sep + 2]) if len(fields) > sep + 2 else "",
                    super_options=fields[sep + 3].decode() if len(fields) > sep + 3 else "",
                )
            )
        except (ValueError, IndexError):
            continue
    return entries


def read_mounts(path: str = "/proc/self/mountinfo") -> list[MountEntry]:
    """The mounts of our mount namespace, in the kernel's (mount) order.

    Read as bytes: mount points need not be UTF-8.
    """
    with open(path, "rb") as f:
        return parse_mountinfo(f.read())


def is_mountpoint(path: str) -> bool:
    """True if something is mounted on ``path`` (after resolving symlinks).

    Looks the path up in mountinfo: the st_dev comparison of os.path.ismount
    misses a bind mount of a directory of the same filesystem.  Falls back to
    it only when /proc is not there (early boot).
    """
    real = os.path.realpath(path)
    try:
        mounts = read_mounts()
    except OSError:
        return os.path.ismount(real)
    return any(m.target == real for m in mounts)


def unmount_order(entries: list[MountEntry]) -> list[MountEntry]:
    """Children before parents, later siblings before earlier ones.

    A post-order walk of the mount tree: a stacked mount (same target) is a
    child of the one it covers, so it comes first, and ``umount2(target)``,
    which always takes the topmost mount, removes exactly the entry we mean.
    """
    ids = {e.mount_id for e in entries}
    children: dict[int, list[MountEntry]] = {}
    roots: list[MountEntry] = []
    for e in entries:
        if e.parent_id in ids and e.parent_id != e.mount_id:
            children.setdefault(e.parent_id, []).append(e)
        else:
            roots.append(e)
    order: list[MountEntry] = []
    # iterative post-order: (entry, expanded?)
    stack: list[tuple[MountEntry, bool]] = [(r, False) for r in roots]
    while stack:
        e, expanded = stack.pop()
        if expanded:
            order.append(e)
            continue
        stack.append((e, True))
        # pushed in creation order, so the latest child is popped (handled) first
        stack.extend((c, False) for c in children.get(e.mount_id, ()))
    return order


def _under(target: str, top: str | None) -> bool:
    if top is None:
        return True
    return top == "/" or target == top or target.startswith(top + "/")


def _remount_flags(entry: MountEntry) -> int:
    flags = sc.MS_REMOUNT | sc.MS_RDONLY
    for opt in entry.options.split(","):
        flags |= _KEEP_ON_REMOUNT.get(opt, 0)
    return flags


def remount_ro(entry: MountEntry, superblock: bool = True) -> None:
    """Remount the filesystem (superblock) read-only: what makes it clean on disk.

    Not MS_BIND by default: a read-only bind mount would leave the filesystem
    writable through its other mounts.  Per-mount flags are repeated because a
    remount sets them all.  ``superblock=False`` makes only this mount
    read-only: what a PID/mount namespace must do, since the superblock is
    shared with the host and its other namespaces.
    """
    flags = _remount_flags(entry) | (0 if superblock else sc.MS_BIND)
    sc.mount(None, entry.target, None, flags, None)


def umount_all(
    *,
    keep: Iterable[str] = API_FILESYSTEMS,
    lazy: bool = False,
    log: Log = None,
    only_under: str | None = None,
    superblock: bool = True,
) -> list[str]:
    """Unmount every filesystem, deepest and latest first; return what is left.

    - ``/`` is never unmounted; it is remounted read-only (unless
      ``only_under`` restricts the job to a subtree).
    - ``keep`` names exact mount points left alone (anopa's aa-terminate
      keeps / /dev /proc /sys /run unless -a); their submounts
      (/dev/pts, /sys/fs/cgroup, ...) are still unmounted.
    - Passes repeat while one of them unmounts something, because an
      unmount can unblock another (a loop file, a mount that was busy while
      its child existed).
    - What stays busy (EBUSY) is remounted read-only, then, with ``lazy``,
      detached (MNT_DETACH) as a last resort, like aa-terminate -l.
    - ``only_under`` restricts everything to that mount point and below
      (tests, and ``aa-terminate`` run against a chroot).
    - ``superblock=False`` makes read-only remounts per mount (MS_BIND), for
      a shutdown inside a namespace that shares filesystems with its host.

    Returns the mount points in scope that are still mounted (innermost first).
    """
    say = log or (lambda _msg: None)
    keep_set = {os.path.normpath(k) for k in keep} | {"/"}
    top = os.path.realpath(only_under) if only_under is not None else None

    def pending() -> list[MountEntry]:
        try:
            entries = read_mounts()
        except OSError as e:
            say(f"cannot read the mount table: {e}")
            return []
        return [e for e in unmount_order(entries) if e.target not in keep_set and _under(e.target, top)]

    def _still(entry: MountEntry) -> bool:
        return any(e.mount_id == entry.mount_id for e in pending())

    failures: dict[str, OSError] = {}

    def unmount_pass(flags: int) -> bool:
        progress = False
        for _ in range(64):  # bounded: a mount that reappears must not loop forever
            did = False
            for entry in pending():
                try:
                    sc.umount2(entry.target, flags)
                except OSError as e:
                    if e.errno == errno.ENOENT or e.errno == errno.EINVAL and not _still(entry):
                        continue
                    failures[entry.target] = e
                    continue
                failures.pop(entry.target, None)
                did = progress = True
                say(f"unmounted {entry.target}" + (" (lazily)" if flags & sc.MNT_DETACH else ""))
            if not did:
                break
        return progress

    unmount_pass(0)

    for entry in pending():
        if entry.fully_read_only:
            continue
        reason = failures.get(entry.target)
        try:
            remount_ro(entry, superblock)
            say(f"remounted read-only {entry.target}" + (f" (unmount failed: {os.strerror(reason.errno or 0)})" if reason else ""))
        except OSError as e:
            say(f"cannot remount read-only {entry.target}: {os.strerror(e.errno or 0)}")

    if lazy and pending():
        unmount_pass(sc.MNT_DETACH)

    if top is None or top == "/":
        try:
            root = next((e for e in read_mounts() if e.target == "/"), None)
        except OSError:
            root = None
        if root is not None and not root.fully_read_only:
            try:
                remount_ro(root, superblock)
                say("remounted read-only /")
            except OSError as e:
                say(f"cannot remount / read-only: {os.strerror(e.errno or 0)}")

    left = [e.target for e in pending()]
    for target in left:
        reason = failures.get(target)
        say(f"still mounted: {target}" + (f" ({os.strerror(reason.errno or 0)})" if reason else ""))
    return left
