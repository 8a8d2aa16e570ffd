"""Writing execline scripts safely and cheaply.

Values from definitions (environment values, user names) end up as words of
generated execline scripts; they are always written as quoted words so that
no value can ever become code, whatever characters it holds.

Why the interpreter is looked up here: Debian's ``/usr/bin/execlineb`` is an
execline *script* (it puts ``/usr/lib/execline/bin`` on PATH and execs the
real ``execlineb``): four ``execve`` before a run script's first word.  The
compiler writes the real binary into its shebangs instead (found once per
process, by reading the files), names every command it generates by
absolute path, and gives the script the wrapper's PATH only when the
user's own words may call an execline command by its bare name
(:func:`needs_path`).  A plain definition then reaches its program in two
``execve``: the interpreter and the program.  Where no real execlineb is
found, the wrapper stays the interpreter and nothing else changes.
"""

from __future__ import annotations

import os
from collections import namedtuple

TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Callable

#: Debian's wrapper, and what generated scripts used before (the fallback).
WRAPPER = "/usr/bin/execlineb"
#: The default the wrapper gives PATH when it is unset (Debian 12's, verbatim).
WRAPPER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CANDIDATES = ("/usr/bin/execlineb", "/bin/execlineb", "/usr/lib/execline/bin/execlineb",
               "/usr/libexec/execline/bin/execlineb", "/command/execlineb",
               "/usr/local/bin/execlineb")
#: Directories on every PATH a service can start with: commands there need no set-up.
_ON_PATH = frozenset(("/usr/bin", "/bin", "/usr/sbin", "/sbin"))

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
#: A word holding none of :data:`_ESCAPES`' characters is quoted as it is (tested with
#: str methods: ``re`` and ``functools`` cost some 20 modules at import).
_SPECIAL = tuple(_ESCAPES)


def _plain(word: str) -> bool:
    return not any(c in word for c in _SPECIAL)


class Interpreter(namedtuple("Interpreter", ("path", "bindir", "names"))):
    """The execlineb generated scripts name, and where execline's commands live.

    path: the real binary, or WRAPPER when none was found; bindir: execline's
    commands when off every PATH (Debian), else None; names: the commands of
    *bindir* (empty when bindir is None).  (collections.namedtuple: typing's
    NamedTuple costs ~10 modules at import.)
    """

    __slots__ = ()


def _head(path: str) -> bytes | None:
    """The first bytes of an executable regular file, None if it is not one."""
    try:
        if not os.access(path, os.X_OK):
            return None
        with open(path, "rb") as f:
            return f.read(256)
    except OSError:
        return None


def _find() -> Interpreter:
    for cand in _CANDIDATES:
        head = _head(cand)
        if head is None:
            continue
        if head.startswith(b"#!"):  # a wrapper: follow its interpreter once
            target = head[2:].split(b"\n", 1)[0].split()
            real = target[0].decode(errors="replace") if target else ""
            h2 = _head(real) if os.path.basename(real) == "execlineb" else None
            if h2 is None or h2.startswith(b"#!"):
                continue
            cand = real
        bindir = os.path.dirname(os.path.realpath(cand))
        if os.path.dirname(cand) in _ON_PATH or bindir in _ON_PATH:
            return Interpreter(cand, None, frozenset())
        try:
            names = frozenset(os.listdir(bindir))
        except OSError:
            continue
        return Interpreter(cand, bindir, names)
    return Interpreter(WRAPPER, None, frozenset())


_found: list[Interpreter] = []


def interpreter() -> Interpreter:
    """Found once per process (a few ``open``): a compile cache keys on the result."""
    if not _found:
        _found.append(_find())
    return _found[0]


def quote(word: str) -> str:
    """One execline word, double-quoted with backslash escapes."""
    if _plain(word):  # nothing to escape: the common case, without a step per character
        return f'"{word}"'
    return '"' + "".join(_ESCAPES.get(c, c) for c in word) + '"'


def shebang(positional: bool = False) -> str:
    """The wrapper's shebang: for scripts whose words call execline commands by name.

    ``-P``: no positional parameters (run); ``-S0``: ``$@`` substituted (finish).
    The compiler writes :func:`header` instead.
    """
    return f"#!{WRAPPER} {'-S0' if positional else '-P'}\n"


