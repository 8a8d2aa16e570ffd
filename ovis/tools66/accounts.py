"""Users and groups by name or number, with one-line errors.

A frontend written for a system that has the ``dbus`` user, run on one that
has not, must fail its start with a message naming the user, not hang or
run as root: every lookup that misses raises :class:`ToolError` (111).
"""

from __future__ import annotations

import grp
import pwd

from .errors import ToolError


def user_id(name: str) -> int:
    """A uid from a number or a user name."""
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise ToolError(f"unknown user: {name}") from None


def primary_gid(uid: int) -> int:
    """The primary group of *uid* in the user database."""
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        raise ToolError(f"no user database entry for uid {uid}") from None


def group_id(name: str) -> int:
    """A gid from a number, a user name (its primary group) or a group name.

    The user database is asked first, as 66-tools do, so ``-g dbus`` is
    the primary group of user ``dbus``.
    """
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_gid
    except KeyError:
        pass
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ToolError(f"unknown group: {name}") from None
