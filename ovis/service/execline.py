"""Writing execline scripts safely.

Values from definitions (environment values, user names) end up as words of
generated execline scripts; they are always written as quoted words so that
no value can ever become code, whatever characters it holds.
"""

from __future__ import annotations

import functools
import os
import shutil
from typing import Callable

EXECLINEB = "/usr/bin/execlineb"

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote(word: str) -> str:
    """One execline word, double-quoted with backslash escapes."""
    return '"' + "".join(_ESCAPES.get(c, c) for c in word) + '"'


def shebang(positional: bool = False) -> str:
    """``-P``: no positional parameters (run); ``-S0``: ``$@`` substituted (finish)."""
    return f"#!{EXECLINEB} {'-S0' if positional else '-P'}\n"


def export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {quote(k)} {quote(v)}\n" for k, v in env.items())


def substitutions(names: list[str], unexported: "frozenset[str] | tuple[str, ...]",
                  cmd: "Callable[[str], str]" = str) -> str:
    """Substitute each variable of *names* into the rest of the script, in one pass.

    One ``importas`` per variable inside a single ``multisubstitute``: values
    are inserted as one word each and never rescanned, so a value holding
    ``$x`` or ``${1}`` stays as written.  Names in *unexported* are unset
    once substituted (66's ``key=!value``).
    """
    words = [f"importas {'-u ' if n in unexported else ''}{quote(n)} {quote(n)}" for n in names]
    if not words:
        return ""
    if len(words) == 1:
        return cmd(words[0]) + "\n"
    return cmd("multisubstitute") + " {\n" + "".join(f"  {w}\n" for w in words) + "}\n"


#: Where execline and s6 commands live when PATH does not say (Debian puts
#: execline's in /usr/lib/execline/bin, which only execlineb adds to PATH).
TOOL_DIRS = ("/usr/lib/execline/bin", "/usr/bin", "/bin", "/command", "/usr/local/bin")


@functools.lru_cache(maxsize=None)
def absolute(word: str) -> str:
    """*word* with its command (first token) as an absolute path, when found.

    Used after a service sets its own PATH, which may not hold the tools.
    """
    name, sep, rest = word.partition(" ")
    found = shutil.which(name, path=os.pathsep.join((os.environ.get("PATH", ""), *TOOL_DIRS)))
    return (found or name) + sep + rest
