"""What more than one aa-* tool does the same way on the command-line side.

Turning the library's AaError into anopa's "unable to" line and exit
status, reading service names from stdin ("-"), the ``-t SECS`` option.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing imports re, enum...: ~20 modules per aa-* call
if TYPE_CHECKING:
    from typing import NoReturn

from ovis.aa import codes as C
from ovis.aa import repo as R
from ovis.aa.codes import AaError
from ovis.paths import Paths

from .output import Output


def die(out: Output, err: AaError, rc: int) -> NoReturn:
    """anopa's strerr_diefu: "PROG: fatal: unable to WHAT: CAUSE", exit *rc*."""
    out.die_unable(rc, err.what, err.cause)


def open_repo(out: Output, repodir: str, write: bool, rc: int) -> Paths:
    """:func:`ovis.aa.repo.open_repo`, dying with *rc* as the tool's anopa counterpart."""
    try:
        return R.open_repo(repodir, write)
    except AaError as e:
        die(out, e, rc)


def die_listdir(out: Output, path: str, err: OSError, rc: int) -> NoReturn:
    out.die_unable(rc, f"read list directory {path}", err)


def names_from_stdin() -> list[str]:
    """Service name "-": one name per line on stdin."""
    data = sys.stdin.buffer.read()
    return [line.decode("utf-8", "surrogateescape") for line in data.split(b"\n")
            if line] if data else []


def parse_timeout(out: Output, value: str) -> int:
    """uint0_scan: digits only, else fatal 4 (anopa's ERR_IO)."""
    if not value.isdigit() or not value.isascii():
        out.die(C.ERR_IO, f"unable to set default timeout to {value}: Invalid argument")
    return int(value)
