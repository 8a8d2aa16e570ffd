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
``inherit``        (stderr) ``fdmove -c 2 1``: a copy of stdout
=================  ====================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from ovis.service import execline

#: Forms each stream accepts (66's documentation of the three keys).
FORMS = {
    "stdin": ("s6log", "tty", "null", "parent", "close"),
    "stdout": ("s6log", "tty", "file", "console", "syslog", "null", "parent", "close"),
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


@dataclass(frozen=True)
class Streams:
    """Where the three streams of one service really go, after 66's rules."""

    stdin: str
    stdout: str
    stderr: str

    @property
    def logged(self) -> bool:
        """Whether the service's output goes to an s6-log logger."""
        return self.stdout == "s6log"


def effective(stdin: str | None, stdout: str | None, stderr: str | None,
              log_enabled: bool) -> Streams:
    """Apply 66's redefinitions to the keys as written (None = not written).

    - StdIn ``tty:X`` makes StdOut ``tty:X``; StdIn ``s6log`` makes StdOut
      ``s6log`` and StdErr ``inherit``.
    - An unset StdOut follows StdIn (``tty``/``s6log``; ``parent`` and
      ``close`` give ``parent``), otherwise ``s6log``.
    - StdOut ``syslog`` takes StdErr along; a StdErr equal to StdOut is
      ``inherit`` (one open file, not two); an unset StdErr is ``inherit``.
    - With ``!log``, every stream left at ``s6log`` is the parent's.
    """
    if stdin is not None and stdin.startswith("tty:"):
        stdout = stdin
    elif stdin == "s6log":
        stdout, stderr = "s6log", "inherit"
    if stdout is None:
        if stdin is not None and (stdin.startswith("tty:") or stdin == "s6log"):
            stdout = stdin
        elif stdin in ("parent", "close"):
            stdout = "parent"
        else:
            stdout = "s6log"
    if stdin is None:
        stdin = "s6log"
    if stdout == "syslog" or stderr is None or stderr == stdout:
        stderr = "inherit"
    if stderr == "s6log":
        stderr = "inherit"
    if not log_enabled:
        stdin = "parent" if stdin == "s6log" else stdin
        stdout = "parent" if stdout == "s6log" else stdout
        if stdout == "parent" and stderr == "inherit":
            stderr = "parent"
    return Streams(stdin, stdout, stderr)


def redirections(streams: Streams, name: str) -> str:
    """Execline lines (prelude of a run/start script) wiring the streams."""
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
    return "".join(line + "\n" for line in out)


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
    if form == "syslog":  # only reached for fd 1 (stderr has its own case)
        return [_syslog(name)]
    return []  # s6log, parent
