"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every state file ovis writes goes through here: write a temporary sibling,
then rename(2) it over the target (rename is atomic within a filesystem).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import BinaryIO


#: This process's pid for temporary names: getpid(2) is a syscall in every
#: call (glibc keeps no cache) and a transaction writes a few files per
#: service; a forked child gets its own (os.register_at_fork).
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


#: The process's umask while a caller vouches that it does not change
#: (:func:`know_umask`, a transaction): a file created then has exactly the
#: mode asked when the umask clears its bits, and needs no chmod(2).
_UMASK: list[int | None] = [None]


def know_umask() -> None:
    """Read the umask (two syscalls) for the writes that follow, until :func:`forget_umask`."""
    m = os.umask(0o077)
    os.umask(m)
    _UMASK[0] = m


def forget_umask() -> None:
    _UMASK[0] = None


def exact_mode(mode: int) -> bool:
    """Whether a file created now with *mode* gets exactly *mode* (False: unknown)."""
    m = _UMASK[0]
    return m is not None and not m & mode


def _create_temporary(path: str, mode: int) -> tuple[str, int]:
    """The new temporary beside *path* that a rename will make *path*, and its fd."""
    # str arithmetic, not pathlib: this runs once per service per transaction
    head, sep, name = path.rpartition("/")
    tmp = f"{head}{sep}.{name}.{_PID[0]}.tmp"
    # O_EXCL: the mode given is the file's (less the umask), never that of
    # a temporary a dead process of the same pid left, nor a symlink's target
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode)
    except FileExistsError:
        os.unlink(tmp)
        fd = os.open(tmp, flags, mode)
    return tmp, fd


def write_bytes(path: Path | str, data: bytes, mode: int = 0o644, fsync: bool = False) -> None:
    path = os.fspath(path)
    tmp, fd = _create_temporary(path, mode)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
        if not exact_mode(mode):
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_with(path: Path | str, fill: Callable[[BinaryIO], object], mode: int = 0o644) -> None:
    """:func:`write_bytes` for data written by *fill* into the (buffered) temporary file.

    What a large pickle needs: ``pickle.dump`` into the file writes it frame
    by frame, where ``pickle.dumps`` made one more copy of the whole (a
    megabyte at the end of a cold start of 1000 services, its peak RSS).  A
    *fill* that raises leaves *path* as it was and no temporary.
    """
    path = os.fspath(path)
    tmp, fd = _create_temporary(path, mode)
    try:
        with open(fd, "wb", closefd=False) as f:
            fill(f)
        if not exact_mode(mode):
            os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)


def write_text(path: Path | str, text: str, mode: int = 0o644, fsync: bool = False) -> None:
    write_bytes(path, text.encode(), mode, fsync)


def mkdir_p(path: Path, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def owned_dir(path: Path | str, uid: int, gid: int) -> None:
    """Make *path* a directory owned by uid:gid without following a planted symlink.

    A log destination may sit in a world-writable directory: whoever can
    write there could replace the last component by a symlink to a root-owned
    directory, and a plain ``chown`` would hand that target over.  So the
    directory is created and opened relative to its parent with
    ``O_NOFOLLOW``, checked (a real directory, owned by root or already by
    *uid*) and changed through its descriptor only.  Refusals raise
    :class:`ovis.errors.ConfigError`.
    """
    from ovis.errors import ConfigError

    from ovis.paths import normpath, parent

    path = normpath(path)
    name = path.rpartition("/")[2]
    os.makedirs(parent(path), exist_ok=True)
    pfd = os.open(parent(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.mkdir(name, 0o755, dir_fd=pfd)
        except FileExistsError:
            pass
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=pfd)
        except OSError:
            raise ConfigError(f"{path}: not a real directory (a symlink or a file): "
                              f"refusing to give it to uid {uid}") from None
        try:
            st = os.fstat(fd)
            if st.st_uid not in (0, uid):
                raise ConfigError(f"{path}: owned by uid {st.st_uid}, neither root nor the "
                                  f"logger's uid {uid}: refusing to use it")
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
    finally:
        os.close(pfd)


#: ``.NAME.PID.new|old|lnk|tmp``: what ovis writes before a rename(2).
_SUFFIXES = frozenset(("new", "old", "lnk", "tmp"))


def temporary_pid(entry: str) -> int | None:
    """The PID in *entry* when it is ``.NAME.PID.SUFFIX`` (NAME not empty), else None.

    (str methods, not a regular expression: every start and stop calls
    this, and ``re`` costs some 20 modules at import.)
    """
    if entry[:1] != "." or entry.count(".") < 3:
        return None
    head, pid, suffix = entry[1:].rsplit(".", 2)
    if not head or "\n" in head or suffix not in _SUFFIXES or not (pid.isascii() and pid.isdigit()):
        return None
    return int(pid)


def clean_stale_temporaries(dirs: list[Path] | list[str]) -> list[str]:
    """Remove the temporaries of ovis processes that died before their rename.

    A command killed in the middle of compiling leaves ``.NAME.PID.new``
    (and ``.lnk``, ``.tmp``) behind; the next command, under the LIVE lock,
    removes those whose PID is gone.  Returns what was removed.
    """
    removed = []
    for d in dirs:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for e in entries:
            pid = temporary_pid(e) if e[:1] == "." else None
            if pid is None or _alive(pid):
                continue
            p = f"{os.fspath(d)}/{e}"
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    import shutil  # only then: every start and stop calls this

                    shutil.rmtree(p)
                else:
                    os.unlink(p)
                removed.append(p)
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
