"""66's standard streams (``StdIn``/``StdOut``/``StdErr``) and their execline form.

66 0.8 lets a frontend send each of a service's three standard streams
somewhere else than its logger.  The three keys are not independent: 66
redefines some of them from the others (its "Standard IO redirection"
page), and a service whose output does not go to ``s6log`` gets no logger.
This module holds both halves so that the compiler only asks two questions:
"which streams, really?" (:func:`effective`) and "which execline words make
them so?" (:func:`redirections`).

The compiled form uses only execline's own fd tools, so nothing stays
resident and nothing is spawned for the common cases:

=================  ====================================================
form               compiled to (fd N = 0, 1 or 2)
=================  ====================================================
``s6log``          nothing: s6-supervise already pipes stdout to log/run
``tty:/path``      ``redirfd -u 0 /path`` (stdin), ``redirfd -w N /path``
``file:/path``     ``redirfd -a N /path`` (the directory is made 0755 at compile)
``console``        ``redirfd -w N /dev/console``
``syslog``         ``pipeline -w { logger -t NAME }``: a ``logger`` child
                   reads the service's output and sends it to /dev/log
``null``           ``redirfd -r 0 /dev/null`` / ``redirfd -w N /dev/null``
``parent``         nothing: the stream s6-supervise gave
``close``          ``fdclose N``
``inherit``        stderr: ``fdmove -c 2 1``, a copy of stdout;
                   stdout (66 derives it after StdIn ``null``): ``fdmove -c 1 0``
=================  ====================================================
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Callable

from ovis.record import Frozen
from ovis.service import execline

#: Forms each stream accepts (66's documentation of the three keys).
FORMS = {
    "stdin": ("s6log", "tty", "null", "parent", "close"),
    "stdout": ("s6log", "tty", "file", "console", "syslog", "null", "parent", "close", "inherit"),
    "stderr": ("s6log", "tty", "file", "console", "syslog", "null", "parent", "close", "inherit"),
}
WITH_PATH = ("tty", "file")


def normalize(value: str, stream: str) -> str:
    """The canonical spelling of one key's value; ValueError names what is wrong.

    ``s6log:`` (with an empty or any path, as some files write it) is ``s6log``.
    """
    value = value.strip()
    form, sep, path = value.partition(":")
    allowed = FORMS[stream]
    if form not in allowed:
        raise ValueError(f"unknown form '{value}' (expected {', '.join(f + ':/path' if f in WITH_PATH else f for f in allowed)})")
    if form == "s6log":
        return "s6log"
    if form in WITH_PATH:
        if not path.startswith("/"):
            raise ValueError(f"'{value}' needs an absolute path ({form}:/path)")
        if "\0" in path or "\n" in path:
            raise ValueError(f"'{form}:' path holds a NUL or newline")
        return f"{form}:{path}"
    if sep:
        raise ValueError(f"'{form}' takes no path")
    return form


class Streams(Frozen):
    """Where the three streams of one service really go, after 66's rules."""

    __slots__ = ("stdin", "stdout", "stderr")

    def __init__(self, stdin: str, stdout: str, stderr: str) -> None:
        s = object.__setattr__
        s(self, "stdin", stdin)
        s(self, "stdout", stdout)
        s(self, "stderr", stderr)

    @property
    def logged(self) -> bool:
        """Whether the service's output goes to an s6-log logger."""
        return self.stdout == "s6log"


