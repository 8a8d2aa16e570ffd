"""Vocabulary of both 66 dialects: the ONLY place key and section spellings live.

Like dinit's settings table, every other module of the reader refers to
keys through these tables; the spellings of the required keys used in
messages (:data:`TYPE_KEY`, :data:`EXECUTE_KEY`) are derived from them.
"""

from __future__ import annotations


from ovis.record import Frozen


MAIN, START, STOP, ENVIRONMENT, LOGGER = "main", "start", "stop", "environment", "logger"
SECTION_ORDER = (MAIN, START, STOP, ENVIRONMENT, LOGGER)
AT, V08 = "@key", "0.8"

SCALAR, LIST, BLOCK = "scalar", "list", "block"

#: Section name as written -> (dialect, canonical section).
SECTIONS: dict[str, tuple[str, str]] = {
    **{name: (AT, name) for name in SECTION_ORDER},
    **{name.capitalize(): (V08, name) for name in SECTION_ORDER},
}

UNSUPPORTED_SECTIONS = {
    "regex": "only used by 66 modules, which ovis does not support",
    "Regex": "only used by 66 modules, which ovis does not support",
}


class KeySpec(Frozen):
    """What a key means: its canonical name, value shape and allowed sections."""

    __slots__ = ("canon", "shape", "sections")

    def __init__(self, canon: str, shape: str, sections: frozenset[str]) -> None:
        s = object.__setattr__
        s(self, "canon", canon)
        s(self, "shape", shape)
        s(self, "sections", sections)


def _spec(canon: str, shape: str, *sections: str) -> KeySpec:
    return KeySpec(canon, shape, frozenset(sections))


_SCRIPT_SECTIONS = (START, STOP, LOGGER)

AT_KEYS: dict[str, KeySpec] = {
    "@type": _spec("type", SCALAR, MAIN),
    "@name": _spec("name", SCALAR, MAIN),
    "@version": _spec("version", SCALAR, MAIN),
    "@description": _spec("description", SCALAR, MAIN),
    "@user": _spec("user", LIST, MAIN),
    "@depends": _spec("depends", LIST, MAIN, LOGGER),  # [logger]: 66 0.4-0.6, warned and ignored
    "@extdepends": _spec("extdepends", LIST, MAIN),
    "@requiredby": _spec("requiredby", LIST, MAIN),
    "@optsdepends": _spec("optsdepends", LIST, MAIN),
    "@flags": _spec("flags", LIST, MAIN),
    "@options": _spec("options", LIST, MAIN),
    "@notify": _spec("notify", SCALAR, MAIN),
    "@timeout-up": _spec("timeout_start", SCALAR, MAIN, LOGGER),
    "@timeout-down": _spec("timeout_stop", SCALAR, MAIN, LOGGER),
    "@timeout-kill": _spec("timeout_kill", SCALAR, MAIN, LOGGER),
    "@timeout-finish": _spec("timeout_finish", SCALAR, MAIN, LOGGER),
    "@maxdeath": _spec("max_death", SCALAR, MAIN),
    "@restart-delay": _spec("restart_delay", SCALAR, MAIN),  # ovis: restart back-off, ms
    "@restart-delay-max": _spec("restart_delay_max", SCALAR, MAIN),
    "@down-signal": _spec("down_signal", SCALAR, MAIN),
    "@hiercopy": _spec("copyfrom", LIST, MAIN),
    "@intree": _spec("intree", SCALAR, MAIN),
    "@build": _spec("build", SCALAR, *_SCRIPT_SECTIONS),
    "@runas": _spec("runas", SCALAR, *_SCRIPT_SECTIONS),
    "@shebang": _spec("shebang", SCALAR, *_SCRIPT_SECTIONS),
    "@execute": _spec("execute", BLOCK, *_SCRIPT_SECTIONS),
    "@destination": _spec("destination", SCALAR, LOGGER),
    "@backup": _spec("backup", SCALAR, LOGGER),
    "@maxsize": _spec("maxsize", SCALAR, LOGGER),
    "@timestamp": _spec("timestamp", SCALAR, LOGGER),
}

V08_KEYS: dict[str, KeySpec] = {
    "Type": _spec("type", SCALAR, MAIN),
    "Version": _spec("version", SCALAR, MAIN),
    "Description": _spec("description", SCALAR, MAIN),
    "User": _spec("user", LIST, MAIN),
    "Depends": _spec("depends", LIST, MAIN),
    "RequiredBy": _spec("requiredby", LIST, MAIN),
    "OptsDepends": _spec("optsdepends", LIST, MAIN),
    "Flags": _spec("flags", LIST, MAIN),
    "Options": _spec("options", LIST, MAIN),
    "Notify": _spec("notify", SCALAR, MAIN),
    "TimeoutStart": _spec("timeout_start", SCALAR, MAIN, LOGGER),
    "TimeoutStop": _spec("timeout_stop", SCALAR, MAIN, LOGGER),
    "MaxDeath": _spec("max_death", SCALAR, MAIN),
    "RestartDelay": _spec("restart_delay", SCALAR, MAIN),  # ovis: restart back-off, ms
    "RestartDelayMax": _spec("restart_delay_max", SCALAR, MAIN),
    "DownSignal": _spec("down_signal", SCALAR, MAIN),
    "CopyFrom": _spec("copyfrom", LIST, MAIN),
    "InTree": _spec("intree", SCALAR, MAIN),
    "StdIn": _spec("stdin", SCALAR, MAIN),
    "StdOut": _spec("stdout", SCALAR, MAIN),
    "StdErr": _spec("stderr", SCALAR, MAIN),
    "Build": _spec("build", SCALAR, *_SCRIPT_SECTIONS),
    "RunAs": _spec("runas", SCALAR, *_SCRIPT_SECTIONS),
    "Execute": _spec("execute", BLOCK, *_SCRIPT_SECTIONS),
    "Destination": _spec("destination", SCALAR, LOGGER),
    "Backup": _spec("backup", SCALAR, LOGGER),
    "MaxSize": _spec("maxsize", SCALAR, LOGGER),
    "Timestamp": _spec("timestamp", SCALAR, LOGGER),
}

KEYS = {AT: AT_KEYS, V08: V08_KEYS}

#: Keys 66 knows that ovis refuses rather than silently ignores.
UNSUPPORTED_KEYS: dict[str, str] = {
    "@contents": "bundles are not supported",
    "Contents": "bundles are not supported",
}

#: Human spelling of canonical section names, per dialect, for messages.
SECTION_TITLE = {AT: {s: f"[{s}]" for s in SECTION_ORDER},
                 V08: {s: f"[{s.capitalize()}]" for s in SECTION_ORDER}}

# Sections, assignments, versions, users and RunAs are matched by .plain (str methods, no re).
#: 66 0.8 standard stream redirections: bare words, and the forms taking a path.
STDIO_WORDS = {
    "stdin": ("s6log", "null", "parent", "close"),
    "stdout": ("s6log", "console", "syslog", "null", "parent", "close", "inherit"),
    "stderr": ("s6log", "console", "syslog", "null", "parent", "close", "inherit"),
}
STDIO_PATHS = {"stdin": ("tty",), "stdout": ("tty", "file"), "stderr": ("tty", "file")}


def _written(canon: str, section: str) -> dict[str, str]:
    """The spelling of the key *canon* of *section* in each dialect."""
    return {dialect: next(key for key, spec in table.items()
                          if spec.canon == canon and section in spec.sections)
            for dialect, table in KEYS.items()}


#: Required keys per dialect, as written, for "missing" messages.
TYPE_KEY = _written("type", MAIN)
EXECUTE_KEY = _written("execute", START)
