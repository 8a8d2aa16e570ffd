"""The lexer shared by both 66 dialects: lines -> sections of entries.

It knows the syntax (sections, ``key = value``, ``( ... )`` lists and
blocks, comments, ``[Environment]`` lines) and which dialect a key belongs
to; what a value means is :mod:`.convert`'s job, called as soon as a value
is read so that errors come in file order.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~10 modules at import (a start that compiles imports this)
if TYPE_CHECKING:
    from typing import Any

from ovis.errors import DefinitionError
from ovis.record import Record
from ovis.service.envfile import is_env_ignorable, parse_env_line
from ovis.service.formats.sixtysix.convert import convert_list, convert_scalar
from ovis.service.formats.sixtysix.keys import (
    AT, BLOCK, ENVIRONMENT, KEYS, SCALAR, SECTION_ORDER, SECTION_TITLE,
    SECTIONS, UNSUPPORTED_KEYS, UNSUPPORTED_SECTIONS, V08, KeySpec,
)
from ovis.service.formats.sixtysix.plain import Finder, assignment, section, words_at
from ovis.service.values import check_text, shorten

#: Every key spelling of both dialects: what may follow the ``)`` that ends a block.
ALL_KEYS = frozenset({*KEYS[AT], *KEYS[V08], *UNSUPPORTED_KEYS})


class Entry(Record):
    """One ``key = value`` statement, value already converted."""

    __slots__ = ("key", "line", "value", "items", "raw")

    def __init__(self, key: str, line: int, value: Any, items: list[tuple[int, str]] | None = None,
                 raw: str = "") -> None:
        self.key = key  # as written
        self.line = line
        self.value = value
        self.items = [] if items is None else items  # list keys: (line, word)
        self.raw = raw  # scalar keys: the value as written (for warnings)


class Section(Record):
    """One ``[Section]`` and its statements, by canonical key."""

    __slots__ = ("written", "line", "entries", "env", "unexported")

    def __init__(self, written: str, line: int, entries: dict[str, Entry] | None = None,
                 env: dict[str, tuple[int, str]] | None = None,
                 unexported: list[str] | None = None) -> None:
        self.written = written
        self.line = line
        self.entries = {} if entries is None else entries
        self.env = {} if env is None else env  # [Environment]: KEY -> (line, value)
        self.unexported = [] if unexported is None else unexported  # [Environment] keys written KEY=!value


def find_closing_paren(text: str) -> int | None:
    """Index of the ``)`` matching the ``(`` at ``text[0]``, or None.

    ``Execute`` bodies are execline or shell code, which may hold
    parentheses of their own, so this counts nesting and skips what cannot
    close the block: double- or single-quoted strings, backslash-escaped
    characters and ``#`` comments (a ``#`` starting a word, to the end of the
    line, as in both execline and sh; the ``#!`` line is one too).

    A shell ``case`` pattern (``start)``) has a ``)`` without its ``(``.  As
    66's own parser does, a ``)`` bringing the count to zero ends the block
    only when what follows it is the end of the file, a section header or a
    key of the format (commented out or not) on a later line, blank and
    comment lines skipped; otherwise it belongs to the script.
    """
    # Jumps from one character that matters to the next (a regex search)
    # instead of a Python step per character: an Execute block is most of a
    # definition.  A ``#`` starts a comment after a space, ``(``, ``;``,
    # ``|``, ``&``, at the start, or where the character before it was the
    # one before an escape pair (``\\x`` leaves that state as it was).
    depth = 0
    i = 0
    esc_end, esc_ws = -1, False  # where the last escape pair ended, the state before it
    search = Finder(text, _SPECIAL).find
    dquote = Finder(text, _DQUOTE).find
    while True:
        i = search(i)
        if i < 0:
            return None
        ch = text[i]
        if ch == "\\":
            esc_ws = _word_start(text, i, esc_end, esc_ws)
            esc_end = i = i + 2
        elif ch == '"':
            j = i + 1
            while True:
                j = dquote(j)
                if j < 0:
                    return None
                if text[j] != "\\":
                    break
                j += 2
            i = j + 1
        elif ch == "'":
            j = text.find("'", i + 1)
            if j < 0:
                return None
            i = j + 1
        elif ch == "#":
            if _word_start(text, i, esc_end, esc_ws):
                newline = text.find("\n", i)
                if newline < 0:
                    return None
                i = newline
            else:
                i += 1
        elif ch == "(":
            depth += 1
            i += 1
        else:  # ")"
            depth -= 1
            if depth == 0:
                if _ends_block(text, i):
                    return i
                depth = 1  # a case pattern's ')': still inside the script
            i += 1


_SPECIAL = "\\\"'#()"  # what the scan stops at (a Finder, not a regular expression)
_DQUOTE = '\\"'


def _word_start(text: str, i: int, esc_end: int, esc_ws: bool) -> bool:
    """Whether a word may start at *i* (what a ``#`` there needs to be a comment)."""
    if i == esc_end:
        return esc_ws
    if i == 0:
        return True
    prev = text[i - 1]
    return prev.isspace() or prev in "(;|&"


def _ends_block(text: str, end: int) -> bool:
    """True when the ``)`` at *end* is followed by what may follow a block."""
    start = text.find("\n", end)
    while start >= 0:
        stop = text.find("\n", start + 1)
        line = text[start + 1: stop if stop >= 0 else len(text)]
        start = stop
        stripped = line.strip()
        if not stripped:
            continue
        if section(line) is not None:
            return True
        if stripped.startswith("#"):
            match = assignment(stripped[1:])
            if match and match[0] in ALL_KEYS:
                return True  # a commented-out key
            continue
        match = assignment(line)
        return bool(match and match[0] in ALL_KEYS)
    return True


def strip_comment(text: str) -> str:
    """*text* without a ``#`` comment, ignoring ``#`` inside double quotes."""
    if "#" not in text:  # most lines: no step per character
        return text
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return text[:i]
    return text


class _Lexer:
    """Walks the lines of one file and builds :class:`Section` objects.

    Values are converted as soon as they are read, so errors come in file
    order.  An error in a one-line statement does not stop the walk: the
    next lines are still read and their errors collected in :attr:`errors`
    (as dinit-check does), until an error that leaves the position unsure
    (an unterminated list or block, a bad section header).
    """

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.index = 0
        self.dialect: str | None = None
        self.dialect_line = 0
        self.sections: dict[str, Section] = {}
        self.current: str | None = None
        self.errors: list[DefinitionError] = []
        self.warnings: list[tuple[str, int, str, str]] = []

    def error(self, line: int, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.path, line, shorten(key), shorten(message, 4 * 80))

    def warn(self, line: int, key: str, message: str) -> None:
        self.warnings.append((self.path, line, shorten(key), message))

    def run(self) -> dict[str, Section]:
        while self.index < len(self.lines):
            lineno = self.index + 1
            line = self.lines[self.index]
            self.index += 1
            header = section(line)
            try:
                if header is not None:
                    self.open_section(header, lineno)
                elif self.current == ENVIRONMENT:
                    self.assignment(line, lineno)
                elif not strip_comment(line).strip():
                    continue
                else:
                    self.statement(line, lineno)
            except DefinitionError as exc:
                self.errors.append(exc)
                if header or self.index != lineno:  # lost track of where things are
                    break
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
        """One ``[Environment]`` line.

        ``KEY=!value`` (66: set while starting, not exported to the daemon)
        keeps the value without the ``!`` and records KEY as unexported;
        66 refuses a space after the ``!``.  ``\\"`` stands for ``"``.
        """
        if is_env_ignorable(line):
            return
        key, value = parse_env_line(self.path, lineno, line)
        section = self.sections[ENVIRONMENT]
        env = section.env
        if key in env:
            raise self.error(lineno, key, f"duplicate variable (first set at line {env[key][0]})")
        problem = check_text(value)
        if problem:
            raise self.error(lineno, key, problem)
        if value.startswith("!"):
            value = value[1:]
            if value[:1].isspace():
                raise self.error(lineno, key, "no space allowed after '!' (write KEY=!value)")
            section.unexported.append(key)
        env[key] = (lineno, value.replace('\\"', '"'))

    def statement(self, line: str, lineno: int) -> None:
        match = assignment(line)
        if self.current is None:
            word = match[0] if match else line.split()[0]
            raise self.error(lineno, word, "text outside any section")
        if not match:
            raise self.error(lineno, line.split()[0], "expected KEY = VALUE")
        key, rest = match
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
            return Entry(key, lineno, convert_scalar(self, spec.canon, key, lineno, value), raw=value)
        start = self.paren_start(rest, lineno)
        if start is None:  # a bare value where a ( ... ) was expected
            if spec.shape == BLOCK:
                raise self.error(lineno, key, "expected ( ... )")
            value = strip_comment(rest).strip()
            if not value:
                raise self.error(lineno, key, "empty value")
            items = [(lineno, word) for word in value.split()]
        elif spec.shape == BLOCK:
            body = self.read_block(key, lineno, *start)
            problem = check_text(body)
            if problem:
                raise self.error(lineno, key, problem)
            return Entry(key, lineno, body)
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

        Comments as 66 writes them in lists: a word starting with ``#``
        comments out that one word (``( fooA #fooB fooC )``); a lone ``#``
        (``# some text``) comments out the rest of the line.  A section header before the ``)`` means the list was
        never closed.
        """
        items: list[tuple[int, str]] = []
        for here in range(index, len(self.lines)):
            raw = self.lines[here]
            if here == index:
                raw = raw[column + 1:]
            elif section(raw) is not None:
                break
            for word_start, word in _words_at(raw):
                if word == "#":
                    break  # "# some text": a comment to the end of the line
                close = word.find(")")
                part = word if close < 0 else word[:close]
                if part and not part.startswith("#"):
                    items.append((here + 1, part))
                if close >= 0:
                    self.after_paren(key, here, raw[word_start + close + 1:])
                    return items
        raise self.error(lineno, key, "unterminated '(' (no matching ')')")

    def after_paren(self, key: str, index: int, after: str) -> None:
        """Refuse anything but a comment after ``)``; resume on the next line."""
        if strip_comment(after).strip():
            raise self.error(index + 1, key, "unexpected text after ')'")
        self.index = index + 1


def _words_at(line: str) -> list[tuple[int, str]]:
    """(column, word) of each whitespace-separated word of *line*."""
    return words_at(line)
