"""What every 66-tools front end does: report in one line, exit, or exec.

Messages go to stderr, which in a service's run script is its log, as one
line each: ``PROG: fatal: MESSAGE`` (exit 111, or the error's status), and
for a bad command line ``PROG: fatal: MESSAGE; usage: USAGE`` (exit 100,
66-tools' status for wrong usage).
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # typing itself costs milliseconds at every service start
if TYPE_CHECKING:
    from typing import Callable, Mapping, NoReturn

from ovis.tools66.errors import ToolError, UsageError, why

EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126


def warn(prog: str, message: str) -> None:
    sys.stderr.write(f"{prog}: warning: {message}\n")


def execute(prog: str, argv: list[str], env: Mapping[str, str] | None = None) -> NoReturn:
    """Become ``argv``; when that fails say why and exit 127 (not found) or 126."""
    sys.stdout.flush()
    try:
        if env is None:
            os.execvp(argv[0], argv)
        else:
            os.execvpe(argv[0], argv, env)
    except OSError as e:
        sys.stderr.write(f"{prog}: fatal: unable to exec {argv[0]}: {why(e)}\n")
        raise SystemExit(EXIT_NOT_FOUND if isinstance(e, FileNotFoundError) else EXIT_NOT_EXECUTABLE)


def run(prog: str, usage: str, main: Callable[[list[str]], int]) -> int:
    """Call ``main(argv)`` and turn a :class:`ToolError` into its line and status."""
    try:
        return main(sys.argv[1:])
    except UsageError as e:
        sys.stderr.write(f"{prog}: fatal: {e}; usage: {usage}\n")
        return e.status
    except ToolError as e:
        sys.stderr.write(f"{prog}: fatal: {e}\n")
        return e.status
