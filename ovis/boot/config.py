"""init.conf, environment directories and the kernel command line.

The boot environment is built in 66's order, each layer overriding the
previous one for the same key (the last one encountered wins)::

    init.conf  <  SKEL/environment/  <  -e DIR  <  kernel command line

The settings stage 1 needs (LIVE, TREE, RCINIT...) are then read from that
merged environment, so any of them can be overridden from the boot loader.
Every value remembers where it came from, so a bad one is reported as
``FILE:LINE: KEY: what is wrong`` even when it came from /proc/cmdline.
"""

from __future__ import annotations

import os
from pathlib import Path

from ovis.record import Record

#: The catch-all logger's service name (stage 1 creates it, stage 2 rotates its log).
CATCHALL = "catch-all"

from ovis.errors import DefinitionError
from ovis.paths import DEFAULT_PATH

#: init.conf keys, with ovis's defaults (66's, with ovis paths).
DEFAULTS: dict[str, str] = {
    "VERBOSITY": "1",
    "LIVE": "/run/ovis",
    "PATH": DEFAULT_PATH,
    "TREE": "boot",
    "RCINIT": "{skel}/rc.init",
    "RCSHUTDOWN": "{skel}/rc.shutdown",
    "RCSHUTDOWNFINAL": "{skel}/rc.shutdown.final",
    "UMASK": "0022",
    "RESCAN": "0",
    "CONTAINER": "0",
    "RCINIT_CONTAINER": "{skel}/rc.init.container",
    "CATCHLOG": "1",
    # ovis addition: ms between TERM and KILL of remaining processes at stage 4.
    "GRACETIME": "3000",
    # ovis addition: container mode copies every service's log lines to PID 1's stdout.
    "CONTAINER_LOGS": "1",
}
ABSOLUTE = ("LIVE", "RCINIT", "RCSHUTDOWN", "RCSHUTDOWNFINAL", "RCINIT_CONTAINER")
BOOLEAN = ("CONTAINER", "CATCHLOG", "CONTAINER_LOGS")
UNSIGNED = ("VERBOSITY", "RESCAN", "GRACETIME")


class Origin(Record):
    __slots__ = ("path", "line")

    def __init__(self, path: Path, line: int) -> None:
        self.path = path
        self.line = line


class BootEnv(Record):
    """The merged environment plus where each key was last set."""

    __slots__ = ("values", "origins")

    def __init__(self, values: dict[str, str] | None = None,
                 origins: dict[str, Origin] | None = None) -> None:
        self.values = {} if values is None else values
        self.origins = {} if origins is None else origins

    def set(self, key: str, value: str, path: Path, line: int) -> None:
        self.values[key] = value
        self.origins[key] = Origin(path, line)

    def error(self, key: str, message: str) -> DefinitionError:
        o = self.origins.get(key, Origin(Path("init.conf"), 1))
        return DefinitionError(o.path, o.line, key, message)


def _key_ok(key: str) -> bool:
    return bool(key) and (key[0].isalpha() or key[0] == "_") and all(
        c.isalnum() or c == "_" for c in key)


def read_kv_file(path: Path, env: BootEnv) -> None:
    """``KEY=VALUE`` lines into *env*; blank lines and ``#`` comments skipped.

    A line that is not KEY=VALUE is an error naming its line: a typo in
    init.conf must not silently boot with a default.
    """
    text = path.read_text()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise DefinitionError(path, n, line.split()[0], "expected KEY=VALUE")
        key, value = line.split("=", 1)
        key = key.strip()
        if not _key_ok(key):
            raise DefinitionError(path, n, key, "invalid variable name")
        env.set(key, value.strip(), path, n)


def read_env_dir(directory: Path, env: BootEnv) -> None:
    """Every file (not starting with '.') of an environment directory, in name order."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return
    for name in names:
        p = directory / name
        if name.startswith(".") or not p.is_file():
            continue
        read_kv_file(p, env)


def read_cmdline(path: Path, env: BootEnv) -> None:
    """Every ``key=value`` word of the kernel command line (others are ignored)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    for word in text.split():
        if "=" in word:
            key, value = word.split("=", 1)
            if _key_ok(key):
                env.set(key, value, path, 1)


