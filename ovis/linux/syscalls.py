"""Raw Linux system calls that the Python standard library does not offer.

This is the one module in ovis that talks to the kernel through ctypes.  It
runs inside PID 1 during boot and shutdown, so ctypes and libc are loaded on
first use only: importing this module (for its constants or for
``parse_mount_flags``) costs nothing.

Every wrapper raises ``OSError(errno, "<strerror>: <what was attempted>")``
on failure, so a caller's message names both the cause and the object, e.g.
``[Errno 16] Device or resource busy: umount2 /mnt``.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~30 modules at import: it matters where Python is slow
if TYPE_CHECKING:
    from typing import Any

# mount(2) flags (<linux/mount.h>; values are ABI, identical on every arch).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_POSIXACL = 1 << 16
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

# umount2(2) flags.
MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

# reboot(2) commands (glibc's RB_* names for the LINUX_REBOOT_CMD_* magic).
RB_AUTOBOOT = 0x01234567
RB_HALT_SYSTEM = 0xCDEF0123
RB_POWER_OFF = 0x4321FEDC
RB_ENABLE_CAD = 0x89ABCDEF
RB_DISABLE_CAD = 0
RB_SW_SUSPEND = 0xD000FCE2
RB_KEXEC = 0x45584543

# swapon(2) flags.
SWAP_FLAG_PREFER = 0x8000
SWAP_FLAG_DISCARD = 0x10000

# pivot_root(2) has no libc wrapper: call it by number.
_SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "arm64": 41,
    "riscv64": 41,
    "loongarch64": 41,
    "i386": 217,
    "i486": 217,
    "i586": 217,
    "i686": 217,
    "armv7l": 218,
    "armv6l": 218,
    "ppc64le": 203,
    "ppc64": 203,
    "s390x": 217,
}

_libc: Any = None


def _lib() -> Any:
    """Load libc once, with argument types declared.

    Declaring argtypes matters: without them ctypes passes Python ints as C
    ``int`` and would truncate ``unsigned long`` mount flags.
    """
    global _libc
    if _libc is None:
        import ctypes

        lib = ctypes.CDLL(None, use_errno=True)
        c_char_p, c_int, c_ulong, c_long = ctypes.c_char_p, ctypes.c_int, ctypes.c_ulong, ctypes.c_long
        lib.mount.argtypes = [c_char_p, c_char_p, c_char_p, c_ulong, c_char_p]
        lib.mount.restype = c_int
        lib.umount2.argtypes = [c_char_p, c_int]
        lib.umount2.restype = c_int
        lib.reboot.argtypes = [c_int]
        lib.reboot.restype = c_int
        lib.swapon.argtypes = [c_char_p, c_int]
        lib.swapon.restype = c_int
        lib.swapoff.argtypes = [c_char_p]
        lib.swapoff.restype = c_int
        lib.sethostname.argtypes = [c_char_p, ctypes.c_size_t]
        lib.sethostname.restype = c_int
        lib.syscall.restype = c_long
        _libc = lib
    return _libc


def _check(ret: int, what: str) -> int:
    """Turn a -1 libc return into OSError carrying errno and ``what``."""
    if ret == -1:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{os.strerror(err)}: {what}")
    return ret


def _b(s: str | bytes | os.PathLike[str] | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2).  ``source``/``fstype`` may be None for remounts and propagation changes."""
    _check(
        _lib().mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
        f"mount {source or 'none'} on {target}" + (f" ({fstype})" if fstype else ""),
    )


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2): unmount the topmost mount at ``target``."""
    _check(_lib().umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2) via syscall(2): glibc has no wrapper for it."""
    import ctypes

    machine = os.uname().machine
    nr = _SYS_PIVOT_ROOT.get(machine)
    if nr is None:
        raise OSError(38, f"{os.strerror(38)}: pivot_root on {machine}")  # ENOSYS
    lib = _lib()
    _check(
        lib.syscall(ctypes.c_long(nr), ctypes.c_char_p(_b(new_root)), ctypes.c_char_p(_b(put_old))),
        f"pivot_root {new_root} {put_old}",
    )


def reboot(cmd: int) -> None:
    """reboot(2).  Returns only for RB_*_CAD or on error (raised).

    In a child PID namespace the kernel ends the namespace instead: its init
    dies of SIGINT (halt, power off) or SIGHUP (restart), and RB_*_CAD fail
    with EINVAL.
    """
    signed = cmd - (1 << 32) if cmd >= (1 << 31) else cmd
    _check(_lib().reboot(signed), f"reboot {cmd:#x}")


