"""``execl-envfile``: read ``key=value`` files, substitute, export, exec.

This is what 66 puts before every Execute line.  The rules, from 66's
documentation of execl-envfile:

- *src* is a file, or a directory whose regular files (names not starting
  with ``.``) are read in ascending name order; a key set again later wins;
- ``key = value``: blanks around both are dropped; blank lines and lines
  starting with ``#`` are ignored; a double-quoted value keeps its blanks
  and understands C escapes (``\\n``, ``\\t``, ``\\\\``, ``\\"``, ``\\xHH``,
  octal); in an unquoted value ``\\"`` is a ``"``;
- ``key=!value``: the key is used for substitution but removed from the
  environment of prog;
- ``${name}`` inside a value is replaced by that key's value, whatever the
  order of the lines, or (for a key not in the files, or the key itself as
  in ``PATH=/x:${PATH}``) by the current environment's value; a name found
  in neither stays as written; ``$name`` without braces is left alone;
- every key of the files is then substituted into the rest of the command
  line, execline-style (``$key`` and ``${key}``, one word each).

The module only reads and computes; ``ovis.cli.tools66.envfile`` execs.
This is not :mod:`ovis.service.envfile` on purpose: 66 lets a later line
override an earlier one and knows C escapes, where ovis's own definition
files refuse duplicates, and that module imports pathlib.
"""

from __future__ import annotations

import os
import re
TYPE_CHECKING = False  # typing itself costs milliseconds at every service start
if TYPE_CHECKING:
    from typing import Mapping

from .errors import ToolError, UsageError, why

USAGE = "execl-envfile [ -h ] [ -v verbosity ] [ -l ] src prog..."

_REF = re.compile(r"\$\{([^${}]+)\}")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
           "\\": "\\", '"': '"', "'": "'", "?": "?", "e": "\x1b"}


class EnvFileError(ToolError):
    """A source that cannot be read or parsed (``-l`` turns it into a warning)."""


def c_unescape(text: str) -> str:
    """C escapes of a double-quoted value; an unknown escape stays as written."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _SIMPLE:
            out.append(_SIMPLE[nxt])
            i += 2
        elif nxt == "x" and i + 2 < n and text[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            while j < n and j < i + 4 and text[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(text[i + 2:j], 16)))
            i = j
        elif nxt in "01234567":
            j = i + 1
            while j < n and j < i + 4 and text[j] in "01234567":
                j += 1
            out.append(chr(int(text[i + 1:j], 8)))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_value(raw: str) -> tuple[str, bool]:
    """``(value, unexported)`` of the text right of ``=`` (already stripped)."""
    unexport = raw.startswith("!")
    if unexport:
        raw = raw[1:]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return c_unescape(raw[1:-1]), unexport
    return raw.replace('\\"', '"'), unexport


def parse_text(text: str, origin: str) -> list[tuple[str, str, bool]]:
    """The ``(key, value, unexported)`` of a file's lines, in order."""
    pairs = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, eq, raw = stripped.partition("=")
        key = key.strip()
        if not eq or not key or any(c.isspace() or c in "${}" for c in key):
            raise EnvFileError(f"{origin}:{lineno}: expected key=value: {stripped}")
        value, unexport = parse_value(raw.strip())
        pairs.append((key, value, unexport))
    return pairs


def source_files(src: str) -> list[str]:
    """The files to read for *src*: itself, or a directory's regular files by name."""
    try:
        st = os.stat(src)
    except OSError as e:
        raise EnvFileError(f"unable to read environment from {src}: {why(e)}") from None
    import stat

    if stat.S_ISREG(st.st_mode):
        return [src]
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{src} is neither a file nor a directory")
    try:
        names = sorted(n for n in os.listdir(src) if not n.startswith("."))
    except OSError as e:
        raise EnvFileError(f"unable to read environment from {src}: {why(e)}") from None
    files = [os.path.join(src, n) for n in names if os.path.isfile(os.path.join(src, n))]
    if not files:
        raise EnvFileError(f"unable to read environment from {src}: no regular file in it")
    return files


def read(src: str) -> tuple[dict[str, str], set[str]]:
    """Raw values of every key of *src* (later wins) and the keys to unexport."""
    raw: dict[str, str] = {}
    unexported: set[str] = set()
    for path in source_files(src):
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            raise EnvFileError(f"unable to read environment from {path}: {why(e)}") from None
        for key, value, unexport in parse_text(text, path):
            raw[key] = value
            if unexport:
                unexported.add(key)
            else:
                unexported.discard(key)
    return raw, unexported


def expand(raw: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Resolve ``${name}`` in the values, order-independently.

    A reference to the key itself, or to a name the files do not set, takes
    the current environment's value; a name set nowhere, or a cycle, stays
    literal.
    """
    done: dict[str, str] = {}

    def value_of(key: str, active: tuple[str, ...]) -> str:
        if key in done:
            return done[key]
        active = active + (key,)

        def ref(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == key or name not in raw:
                return environ.get(name, match.group(0))
            if name in active:
                return match.group(0)
            return value_of(name, active)

        result = _REF.sub(ref, raw[key])
        done[key] = result
        return result

    for key in raw:
        value_of(key, ())
    return done


class Plan:
    """What to exec: the substituted argv and the environment changes."""

    __slots__ = ("argv", "values", "unexported")

    def __init__(self, argv: list[str], values: dict[str, str], unexported: set[str]) -> None:
        self.argv = argv
        self.values = values
        self.unexported = unexported

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        env = dict(environ)
        env.update(self.values)
        for key in self.unexported:
            env.pop(key, None)
        return env


def plan(src: str, prog: list[str], environ: Mapping[str, str]) -> Plan:
    """Read *src*, expand its values and substitute them into *prog*."""
    from .argv import substitute

    raw, unexported = read(src)
    values = expand(raw, environ)
    return Plan(substitute(prog, values), values, unexported)
