"""Writing execline scripts safely.

Values from definitions (environment values, user names) end up as words of
generated execline scripts; they are always written as quoted words so that
no value can ever become code, whatever characters it holds.
"""

from __future__ import annotations

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