def swapon(path: str, flags: int = 0) -> None:
    """swapon(2); the caller must have prepared the area (mkswap)."""
    _check(_lib().swapon(_b(path), flags), f"swapon {path}")


def swapoff(path: str) -> None:
    """swapoff(2): may take long, the kernel pages everything back in."""
    _check(_lib().swapoff(_b(path)), f"swapoff {path}")


def sync() -> None:
    """sync(2); os.sync needs no ctypes."""
    os.sync()


def sethostname(name: str | bytes) -> None:
    """sethostname(2) (stage 1 sets it from /etc/hostname)."""
    raw = name.encode() if isinstance(name, str) else bytes(name)
    _check(_lib().sethostname(raw, len(raw)), f"sethostname {raw.decode(errors='replace')}")


# parse_mount_flags: name -> (flags to set, flags to clear), as util-linux
# mount(8) and anopa's aa-mount understand them.
_FLAG_OPTIONS: dict[str, tuple[int, int]] = {
    "ro": (MS_RDONLY, 0),
    "rw": (0, MS_RDONLY),
    "nosuid": (MS_NOSUID, 0),
    "suid": (0, MS_NOSUID),
    "nodev": (MS_NODEV, 0),
    "dev": (0, MS_NODEV),
    "noexec": (MS_NOEXEC, 0),
    "exec": (0, MS_NOEXEC),
    "sync": (MS_SYNCHRONOUS, 0),
    "async": (0, MS_SYNCHRONOUS),
    "remount": (MS_REMOUNT, 0),
    "mand": (MS_MANDLOCK, 0),
    "nomand": (0, MS_MANDLOCK),
    "dirsync": (MS_DIRSYNC, 0),
    "nosymfollow": (MS_NOSYMFOLLOW, 0),
    "symfollow": (0, MS_NOSYMFOLLOW),
    "noatime": (MS_NOATIME, 0),
    "atime": (0, MS_NOATIME),
    "nodiratime": (MS_NODIRATIME, 0),
    "diratime": (0, MS_NODIRATIME),
    "relatime": (MS_RELATIME, 0),
    "norelatime": (0, MS_RELATIME),
    "strictatime": (MS_STRICTATIME, 0),
    "nostrictatime": (0, MS_STRICTATIME),
    "lazytime": (MS_LAZYTIME, 0),
    "nolazytime": (0, MS_LAZYTIME),
    "silent": (MS_SILENT, 0),
    "loud": (0, MS_SILENT),
    "bind": (MS_BIND, 0),
    "rbind": (MS_BIND | MS_REC, 0),
    "move": (MS_MOVE, 0),
    "private": (MS_PRIVATE, 0),
    "rprivate": (MS_PRIVATE | MS_REC, 0),
    "slave": (MS_SLAVE, 0),
    "rslave": (MS_SLAVE | MS_REC, 0),
    "shared": (MS_SHARED, 0),
    "rshared": (MS_SHARED | MS_REC, 0),
    "unbindable": (MS_UNBINDABLE, 0),
    "runbindable": (MS_UNBINDABLE | MS_REC, 0),
}

# fstab/userspace-only options: mount(8) consumes them, the kernel never sees them.
_USERSPACE_OPTIONS = frozenset(
    {"defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "nofail", "_netdev"}
)


def parse_mount_flags(options: str) -> tuple[int, str]:
    """Split a mount(8) ``-o`` string into (MS_* flags, data for the filesystem).

    Later options win ("ro,rw" is read-write), as in mount(8).  Options the
    kernel does not know as flags (``mode=0755``, ``size=10%``) are passed on
    in order as the data string; fstab-only ones (``defaults``, ``noauto``,
    ``nofail``, ``x-*``, ``comment=``) are dropped.
    """
    flags = 0
    data: list[str] = []
    for opt in options.split(","):
        opt = opt.strip()
        if not opt:
            continue
        known = _FLAG_OPTIONS.get(opt)
        if known is not None:
            set_, clear = known
            flags = (flags & ~clear) | set_
        elif opt in _USERSPACE_OPTIONS or opt.startswith(("x-", "comment=")):
            continue
        else:
            data.append(opt)
    return flags, ",".join(data)
