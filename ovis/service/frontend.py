"""66 frontend service files, in both dialects 66 has used, into the model.

Two dialects describe the same things (see research/66.md §3):

``@key`` dialect (66 ≤ 0.7)::

    [main]
    @type = classic
    @depends = ( dbus )
    [start]
    @execute = ( foo -d )

0.8 dialect::

    [Main]
    Type = classic
    Depends = ( dbus )
    [Start]
    Execute = ( foo -d )

A file must stick to one of them: mixing is almost always a half-done
migration, and guessing which half the author meant would be worse than
saying so.

Syntax, as in 66: ``key = value``; ``#`` starts a comment to the end of the
line (inside ``( ... )`` lists too); lists are ``( a b )`` and may span
lines, and the ``(`` may be on the line after the key; ``Execute = ( ... )``
takes everything up to the *matching* ``)`` verbatim (see
:func:`find_closing_paren`); ``Description`` may be double-quoted.

Lenient where 66 is strict, strict where 66 only warns:

- only ``Type`` and ``[Start] Execute`` are required (66 also wants Version,
  Description and User); a ``Version`` that is given must be ``N.N.N``;
- an unknown section or key is an error, as is a key 66 knows but ovis does
  not honour (``InTree``, ``StdOut``, ``@hiercopy`` ...): quietly dropping it
  would change what the service does;
- list keys also accept a bare value on one line (``Depends = a b``);
- a custom ``Execute`` may have blank space before its ``#!`` line (66
  needs ``#!`` right after ``(``), ovis strips it;
- ``@shebang`` (deprecated in 66): with a custom build it becomes the
  script's ``#!`` line when the body has none; with the auto build it is
  accepted and ignored, since ovis always writes the execline interpreter;
- ``[Environment]`` values starting with ``!`` (66: "unexport from the final
  process") keep the value without the ``!``: ovis exports every variable;
- ``[Logger]`` keys are ignored when ``Options = ( !log )``; a ``[Logger]``
  ``Execute`` replaces the generated s6-log command line (an execline body
  with the auto build, a whole script with the custom build).

Instances: for ``getty@tty1`` read from the template ``getty@``, every
``@I`` in the text becomes ``tty1`` before parsing (:func:`substitute_instance`).

Errors are :class:`~ovis.errors.DefinitionError` naming the file, the line
of the offending key (or, in a list, of the offending element) and the key
as written.  ``Service.lines``/``keys`` record the same for later errors,
including one ``depends/NAME`` entry per listed name.
"""

from __future__ import annotations

import re
import signal
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ovis.errors import DefinitionError
from ovis.service.envfile import is_env_ignorable, parse_env_line, unquote
from ovis.service.model import Kind, LoggerSpec, Program, ProgramKind, Service, is_valid_name

# --------------------------------------------------------------------------
# Vocabulary of both dialects
# --------------------------------------------------------------------------

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


@dataclass(frozen=True)
class KeySpec:
    """What a key means: its canonical name, value shape and allowed sections."""

    canon: str
    shape: str
    sections: frozenset[str]


def _spec(canon: str, shape: str, *sections: str) -> KeySpec:
    return KeySpec(canon, shape, frozenset(sections))


_SCRIPT_SECTIONS = (START, STOP, LOGGER)

AT_KEYS: dict[str, KeySpec] = {
    "@type": _spec("type", SCALAR, MAIN),
    "@version": _spec("version", SCALAR, MAIN),
    "@description": _spec("description", SCALAR, MAIN),
    "@user": _spec("user", LIST, MAIN),
    "@depends": _spec("depends", LIST, MAIN),
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
    "@down-signal": _spec("down_signal", SCALAR, MAIN),
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
    "DownSignal": _spec("down_signal", SCALAR, MAIN),
    # env66 bridge (fmt66's reader replaces this): 0.8 standard streams.
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
    "@name": "the service name is the file name",
    "@extdepends": "list the names in @depends",
    "@contents": "bundles are not supported",
    "@hiercopy": "copying files into the service directory is not supported",
    "@intree": "use 'ovis enable -t TREE'",
    "CopyFrom": "copying files into the service directory is not supported",
    "InTree": "use 'ovis enable -t TREE'",
    "Contents": "bundles are not supported",
}

