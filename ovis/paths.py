"""Where ovis finds definitions and keeps its live state.

Every path has a default, an environment variable and a command-line option
(DESIGN.md, "Paths"); the option wins over the variable, the variable over
the default.  An unprivileged user can point all of them into a scratch
directory and run the whole manager without root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DEFAULT_SKEL = "/etc/ovis"
DEFAULT_SERVICES = "/etc/ovis/service:/usr/lib/ovis/service"
DEFAULT_TREES = "/etc/ovis/tree"
DEFAULT_LIVE = "/run/ovis"
DEFAULT_LOGDIR = "/var/log/ovis"


@dataclass(frozen=True)
class Paths:
    skel: Path
    services: tuple[Path, ...]
    trees: Path
    live: Path
    logdir: Path

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

        return cls(
            skel=Path(pick(skel, "OVIS_SKEL", DEFAULT_SKEL)),
            services=tuple(
                Path(p) for p in pick(services, "OVIS_SERVICES", DEFAULT_SERVICES).split(":") if p
            ),
            trees=Path(pick(trees, "OVIS_TREES", DEFAULT_TREES)),
            live=Path(pick(live, "OVIS_LIVE", DEFAULT_LIVE)),
            logdir=Path(pick(logdir, "OVIS_LOGDIR", DEFAULT_LOGDIR)),
        )

    # Layout of LIVE -------------------------------------------------------
    @property
    def scandir(self) -> Path:
        return self.live / "scandir"

    @property
    def servicedirs(self) -> Path:
        """Compiled s6 service directories (longruns are linked into the scandir)."""
        return self.live / "sv"

    @property
    def state(self) -> Path:
        return self.live / "state"

    @property
    def lockfile(self) -> Path:
        return self.live / ".lock"

    def servicedir(self, name: str) -> Path:
        return self.servicedirs / name

    def logdir_of(self, name: str) -> Path:
        return self.logdir / name

    def as_env(self) -> dict[str, str]:
        """The OVIS_* variables that make a child ovis see the same paths."""
        return {
            "OVIS_SKEL": str(self.skel),
            "OVIS_SERVICES": ":".join(str(p) for p in self.services),
            "OVIS_TREES": str(self.trees),
            "OVIS_LIVE": str(self.live),
            "OVIS_LOGDIR": str(self.logdir),
        }
