"""``execl-cmdline [ -s ] { command... }``: clean a command line, then exec it.

66 frontends write ``execl-cmdline -s { ntpd ${cmd_args} }``: after
``execl-envfile`` substituted ``cmd_args=-d -s``, the block holds the one
word ``-d -s``, which ``-s`` splits into ``-d`` and ``-s``.  As 66-tools
do it:

- every word has its runs of whitespace squeezed to one space and its ends
  trimmed; a word left empty is dropped (``ntpd -d "" -S`` runs
  ``ntpd -d -S``);
- with ``-s`` a word is split at whitespace, except that double quotes
  inside it delimit one word kept whole (a value ``-g "daemon off;"``
  gives ``-g`` and ``daemon off;``); an odd number of quotes is an error.
"""

from __future__ import annotations

from .argv import read_block, scan_options
from .errors import ToolError, UsageError

USAGE = "execl-cmdline [ -h ] [ -s ] { command... }"


def clean(words: list[str]) -> list[str]:
    """Squeeze and trim each word's whitespace; drop the words left empty."""
    out = []
    for word in words:
        squeezed = " ".join(word.split())
        if squeezed:
            out.append(squeezed)
    return out


def split_word(word: str) -> list[str]:
    """Split at whitespace; ``"..."`` inside the word stays one word (quotes dropped)."""
    if '"' not in word:
        return word.split()
    parts = word.split('"')
    if len(parts) % 2 == 0:
        raise ToolError(f"odd number of double quotes in: {word}")
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:
            if part:
                out.append(part)
        else:
            out.extend(part.split())
    return out


def split(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        out.extend(split_word(word))
    return out


class CmdlineRequest:
    """What the command line asked: help, or a command to exec."""

    __slots__ = ("help", "command", "ignored")

    def __init__(self, help: bool, command: list[str], ignored: list[str]) -> None:
        self.help = help
        self.command = command
        self.ignored = ignored


def parse(argv: list[str]) -> CmdlineRequest:
    """Options, then the block; the words after the block are reported as ignored."""
    opts, index = scan_options(argv, "hs", "", {"help": "h", "split": "s"})
    letters = {letter for letter, _ in opts}
    if "h" in letters:
        return CmdlineRequest(True, [], [])
    if index >= len(argv):
        raise UsageError("missing block")
    block, after = read_block(argv, index, "execl-cmdline")
    command = clean(block)
    if "s" in letters:
        command = split(command)
    if not command:
        raise UsageError("empty command")
    return CmdlineRequest(False, command, argv[after:])
