"""The one service model both source formats compile into.

A 66 frontend file and an anopa service directory describe the same things
with different words; the parsers translate them into :class:`Service`, and
everything downstream (graph, compiler, engine, status) only ever sees this
model.  ``lines`` remembers where each key came from, so that errors found
later (a missing dependency, a cycle) can still name the file, line and key.
"""

from __future__ import annotations

from ovis.record import Frozen, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

#: Names must be safe as a single path component and as an argv word:
#: ``[A-Za-z0-9_][A-Za-z0-9_.:+@-]*`` (tested with str methods: ``re`` costs
#: some 20 modules at import, and every command checks names).
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_CHARS = _NAME_FIRST | frozenset(".:+@-")
MAX_NAME = 200


def is_valid_name(name: str) -> bool:
    """True when *name* is usable as a service name and file name.

    ``@`` marks instances (``getty@tty1``), so it may appear once at most and
    a name may end with it only as a template (``getty@``).
    """
    # fullmatch: with ``$`` a trailing newline would pass.
    return (isinstance(name, str) and 0 < len(name) <= MAX_NAME and name[0] in _NAME_FIRST
            and _NAME_CHARS.issuperset(name) and name.count("@") <= 1)


def split_instance(name: str) -> tuple[str, str | None]:
    """``getty@tty1`` -> (``getty@``, ``tty1``); ``foo`` -> (``foo``, None)."""
    if "@" in name:
        base, inst = name.split("@", 1)
        return base + "@", inst
    return name, None


class _Choice:
    """A member of a :class:`_Choices` class: what the model used of ``enum.Enum``.

    ``enum`` and its functools, collections, itertools, reprlib... cost some
    ten modules at import, and every ``ovis status``, ``start`` and ``aa-*``
    imports the model: its two enumerations are these plain singletons
    instead, with enum's ``name``, ``value``, ``repr``, identity, ordering of
    iteration, ``Cls(value)`` lookup and pickling (the compile cache holds
    them: ``Cls(value)`` again, as enum pickles).
    """

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot reassign member {self.name!r}")

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}.{self.name}: {self.value!r}>"

    def __str__(self) -> str:
        return f"{self.__class__.__name__}.{self.name}"

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce_ex__(self, proto: object) -> tuple[object, tuple[str]]:
        return self.__class__, (self.value,)

    def __copy__(self) -> _Choice:
        return self

    def __deepcopy__(self, memo: object) -> _Choice:
        return self


class _Choices(type):
    """Metaclass of the model's enumerations: upper-case class attributes become members."""

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> _Choices:
        values = {k: v for k, v in ns.items() if k.isupper() and isinstance(v, str)}
        cls = super().__new__(mcs, name, bases, {k: v for k, v in ns.items() if k not in values})
        members = {}
        for k, v in values.items():
            m = object.__new__(cls)
            _Choice.__init__(m, k, v)
            type.__setattr__(cls, k, m)
            members[v] = m
        type.__setattr__(cls, "_members", members)
        return cls

    def __call__(cls, value: object) -> object:  # type: ignore[override]
        if isinstance(value, cls):
            return value
        try:
            return cls._members[value]  # type: ignore[attr-defined]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__qualname__}") from None

    def __iter__(cls) -> Iterator[Any]:
        return iter(list(cls._members.values()))  # type: ignore[attr-defined]

    def __len__(cls) -> int:
        return len(cls._members)  # type: ignore[attr-defined]

    def __contains__(cls, member: object) -> bool:
        return isinstance(member, cls) and member in cls._members.values()  # type: ignore[attr-defined]

    def __setattr__(cls, name: str, value: object) -> None:
        if name in getattr(cls, "_members", {}) or name.isupper():
            raise AttributeError(f"cannot reassign member {name!r}")
        super().__setattr__(name, value)


class Kind(_Choice, metaclass=_Choices):
    LONGRUN = "longrun"
    ONESHOT = "oneshot"
    BUNDLE = "bundle"  # s6-rc: a name for a set of services; nothing of its own to run


