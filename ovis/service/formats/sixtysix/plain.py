"""The 66 reader's patterns, matched with str methods instead of ``re``.

``re`` (with enum, functools, collections...) costs some 20 modules at
import, and every ``ovis status`` of a definition not yet compiled, and
every cold start, reads 66 files.  Each function here gives exactly what
the regular expression in its docstring gave (``tests/test_sixtysix_plain.py``
holds them to it on generated lines): ``\\s`` is ``str.isspace``, ``.`` any
character but ``\\n``, and ``$`` the end or just before a final ``\\n``.
"""

from __future__ import annotations

_ALPHA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")
_WORDCH = _ALPHA | _DIGITS
_USERCH = _WORDCH | frozenset(".-")


def _end(s: str) -> str:
    """*s* without the final ``\\n`` that ``$`` may stand before."""
    return s[:-1] if s.endswith("\n") else s


def _skip_space(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i].isspace():
        i += 1
    return i


def section(line: str) -> str | None:
    r"""The name of ``^\s*\[(?P<name>[^\]]*)\]\s*(?:#.*)?$``, or None."""
    i = _skip_space(line, 0)
    if line[i:i + 1] != "[":
        return None
    k = line.find("]", i + 1)
    if k < 0:
        return None
    j = _skip_space(line, k + 1)
    if j < len(line):
        if line[j] != "#":
            return None
        nl = line.find("\n", j)
        if nl >= 0 and nl != len(line) - 1:
            return None
    return line[i + 1:k]


def assignment(line: str) -> tuple[str, str] | None:
    r"""(key, rest) of ``^\s*(?P<key>[^=\s]+)\s*=\s*(?P<rest>.*)$``, or None."""
    i = _skip_space(line, 0)
    n = len(line)
    j = i
    while j < n and line[j] != "=" and not line[j].isspace():
        j += 1
    if j == i:
        return None
    e = _skip_space(line, j)
    if e >= n or line[e] != "=":
        return None
    r = _skip_space(line, e + 1)
    nl = line.find("\n", r)
    if nl >= 0 and nl != n - 1:
        return None
    return line[i:j], line[r:nl if nl >= 0 else n]


def words_at(line: str) -> list[tuple[int, str]]:
    r"""(column, word) of each match of ``\S+``."""
    out: list[tuple[int, str]] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return out
        j = i + 1
        while j < n and not line[j].isspace():
            j += 1
        out.append((i, line[i:j]))
        i = j


def _name(s: str, i: int, extra: frozenset[str]) -> int:
    """End of ``[A-Za-z_][A-Za-z0-9_<extra>]*`` at *i*, or -1."""
    n = len(s)
    if i >= n or s[i] not in _ALPHA:
        return -1
    i += 1
    while i < n and s[i] in extra:
        i += 1
    return i


def is_version(value: str) -> bool:
    r"""``^[0-9]+\.[0-9]+\.[0-9]+$``."""
    parts = _end(value).split(".")
    return len(parts) == 3 and all(p and _DIGITS.issuperset(p) for p in parts)


def _identity(s: str, i: int) -> int:
    r"""End of ``[A-Za-z_][A-Za-z0-9_.-]*\$?`` or ``[0-9]+`` at *i*, or -1."""
    j = _name(s, i, _USERCH)
    if j >= 0:
        return j + 1 if s[j:j + 1] == "$" else j
    n = len(s)
    j = i
    while j < n and s[j] in _DIGITS:
        j += 1
    return j if j > i else -1


def is_user(value: str) -> bool:
    r"""``^[A-Za-z_][A-Za-z0-9_.-]*\$?$``."""
    v = _end(value)
    j = _name(v, 0, _USERCH)
    return j >= 0 and (j == len(v) or (j == len(v) - 1 and v[j] == "$"))


def is_runas(value: str) -> bool:
    r"""``^(?:ID(?::ID?)?|:ID)$`` with ``ID = [A-Za-z_][A-Za-z0-9_.-]*\$?|[0-9]+``."""
    v = _end(value)
    if v.startswith(":"):
        return _identity(v, 1) == len(v)
    head, colon, tail = v.partition(":")
    if _identity(head, 0) != len(head):
        return False
    return not colon or not tail or _identity(tail, 0) == len(tail)


def is_env_key(key: str) -> bool:
    r"""``^[A-Za-z_][A-Za-z0-9_]*$``."""
    k = _end(key)
    return _name(k, 0, _WORDCH) == len(k)


#: 66's user identifiers: ``@U`` ... ``@R``.
IDENTIFIERS = frozenset("UuGgHSR")


def identifiers_in(text: str) -> list[tuple[int, str]]:
    r"""(index of ``@``, letter) of each ``@([UuGgHSR])(?![A-Za-z0-9_])``."""
    out: list[tuple[int, str]] = []
    i = text.find("@")
    while i >= 0:
        c = text[i + 1:i + 2]
        if c and c in IDENTIFIERS and text[i + 2:i + 3] not in _WORDCH:  # ("" is not: the end)
            out.append((i, c))
            i = text.find("@", i + 2)
        else:
            i = text.find("@", i + 1)
    return out


def substitute(text: str, table: dict[str, str]) -> str:
    """*text* with each of :func:`identifiers_in` replaced by ``table[letter]``."""
    found = identifiers_in(text)
    if not found:
        return text
    out: list[str] = []
    pos = 0
    for i, c in found:
        out.append(text[pos:i])
        out.append(table[c])
        pos = i + 2
    out.append(text[pos:])
    return "".join(out)


class Finder:
    """The next of a few characters from a position: ``re.compile("[...]").search(text, i).start()``.

    Remembers where each character occurs next, so a scan from left to right
    looks at each character of *text* about once per character searched for.
    """

    __slots__ = ("text", "chars", "_next")

    def __init__(self, text: str, chars: str) -> None:
        self.text = text
        self.chars = chars
        #: per character: (searched from, found at or -1), good for any start in between
        self._next: dict[str, tuple[int, int] | None] = dict.fromkeys(chars)

    def find(self, i: int) -> int:
        """The lowest index >= *i* of one of the characters, or -1."""
        best = -1
        nxt = self._next
        for c in self.chars:
            got = nxt[c]
            if got is None or got[0] > i or 0 <= got[1] < i:
                at = self.text.find(c, i)
                nxt[c] = (i, at)
            else:
                at = got[1]
            if at >= 0 and (best < 0 or at < best):
                best = at
        return best
