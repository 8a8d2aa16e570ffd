"""Errors of the 66-tools commands, with 66-tools' exit statuses.

66-tools exit 100 on wrong usage and 111 when a system call (or a lookup
such as a user name) fails; the command then does not exec, so the
service's start fails and the one-line message lands in its log.  These
are kept apart from :mod:`ovis.errors` on purpose: that module imports
pathlib, which would cost every service start a few milliseconds.
"""

from __future__ import annotations

EXIT_USAGE = 100
EXIT_SYS = 111


class ToolError(Exception):
    """A failure reported as one line ``PROG: fatal: MESSAGE``."""

    status = EXIT_SYS

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class UsageError(ToolError):
    """Bad command line: the CLI prints the usage line and exits 100."""

    status = EXIT_USAGE


def why(error: OSError) -> str:
    """The system's reason; some OSErrors (an AF_UNIX path too long) carry no errno."""
    return error.strerror or str(error)
