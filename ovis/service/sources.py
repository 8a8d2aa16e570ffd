"""Reading definition sources safely: the one read path every format shares.


- :func:`read_source` is the one place a definition file is read.  A search
  path is user-controlled input: a FIFO there must not hang ``ovis status``
  and a link to ``/dev/zero`` must not eat memory, so files are opened
  without blocking, must be regular files and are read up to a bound.  Every
  failure is one :class:`~ovis.errors.DefinitionError` text.
Which format an entry is, is decided in :mod:`ovis.service.repository`.
"""

from __future__ import annotations

import errno
import os
import stat

from ovis.errors import DefinitionError

#: Largest definition file read (66 frontends are a few KiB; anopa value files a few bytes).
MAX_DEFINITION_BYTES = 1 << 20
#: Bounds on the files a definition brings along (anopa data/, 66 hiercopy).
MAX_EXTRA_BYTES = 64 << 20
MAX_EXTRA_ENTRIES = 10_000
#: While a definition is parsed for the compile cache: every file read (a key input).
RECORD: "list[str] | None" = None



def read_bytes(path: str, key: str, limit: int = MAX_DEFINITION_BYTES) -> bytes:
    """Content of the regular file *path*, at most *limit* bytes, never blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once; ``fstat`` on the open
    descriptor (no race with a rename) then refuses anything but a regular
    file before a single byte is read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DefinitionError(path, 1, key, "cannot read: symbolic link loop") from None
        raise DefinitionError(path, 1, key, f"cannot read: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DefinitionError(path, 1, key, f"not a regular file ({_kind(st.st_mode)})")
        if st.st_size > limit:
            raise DefinitionError(path, 1, key, f"too large: {st.st_size} bytes (at most {limit})")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:  # a file growing while read, or a lying st_size
                raise DefinitionError(path, 1, key, f"too large: more than {limit} bytes")
            chunks.append(chunk)
        if RECORD is not None:
            RECORD.append(str(path))
        return b"".join(chunks)
    except OSError as exc:
        raise DefinitionError(path, 1, key, f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_source(path: str, key: str, limit: int = MAX_DEFINITION_BYTES) -> str:
    """Text of the definition file *path* (UTF-8), as :func:`read_bytes` reads it."""
    data = read_bytes(path, key, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(path, 1, key, f"not UTF-8 text: {exc.reason}") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def check_tree(path: str, key: str, allow_fifo: bool = True) -> None:
    """Refuse what cannot be copied into a servicedir in bounded time and space.

    The compiler copies extra files with symlinks followed (as anopa's
    aa-enable and 66 do), so the walk here follows them too, and stops at a
    link back to a directory already being walked (a loop), at a device or
    socket, and past :data:`MAX_EXTRA_ENTRIES` entries or
    :data:`MAX_EXTRA_BYTES` bytes.  FIFOs are allowed (anopa's catch-all
    logger ships one; the compiler recreates it).
    """
    budget = [MAX_EXTRA_ENTRIES, MAX_EXTRA_BYTES]

    def walk(here: str, rel: str, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            st = os.stat(here)
        except OSError as exc:
            reason = "symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror
            raise DefinitionError(here, 1, rel, f"cannot read: {reason}") from None
        budget[0] -= 1
        if budget[0] < 0:
            raise DefinitionError(path, 1, key, f"too many files (more than {MAX_EXTRA_ENTRIES})")
        if stat.S_ISREG(st.st_mode):
            budget[1] -= st.st_size
            if budget[1] < 0:
                raise DefinitionError(here, 1, rel, f"too large: files total more than {MAX_EXTRA_BYTES} bytes")
            return
        if stat.S_ISFIFO(st.st_mode) and allow_fifo:
            return
        if not stat.S_ISDIR(st.st_mode):
            raise DefinitionError(here, 1, rel, f"cannot be copied: {_kind(st.st_mode)}")
        ident = (st.st_dev, st.st_ino)
        if ident in ancestors:
            raise DefinitionError(here, 1, rel, "cannot be copied: symbolic link loop")
        try:
            names = sorted(os.listdir(here))
        except OSError as exc:
            raise DefinitionError(here, 1, rel, f"cannot read: {exc.strerror}") from None
        for name in names:
            walk(f"{here}/{name}", f"{rel}/{name}", ancestors | {ident})

    from ovis.paths import normpath

    walk(normpath(path), key, frozenset())
