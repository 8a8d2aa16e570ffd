"""Move a finished log file into a log directory (anopa's aa-mvlog).

The file is named after the TAI64N label that starts its first line, and
``DIR/current`` becomes a symlink to it, so ``DIR/current`` is always the
latest boot's log and older boots stay beside it.
"""

from __future__ import annotations

import os

from ovis.errors import StateError

TYPE_CHECKING = False  # pathlib brings re, enum, fnmatch, urllib.parse...: aa-mvlog runs at boot
if TYPE_CHECKING:
    from pathlib import Path

LABEL_LEN = 25  # '@' + 24 hex digits


def mvlog(logfile: str | Path, destdir: str | Path) -> str:
    """Copy *logfile* into *destdir* as ``@<label>``, point ``current`` at it, remove it.

    Returns the new file's path (a str, whatever the arguments' type).
    """
    logfile, destdir = os.fspath(logfile), os.fspath(destdir)
    try:
        st = os.stat(logfile)
    except OSError as e:
        raise StateError(f"cannot stat {logfile}: {e.strerror}") from None
    if not os.path.isfile(logfile):
        raise StateError(f"{logfile}: not a file")
    with open(logfile, "rb") as f:
        head = f.read(LABEL_LEN)
    name = head.decode("ascii", errors="replace")
    if len(head) != LABEL_LEN or not name.startswith("@") or "/" in name or "\0" in name:
        raise StateError(f"invalid new name read from {logfile}")
    os.makedirs(destdir, exist_ok=True)
    target = os.path.join(destdir, name)
    tmp = os.path.join(destdir, f".{name}.tmp")
    import shutil  # here: its compression imports cost aa-mvlog's start under TCG

    shutil.copyfile(logfile, tmp)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.rename(tmp, target)
    link = os.path.join(destdir, "current")
    tmp_link = os.path.join(destdir, ".current.tmp")
    try:
        os.unlink(tmp_link)
    except FileNotFoundError:
        pass
    os.symlink(name, tmp_link)
    os.rename(tmp_link, link)
    os.unlink(logfile)
    return target
