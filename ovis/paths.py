"""Where ovis finds definitions and keeps its live state.

Every path has a default, an environment variable and a command-line option
(DESIGN.md, "Paths"); the option wins over the variable, the variable over
the default.  An unprivileged user can point all of them into a scratch
directory and run the whole manager without root.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

TYPE_CHECKING = False  # typing costs ~30 modules at import (ovis status imports this)
if TYPE_CHECKING:
    from typing import Mapping

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


class Paths(Frozen):
    # __dict__: room for the cached_property strings below
    __slots__ = ("skel", "services", "trees", "live", "logdir", "layout", "__dict__")
    _fields = ("skel", "services", "trees", "live", "logdir", "layout")

    def __init__(self, skel: Path, services: tuple[Path, ...], trees: Path, live: Path,
                 logdir: Path, layout: str = "ovis") -> None:
        s = object.__setattr__
        s(self, "skel", skel)
        s(self, "services", services)
        s(self, "trees", trees)
        s(self, "live", live)
        s(self, "logdir", logdir)
        # "ovis": LIVE/sv/NAME + LIVE/scandir; "anopa": REPODIR/NAME + REPODIR/.scandir
        # (anopa's /run/services), so aa-* tools and ovis see the same services.
        s(self, "layout", layout)

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

        live_dir = Path(pick(live, "OVIS_LIVE", DEFAULT_LIVE))
        return cls(
            skel=Path(pick(skel, "OVIS_SKEL", DEFAULT_SKEL)),
            services=tuple(
                Path(p) for p in pick(services, "OVIS_SERVICES", DEFAULT_SERVICES).split(":") if p
            ),
            trees=Path(pick(trees, "OVIS_TREES", DEFAULT_TREES)),
            live=live_dir,
            logdir=Path(pick(logdir, "OVIS_LOGDIR", DEFAULT_LOGDIR)),
            layout=detect_layout(live_dir),
        )

    def with_anopa_repo(self, repodir: Path) -> "Paths":
        """These paths with LIVE being an anopa repository directory."""
        return replace(self, live=repodir, layout="anopa")

    # Layout of LIVE -------------------------------------------------------
    @property
    def scandir(self) -> Path:
        return self.live / (".scandir" if self.layout == "anopa" else "scandir")

    @property
    def servicedirs(self) -> Path:
        """Compiled s6 service directories (longruns are linked into the scandir)."""
        return self.live if self.layout == "anopa" else self.live / "sv"

    @property
    def state(self) -> Path:
        return self.live / (".ovis-state" if self.layout == "anopa" else "state")

    # The same two as strings, made once per Paths: the state records and the
    # servicedirs are joined to a name for every service a command reads or
    # writes, and each property above builds new Path objects.
    @cached_property
    def state_str(self) -> str:
        return str(self.state)

    @cached_property
    def servicedirs_str(self) -> str:
        return str(self.servicedirs)

    @property
    def lockfile(self) -> Path:
        return self.live / (".ovis-lock" if self.layout == "anopa" else ".lock")

    @property
    def shutdown_request(self) -> Path:
        """Exists (a symlink) once a shutdown was asked for: transactions yield to it."""
        return self.live / "shutdown"

    def servicedir(self, name: str) -> Path:
        return self.servicedirs / name  # internal callers too (anopa: NAME/log)

    def logdir_of(self, name: str) -> Path:
        return self.logdir / check_name(name)

    def boot_env(self, path: str = DEFAULT_PATH) -> dict[str, str]:
        """The boot environment (LIVE/environment) with these OVIS_* paths.

        What oneshots and s6-svscan run with: never the caller's environment;
        *path* is the PATH when the boot recorded none.
        """
        env = read_env_file(self.live / "environment")
        env.setdefault("PATH", path)
        env.update(self.as_env())
        return env

    def as_env(self) -> dict[str, str]:
        """The OVIS_* variables that make a child ovis see the same paths."""
        return {
            "OVIS_SKEL": str(self.skel),
            "OVIS_SERVICES": ":".join(str(p) for p in self.services),
            "OVIS_TREES": str(self.trees),
            "OVIS_LIVE": str(self.live),
            "OVIS_LOGDIR": str(self.logdir),
        }


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


def detect_layout(live: Path) -> str:
    """An anopa repository has ``.scandir`` where ovis has ``scandir``."""
    if (live / ".scandir").is_dir() and not (live / "scandir").exists():
        return "anopa"
    return "ovis"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, blank lines ignored)."""
    env: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return env
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = v.strip()
    return env
