"""66's ``RunAs`` forms, resolved to numbers when the service is compiled.

66 documents ``user``, ``uid:gid``, ``:gid`` and ``uid:`` (a missing part
is the owner's, root's when run as root), and 66 0.5-0.7 resolved
``user:group`` by name; distributions' files use all of them.  Resolving
names here, with ``pwd``/``grp``, turns an unknown user into a one-line
error at ``check``/``start`` time instead of a service that crash-loops on
a usage message; the script then only runs ``s6-applyuidgid`` with numbers
(no name service lookup at each start, nothing that can hang).
"""

from __future__ import annotations

import grp
import os
import pwd

from ovis.errors import DefinitionError
from ovis.record import Frozen
from ovis.service import execline


class Ids(Frozen):
    __slots__ = ("uid", "gid", "groups")

    def __init__(self, uid: int, gid: int, groups: tuple[int, ...]) -> None:
        s = object.__setattr__
        s(self, "uid", uid)
        s(self, "gid", gid)
        s(self, "groups", groups)

    def command(self) -> str:
        """The execline line that drops privileges to these ids."""
        gl = ",".join(str(g) for g in self.groups)
        return f"s6-applyuidgid -u {self.uid} -g {self.gid} -G {execline.quote(gl)}\n"


def _user(name: str, path: str, line: int, key: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        raise DefinitionError(path, line, key, f"unknown user '{name}'") from None


def _group(name: str, path: str, line: int, key: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise DefinitionError(path, line, key, f"unknown group '{name}'") from None


def resolve(spec: str, path: str, line: int, key: str) -> Ids:
    """Ids for one RunAs value; DefinitionError(file, line, key) when a name is unknown.

    - ``user``: the user's uid, primary gid and supplementary groups;
    - ``user:group``: the user's uid, that group, the user's other groups;
    - ``uid:gid``: exactly these, no supplementary groups;
    - ``:gid`` / ``uid:``: the missing part is ovis's own (root's as root).
    """
    if "\0" in spec or "\n" in spec:
        raise DefinitionError(path, line, key, "RunAs holds a control character")
    user, sep, group = spec.partition(":")
    if not sep:
        pw = _user(user, path, line, key)
        return Ids(pw.pw_uid, pw.pw_gid, _groups(pw.pw_name, pw.pw_gid))
    if user and not user.isdigit():
        pw = _user(user, path, line, key)
        gid = _group(group, path, line, key) if group else pw.pw_gid
        return Ids(pw.pw_uid, gid, _groups(pw.pw_name, gid))
    uid = int(user) if user else os.geteuid()
    gid = _group(group, path, line, key) if group else os.getegid()
    return Ids(uid, gid, (gid,))


def _groups(user: str, gid: int) -> tuple[int, ...]:
    try:
        found = os.getgrouplist(user, gid)
    except OSError:
        found = [gid]
    return tuple(dict.fromkeys([gid, *found]))
