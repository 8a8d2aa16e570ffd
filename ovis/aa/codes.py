"""anopa's numbers and their texts: error codes (err.h, errmsg.c) and status events.

The codes are anopa's own, one to one, because they are what users see:
exit statuses of aa-start/aa-stop, "==> ERROR: X: Failed dependency" lines,
the events aa-status shows.  :class:`AaError` carries one out of the
library; the tool turns it into anopa's message and exit status.
"""

from __future__ import annotations

from ovis.errors import OvisError

# src/include/anopa/err.h
ERR_INVALID_NAME = 1
ERR_UNKNOWN = 2
ERR_DEPEND = 3
ERR_IO = 4
ERR_WRITE_STATUS = 5
ERR_CHDIR = 6
ERR_EXEC = 7
ERR_PIPES = 8
ERR_S6 = 9
ERR_FAILED = 10
ERR_TIMEDOUT = 11
ERR_IO_REPODIR = 12
ERR_IO_SCANDIR = 13
ERR_FAILED_ENABLE = 14
ERR_ALREADY_UP = 15
ERR_NOT_UP = 16

ERRMSG = (
    "",
    "Invalid name",
    "Unknown service",
    "Failed dependency",
    "I/O error",
    "Uable to write service status file",  # sic, as anopa prints it
    "Unable to get into service directory",
    "Unable to exec",
    "Unable to setup pipes",
    "Failed to communicate with s6",
    "Failed",
    "Timed out",
    "Failed to create repository directory",
    "Failed to create scandir directory",
    "Failed to enable/create servicedir",
    "Already up",
    "Not up",
)

# src/include/anopa/service_status.h
EVT_NONE, EVT_ERROR, EVT_STARTING, EVT_STARTING_FAILED, EVT_START_FAILED, EVT_STARTED, \
    EVT_STOPPING, EVT_STOPPING_FAILED, EVT_STOP_FAILED, EVT_STOPPED = range(10)
EVENTMSG = (
    "Unknown status",
    "Error",
    "Starting",
    "Starting failed",
    "Start failed",
    "Started",
    "Stopping",
    "Stopping failed",
    "Stop failed",
    "Stopped",
)


class AaError(OvisError):
    """What a tool must die of: *what* it was "unable to" do, and the cause.

    ``code`` is anopa's ERR_* number for it; the exit status is the tool's
    choice (anopa's tools differ there), so the library does not pick one.
    """

    def __init__(self, code: int, what: str, cause: BaseException | int | None = None) -> None:
        super().__init__(f"unable to {what}")
        self.code = code
        self.what = what
        self.cause = cause