class ProgramKind(_Choice, metaclass=_Choices):
    EXECLINE = "execline"  # body of an execline script; ovis adds the shebang and prelude
    VERBATIM = "verbatim"  # a complete script text with its own shebang
    FILE = "file"  # an existing file copied as is (anopa run/start/stop)


class Program(Frozen):
    """What to execute to start or stop a service."""

    __slots__ = ("kind", "text", "path", "runas")

    def __init__(self, kind: ProgramKind, text: str = "", path: str | None = None,
                 runas: str | None = None) -> None:
        s = object.__setattr__
        s(self, "kind", kind)
        s(self, "text", text)
        s(self, "path", path)  # for ProgramKind.FILE
        s(self, "runas", runas)  # user, uid:gid, :gid or uid:


class LoggerSpec(Frozen):
    """An s6-log logger for the service's output."""

    __slots__ = ("destination", "backup", "maxsize", "timestamp", "runas", "program", "notify",
                 "timeout_start", "timeout_stop", "timeout_kill", "timeout_finish", "extra_files")
    _nohash = ('extra_files',)

    def __init__(self, destination: str | None = None, backup: int = 3, maxsize: int = 1_000_000,
                 timestamp: str = "tai", runas: str | None = None, program: Program | None = None,
                 notify: int | None = None, timeout_start: int | None = None,
                 timeout_stop: int | None = None, timeout_kill: int | None = None,
                 timeout_finish: int | None = None,
                 extra_files: dict[str, str] | None = None) -> None:
        s = object.__setattr__
        s(self, "destination", destination)  # None: LOGDIR/NAME
        s(self, "backup", backup)
        s(self, "maxsize", maxsize)
        s(self, "timestamp", timestamp)  # tai | iso | none
        s(self, "runas", runas)
        s(self, "program", program)  # anopa log/run given verbatim
        # Added for the parsers: a logger is a supervised process too, so the
        # same s6 knobs as on Service apply to it (66 [Logger] Timeout*, anopa
        # log/notification-fd, log/timeout-kill ...).  Same meanings as on Service.
        s(self, "notify", notify)
        s(self, "timeout_start", timeout_start)
        s(self, "timeout_stop", timeout_stop)
        s(self, "timeout_kill", timeout_kill)
        s(self, "timeout_finish", timeout_finish)
        s(self, "extra_files", {} if extra_files is None else extra_files)  # anopa log/ files copied verbatim


