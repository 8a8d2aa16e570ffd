"""What ovis remembers about each service, under ``LIVE/state``.

For longruns s6's own ``supervise/status`` is the truth about the process;
this file adds what s6 cannot know: whether ovis was asked to keep the
service up, why it last failed (dependency, timeout...), and the timings of
each transition (for ``analyze``).  For oneshots it is the only record.

One small JSON file per service, each written atomically, so a crash in the
middle of a transaction loses at most the transitions still in flight.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ovis import atomic
from ovis.paths import Paths, check_name


@dataclass
class ServiceState:
    name: str
    state: str = "down"  # up | down | failed
    wanted: str | None = None  # up | down: what ovis was last asked
    reason: str | None = "never-started"
    exit: int | None = None
    detail: str = ""
    since: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _path(paths: Paths, name: str) -> Path:
    return paths.state / f"{check_name(name)}.json"


def load(paths: Paths, name: str) -> ServiceState | None:
    try:
        with open(_path(paths, name)) as f:
            data = json.load(f)
        return ServiceState(**{k: v for k, v in data.items()
                               if k in ServiceState.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def save(paths: Paths, st: ServiceState) -> None:
    paths.state.mkdir(parents=True, exist_ok=True)
    atomic.write_text(_path(paths, st.name), st.to_json() + "\n")


def remove(paths: Paths, name: str) -> None:
    try:
        os.unlink(_path(paths, name))
    except FileNotFoundError:
        pass


class Lock:
    """Serialises state-changing ovis commands on one LIVE directory.

    flock(2) on ``LIVE/.lock``: released by the kernel when the holder dies,
    so a crashed ovis never wedges the next one.  The holder's pid is written
    in the file only to tell the waiter whom it is waiting for.
    """

    def __init__(self, paths: Paths, on_wait: Callable[[str], None] | None = None) -> None:
        self.paths = paths
        self.on_wait = on_wait
        self.fd: int | None = None

    def __enter__(self) -> "Lock":
        self.paths.live.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.paths.lockfile, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            if self.on_wait:
                self.on_wait(f"waiting for another ovis command (pid {holder}) to finish...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None