def derive(stdin: str | None, stdout: str | None, stderr: str | None,
           log: bool) -> tuple[str | None, str | None, str | None]:
    """66's redefinitions of the keys as written (None = not written); a reader's job.

    - With ``!log``, every stream unset or ``s6log`` is the parent's.
    - An unset StdIn is ``s6log`` when StdOut is unset or ``s6log``, else ``parent``.
    - StdIn ``tty:X`` makes StdOut ``tty:X``; a written StdIn ``s6log``
      makes StdOut ``s6log`` and StdErr ``inherit``; an unset StdOut after
      StdIn ``null`` is ``inherit`` (66's dup of stdin), after ``parent`` or
      ``close`` it is ``parent``.
    - StdErr: unset, or the same tty or file as StdOut, is ``inherit``; it
      follows a StdOut of ``syslog``.

    Nothing written: all None, the format's default (the logger, if any).
    """
    if stdin is None and stdout is None and stderr is None:
        return None, None, None
    written_in = stdin is not None
    if not log:
        stdin, stdout, stderr = ("parent" if v in (None, "s6log") else v for v in (stdin, stdout, stderr))
    if stdin is None:
        stdin = "s6log" if stdout in (None, "s6log") else "parent"
    if stdin.startswith("tty:"):
        stdout = stdin
    elif stdin == "s6log" and written_in:
        stdout, stderr = "s6log", "inherit"
    elif stdout is None:
        stdout = {"null": "inherit", "s6log": "s6log"}.get(stdin, "parent")
    if stderr is None or (stderr == stdout and stdout.startswith(("tty:", "file:"))):
        stderr = "inherit"
    if stdout == "syslog":
        stderr = "syslog"
    return stdin, stdout, stderr


def effective(stdin: str | None, stdout: str | None, stderr: str | None,
              log_enabled: bool) -> Streams:
    """The streams to compile, from the model's (already derived) values.

    The reader has applied 66's rules (:func:`derive`); here only what was
    left to the format's default is filled in: a logged service's output
    goes to its logger with stderr copied to it, an unlogged one keeps its
    supervisor's streams.  StdErr ``inherit`` of a closed stdout is closed
    (66 itself would die copying a closed fd).
    """
    if stdout is None:
        stdout = "s6log" if log_enabled else "parent"
    if stdin is None:
        stdin = "s6log" if stdout == "s6log" else "parent"
    if stderr is None:
        stderr = "inherit" if stdout != "parent" else "parent"
    if stderr == "s6log":
        stderr = "inherit"
    if stdout == "syslog" and stderr == "syslog":
        stderr = "inherit"  # the same pipe to logger(1), not a second one
    if stderr == "inherit" and stdout == "close":
        stderr = "close"
    return Streams(stdin, stdout, stderr)


def redirections(streams: Streams, name: str,
                 cmd: "Callable[[str], str]" = lambda line: line) -> str:
    """Execline lines (prelude of a run/start script) wiring the streams.

    *cmd* names each line's command as the script must (by absolute path
    when the script's PATH does not hold execline's directory).
    """
    out: list[str] = []
    form, _, path = streams.stdin.partition(":")
    if form == "tty":
        out.append(f"redirfd -u 0 {execline.quote(path)}")
    elif form == "null":
        out.append("redirfd -r 0 /dev/null")
    elif form == "close":
        out.append("fdclose 0")
    out += _output(streams.stdout, 1, name)
    if streams.stderr == "inherit":
        out.append("fdmove -c 2 1")
    elif streams.stderr == "syslog":  # stdout elsewhere: a pipe to logger on fd 2 only
        out += ["fdmove -c 3 1", _syslog(name), "fdmove 2 1", "fdmove 1 3"]
    else:
        out += _output(streams.stderr, 2, name)
    return "".join(cmd(line) + "\n" for line in out)


def _syslog(name: str) -> str:
    """A ``logger`` child reading what the service writes to its stdout."""
    return f"pipeline -w {{ logger -t {execline.quote(name)} }}"


def _output(value: str, fd: int, name: str) -> list[str]:
    form, _, path = value.partition(":")
    if form == "tty":
        return [f"redirfd -w {fd} {execline.quote(path)}"]
    if form == "file":
        return [f"redirfd -a {fd} {execline.quote(path)}"]
    if form == "console":
        return [f"redirfd -w {fd} /dev/console"]
    if form == "null":
        return [f"redirfd -w {fd} /dev/null"]
    if form == "close":
        return [f"fdclose {fd}"]
    if form == "inherit":  # StdOut: 66 copies stdin
        return ["fdmove -c 1 0"]
    if form == "syslog":  # only reached for fd 1 (stderr has its own case)
        return [_syslog(name)]
    return []  # s6log, parent