class Service(Record):
    """One service, whatever format it was written in.

    Its paths (``source``, ``lines``, ``warnings``, ``extra_files``, the
    programs' and the logger's) are plain normalised ``str``, as
    ``str(pathlib.Path(...))`` gives them: pathlib brings re, enum, fnmatch,
    urllib.parse and ipaddress (some 25 modules) into every command that
    reads a definition or unpickles the compile cache.
    """

    __slots__ = ("name", "kind", "source", "description", "version", "depends", "wants", "after",
                 "before", "requiredby", "start", "stop", "notify", "timeout_start",
                 "timeout_stop", "timeout_kill", "timeout_finish", "down_signal", "max_death",
                 "restart_delay", "restart_delay_max", "env", "env_unexported", "stdin", "stdout",
                 "stderr", "logger", "down", "earlier", "essential", "contents", "producer_for",
                 "consumer_for", "pipeline_name", "user", "extra_files", "lines", "gets_ready",
                 "keys", "warnings")

    def __init__(self, name: str, kind: Kind, source: str, description: str = "",
                 version: str | None = None, depends: tuple[str, ...] = (),
                 wants: tuple[str, ...] = (), after: tuple[str, ...] = (),
                 before: tuple[str, ...] = (), requiredby: tuple[str, ...] = (),
                 start: Program | None = None, stop: Program | None = None,
                 notify: int | None = None, timeout_start: int | None = None,
                 timeout_stop: int | None = None, timeout_kill: int | None = None,
                 timeout_finish: int | None = None, down_signal: str | None = None,
                 max_death: int | None = None, restart_delay: int | None = None,
                 restart_delay_max: int | None = None, env: dict[str, str] | None = None,
                 env_unexported: tuple[str, ...] = (), stdin: str | None = None,
                 stdout: str | None = None, stderr: str | None = None,
                 logger: LoggerSpec | None = None, down: bool = False, earlier: bool = False,
                 essential: bool = False, contents: tuple[str, ...] = (),
                 producer_for: str | None = None, consumer_for: tuple[str, ...] = (),
                 pipeline_name: str | None = None, user: tuple[str, ...] = (),
                 extra_files: dict[str, str] | None = None,
                 lines: dict[str, tuple[str, int]] | None = None, gets_ready: bool = False,
                 keys: dict[str, str] | None = None,
                 warnings: list[tuple[str, int, str, str]] | None = None) -> None:
        self.name = name
        self.kind = kind
        self.source = source
        self.description = description
        self.version = version
        self.depends = depends  # hard: must be up+ready first, failure blocks
        self.wants = wants  # soft: started too, failure does not block
        self.after = after  # ordering only
        self.before = before  # ordering only
        self.requiredby = requiredby  # others that hard-depend on this one
        self.start = start
        self.stop = stop
        self.notify = notify  # notification-fd
        self.timeout_start = timeout_start  # ms the engine waits for up/ready; 0 = forever
        self.timeout_stop = timeout_stop  # ms the engine waits for down; also s6 timeout-kill
        self.timeout_kill = timeout_kill  # s6 timeout-kill, ms
        self.timeout_finish = timeout_finish  # s6 timeout-finish, ms
        self.down_signal = down_signal
        self.max_death = max_death  # restart limit: deaths in a row before s6 gives up
        self.restart_delay = restart_delay  # ms before the first restart (doubles); None: 1000
        self.restart_delay_max = restart_delay_max  # ms, cap of that delay; None: 30000
        self.env = {} if env is None else env  # as written, ${x} kept, 66's "!" removed
        self.env_unexported = env_unexported  # 66 key=!value: substituted into Execute, not exported
        # 66 0.8 StdIn/StdOut/StdErr: s6log, tty:/path, file:/path, console, syslog, null,
        # parent, close, inherit (stderr only); None = the format's default.
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.logger = logger
        self.down = down  # "normally down": tree start leaves it alone
        self.earlier = earlier  # started by stage 1 as soon as s6-svscan runs
        self.essential = essential  # anopa: its failure fails the whole transaction
        # s6-rc: a bundle's members (Kind.BUNDLE); longrun pipelines: this service's
        # stdout feeds ``producer_for``, its stdin is fed by ``consumer_for``; the last
        # consumer may name the whole pipeline (a bundle of all its members).
        self.contents = contents
        self.producer_for = producer_for
        self.consumer_for = consumer_for
        self.pipeline_name = pipeline_name
        self.user = user
        self.extra_files = {} if extra_files is None else extra_files  # anopa files copied verbatim
        # lines/keys are keyed by model field name ("depends", "notify", "start" ...),
        # plus "FIELD/NAME" for each name of a dependency list ("depends/dbus") and
        # "env/KEY" for each variable.
        self.lines = {} if lines is None else lines
        # anopa `gets-ready`: readiness is signalled by another program (aa-setready),
        # not through a notification fd.  Recorded so later layers can honour it.
        self.gets_ready = gets_ready
        # For each ``lines`` key, the key as the user wrote it (``@depends``,
        # ``Depends``, ``needs/foo``), so later errors can quote the source exactly.
        self.keys = {} if keys is None else keys
        # Harmless things a reader was lenient with: (file, line, key as written, message),
        # printed by ``ovis check`` as warnings.
        self.warnings = [] if warnings is None else warnings

    def where(self, key: str) -> tuple[str, int]:
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
