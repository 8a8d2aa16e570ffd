"""What every aa-* tool shares: anopa's output conventions and GNU option parsing.

anopa's C tools (src/libanopa/output.c, die_usage.c) write through two
buffers: ANSI colours only go to a file descriptor that is a tty (checked
per fd), and with -D ("double output") every byte meant for stdout also goes
to stderr and vice versa, so stage scripts can show a message on the console
and log it at once.  Options are parsed by glibc's getopt_long, whose
permutation, abbreviations and error messages users of anopa see; GetOpt
reproduces them.

This module must stay stdlib-only (its one ovis import, the version, is
tagged "standalone: drop"): chroot.py and it are inlined into the standalone
aa-chroot script, which has to run from an initramfs where ovis is not
installed (see chroot.standalone_script).
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # not typing's: importing typing is a third of aa-echo's imports
if TYPE_CHECKING:  # annotations only: aa-echo runs dozens of times per boot
    from collections.abc import Callable, Iterator, Sequence
    from typing import NoReturn

from ovis import __version__ as _ovis_version  # standalone: drop

VERSION = _ovis_version  # standalone: drop

ANSI_HIGHLIGHT_ON = "\x1b[1;39m"
ANSI_RED_ON = "\x1b[1;31m"
ANSI_GREEN_ON = "\x1b[1;32m"
ANSI_YELLOW_ON = "\x1b[1;33m"
ANSI_BLUE_ON = "\x1b[1;36m"
ANSI_OFF = "\x1b[0m"

OUT = 0
ERR = 1
_FDS = (1, 2)

# getopt_long has_arg values
NO_ARG = 0
REQUIRED_ARG = 1
OPTIONAL_ARG = 2

LongOpt = tuple[str, int, str]  # (name, has_arg, option letter)

# Every tool's help ends with these two lines (anopa's wording).
HELP_LINES = (
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
DOUBLE_LINE = " -D, --double-output           Enable double-output mode\n"


class Exit(Exception):
    """Raised to end a tool with an exit status (anopa's _exit in die paths)."""

    def __init__(self, rc: int) -> None:
        super().__init__(rc)
        self.rc = rc


def _enc(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")


def _write_all(fd: int, data: bytes) -> None:
    """Write everything, ignoring errors: a closed or broken log must not kill a stage script."""
    while data:
        try:
            n = os.write(fd, data)
        except InterruptedError:
            continue
        except OSError:
            return
        data = data[n:]


class Output:
    """anopa's aa_bs_* / aa_is_* / aa_put_* / aa_strerr_* for one program.

    ``bs`` writes text (mirrored with -D), ``ansi`` writes colour codes
    (only to ttys, mirrored only to a tty).  Bytes are kept per fd and
    written at each line end, stdout's before stderr's, like anopa's flushes.
    """

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.double = False
        self._tty: tuple[bool, bool] | None = None
        self._buf = [bytearray(), bytearray()]

    def is_tty(self, where: int) -> bool:
        if self._tty is None:
            self._tty = (os.isatty(1), os.isatty(2))
        return self._tty[where]

    def flush(self, where: int = OUT) -> None:
        for w in (where, 1 - where):
            if self._buf[w]:
                data = bytes(self._buf[w])
                self._buf[w].clear()
                _write_all(_FDS[w], data)

    def bs(self, where: int, s: str | bytes, flush: bool = False) -> None:
        data = _enc(s)
        self._buf[where] += data
        if self.double:
            self._buf[1 - where] += data
        if flush:
            self.flush(where)

    def ansi(self, where: int, code: str) -> None:
        data = _enc(code)
        if self.is_tty(where):
            self._buf[where] += data
        if self.double and self.is_tty(1 - where):
            self._buf[1 - where] += data

    def end(self, where: int) -> None:
        """Colour off (ttys) and newline, then flush: aa_bs_end."""
        self.ansi(where, ANSI_OFF)
        self.bs(where, "\n", flush=True)

    def title(self, main: bool, name: str, title: str | None = None, end: bool = True) -> None:
        """Green "==> NAME: TITLE" (main) or blue "  -> NAME: TITLE" on stdout."""
        self.ansi(OUT, ANSI_GREEN_ON if main else ANSI_BLUE_ON)
        self.bs(OUT, "==> " if main else "  -> ")
        self.ansi(OUT, ANSI_HIGHLIGHT_ON)
        self._name_msg(OUT, name, title)
        if end:
            self.end(OUT)

    def warn(self, name: str, msg: str | None = None, end: bool = True) -> None:
        """Yellow "==> WARNING: NAME: MSG" on stderr."""
        self.ansi(ERR, ANSI_YELLOW_ON)
        self.bs(ERR, "==> WARNING: ")
        self.ansi(ERR, ANSI_HIGHLIGHT_ON)
        self._name_msg(ERR, name, msg)
        if end:
            self.end(ERR)

    def error(self, name: str, msg: str | None = None, end: bool = True) -> None:
        """Red "==> ERROR: NAME: MSG" on stderr."""
        self.ansi(ERR, ANSI_RED_ON)
        self.bs(ERR, "==> ERROR: ")
        self.ansi(ERR, ANSI_HIGHLIGHT_ON)
        self._name_msg(ERR, name, msg)
        if end:
            self.end(ERR)

    def _name_msg(self, where: int, name: str, msg: str | None) -> None:
        self.bs(where, name)
        if msg is not None:
            self.bs(where, ": ")
            self.bs(where, msg)

    # -- skalibs strerr style: "PROG: warning: ..." / "PROG: fatal: ..." -------
    def strerr(self, kind: str, *parts: str) -> None:
        self.bs(ERR, f"{self.prog}: {kind}" + "".join(parts) + "\n", flush=True)

    def warn_unable(self, what: str, err: BaseException | int | None = None) -> None:
        self.strerr("warning: ", "unable to ", what, *_reason(err))

    def die(self, rc: int, *parts: str) -> NoReturn:
        self.strerr("fatal: ", *parts)
        raise Exit(rc)

    def die_unable(self, rc: int, what: str, err: BaseException | int | None = None) -> NoReturn:
        self.die(rc, "unable to ", what, *_reason(err))

    def raw_err(self, text: str) -> None:
        """Unbuffered stderr, never mirrored: what glibc's getopt prints."""
        self.flush()
        _write_all(2, _enc(text))


def _reason(err: BaseException | int | None) -> tuple[str, ...]:
    """": strerror" for an OSError or errno; nothing when there is none."""
    if err is None:
        return ()
    code = err if isinstance(err, int) else getattr(err, "errno", None)
    if isinstance(code, int):
        return (": ", os.strerror(code))
    return (": ", str(err))


class GetOpt:
    """glibc getopt_long, as anopa's tools get it.

    Iterating yields ``(letter, optarg)`` in command-line order ('?' after
    printing glibc's message for a bad option); :attr:`operands` then holds
    the non-options.  Like glibc, options and operands may be mixed
    (permutation) unless *shortopts* starts with '+' or POSIXLY_CORRECT is
    set; "--" ends options; long options may be abbreviated to any unique
    prefix; an optional argument must be attached ("-R3", "--repeat=3").
    """

    def __init__(self, out: Output, argv: Sequence[str], shortopts: str, longopts: Sequence[LongOpt]) -> None:
        self.out = out
        self.argv = list(argv)
        self.posix = shortopts.startswith("+") or "POSIXLY_CORRECT" in os.environ
        self.longopts = list(longopts)
        self.short: dict[str, int] = {}
        spec = shortopts.lstrip("+")
        i = 0
        while i < len(spec):
            c = spec[i]
            i += 1
            has = NO_ARG
            if spec[i : i + 2] == "::":
                has, i = OPTIONAL_ARG, i + 2
            elif spec[i : i + 1] == ":":
                has, i = REQUIRED_ARG, i + 1
            self.short[c] = has
        self.operands: list[str] = []

    def _bad(self, msg: str) -> tuple[str, None]:
        self.out.raw_err(f"{self.out.prog}: {msg}\n")
        return ("?", None)

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        argv = self.argv
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                self.operands.extend(argv[i:])
                return
            if arg.startswith("--"):
                result, i = self._long(arg[2:], i)
                yield result
            elif arg.startswith("-") and arg != "-":
                j = 1
                while j < len(arg):
                    c = arg[j]
                    j += 1
                    has = self.short.get(c) if c != ":" else None
                    if has is None:
                        yield self._bad(f"invalid option -- '{c}'")
                        continue
                    if has == NO_ARG:
                        yield (c, None)
                    elif j < len(arg):
                        yield (c, arg[j:])
                        break
                    elif has == OPTIONAL_ARG:
                        yield (c, None)
                    elif i < len(argv):
                        i += 1
                        yield (c, argv[i - 1])
                    else:
                        yield self._bad(f"option requires an argument -- '{c}'")
            else:
                if self.posix:
                    self.operands.extend(argv[i - 1 :])
                    return
                self.operands.append(arg)

    def _long(self, body: str, i: int) -> tuple[tuple[str, str | None], int]:
        name, eq, value = body.partition("=")
        exact = [o for o in self.longopts if o[0] == name]
        if exact:
            opt = exact[0]
        else:
            cands = [o for o in self.longopts if o[0].startswith(name)]
            if not cands:
                return self._bad(f"unrecognized option '--{body}'"), i
            opt = cands[0]
            if any((o[1], o[2]) != (opt[1], opt[2]) for o in cands[1:]):
                names = "".join(f" '--{o[0]}'" for o in cands)
                return self._bad(f"option '--{body}' is ambiguous; possibilities:{names}"), i
        lname, has, letter = opt
        if eq:
            if has == NO_ARG:
                return self._bad(f"option '--{lname}' doesn't allow an argument"), i
            return (letter, value), i
        if has == REQUIRED_ARG:
            if i < len(self.argv):
                return (letter, self.argv[i]), i + 1
            return self._bad(f"option '--{lname}' requires an argument"), i
        return (letter, None), i


class Tool:
    """One aa-* program: its name, help text and the options all tools share.

    :meth:`options` handles -D, -h, -V and bad options itself (anopa's
    dieusage/aa_die_version) and yields the tool's own ones.
    """

    def __init__(self, prog: str, synopsis: str, details: str) -> None:
        self.prog = prog
        self.synopsis = synopsis
        self.details = details
        self.out = Output(prog)
        self.operands: list[str] = []

    def usage(self, rc: int) -> NoReturn:
        """Usage on stdout (mirrored with -D), even for errors: aa_die_usage."""
        self.out.bs(OUT, f"Usage: {self.prog} {self.synopsis}\n\n")
        self.out.bs(OUT, self.details, flush=True)
        raise Exit(rc)

    def version(self) -> NoReturn:
        self.out.bs(OUT, f"{self.prog} (ovis) {VERSION}\n", flush=True)
        raise Exit(0)

    def options(self, argv: Sequence[str], shortopts: str, longopts: Sequence[LongOpt]) -> Iterator[tuple[str, str | None]]:
        parser = GetOpt(self.out, argv, shortopts, longopts)
        for c, arg in parser:
            if c == "D" and "D" in parser.short:
                self.out.double = True
            elif c == "h":
                self.usage(0)
            elif c == "V":
                self.version()
            elif c == "?":
                self.usage(1)
            else:
                yield c, arg
        self.operands = parser.operands

    def run(self, body: Callable[[list[str]], int | None], argv: Sequence[str] | None) -> int:
        """Call ``body(args)`` and turn Exit into a status; always flush."""
        args = list(sys.argv[1:] if argv is None else argv)
        try:
            rc = body(args) or 0
        except Exit as e:
            rc = e.rc
        finally:
            self.out.flush()
        return rc


COMMON_LONGOPTS: tuple[LongOpt, ...] = (
    ("double-output", NO_ARG, "D"),
    ("help", NO_ARG, "h"),
    ("version", NO_ARG, "V"),
)
