"""Where ovis finds definitions and keeps its live state.

Every path has a default, an environment variable and a command-line option
(DESIGN.md, "Paths"); the option wins over the variable, the variable over
the default.  An unprivileged user can point all of them into a scratch
directory and run the whole manager without root.
"""

from __future__ import annotations

import os
from operator import attrgetter

TYPE_CHECKING = False  # typing costs ~30 modules at import (ovis status imports this)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping

from ovis.pathstr import normpath, parent  # noqa: F401  (re-exported: callers import them from here)
from ovis.record import Frozen, replace

DEFAULT_SKEL = "/etc/ovis"
DEFAULT_SERVICES = "/etc/ovis/service:/usr/lib/ovis/service"
DEFAULT_TREES = "/etc/ovis/tree"
DEFAULT_LIVE = "/run/ovis"
DEFAULT_LOGDIR = "/var/log/ovis"
#: PATH of boot processes and oneshots when nothing else says (66's default).
DEFAULT_PATH = "/usr/bin:/usr/sbin:/bin:/sbin:/usr/local/bin"
#: LIVE/container-logs: present when services' log lines also go to the container's
#: stdout (stage 1 writes it in container mode, the compiler reads it).
CONSOLE_LOGS = "container-logs"


def _path(s: str) -> Path:
    from pathlib import Path  # only for callers that want Path objects

    return Path(s)


class Paths(Frozen):
    """The five paths as strings (``*_str``) and, for the callers that join
    with ``/``, as :class:`pathlib.Path` (made on first use: the status and
    start paths use the strings and never import pathlib)."""

    # __dict__: room for the Path objects made on demand
    __slots__ = ("skel_str", "services_strs", "trees_str", "live_str", "logdir_str", "layout",
                 "state_str", "servicedirs_str", "scandir_str", "__dict__")
    _fields = ("skel", "services", "trees", "live", "logdir", "layout")

    def __init__(self, skel: Path | str, services: tuple[Path | str, ...], trees: Path | str,
                 live: Path | str, logdir: Path | str, layout: str = "ovis") -> None:
        s = object.__setattr__
        s(self, "skel_str", normpath(skel))
        s(self, "services_strs", tuple(normpath(p) for p in services))
        s(self, "trees_str", normpath(trees))
        live_s = normpath(live)
        s(self, "live_str", live_s)
        s(self, "logdir_str", normpath(logdir))
        # "ovis": LIVE/sv/NAME + LIVE/scandir; "anopa": REPODIR/NAME + REPODIR/.scandir
        # (anopa's /run/services), so aa-* tools and ovis see the same services.
        s(self, "layout", layout)
        # The state records and the servicedirs are joined to a name for every
        # service a command reads or writes: strings, made once per Paths.
        anopa = layout == "anopa"
        s(self, "state_str", live_s + ("/.ovis-state" if anopa else "/state"))
        s(self, "servicedirs_str", live_s if anopa else live_s + "/sv")
        s(self, "scandir_str", live_s + ("/.scandir" if anopa else "/scandir"))

    def _cached(self, key: str, value: str) -> Path:
        d = self.__dict__
        p = d.get(key)
        if p is None:
            p = d[key] = _path(value)
        return p

    @property
    def skel(self) -> Path:
        return self._cached("skel", self.skel_str)

    @property
    def services(self) -> tuple[Path, ...]:
        d = self.__dict__
        p = d.get("services")
        if p is None:
            p = d["services"] = tuple(_path(x) for x in self.services_strs)
        return p

    @property
    def trees(self) -> Path:
        return self._cached("trees", self.trees_str)

    @property
    def live(self) -> Path:
        return self._cached("live", self.live_str)

    @property
    def logdir(self) -> Path:
        return self._cached("logdir", self.logdir_str)

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        skel: str | None = None,
        services: str | None = None,
        trees: str | None = None,
        live: str | None = None,
        logdir: str | None = None,
    ) -> "Paths":
        e = os.environ if env is None else env

        def pick(opt: str | None, var: str, default: str) -> str:
            return opt if opt else e.get(var) or default

        live_dir = normpath(pick(live, "OVIS_LIVE", DEFAULT_LIVE))
        return cls(
            skel=pick(skel, "OVIS_SKEL", DEFAULT_SKEL),
            services=tuple(p for p in pick(services, "OVIS_SERVICES", DEFAULT_SERVICES).split(":") if p),
            trees=pick(trees, "OVIS_TREES", DEFAULT_TREES),
            live=live_dir,
            logdir=pick(logdir, "OVIS_LOGDIR", DEFAULT_LOGDIR),
            layout=detect_layout(live_dir),
        )

    def with_anopa_repo(self, repodir: Path | str) -> "Paths":
        """These paths with LIVE being an anopa repository directory."""
        return replace(self, live=repodir, layout="anopa")

    # Layout of LIVE -------------------------------------------------------
    @property
    def scandir(self) -> Path:
        return self._cached("scandir", self.scandir_str)

    @property
    def servicedirs(self) -> Path:
        """Compiled s6 service directories (longruns are linked into the scandir)."""
        return self._cached("servicedirs", self.servicedirs_str)

    @property
    def state(self) -> Path:
        return self._cached("state", self.state_str)

    @property
    def lockfile(self) -> Path:
        return _path(self.lockfile_str)

    @property
    def lockfile_str(self) -> str:
        return self.live_str + ("/.ovis-lock" if self.layout == "anopa" else "/.lock")

    @property
    def shutdown_request(self) -> Path:
        """Exists (a symlink) once a shutdown was asked for: transactions yield to it."""
        return _path(self.live_str + "/shutdown")

    def servicedir(self, name: str) -> Path:
        return _path(self.servicedirs_str + "/" + name)  # internal callers too (anopa: NAME/log)

    def logdir_of(self, name: str) -> Path:
        return _path(self.logdir_str + "/" + check_name(name))


    def boot_env(self, path: str = DEFAULT_PATH) -> dict[str, str]:
        """The boot environment (LIVE/environment) with these OVIS_* paths.

        What oneshots and s6-svscan run with: never the caller's environment;
        *path* is the PATH when the boot recorded none.
        """
        env = read_env_file(self.live_str + "/environment")
        env.setdefault("PATH", path)
        env.update(self.as_env())
        return env

    def as_env(self) -> dict[str, str]:
        """The OVIS_* variables that make a child ovis see the same paths."""
        return {
            "OVIS_SKEL": self.skel_str,
            "OVIS_SERVICES": ":".join(self.services_strs),
            "OVIS_TREES": self.trees_str,
            "OVIS_LIVE": self.live_str,
            "OVIS_LOGDIR": self.logdir_str,
        }


