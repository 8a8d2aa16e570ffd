"""The str-method stand-ins for stdlib helpers agree with the stdlib on tricky inputs.

The start and status paths avoid ``re`` (with enum and functools), ``textwrap``,
``shlex`` and ``signal.py`` (its enums) for a call or two each; these tests hold
each stand-in to what the module it replaces returns, on hand-picked and
random inputs, so a parser's or compiler's output cannot drift.
"""

from __future__ import annotations

import random
import re
import shlex
import signal
import textwrap

import pytest

from ovis.service import execline, values
from ovis.service.formats.sixtysix.build import dedent
from ovis.service.restart import sh_quote

TRICKY = ["", "\n", " ", "\t", "a", " a", "  a\n b", "\ta\n\tb\n", "  a\n\n  b", "  a\n \n  b",
          "  a\n\t\n  b", " \t a\n \t b", "\t a\n \tb", "a\n  b", "  a\r\n  b\r\n", "\x0ba\n\x0bb",
          "    foo {\n      bar\n    }\n  ", "\n\n  x\n   y\n", "  \n  ", " é\n é", "  #!/bin/sh\n  x"]
ALPHABET = [" ", "\t", "\n", "a", "\r", "\x0b", "b ", "é", "\x00"]


def _random_texts(seed: int, n: int) -> list[str]:
    r = random.Random(seed)
    return ["".join(r.choice(ALPHABET) for _ in range(r.randint(0, 16))) for _ in range(n)]


@pytest.mark.parametrize("text", TRICKY)
def test_dedent_is_textwraps(text: str) -> None:
    assert dedent(text) == textwrap.dedent(text)


def test_dedent_is_textwraps_on_random_texts() -> None:
    for text in _random_texts(13, 20000):
        assert dedent(text) == textwrap.dedent(text), repr(text)


@pytest.mark.parametrize("word", ["", "a", "it's", "a b", "é", "x$y", "@%+=:,./-_", "\n", "'",
                                  "''", "ÄB", "\x00", "a*", "~", "#x", "-n", "a\tb", "ß"])
def test_sh_quote_is_shlex_quote(word: str) -> None:
    assert sh_quote(word) == shlex.quote(word)


def test_sh_quote_is_shlex_quote_on_random_words() -> None:
    r = random.Random(7)
    chars = "ab_@%+=:,./-'\" $*\\\n\té0"
    for _ in range(20000):
        word = "".join(r.choice(chars) for _ in range(r.randint(0, 8)))
        assert sh_quote(word) == shlex.quote(word), repr(word)


def test_signal_names_are_signal_modules() -> None:
    assert values._signal_names() == frozenset(signal.Signals.__members__)
    for text in ("HUP", "sighup", "SIGRTMIN", "SIGIOT", "SIG_DFL", "SIG_BLOCK", "DFL", "NSIG",
                 "SIGNOPE", "9", "0", "65", "KILL"):
        want = None
        t = text.strip()
        if t.isdigit():
            want = str(int(t)) if 1 <= int(t) <= 64 else None
        else:
            up = t.upper() if t.upper().startswith("SIG") else "SIG" + t.upper()
            want = up if up in signal.Signals.__members__ and not up.startswith("SIG_") else None
        assert values.normalize_signal(text) == want, text


def test_execline_quote_plain_words_as_the_regex_did() -> None:
    plain = re.compile('[^\\\\"\n\t\r\0]*').fullmatch
    r = random.Random(5)
    chars = 'ab \\"\n\t\r\0é$'
    for _ in range(20000):
        word = "".join(r.choice(chars) for _ in range(r.randint(0, 6)))
        assert execline._plain(word) == bool(plain(word)), repr(word)
        assert execline.quote(word).startswith('"') and execline.quote(word).endswith('"')
