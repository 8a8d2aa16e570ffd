"""aa-shutdown: halt, reboot or power off a system booted with anopa's stages.

anopa's aa-shutdown ran ``s6-svscanctl -{s,r,p}b /run/services/.scandir``
and s6-svscan passed the action to ``.s6-svscan/finish`` (aa-stage3).
s6-svscan 2.11 has no such letters and runs finish with no arguments, so
this one records the action (one line, ``halt``, ``reboot`` or
``poweroff``) atomically in ``REPODIR/.scandir/.s6-svscan/action``, then
sends 'b' (exit now, leaving the supervision tree to finish): the finish
script ``aa-enable -f TARGET`` wrote execs ``TARGET ACTION``.

Called as ``halt``, ``reboot`` or ``poweroff`` (distributions link those names
to aa-shutdown; ovis does not install them) it needs no option.
``--repodir DIR`` (default /run/services) is an ovis addition.
Exit 0; 1 bad usage; 100 no s6-svscan listening; 111 system call failure
(s6-svscanctl's codes).
"""

from __future__ import annotations

import os
import sys

from ovis.aa import shutdown as R  # its names, not ovis.aa.repo's imports: a lean start
from ovis.aa.codes import AaError
from ovis.aa.shutdown import request
from ovis.errors import NotSupervised

from .output import NO_ARG, OUT, REQUIRED_ARG, Exit, GetOpt, Output, VERSION

PROG = "aa-shutdown"
ACTIONS = {"H": "halt", "r": "reboot", "p": "poweroff"}
ARGV0 = {"halt": "halt", "reboot": "reboot", "poweroff": "poweroff"}
USAGE = (
    "Usage: aa-shutdown [OPTION]\n"
    " -r, --reboot                  Reboot the machine\n"
    " -H, --halt                    Halt the machine\n"
    " -p, --poweroff                Power off the machine\n"
    "     --repodir DIR             Use DIR as repository directory\n"
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
LONGOPTS = (
    ("reboot", NO_ARG, "r"),
    ("halt", NO_ARG, "H"),
    ("poweroff", NO_ARG, "p"),
    ("repodir", REQUIRED_ARG, "R"),
    ("help", NO_ARG, "h"),
    ("version", NO_ARG, "V"),
)


def main(argv: list[str] | None = None, argv0: str | None = None) -> int:
    out = Output(PROG)
    args = list(sys.argv[1:] if argv is None else argv)
    name = os.path.basename(sys.argv[0] if argv0 is None else argv0)
    action = ARGV0.get(name)
    repodir = R.DEFAULT_REPODIR

    def usage(rc: int) -> int:
        out.bs(OUT, USAGE, flush=True)
        return rc

    try:
        parser = GetOpt(out, args, "rHphV", LONGOPTS)
        for c, arg in parser:
            if c == "?":
                return usage(1)
            if c == "h":
                return usage(0)
            if c == "V":
                out.bs(OUT, f"{PROG} (ovis) {VERSION}\n", flush=True)
                return 0
            if c == "R":
                repodir = R.unslash(arg or "")
            else:
                action = ACTIONS[c]
        if action is None or parser.operands:
            return usage(1)
        try:
            request(repodir, action)
        except AaError as e:
            if isinstance(e.cause, NotSupervised):
                out.die(100, f"unable to {e.what}: supervisor not listening")
            out.die_unable(111, e.what, e.cause)
        return 0
    except Exit as e:
        return e.rc
    finally:
        out.flush()


def entrypoint() -> None:
    sys.exit(main())
