"""Reading command lines the way execline programs do.

Three things every 66-tools command needs:

- a small option scanner (``-v 4``, ``-v4``, clustered flags ``-lX``,
  ``--`` ends the options, a lone ``-`` is an operand);
- execline blocks as they reach argv: ``execlineb`` turns
  ``{ a "b c" }`` into the words ``" a"``, ``" b c"`` followed by an empty
  word that ends the block (a nested block's words get one more space);
- execline substitution (``$key`` and ``${key}`` with execline's
  backslash quoting), which ``execl-envfile`` and ``execl-subuidgid`` apply
  to the rest of their command line, as 66-tools do through execline's
  library.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # typing itself costs milliseconds at every service start
if TYPE_CHECKING:
    from typing import Iterable, Mapping

from .errors import UsageError


def scan_options(argv: list[str], flags: str, with_arg: str,
                 long_names: Mapping[str, str] | None = None) -> tuple[list[tuple[str, str]], int]:
    """Options at the head of *argv*: ``([(letter, value)], index of the first operand)``.

    *flags* are letters without an argument, *with_arg* letters that take
    one (attached ``-v4`` or as the next word); *long_names* maps
    ``--split`` style names to letters.  An unknown option is a
    :class:`UsageError`.
    """
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return found, i + 1
        if long_names and word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            letter = long_names.get(name)
            if letter is None:
                raise UsageError(f"unknown option: --{name}")
            if letter in with_arg and not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"option --{name} needs an argument")
                value = argv[i]
            found.append((letter, value))
            i += 1
            continue
        if not word.startswith("-") or word == "-":
            break
        j = 1
        while j < len(word):
            letter = word[j]
            if letter in with_arg:
                value = word[j + 1:]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise UsageError(f"option -{letter} needs an argument")
                    value = argv[i]
                found.append((letter, value))
                break
            if letter not in flags:
                raise UsageError(f"unknown option: -{letter}")
            found.append((letter, ""))
            j += 1
        i += 1
    return found, i


def strict_level() -> int:
    """execline's ``EXECLINE_STRICT``: 1 warns, 2 refuses unquoted block words."""
    try:
        return int(os.environ.get("EXECLINE_STRICT", "0"))
    except ValueError:
        return 0


def read_block(argv: list[str], start: int, prog: str = "") -> tuple[list[str], int]:
    """The block at ``argv[start:]``: ``(its words, index after its end)``.

    Words lose the one leading space ``execlineb`` gave them; the block
    ends at the first empty word.  Written from a shell rather than by
    execlineb (a literal ``{`` word), the block runs to the matching ``}``.
    """
    if start < len(argv) and argv[start] == "{":
        depth, words = 0, []
        for i in range(start, len(argv)):
            word = argv[i]
            if word == "{":
                depth += 1
                if depth == 1:
                    continue
            elif word == "}":
                depth -= 1
                if depth == 0:
                    return words, i + 1
            words.append(word)
        raise UsageError("unterminated block")
    strict = strict_level()
    words = []
    for i in range(start, len(argv)):
        word = argv[i]
        if not word:
            return words, i + 1
        if word[0] == " ":
            word = word[1:]
        elif strict:
            note = f"unquoted argument {word!r} in block at position {i - start}"
            if strict >= 2:
                raise UsageError(note)
            sys.stderr.write(f"{prog or 'execline'}: warning: {note}\n")
        words.append(word)
    raise UsageError("unterminated block")


def _key_end(word: str, at: int, identifier: bool = False) -> tuple[str, int] | None:
    """The key of a ``$`` at *at*: ``(key, index after the reference)``.

    ``${key}`` is explicit; ``$key`` runs to the next ``$``, ``{``, ``}``
    or the end of the word, as in execline (``$foo-b`` names ``foo-b``);
    with *identifier* it stops at the first character that cannot be in a
    shell name instead (``$UID:$GID`` names ``UID`` and ``GID``).
    """
    if at + 1 < len(word) and word[at + 1] == "{":
        close = word.find("}", at + 2)
        if close < 0:
            return None
        return word[at + 2:close], close + 1
    end = at + 1
    while end < len(word) and word[end] not in "${}" and not (
            identifier and not (word[end].isalnum() or word[end] == "_")):
        end += 1
    if end == at + 1:
        return None
    return word[at + 1:end], end


def substitute_word(word: str, values: Mapping[str, str], identifier: bool = False) -> str:
    """Replace ``$key``/``${key}`` of the known *values* in one word.

    Backslashes right before a reference to a known key quote it as in
    execline: an even number 2n gives n backslashes and the value, an odd
    number 2n+1 gives n backslashes and the reference itself.
    """
    if "$" not in word:
        return word
    out: list[str] = []
    i = 0
    n = len(word)
    while i < n:
        dollar = word.find("$", i)
        if dollar < 0:
            out.append(word[i:])
            break
        ref = _key_end(word, dollar, identifier)
        if ref is None or ref[0] not in values:
            out.append(word[i:dollar + 1])
            i = dollar + 1
            continue
        key, end = ref
        slashes = 0
        while dollar - slashes - 1 >= i and word[dollar - slashes - 1] == "\\":
            slashes += 1
        out.append(word[i:dollar - slashes])
        out.append("\\" * (slashes // 2))
        out.append(word[dollar:end] if slashes % 2 else values[key])
        i = end
    return "".join(out)


def substitute(words: Iterable[str], values: Mapping[str, str], identifier: bool = False) -> list[str]:
    """:func:`substitute_word` over a command line; each word stays one word."""
    return [substitute_word(w, values, identifier) for w in words]
