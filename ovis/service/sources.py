"""Reading definition sources safely, and telling the formats apart.

Two jobs every format shares, done once:

- :func:`read_source` is the one place a definition file is read.  A search
  path is user-controlled input: a FIFO there must not hang ``ovis status``
  and a link to ``/dev/zero`` must not eat memory, so files are opened
  without blocking, must be regular files and are read up to a bound.  Every
  failure is one :class:`~ovis.errors.DefinitionError` text.
- :func:`detect_format` is the one place that decides which reader a search
  path entry goes to (s6-rc-compile's ``add_source`` does the same on its
  ``type`` file), and :func:`parse_definition` dispatches on it.

Detection rules, for an entry NAME of a search directory:

================================  ===========================================
regular file NAME                 a 66 frontend file
directory holding ``type``        an s6-rc source definition
directory holding a regular file  a 66 frontend with its data: NAME/NAME is
NAME (``dbus/dbus``)              the frontend, NAME/ its CopyFrom base
any other directory               an anopa service directory
================================  ===========================================
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ovis.errors import DefinitionError
from ovis.service.model import Service

#: Largest definition file read (66 frontends are a few KiB; anopa value files a few bytes).
MAX_DEFINITION_BYTES = 1 << 20
#: Bounds on the files a definition brings along (anopa data/, 66 hiercopy).
MAX_EXTRA_BYTES = 64 << 20
MAX_EXTRA_ENTRIES = 10_000

FRONTEND, FRONTEND_DIR, S6RC, ANOPA = "66", "66-dir", "s6-rc", "anopa"


def read_bytes(path: Path, key: str, limit: int = MAX_DEFINITION_BYTES) -> bytes:
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
        return b"".join(chunks)
    except OSError as exc:
        raise DefinitionError(path, 1, key, f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_source(path: Path, key: str, limit: int = MAX_DEFINITION_BYTES) -> str:
    """Text of the definition file *path* (UTF-8), as :func:`read_bytes` reads it."""
    data = read_bytes(Path(path), key, limit)
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


def check_tree(path: Path, key: str, allow_fifo: bool = True) -> None:
    """Refuse what cannot be copied into a servicedir in bounded time and space.

    The compiler copies extra files with symlinks followed (as anopa's
    aa-enable and 66 do), so the walk here follows them too, and stops at a
    link back to a directory already being walked (a loop), at a device or
    socket, and past :data:`MAX_EXTRA_ENTRIES` entries or
    :data:`MAX_EXTRA_BYTES` bytes.  FIFOs are allowed (anopa's catch-all
    logger ships one; the compiler recreates it).
    """
    budget = [MAX_EXTRA_ENTRIES, MAX_EXTRA_BYTES]

    def walk(here: Path, rel: str, ancestors: frozenset[tuple[int, int]]) -> None:
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
            walk(here / name, f"{rel}/{name}", ancestors | {ident})

    walk(Path(path), key, frozenset())


def detect_format(path: Path) -> str:
    """Which reader the search path entry *path* is for (see the module table)."""
    try:
        st = os.stat(path)
    except OSError:
        return FRONTEND  # read_source reports why it cannot be read
    if not stat.S_ISDIR(st.st_mode):
        return FRONTEND
    if os.path.lexists(path / "type"):
        return S6RC
    inner = path / path.name
    try:
        if stat.S_ISREG(os.stat(inner).st_mode):
            return FRONTEND_DIR
    except OSError:
        pass
    return ANOPA


def parse_definition(path: Path, name: str) -> Service:
    """Parse the search path entry *path* as the service *name*, in its format."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == ANOPA:
        from ovis.service.formats.anopa import parse_anopa_dir

        return parse_anopa_dir(path, name)
    if fmt == S6RC:
        try:
            from ovis.service.formats.s6rc import parse_s6rc_dir  # type: ignore[import-not-found]
        except ModuleNotFoundError as exc:
            if exc.name != "ovis.service.formats.s6rc":
                raise
            raise DefinitionError(path / "type", 1, "type",
                                  "s6-rc source definitions: not supported yet") from None
        return parse_s6rc_dir(path, name)
    from ovis.service.formats.sixtysix import parse_frontend

    if fmt == FRONTEND_DIR:
        return parse_frontend(path / path.name, name)
    return parse_frontend(path, name)
