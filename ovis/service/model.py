"""The one service model both source formats compile into.

A 66 frontend file and an anopa service directory describe the same things
with different words; the parsers translate them into :class:`Service`, and
everything downstream (graph, compiler, engine, status) only ever sees this
model.  ``lines`` remembers where each key came from, so that errors found
later (a missing dependency, a cycle) can still name the file, line and key.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Names must be safe as a single path component and as an argv word.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:+@-]*")
MAX_NAME = 200


def is_valid_name(name: str) -> bool:
    """True when *name* is usable as a service name and file name.

    ``@`` marks instances (``getty@tty1``), so it may appear once at most and
    a name may end with it only as a template (``getty@``).
    """
    # fullmatch: with ``$`` a trailing newline would pass.
    return (isinstance(name, str) and bool(NAME_RE.fullmatch(name)) and len(name) <= MAX_NAME
            and name.count("@") <= 1)


def split_instance(name: str) -> tuple[str, str | None]:
    """``getty@tty1`` -> (``getty@``, ``tty1``); ``foo`` -> (``foo``, None)."""
    if "@" in name:
        base, inst = name.split("@", 1)
        return base + "@", inst
    return name, None


class Kind(enum.Enum):
    LONGRUN = "longrun"
    ONESHOT = "oneshot"
    BUNDLE = "bundle"  # s6-rc: a name for a set of services; nothing of its own to run


class ProgramKind(enum.Enum):
    EXECLINE = "execline"  # body of an execline script; ovis adds the shebang and prelude
    VERBATIM = "verbatim"  # a complete script text with its own shebang
    FILE = "file"  # an existing file copied as is (anopa run/start/stop)


@dataclass(frozen=True)
class Program:
    """What to execute to start or stop a service."""

    kind: ProgramKind
    text: str = ""
    path: Path | None = None  # for ProgramKind.FILE
    runas: str | None = None  # user, uid:gid, :gid or uid:


@dataclass(frozen=True)
class LoggerSpec:
    """An s6-log logger for the service's output."""

    destination: Path | None = None  # None: LOGDIR/NAME
    backup: int = 3
    maxsize: int = 1_000_000
    timestamp: str = "tai"  # tai | iso | none
    runas: str | None = None
    program: Program | None = None  # anopa log/run given verbatim
    # Added for the parsers: a logger is a supervised process too, so the
    # same s6 knobs as on Service apply to it (66 [Logger] Timeout*, anopa
    # log/notification-fd, log/timeout-kill ...).  Same meanings as on Service.
    notify: int | None = None
    timeout_start: int | None = None
    timeout_stop: int | None = None
    timeout_kill: int | None = None
    timeout_finish: int | None = None
    extra_files: dict[str, Path] = field(default_factory=dict, hash=False)  # anopa log/ files copied verbatim


@dataclass
class Service:
    """One service, whatever format it was written in."""

    name: str
    kind: Kind
    source: Path
    description: str = ""
    version: str | None = None
    depends: tuple[str, ...] = ()  # hard: must be up+ready first, failure blocks
    wants: tuple[str, ...] = ()  # soft: started too, failure does not block
    after: tuple[str, ...] = ()  # ordering only
    before: tuple[str, ...] = ()  # ordering only
    requiredby: tuple[str, ...] = ()  # others that hard-depend on this one
    start: Program | None = None
    stop: Program | None = None
    notify: int | None = None  # notification-fd
    timeout_start: int | None = None  # ms the engine waits for up/ready; 0 = forever
    timeout_stop: int | None = None  # ms the engine waits for down; also s6 timeout-kill
    timeout_kill: int | None = None  # s6 timeout-kill, ms
    timeout_finish: int | None = None  # s6 timeout-finish, ms
    down_signal: str | None = None
    max_death: int | None = None  # restart limit: deaths in a row before s6 gives up
    restart_delay: int | None = None  # ms before the first restart (doubles); None: 1000
    restart_delay_max: int | None = None  # ms, cap of that delay; None: 30000
    env: dict[str, str] = field(default_factory=dict)  # as written, ${x} kept, 66's "!" removed
    env_unexported: tuple[str, ...] = ()  # 66 key=!value: substituted into Execute, not exported
    # 66 0.8 StdIn/StdOut/StdErr: s6log, tty:/path, file:/path, console, syslog, null,
    # parent, close, inherit (stderr only); None = the format's default.
    stdin: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    logger: LoggerSpec | None = None
    down: bool = False  # "normally down": tree start leaves it alone
    earlier: bool = False  # started by stage 1 as soon as s6-svscan runs
    essential: bool = False  # anopa: its failure fails the whole transaction
    # s6-rc: a bundle's members (Kind.BUNDLE); longrun pipelines: this service's
    # stdout feeds ``producer_for``, its stdin is fed by ``consumer_for``; the last
    # consumer may name the whole pipeline (a bundle of all its members).
    contents: tuple[str, ...] = ()
    producer_for: str | None = None
    consumer_for: tuple[str, ...] = ()
    pipeline_name: str | None = None
    user: tuple[str, ...] = ()
    extra_files: dict[str, Path] = field(default_factory=dict)  # anopa files copied verbatim
    # lines/keys are keyed by model field name ("depends", "notify", "start" ...),
    # plus "FIELD/NAME" for each name of a dependency list ("depends/dbus") and
    # "env/KEY" for each variable.
    lines: dict[str, tuple[Path, int]] = field(default_factory=dict)
    # anopa `gets-ready`: readiness is signalled by another program (aa-setready),
    # not through a notification fd.  Recorded so later layers can honour it.
    gets_ready: bool = False
    # For each ``lines`` key, the key as the user wrote it (``@depends``,
    # ``Depends``, ``needs/foo``), so later errors can quote the source exactly.
    keys: dict[str, str] = field(default_factory=dict)
    # Harmless things a reader was lenient with: (file, line, key as written, message),
    # printed by ``ovis check`` as warnings.
    warnings: list[tuple[Path, int, str, str]] = field(default_factory=list)

    def where(self, key: str) -> tuple[Path, int]:
        """File and line that defined *key* (falls back to the source, line 1)."""
        return self.lines.get(key, (self.source, 1))

    def key_as_written(self, key: str) -> str:
        """How *key* (a ``lines`` key) was spelled in the source file."""
        return self.keys.get(key, key)

    @property
    def has_readiness(self) -> bool:
        return self.kind is Kind.LONGRUN and self.notify is not None


DEFAULT_TIMEOUT_START_MS = 60_000
DEFAULT_TIMEOUT_STOP_MS = 10_000