# Equal, hashed and rebuilt (replace, pickle) on the strings: no Path made for that.
Paths._values = Paths._hashed = attrgetter("skel_str", "services_strs", "trees_str", "live_str",
                                           "logdir_str", "layout")


def check_name(name: str, what: str = "service") -> str:
    """*name*, when it is safe as one path component; else a ConfigError.

    The one gate every user-given name passes before it becomes part of a
    path (servicedirs, state files, trees, logs): ``..``, ``/``, a leading
    dot, a trailing newline and NUL never reach the filesystem.
    """
    from ovis.service.model import is_valid_name

    if not is_valid_name(name):
        from ovis.errors import ConfigError

        raise ConfigError(f"invalid {what} name: {name!r}")
    return name


def safe_component(name: str) -> str:
    """*name*, when it is one harmless path component (the floor under
    :func:`check_name`, for names that come from LIVE rather than a user)."""
    # ("." and ".." start with a dot; plain tests, not a generator: this runs
    # for every state record read or written)
    if not name or name[0] == "." or "/" in name or "\0" in name or "\n" in name:
        from ovis.errors import ConfigError

        raise ConfigError(f"invalid name: {name!r}")
    return name


def detect_layout(live: Path | str) -> str:
    """An anopa repository has ``.scandir`` where ovis has ``scandir``."""
    live = os.fspath(live)
    if os.path.isdir(live + "/.scandir") and not os.path.exists(live + "/scandir"):
        return "anopa"
    return "ovis"


def read_env_file(path: Path | str) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, blank lines ignored)."""
    env: dict[str, str] = {}
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return env
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = v.strip()
    return env
