"""Reading the whole of a small file with os.read.

State records, ``ovis.json``, the status index, ``supervise/death_tally``:
commands read a few of these per service, and the buffered-IO layer of
open() costs more than the syscalls.  One reader serves them all, wherever
they sit (the engine, the compiler, the s6 protocol).
"""

from __future__ import annotations

import os


def read_fd(fd: int, first: int = 65536) -> bytes:
    """The rest of the regular file open as *fd* (OSError as os.read raises it).

    *first*: the size of the first read; one byte more than a stat's size
    reads a file of that size in one call (a short read is its end).
    """
    b = os.read(fd, first)
    if len(b) < first:  # a regular file's short read is its end: no second read
        return b
    chunks = [b]
    while b := os.read(fd, 65536):
        chunks.append(b)
    return b"".join(chunks)


def identity(st: os.stat_result) -> tuple[int, ...]:
    """What tells one version of a file ovis writes from any other (its writes are renames:
    a new inode each), for a memo of what was read: device, inode, size, mtime, ctime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_json_object(path: str) -> tuple[os.stat_result, dict] | None:
    """(fstat, decoded) of the JSON object in the file at *path* (an ``ovis.json``,
    say), None when it is unreadable, not JSON or not an object.

    The fstat is of the very file read: its identity says whether a later
    stat still names what was decoded (every write of these files is a
    rename, so a new inode).
    """
    from ovis.jsonlite import loads  # (json's values without importing json and re)

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        data = loads(read_fd(fd))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return (st, data) if isinstance(data, dict) else None