def header(flags: str, path_for: "list[str] | None" = None, avoid: "list[str]" = [],
           known_path: str | None = None) -> str:
    """The first lines of a generated script: the real interpreter, PATH if needed.

    *flags* are execlineb's (``-P``, ``-S0``, or ``""``).  When *path_for*
    (the user's texts that follow) may call execline commands by bare name,
    the script gives itself the PATH Debian's wrapper gives (execline's
    directory first, the wrapper's default when PATH is unset), under a
    substitution name none of those texts uses.  ``export`` looks its next
    program up on the PATH it was started with, so what follows the header
    must name its first command by absolute path (:func:`command`,
    :func:`lead`).  *avoid*: the script's other texts (values), which the
    substitution name must not occur in either.

    *known_path*: the PATH the script is known to start with (the boot's,
    which s6-svscan and the engine's oneshots run with): the same PATH is
    then written out in one ``export``, without the ``importas`` that read
    it (one exec less at every start).  Not for a value holding ``$`` (an
    ``-S0`` script would substitute into it) or a NUL.
    """
    it = interpreter()
    head = f"#!{it.path}{' ' + flags if flags else ''}\n"
    if path_for is None or it.bindir is None or not needs_path(path_for):
        return head
    b = it.bindir
    if known_path is not None and "$" not in known_path and "\0" not in known_path:
        return head + f"{b}/export PATH {quote(b + ':' + known_path)}\n"
    alias = "OVIS_EXECLINE_PATH"
    while any(alias in t for t in (*path_for, *avoid)):
        alias += "_"
    return (head + f"{b}/importas -D {quote(WRAPPER_DEFAULT_PATH)} {alias} PATH\n"
            f"{b}/export PATH {quote(b + ':')}${{{alias}}}\n")


def command(word: str) -> str:
    """*word* (a command line's start) with an execline command named absolutely.

    Only when execline's commands are off every PATH (Debian's
    ``/usr/lib/execline/bin``); other commands are left as written.
    """
    it = interpreter()
    if it.bindir is None:
        return word
    name, sep, rest = word.partition(" ")
    return f"{it.bindir}/{name}{sep}{rest}" if name in it.names else word


def needs_path(texts: "list[str]") -> bool:
    """Whether any of *texts* may call an execline command by bare name.

    Conservative: any word equal to a command of execline's directory
    (``foreground``, ``fdmove``, also ``exec`` or ``cd`` in a shell script),
    or a text this tokenizer does not follow (an unbalanced quote), counts.
    """
    it = interpreter()
    if it.bindir is None:
        return False
    for text in texts:
        words = _words(text)
        if words is None or any(w in it.names for w in words):
            return True
    return False


def lead(text: str) -> str:
    """*text* with its first word named absolutely when it is an execline command.

    What follows :func:`header`'s PATH set-up directly: that word is looked
    up on the PATH the script started with; every later one by an execline
    program already running with the new PATH.
    """
    it = interpreter()
    if it.bindir is None:
        return text
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text[i] == "#":
            while i < n and text[i] != "\n":
                i += 1
        else:
            break
    j = i
    while j < n and not text[j].isspace():
        j += 1
    word = text[i:j]
    if len(word) > 2 and word[0] == word[-1] == '"' and word[1:-1] in it.names:
        return text[:i] + quote(f"{it.bindir}/{word[1:-1]}") + text[j:]
    if word in it.names:
        return text[:i] + f"{it.bindir}/{word}" + text[j:]
    return text


def _words(text: str) -> list[str] | None:
    """execline words of *text* (quotes removed, ``#`` comments skipped); None if unbalanced."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        word = []
        while i < n and not text[i].isspace():
            if text[i] == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\":
                        i += 1
                    if i < n:
                        word.append(text[i])
                    i += 1
                if i >= n:
                    return None
                i += 1
            else:
                word.append(text[i])
                i += 1
        words.append("".join(word))
    return words


def export_lines(env: dict[str, str]) -> str:
    exp = command("export")
    return "".join(f"{exp} {quote(k)} {quote(v)}\n" for k, v in env.items())


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


_absolute: dict[str, str] = {}


def absolute(word: str) -> str:
    """*word* with its command (first token) as an absolute path, when found.

    Used after a service sets its own PATH, which may not hold the tools.
    Looked up once per process and word (as functools.lru_cache did).
    """
    done = _absolute.get(word)
    if done is not None:
        return done
    import shutil  # here: its import (bz2, lzma, fnmatch...) costs every aa-start and ovis start

    name, sep, rest = word.partition(" ")
    found = shutil.which(name, path=os.pathsep.join((os.environ.get("PATH", ""), *TOOL_DIRS)))
    done = _absolute[word] = (found or name) + sep + rest
    return done
