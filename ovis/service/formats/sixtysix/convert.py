"""Value conversion for the 66 reader: words as written -> model values.

Checks shared with the other formats come from :mod:`ovis.service.values`;
a converter raises ValueError and the caller's ``error()`` turns it into a
DefinitionError naming file, line and key.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~10 modules at import (a start that compiles imports this)

if TYPE_CHECKING:  # (collections.abc too: the collections package, for an alias)
    from collections.abc import Callable
    from typing import Any, Protocol

    Converter = Callable[[str], Any]
else:
    Protocol = Any = object  # Reporter and Converter's Any are for the type checker

from ovis.errors import DefinitionError
from ovis.paths import normpath
from ovis.service.envfile import unquote
from ovis.service.formats.sixtysix.keys import STDIO_PATHS, STDIO_WORDS
from ovis.service.formats.sixtysix.plain import is_runas, is_user, is_version
from ovis.service.model import Kind, is_valid_name
from ovis.service.values import (
    MAX_DEATH, MAX_MS, MAXSIZE_RANGE, bounded_uint, check_notify,
    normalize_signal, shorten,
)


class Reporter(Protocol):
    """What converters need of their caller: a way to build an error."""

    def error(self, line: int, key: str, message: str) -> DefinitionError: ...




def _uint_converter(limit: int = MAX_MS, low: int = 0) -> Converter:
    def convert(value: str) -> Any:
        return bounded_uint(value, low=low, high=limit)

    return convert


def _type(value: str) -> Kind:
    if value in ("classic", "longrun"):
        return Kind.LONGRUN
    if value == "oneshot":
        return Kind.ONESHOT
    if value in ("bundle", "module"):
        raise ValueError(f"type '{shorten(value)}' is not supported (use classic or oneshot)")
    raise ValueError(f"unknown type '{shorten(value)}' (expected classic or oneshot)")


def _version(value: str) -> str:
    if not is_version(value):
        raise ValueError(f"invalid version '{shorten(value)}' (expected N.N.N, e.g. 0.0.1)")
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
        raise ValueError(f"unknown signal '{shorten(value)}' (expected a name like TERM or SIGHUP, or 1..64)")
    return canonical


def _build(value: str) -> str:
    if value not in ("auto", "custom"):
        raise ValueError(f"unknown build '{shorten(value)}' (expected auto or custom)")
    return value


def _runas(value: str) -> str:
    if not is_runas(value):
        raise ValueError(f"invalid RunAs '{shorten(value)}' (expected user, user:group, uid:gid, uid: or :gid)")
    return value


def _shebang(value: str) -> str:
    interpreter = value.removeprefix("#!").strip()
    if not interpreter.startswith("/"):
        raise ValueError(f"not an absolute interpreter path: '{shorten(value)}'")
    return interpreter


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"not an absolute path: '{shorten(value)}'")
    return normpath(value)  # as str(Path(value)): the model's paths are str


def _timestamp(value: str) -> str:
    if value not in ("tai", "iso", "none"):
        raise ValueError(f"unknown timestamp '{shorten(value)}' (expected tai, iso or none)")
    return value


def _stdio(stream: str) -> Converter:
    """66 0.8 StdIn/StdOut/StdErr: a word, or ``tty:/path`` / ``file:/path``."""
    words, prefixes = STDIO_WORDS[stream], STDIO_PATHS[stream]

    def convert(value: str) -> str:
        if value in words:
            return value
        prefix, colon, rest = value.partition(":")
        if colon and prefix in prefixes:
            if not rest.startswith("/"):
                raise ValueError(f"{prefix}: needs an absolute path: '{shorten(value)}'")
            return f"{prefix}:{rest}"
        forms = [*words, *(f"{prefix}:/path" for prefix in prefixes)]
        raise ValueError(f"unknown redirection '{shorten(value)}' (expected {', '.join(forms)})")

    return convert


def _any_name(value: str) -> str:
    if not is_valid_name(value):
        raise ValueError(f"invalid name '{shorten(value)}'")
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
    "restart_delay": _uint_converter(),
    "restart_delay_max": _uint_converter(),
    "down_signal": _signal,
    "build": _build,
    "runas": _runas,
    "shebang": _shebang,
    "destination": _absolute,
    "backup": _uint_converter(),
    "maxsize": _uint_converter(limit=MAXSIZE_RANGE[1], low=MAXSIZE_RANGE[0]),
    "timestamp": _timestamp,
    "name": _any_name,
    "intree": _any_name,
    "stdin": _stdio("stdin"),
    "stdout": _stdio("stdout"),
    "stderr": _stdio("stderr"),
}


def convert_scalar(lexer: Reporter, canon: str, key: str, lineno: int, value: str) -> Any:
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


def _names(lexer: Reporter, key: str, items: list[tuple[int, str]]) -> tuple[str, ...]:
    names: dict[str, None] = {}  # ordered and O(1) membership: lists may be huge
    for lineno, word in items:
        if not is_valid_name(word):
            raise lexer.error(lineno, key, f"invalid service name '{shorten(word)}'")
        names[word] = None
    return tuple(names)


def _words(lexer: Reporter, key: str, items: list[tuple[int, str]], allowed: dict[str, str],
           refused: dict[str, str], what: str) -> set[str]:
    """Meanings of the words of *items*; *allowed* maps word -> meaning.

    *refused* maps words 66 knew but ovis does not honour to the reason.
    """
    found: set[str] = set()
    for lineno, word in items:
        if word in refused:
            raise lexer.error(lineno, key, f"{what} '{shorten(word)}' is not supported: {refused[word]}")
        if word not in allowed:
            raise lexer.error(lineno, key, f"unknown {what} '{shorten(word)}' (expected {' or '.join(allowed)})")
        found.add(allowed[word])
    return found


#: nosetsid (66 <= 0.6) is accepted with a warning: current s6 ignores it too.
FLAGS = {"down": "down", "earlier": "earlier", "essential": "essential", "nosetsid": "nosetsid"}
REFUSED_FLAGS: dict[str, str] = {}
#: env: 66 0.6, [environment] is always read; pipeline (66 <= 0.6, s6-rc pipelines):
#: accepted with a warning, the logger is a plain pipe to s6-log all the same.
OPTIONS = {"log": "log", "!log": "nolog", "env": "env", "pipeline": "pipeline"}
REFUSED_OPTIONS: dict[str, str] = {}


def convert_list(lexer: Reporter, canon: str, key: str, items: list[tuple[int, str]]) -> Any:
    """Validate the words of a list key."""
    if canon in ("depends", "extdepends", "requiredby", "optsdepends"):
        return _names(lexer, key, items)
    if canon == "copyfrom":
        for lineno, word in items:
            if ".." in word.split("/"):
                raise lexer.error(lineno, key, f"'..' not allowed: '{shorten(word)}'")
        return tuple(word for _, word in items)
    if canon == "flags":
        return _words(lexer, key, items, FLAGS, REFUSED_FLAGS, "flag")
    if canon == "options":
        found = _words(lexer, key, items, OPTIONS, REFUSED_OPTIONS, "option")
        if {"log", "nolog"} <= found:
            raise lexer.error(items[0][0], key, "both log and !log given")
        return found
    for lineno, word in items:  # user
        if not is_user(word):
            raise lexer.error(lineno, key, f"invalid user name '{shorten(word)}'")
    return tuple(word for _, word in items)
