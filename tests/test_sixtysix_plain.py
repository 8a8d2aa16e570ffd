"""The 66 reader's str-method matchers give what the regular expressions they replace gave.

ovis.service.formats.sixtysix.plain stands in for ``re`` on the reading
path (``ovis status`` of definitions not yet compiled, cold starts): each
function is compared here with the pattern it replaced, on generated lines
made of the characters that matter to it (Unicode whitespace included,
``\\n`` inside and at the end), and on the corpus's real lines.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ovis.service.formats.sixtysix import plain

SECTION_RE = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*(?:#.*)?$")
ASSIGN_RE = re.compile(r"^\s*(?P<key>[^=\s]+)\s*=\s*(?P<rest>.*)$")
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$")
_ID = r"(?:[A-Za-z_][A-Za-z0-9_.-]*\$?|[0-9]+)"
RUNAS_RE = re.compile(rf"^(?:{_ID}(?::{_ID}?)?|:{_ID})$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IDENTIFIER_RE = re.compile(r"@([UuGgHSR])(?![A-Za-z0-9_])")
WORD_RE = re.compile(r"\S+")
SPECIAL_RE = re.compile(r"[\\\"'#()]")

SPACES = " \t\n\r\f\v\x1c\x85\xa0\u2028\u3000\u200b"
REPO = Path(__file__).resolve().parent.parent


def lines(alphabet: str, count: int = 40_000, longest: int = 12, seed: int = 13) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, longest)))
            for _ in range(count)]


def corpus_lines() -> list[str]:
    out: list[str] = []
    for d in ("examples/66", "tests/corpus"):
        for f in sorted((REPO / d).rglob("*")):
            if f.is_file():
                try:
                    out += f.read_text().splitlines()
                except (UnicodeDecodeError, OSError):
                    continue
    return out


def test_section_and_assignment() -> None:
    for line in lines("[]#=ab" + SPACES) + corpus_lines():
        m = SECTION_RE.match(line)
        assert plain.section(line) == (m.group("name") if m else None), repr(line)
        m = ASSIGN_RE.match(line)
        assert plain.assignment(line) == (m.group("key", "rest") if m else None), repr(line)


def test_words() -> None:
    for line in lines("ab#()" + SPACES) + corpus_lines():
        assert plain.words_at(line) == [(m.start(), m.group()) for m in WORD_RE.finditer(line)]


@pytest.mark.parametrize("pattern,func,alphabet", [
    (VERSION_RE, plain.is_version, "01.a\n"),
    (USER_RE, plain.is_user, "aZ_9.-$:\n "),
    (RUNAS_RE, plain.is_runas, "aZ_9.-$:\n "),
    (ENV_KEY_RE, plain.is_env_key, "aZ_9.-=\n "),
])
def test_whole_value_patterns(pattern: re.Pattern[str], func: object, alphabet: str) -> None:
    for value in lines(alphabet, longest=8):
        assert func(value) == bool(pattern.match(value)), repr(value)  # type: ignore[operator]


def test_identifiers() -> None:
    table = {c: f"<{c}>" for c in "UuGgHSR"}
    for text in lines("@UuGgHSRxZ9_ \n", longest=10) + corpus_lines():
        assert plain.substitute(text, table) == IDENTIFIER_RE.sub(
            lambda m: table[m.group(1)], text), repr(text)


def test_finder_is_search_from_any_start() -> None:
    for text in lines("\\\"'#()ab", count=3000, longest=20):
        f = plain.Finder(text, "\\\"'#()")
        rnd = random.Random(len(text))
        for i in [rnd.randint(0, len(text) + 1) for _ in range(8)]:  # forwards and back
            m = SPECIAL_RE.search(text, i)
            assert f.find(i) == (m.start() if m else -1), (text, i)


def test_env_key_as_the_pattern() -> None:
    from ovis.service.envfile import is_valid_env_key

    for key in lines("aZ_9.-=\n é", longest=8):
        assert is_valid_env_key(key) == bool(ENV_KEY_RE.match(key)), repr(key)


def test_envsubst_references_as_the_pattern() -> None:
    from ovis.service.envsubst import references

    ref_re = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
    for value in lines("${}$aZ_9 é{", longest=14):
        assert list(references(value)) == [(m.start(), m.end(), m.group(1))
                                           for m in ref_re.finditer(value)], repr(value)


def test_pathstr_as_pathlib() -> None:
    from pathlib import PurePosixPath

    from ovis.pathstr import normpath, parent

    for p in lines("/.a", count=20_000, longest=9) + ["", "/", "//", "///", "//a/b/"]:
        q = normpath(p)
        assert q == str(PurePosixPath(p)), repr(p)
        assert parent(q) == str(PurePosixPath(q).parent), repr(p)