#: Human spelling of canonical section names, per dialect, for messages.
SECTION_TITLE = {AT: {s: f"[{s}]" for s in SECTION_ORDER},
                 V08: {s: f"[{s.capitalize()}]" for s in SECTION_ORDER}}

SECTION_RE = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*(?:#.*)?$")
ASSIGN_RE = re.compile(r"^\s*(?P<key>[^=\s]+)\s*=\s*(?P<rest>.*)$")
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$")
# env66 bridge: `user:group` by name too (resolved by the compiler).
_ACCOUNT = r"[A-Za-z_][A-Za-z0-9_.-]*\$?"
RUNAS_RE = re.compile(rf"^(?:{_ACCOUNT}(?::{_ACCOUNT})?|{_ACCOUNT}:[0-9]+"
                      rf"|[0-9]+:(?:[0-9]+|{_ACCOUNT})?|:(?:[0-9]+|{_ACCOUNT}))$")

MAX_DEATH = 4096
MAX_MS = 2**32 - 1
MAXSIZE_RANGE = (4096, 268_435_455)  # what s6-log accepts for its sNNN directive
SIGNAL_NUMBERS = range(1, 65)


# --------------------------------------------------------------------------
# Value helpers shared with the anopa parser
# --------------------------------------------------------------------------


def normalize_signal(text: str) -> str | None:
    """Canonical spelling of a signal for s6's ``down-signal``, or None if invalid.

    Accepts ``HUP``, ``SIGHUP`` (any case; skalibs compares names without
    case) or a number 1..64.  Names come back as ``SIGHUP`` and numbers as
    decimal, so two definitions meaning the same signal compare equal.
    """
    text = text.strip()
    if text.isdigit():
        return str(int(text)) if int(text) in SIGNAL_NUMBERS else None
    upper = text.upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    members = signal.Signals.__members__
    return upper if upper in members and not upper.startswith("SIG_") else None


def parse_uint(text: str, limit: int = MAX_MS) -> int | None:
    """Decimal unsigned integer no larger than *limit*, or None."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= limit else None


def check_notify(value: int) -> str | None:
    """Why *value* cannot be a notification fd, or None when it can.

    0, 1 and 2 are the service's stdin, stdout (the logger pipe) and stderr:
    s6-supervise would accept them, but readiness would never arrive there.
    """
    if value < 3:
        return "must be 3 or more (0, 1 and 2 are stdin, stdout and stderr)"
    return None


# --------------------------------------------------------------------------
# Lexing
# --------------------------------------------------------------------------


@dataclass
class Entry:
    """One ``key = value`` statement, value already converted."""

    key: str  # as written
    line: int
    value: Any
    items: list[tuple[int, str]] = field(default_factory=list)  # list keys: (line, word)


@dataclass
class Section:
    """One ``[Section]`` and its statements, by canonical key."""

    written: str
    line: int
    entries: dict[str, Entry] = field(default_factory=dict)
    env: dict[str, tuple[int, str]] = field(default_factory=dict)  # [Environment]: KEY -> (line, value)
    unexported: list[str] = field(default_factory=list)  # env66 bridge: keys written key=!value


def find_closing_paren(text: str) -> int | None:
    """Index of the ``)`` matching the ``(`` at ``text[0]``, or None.

    ``Execute`` bodies are execline or shell code, which may hold
    parentheses of their own, so this counts nesting and skips what cannot
    close the block: double- or single-quoted strings, backslash-escaped
    characters and ``#`` comments (a ``#`` starting a word, to the end of the
    line, as in both execline and sh; the ``#!`` line is one too).  Shell
    here-documents with unbalanced parentheses are beyond it.
    """
    depth = 0
    quote = ""
    word_start = True
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch == "\\":
            i += 2
            continue
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and word_start:
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        word_start = ch.isspace() or ch in "(;|&"
        i += 1
    return None


def strip_comment(text: str) -> str:
    """*text* without a ``#`` comment, ignoring ``#`` inside double quotes."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return text[:i]
    return text


class _Lexer:
    """Walks the lines of one file and builds :class:`Section` objects.

    Values are converted as soon as they are read, so the first error in
    file order is the one reported.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.index = 0
        self.dialect: str | None = None
        self.dialect_line = 0
        self.sections: dict[str, Section] = {}
        self.current: str | None = None

    def error(self, line: int, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.path, line, key, message)

    def run(self) -> dict[str, Section]:
        while self.index < len(self.lines):
            lineno = self.index + 1
            line = self.lines[self.index]
            self.index += 1
            header = SECTION_RE.match(line)
            if header:
                self.open_section(header.group("name"), lineno)
            elif self.current == ENVIRONMENT:
                self.assignment(line, lineno)
            elif not strip_comment(line).strip():
                continue
            else:
                self.statement(line, lineno)
        return self.sections

    # -- dialect ---------------------------------------------------------

    def set_dialect(self, dialect: str, lineno: int, written: str) -> None:
        """Fix the file's dialect on first use; refuse the other one afterwards."""
        if self.dialect is None:
            self.dialect, self.dialect_line = dialect, lineno
        elif dialect != self.dialect:
            raise self.error(
                lineno, written,
                f"mixes dialects: {dialect} syntax in a file written in the "
                f"{self.dialect} dialect (since line {self.dialect_line})",
            )

    # -- sections --------------------------------------------------------

    def open_section(self, name: str, lineno: int) -> None:
        written = f"[{name}]"
        if name in UNSUPPORTED_SECTIONS:
            raise self.error(lineno, written, "not supported: " + UNSUPPORTED_SECTIONS[name])
        if name not in SECTIONS:
            raise self.error(lineno, written, "unknown section")
        dialect, canon = SECTIONS[name]
        self.set_dialect(dialect, lineno, written)
        if canon in self.sections:
            first = self.sections[canon].line
            raise self.error(lineno, written, f"duplicate section (first at line {first})")
        self.sections[canon] = Section(written, lineno)
        self.current = canon

    # -- statements ------------------------------------------------------

    def assignment(self, line: str, lineno: int) -> None:
        """One ``[Environment]`` line; a leading ``!`` on the value is dropped."""
        if is_env_ignorable(line):
            return
        key, value = parse_env_line(self.path, lineno, line)
        env = self.sections[ENVIRONMENT].env
        if key in env:
            raise self.error(lineno, key, f"duplicate variable (first set at line {env[key][0]})")
        env[key] = (lineno, value.removeprefix("!"))
        if value.startswith("!"):  # env66 bridge: remember `key=!value`
            self.sections[ENVIRONMENT].unexported.append(key)

    def statement(self, line: str, lineno: int) -> None:
        match = ASSIGN_RE.match(line)
        if self.current is None:
            word = match.group("key") if match else line.split()[0]
            raise self.error(lineno, word, "text outside any section")
        if not match:
            raise self.error(lineno, line.split()[0], "expected KEY = VALUE")
        key, rest = match.group("key"), match.group("rest")
        spec = self.lookup(key, lineno)
        section = self.sections[self.current]
        if spec.canon in section.entries:
            first = section.entries[spec.canon].line
            raise self.error(lineno, key, f"duplicate key (first set at line {first})")
        section.entries[spec.canon] = self.read_value(spec, key, rest, lineno)

    def lookup(self, key: str, lineno: int) -> KeySpec:
        """The spec of *key*, checking dialect and section."""
        if key in UNSUPPORTED_KEYS:
            raise self.error(lineno, key, "not supported by ovis: " + UNSUPPORTED_KEYS[key])
        dialect = AT if key.startswith("@") else V08
        if key not in KEYS[dialect]:
            raise self.error(lineno, key, "unknown key")
        self.set_dialect(dialect, lineno, key)
        spec = KEYS[dialect][key]
        assert self.current is not None
        if self.current not in spec.sections:
            titles = SECTION_TITLE[dialect]
            allowed = ", ".join(titles[s] for s in SECTION_ORDER if s in spec.sections)
            raise self.error(lineno, key, f"not allowed in {titles[self.current]} (only in {allowed})")
        return spec

    def read_value(self, spec: KeySpec, key: str, rest: str, lineno: int) -> Entry:
        if spec.shape == SCALAR:
            value = strip_comment(rest).strip()
            if not value:
                raise self.error(lineno, key, "empty value")
            return Entry(key, lineno, convert_scalar(self, spec.canon, key, lineno, value))
        start = self.paren_start(rest, lineno)
        if start is None:  # a bare value where a ( ... ) was expected
            if spec.shape == BLOCK:
                raise self.error(lineno, key, "expected ( ... )")
            value = strip_comment(rest).strip()
            if not value:
                raise self.error(lineno, key, "empty value")
            items = [(lineno, word) for word in value.split()]
        elif spec.shape == BLOCK:
            return Entry(key, lineno, self.read_block(key, lineno, *start))
        else:
            items = self.read_list(key, lineno, *start)
        if not items:
            raise self.error(lineno, key, "empty value")
        return Entry(key, lineno, convert_list(self, spec.canon, key, items), items)

    def paren_start(self, rest: str, lineno: int) -> tuple[int, int] | None:
        """(line index, column) of the ``(`` opening a list or block, or None.

        The ``(`` may open on the key's line or, as 66 allows, on the next
        non-blank line.  None means there is no ``(`` (a bare value, or none).
        """
        if rest.lstrip().startswith("("):
            line = self.lines[lineno - 1]
            return lineno - 1, len(line) - len(rest.lstrip())
        if strip_comment(rest).strip():
            return None
        probe = lineno
        while probe < len(self.lines) and not strip_comment(self.lines[probe]).strip():
            probe += 1
        if probe < len(self.lines) and self.lines[probe].lstrip().startswith("("):
            line = self.lines[probe]
            return probe, len(line) - len(line.lstrip())
        return None

    def read_block(self, key: str, lineno: int, index: int, column: int) -> str:
        """Verbatim body of the ``( ... )`` at (index, column); move past it."""
        text = "\n".join([self.lines[index][column:], *self.lines[index + 1:]])
        end = find_closing_paren(text)
        if end is None:
            raise self.error(lineno, key, "unterminated '(' (no matching ')')")
        closing = index + text.count("\n", 0, end)
        newline = text.find("\n", end)
        self.after_paren(key, closing, text[end + 1: newline if newline >= 0 else len(text)])
        return text[1:end]

    def read_list(self, key: str, lineno: int, index: int, column: int) -> list[tuple[int, str]]:
        """Words of the ``( ... )`` at (index, column), with the line of each.

        ``#`` comments to the end of the line, wherever it is.  A section
        header before the ``)`` means the list was never closed.
        """
        items: list[tuple[int, str]] = []
        for here in range(index, len(self.lines)):
            raw = self.lines[here]
            if here == index:
                raw = raw[column + 1:]
            elif SECTION_RE.match(raw):
                break
            body = strip_comment(raw)
            close = body.find(")")
            words = body[: close if close >= 0 else len(body)].split()
            items.extend((here + 1, word) for word in words)
            if close >= 0:
                self.after_paren(key, here, body[close + 1:])
                return items
        raise self.error(lineno, key, "unterminated '(' (no matching ')')")

    def after_paren(self, key: str, index: int, after: str) -> None:
        """Refuse anything but a comment after ``)``; resume on the next line."""
        if strip_comment(after).strip():
            raise self.error(index + 1, key, "unexpected text after ')'")
        self.index = index + 1


# --------------------------------------------------------------------------
# Value conversion
# --------------------------------------------------------------------------

Converter = Callable[[str], Any]


def _uint_converter(limit: int = MAX_MS, low: int = 0) -> Converter:
    def convert(value: str) -> Any:
        number = parse_uint(value, limit=2**63)
        if number is None:
            raise ValueError(f"not an unsigned integer: '{value}'")
        if not low <= number <= limit:
            raise ValueError(f"out of range {low}..{limit}: {number}")
        return number

    return convert


def _type(value: str) -> Kind:
    if value in ("classic", "longrun"):
        return Kind.LONGRUN
    if value == "oneshot":
        return Kind.ONESHOT
    if value in ("bundle", "module"):
        raise ValueError(f"type '{value}' is not supported (use classic or oneshot)")
    raise ValueError(f"unknown type '{value}' (expected classic or oneshot)")


def _version(value: str) -> str:
    if not VERSION_RE.match(value):
        raise ValueError(f"invalid version '{value}' (expected N.N.N, e.g. 0.0.1)")
    return value


def _notify(value: str) -> int:
    number = _uint_converter(limit=2**31 - 1)(value)
    problem = check_notify(number)
    if problem:
        raise ValueError(problem)
    return number


def _signal(value: str) -> str:
    canonical = normalize_signal(value)
    if canonical is None:
        raise ValueError(f"unknown signal '{value}' (expected a name like TERM or SIGHUP, or 1..64)")
    return canonical


def _build(value: str) -> str:
    if value not in ("auto", "custom"):
        raise ValueError(f"unknown build '{value}' (expected auto or custom)")
    return value


def _runas(value: str) -> str:
    if not RUNAS_RE.match(value):
        raise ValueError(f"invalid RunAs '{value}' (expected user, user:group, uid:gid, uid: or :gid)")
    return value


def derive_stdio(stdin: str | None, stdout: str | None, stderr: str | None,
                 log: bool) -> tuple[str | None, str | None, str | None]:
    """env66 bridge: see ovis.service.stdio.derive."""
    from ovis.service.stdio import derive

    return derive(stdin, stdout, stderr, log)


def _stdio(value: str, stream: str) -> str:
    """env66 bridge: one StdIn/StdOut/StdErr value (ovis.service.stdio knows the forms)."""
    from ovis.service.stdio import normalize

    return normalize(value, stream)


def _shebang(value: str) -> str:
    interpreter = value.removeprefix("#!").strip()
    if not interpreter.startswith("/"):
        raise ValueError(f"not an absolute interpreter path: '{value}'")
    return interpreter


def _absolute(value: str) -> Path:
    if not value.startswith("/"):
        raise ValueError(f"not an absolute path: '{value}'")
    return Path(value)


def _timestamp(value: str) -> str:
    if value not in ("tai", "iso", "none"):
        raise ValueError(f"unknown timestamp '{value}' (expected tai, iso or none)")
    return value


SCALARS: dict[str, Converter] = {
    "type": _type,
    "version": _version,
    "description": lambda value: value,
    "notify": _notify,
    "timeout_start": _uint_converter(),
    "timeout_stop": _uint_converter(),
    "timeout_kill": _uint_converter(),
    "timeout_finish": _uint_converter(),
    "max_death": _uint_converter(limit=MAX_DEATH),
    "down_signal": _signal,
    "build": _build,
    "runas": _runas,
    "shebang": _shebang,
    "destination": _absolute,
    "backup": _uint_converter(),
    "maxsize": _uint_converter(limit=MAXSIZE_RANGE[1], low=MAXSIZE_RANGE[0]),
    "timestamp": _timestamp,
    "stdin": lambda value: _stdio(value, "stdin"),  # env66 bridge
    "stdout": lambda value: _stdio(value, "stdout"),
    "stderr": lambda value: _stdio(value, "stderr"),
}


def convert_scalar(lexer: _Lexer, canon: str, key: str, lineno: int, value: str) -> Any:
    """Unquote and validate one scalar value."""
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"'):
            raise lexer.error(lineno, key, "unterminated '\"'")
    value = unquote(value)
    if not value.strip():
        raise lexer.error(lineno, key, "empty value")
    try:
        return SCALARS[canon](value)
    except ValueError as exc:
        raise lexer.error(lineno, key, str(exc)) from None


def _names(lexer: _Lexer, key: str, items: list[tuple[int, str]]) -> tuple[str, ...]:
    names: list[str] = []
    for lineno, word in items:
        if not is_valid_name(word):
            raise lexer.error(lineno, key, f"invalid service name '{word}'")
        if word not in names:
            names.append(word)
    return tuple(names)


def _words(lexer: _Lexer, key: str, items: list[tuple[int, str]], allowed: dict[str, str],
           refused: dict[str, str], what: str) -> set[str]:
    """Meanings of the words of *items*; *allowed* maps word -> meaning.

    *refused* maps words 66 knew but ovis does not honour to the reason.
    """
    found: set[str] = set()
    for lineno, word in items:
        if word in refused:
            raise lexer.error(lineno, key, f"{what} '{word}' is not supported: {refused[word]}")
        if word not in allowed:
            raise lexer.error(lineno, key, f"unknown {what} '{word}' (expected {' or '.join(allowed)})")
        found.add(allowed[word])
    return found


FLAGS = {"down": "down", "earlier": "earlier"}
REFUSED_FLAGS = {"nosetsid": "s6 always starts a service in a new session"}
OPTIONS = {"log": "log", "!log": "nolog", "env": "env"}  # env: 66 0.6, [environment] is always read
REFUSED_OPTIONS = {"pipeline": "loggers are always plain s6-log pipes"}


def convert_list(lexer: _Lexer, canon: str, key: str, items: list[tuple[int, str]]) -> Any:
    """Validate the words of a list key."""
    if canon in ("depends", "requiredby", "optsdepends"):
        return _names(lexer, key, items)
    if canon == "flags":
        return _words(lexer, key, items, FLAGS, REFUSED_FLAGS, "flag")
    if canon == "options":
        found = _words(lexer, key, items, OPTIONS, REFUSED_OPTIONS, "option")
        if {"log", "nolog"} <= found:
            raise lexer.error(items[0][0], key, "both log and !log given")
        return "nolog" not in found
    for lineno, word in items:  # user
        if not USER_RE.match(word):
            raise lexer.error(lineno, key, f"invalid user name '{word}'")
    return tuple(word for _, word in items)


# --------------------------------------------------------------------------
# From sections to the model
# --------------------------------------------------------------------------

#: Canonical [Main] key -> model field it lands in (for ``lines``/``keys``).
MAIN_FIELDS = {
    "type": "kind", "version": "version", "description": "description", "user": "user",
    "depends": "depends", "requiredby": "requiredby", "optsdepends": "wants",
    "notify": "notify", "timeout_start": "timeout_start", "timeout_stop": "timeout_stop",
    "timeout_kill": "timeout_kill", "timeout_finish": "timeout_finish",
    "max_death": "max_death", "down_signal": "down_signal", "options": "logger",
    "stdin": "stdin", "stdout": "stdout", "stderr": "stderr",  # env66 bridge
}

#: Required keys per dialect, as written, for "missing" messages.
TYPE_KEY = {AT: "@type", V08: "Type"}
EXECUTE_KEY = {AT: "@execute", V08: "Execute"}


class _Builder:
    """Turns the lexed sections of one file into a :class:`Service`."""

    def __init__(self, path: Path, name: str, dialect: str, sections: dict[str, Section]) -> None:
        self.path = path
        self.name = name
        self.dialect = dialect
        self.sections = sections
        self.lines: dict[str, tuple[Path, int]] = {}
        self.keys: dict[str, str] = {}

    def error(self, line: int, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.path, line, key, message)

    def record(self, field_name: str, entry: Entry | Section) -> None:
        self.lines[field_name] = (self.path, entry.line)
        self.keys[field_name] = entry.key if isinstance(entry, Entry) else entry.written

    def section_canon(self, section: Section) -> str:
        """env66 bridge: canonical name (start, stop, logger) of a lexed section."""
        return next(c for c, s in self.sections.items() if s is section)

    def title(self, canon: str) -> str:
        return SECTION_TITLE[self.dialect][canon]

    def build(self) -> Service:
        main = self.require_section(MAIN)
        kind = self.require_key(main, "type", TYPE_KEY).value
        values = {canon: entry.value for canon, entry in main.entries.items()}
        for canon, entry in main.entries.items():
            if canon != "flags":
                self.record(MAIN_FIELDS[canon], entry)
        flags = self.flags(main)
        service = Service(
            name=self.name,
            kind=kind,
            source=self.path,
            description=values.get("description", ""),
            version=values.get("version"),
            depends=self.dependencies(main, "depends", "depends"),
            wants=self.dependencies(main, "optsdepends", "wants"),
            requiredby=self.dependencies(main, "requiredby", "requiredby"),
            start=self.program(START, required=True),
            stop=self.program(STOP, required=STOP in self.sections),
            notify=values.get("notify"),
            timeout_start=values.get("timeout_start"),
            timeout_stop=values.get("timeout_stop"),
            timeout_kill=values.get("timeout_kill"),
            timeout_finish=values.get("timeout_finish"),
            down_signal=values.get("down_signal"),
            max_death=values.get("max_death"),
            env=self.environment(),
            env_unexported=self.unexported(),  # env66 bridge
            logger=self.logger(values.get("options", True)),
            # env66 bridge: 66's redefinitions, as fmt66's reader applies them
            **dict(zip(("stdin", "stdout", "stderr"), derive_stdio(
                values.get("stdin"), values.get("stdout"), values.get("stderr"),
                values.get("options", True)))),
            down="down" in flags,
            earlier="earlier" in flags,
            user=values.get("user", ()),
        )
        service.lines, service.keys = self.lines, self.keys
        return service

    # -- required parts --------------------------------------------------

    def require_section(self, canon: str) -> Section:
        if canon not in self.sections:
            raise self.error(1, self.title(canon), "missing required section")
        return self.sections[canon]

    def require_key(self, section: Section, canon: str, written: dict[str, str]) -> Entry:
        if canon not in section.entries:
            raise self.error(section.line, written[self.dialect], "missing required key")
        return section.entries[canon]

    # -- [Main] pieces -----------------------------------------------------

    def flags(self, main: Section) -> set[str]:
        entry = main.entries.get("flags")
        if entry is None:
            return set()
        for flag in entry.value:
            self.record(flag, entry)
        return set(entry.value)

    def dependencies(self, main: Section, canon: str, field_name: str) -> tuple[str, ...]:
        """Names of a dependency list; each name's own line goes to ``lines``."""
        entry = main.entries.get(canon)
        if entry is None:
            return ()
        for lineno, word in entry.items:
            key = f"{field_name}/{word}"
            if key not in self.lines:
                self.lines[key] = (self.path, lineno)
                self.keys[key] = entry.key
        return tuple(entry.value)

    # -- [Start] / [Stop] / [Logger] ---------------------------------------

    def program(self, canon: str, required: bool) -> Program | None:
        """The Program of a script section (None when the section is absent)."""
        if canon not in self.sections:
            if required:
                raise self.error(1, self.title(canon), "missing required section")
            return None
        section = self.sections[canon]
        if "execute" not in section.entries:
            if not required:
                return None
            raise self.error(section.line, EXECUTE_KEY[self.dialect], "missing required key")
        program = self.script(section)
        self.record(canon, section.entries["execute"])
        return program

    def script(self, section: Section) -> Program:
        """Execute + Build + RunAs (+ @shebang) of one section as a Program."""
        entries = section.entries
        execute = entries["execute"]
        build = entries["build"].value if "build" in entries else "auto"
        runas = entries["runas"].value if "runas" in entries else None
        if runas is not None:  # env66 bridge: the compiler's RunAs errors name this line
            self.record(f"{self.section_canon(section)}/runas", entries["runas"])
        if build == "auto":  # layout is not significant in execline: tidy it
            text = textwrap.dedent(execute.value.lstrip("\n")).strip()
            return Program(ProgramKind.EXECLINE, text=text, runas=runas)
        text = execute.value.strip()
        if not text.startswith("#!") and "shebang" in entries:
            text = f"#!{entries['shebang'].value}\n{text}"
        if not text.startswith("#!"):
            raise self.error(execute.line, execute.key,
                             "a custom build needs a script starting with #! (e.g. #!/bin/sh)")
        return Program(ProgramKind.VERBATIM, text=text + "\n", runas=runas)

    def logger(self, enabled: bool) -> LoggerSpec | None:
        """The s6-log logger every frontend service gets, unless ``!log``."""
        if not enabled:
            return None
        section = self.sections.get(LOGGER)
        if section is None:
            return LoggerSpec()
        entries = section.entries
        if entries.get("build") and entries["build"].value == "custom" and "execute" not in entries:
            raise self.error(section.line, EXECUTE_KEY[self.dialect], "missing required key")
        settings: dict[str, Any] = {
            canon: entries[canon].value
            for canon in ("destination", "backup", "maxsize", "timestamp", "runas",
                          "timeout_start", "timeout_stop", "timeout_kill", "timeout_finish")
            if canon in entries
        }
        if "execute" in entries:
            settings["program"] = self.script(section)
        self.record("logger", section)
        return LoggerSpec(**settings)

    # -- [Environment] -----------------------------------------------------

    def environment(self) -> dict[str, str]:
        """``[Environment]`` variables in file order."""
        section = self.sections.get(ENVIRONMENT)
        if section is None:
            return {}
        for key, (lineno, _) in section.env.items():
            self.lines[f"env/{key}"] = (self.path, lineno)
            self.keys[f"env/{key}"] = key
        self.record("env", section)
        return {key: value for key, (_, value) in section.env.items()}

    def unexported(self) -> tuple[str, ...]:
        """env66 bridge: names written ``key=!value`` (fmt66's reader replaces this)."""
        section = self.sections.get(ENVIRONMENT)
        return tuple(section.unexported) if section is not None else ()


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def substitute_instance(text: str, name: str) -> str:
    """Replace ``@I`` as 66 does: by the text after the first ``@`` of *name*,
    or by the whole name when it is not an instance."""
    instance = name.split("@", 1)[1] if "@" in name else name
    return text.replace("@I", instance)


def read_definition(path: Path, name: str) -> str:
    """Text of a definition file, with unreadable files as DefinitionError."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(path, 1, name, f"not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise DefinitionError(path, 1, name, f"cannot read: {exc.strerror}") from None


def parse_frontend(path: Path, name: str, text: str | None = None) -> Service:
    """Parse the 66 frontend file *path* as the service *name*.

    *text* defaults to the file's content.  For an instance (``getty@tty1``
    read from the template ``getty@``) ``@I`` is replaced before parsing.
    Raises :class:`~ovis.errors.DefinitionError` at the first problem.
    """
    path = Path(path)
    if not is_valid_name(name):
        raise DefinitionError(path, 1, name, "invalid service name")
    if text is None:
        text = read_definition(path, name)
    lexer = _Lexer(path, substitute_instance(text, name))
    sections = lexer.run()
    if lexer.dialect is None:  # nothing but comments: not even a [Main]
        raise DefinitionError(path, 1, "[Main]", "missing required section")
    return _Builder(path, name, lexer.dialect, sections).build()