class BootConfig(Record):
    """The validated settings of stage 1."""

    __slots__ = ("env", "skel", "verbosity", "live", "path", "tree", "rcinit", "rcshutdown",
                 "rcshutdownfinal", "umask", "rescan", "container", "rcinit_container", "catchlog",
                 "gracetime", "container_logs")

    def __init__(self, env: dict[str, str], skel: Path, verbosity: int, live: Path, path: str,
                 tree: str, rcinit: Path, rcshutdown: Path, rcshutdownfinal: Path, umask: int,
                 rescan: int, container: bool, rcinit_container: Path, catchlog: bool,
                 gracetime: int, container_logs: bool = True) -> None:
        self.env = env
        self.skel = skel
        self.verbosity = verbosity
        self.live = live
        self.path = path
        self.tree = tree
        self.rcinit = rcinit
        self.rcshutdown = rcshutdown
        self.rcshutdownfinal = rcshutdownfinal
        self.umask = umask
        self.rescan = rescan
        self.container = container
        self.rcinit_container = rcinit_container
        self.catchlog = catchlog
        self.gracetime = gracetime
        self.container_logs = container_logs


def validate(env: BootEnv, skel: Path) -> tuple[BootConfig, list[DefinitionError]]:
    """Read the settings; a bad value is reported and replaced by its default.

    Returns every problem found (boot goes to rescue for them, then carries
    on with the defaults, as 66 does), never raises.
    """
    errors: list[DefinitionError] = []
    vals: dict[str, str] = {}
    for key, default in DEFAULTS.items():
        dflt = default.format(skel=skel)
        v = env.values.get(key, dflt)
        if key in ABSOLUTE and not v.startswith("/"):
            errors.append(env.error(key, f"must be an absolute path, not {v!r}"))
            v = dflt
        elif key in BOOLEAN and v not in ("0", "1"):
            errors.append(env.error(key, f"must be 0 or 1, not {v!r}"))
            v = dflt
        elif key in UNSIGNED and not v.isdigit():
            errors.append(env.error(key, f"must be an unsigned integer, not {v!r}"))
            v = dflt
        elif key == "UMASK" and not (v and all(c in "01234567" for c in v) and int(v, 8) <= 0o777):
            errors.append(env.error(key, f"must be an octal umask like 0022, not {v!r}"))
            v = dflt
        elif key == "TREE" and (not v or "/" in v or v.startswith(".")):
            errors.append(env.error(key, f"invalid tree name {v!r}"))
            v = dflt
        elif key == "PATH" and not v:
            errors.append(env.error(key, "must not be empty"))
            v = dflt
        vals[key] = v
    merged = dict(env.values)
    merged.update(vals)
    cfg = BootConfig(
        env=merged, skel=skel, verbosity=int(vals["VERBOSITY"]), live=Path(vals["LIVE"]),
        path=vals["PATH"], tree=vals["TREE"], rcinit=Path(vals["RCINIT"]),
        rcshutdown=Path(vals["RCSHUTDOWN"]), rcshutdownfinal=Path(vals["RCSHUTDOWNFINAL"]),
        umask=int(vals["UMASK"], 8), rescan=int(vals["RESCAN"]),
        container=vals["CONTAINER"] == "1", rcinit_container=Path(vals["RCINIT_CONTAINER"]),
        catchlog=vals["CATCHLOG"] == "1", gracetime=int(vals["GRACETIME"]),
        container_logs=vals["CONTAINER_LOGS"] == "1",
    )
    return cfg, errors


def load(skel: Path, envdir: Path | None, cmdline: Path) -> tuple[BootEnv, list[DefinitionError]]:
    """Merge the four layers; a file that cannot be parsed is an error, not fatal."""
    env = BootEnv()
    errors: list[DefinitionError] = []
    layers: list[tuple[str, Path | None]] = [
        ("file", skel / "init.conf"), ("dir", skel / "environment"), ("dir", envdir),
    ]
    for kind, p in layers:
        if p is None:
            continue
        try:
            if kind == "file":
                read_kv_file(p, env)
            else:
                read_env_dir(p, env)
        except DefinitionError as e:
            errors.append(e)
        except FileNotFoundError:
            if kind == "file":
                errors.append(DefinitionError(p, 1, "init.conf", "missing: using defaults"))
        except OSError as e:
            errors.append(DefinitionError(p, 1, "file", f"cannot read: {e.strerror}"))
    read_cmdline(cmdline, env)
    return env, errors
