"""``execl-subuidgid [ -o owner ] prog...``: put ``UID`` and ``GID`` into prog.

``$UID``/``${UID}`` become the real uid of the process (or of *owner*),
``$GID``/``${GID}`` that user's primary group from the user database, as
66-tools do; nothing is exported.  ``$UID`` ends where a shell name would
(``chown $UID:$GID``, as 66-tools' documentation writes it), where plain
execline would read the key ``UID:``.  A user unknown to the database is an
error (exit 111), so a start that depends on it fails instead of running
with a wrong owner.
"""

from __future__ import annotations

import os

from .accounts import primary_gid, user_id
from .argv import scan_options, substitute

USAGE = "execl-subuidgid [ -h ] [ -o owner ] prog..."


def parse(argv: list[str]) -> tuple[bool, str | None, list[str]]:
    """``(help, owner, prog)``."""
    opts, index = scan_options(argv, "h", "o", {"help": "h", "owner": "o"})
    owner = None
    for letter, value in opts:
        if letter == "h":
            return True, None, []
        owner = value
    return False, owner, argv[index:]


def ids(owner: str | None) -> dict[str, str]:
    uid = user_id(owner) if owner is not None else os.getuid()
    return {"UID": str(uid), "GID": str(primary_gid(uid))}


def command(owner: str | None, prog: list[str]) -> list[str]:
    """*prog* with ``UID`` and ``GID`` substituted."""
    return substitute(prog, ids(owner), identifier=True)
