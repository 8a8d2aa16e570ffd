"""How a command's process ends: what exit must do, then ``os._exit``.

Why: after a command returns, the interpreter's own finalisation (every
module's dictionary cleared, a last garbage collection, the import
machinery torn down) costs 5 to 9 ms on this project's machines, a sixth
of an ``ovis start`` that finds nothing to do and of ``aa-echo``, which
boot scripts and a start of a readiness chain pay again and again.  None
of it has an effect outside the process.  What does is done here, in the
order the interpreter does it: the ``atexit`` handlers (the compile cache
is saved by one), then stdout and stderr flushed, then ``os._exit`` with
the status ``sys.exit`` would have given.

Only the lean launchers (:mod:`ovis.cli.launchers`) call :func:`run`: they
are the process's main program.  Code that runs a command inside another
program (tests, ``python -m ovis``) still gets ``SystemExit``.  Stdlib
only, nothing imported: every command imports this.
"""

from __future__ import annotations

import atexit
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, NoReturn

#: What the interpreter exits with when flushing stdout fails at exit.
FLUSH_FAILED = 120


def status_of(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives (a non-integer is printed to stderr, 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:  # a closed stderr: the status still says it failed
        pass
    return 1


def run(func: Callable[[], object]) -> NoReturn:
    """Run a command's entry point and end the process with its status.

    An exception other than ``SystemExit`` goes on up as it would (the
    interpreter prints it and exits the usual way).
    """
    try:
        code = status_of(func())
    except SystemExit as e:
        code = status_of(e.code)
    leave(code)


def leave(code: int) -> NoReturn:
    """``sys.exit(code)`` without the interpreter's finalisation."""
    atexit._run_exitfuncs()  # prints a failing handler's traceback, as at a normal exit
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            code = FLUSH_FAILED if stream is sys.stdout else code
    os._exit(code)
