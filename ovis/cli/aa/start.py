"""aa-start: start services of an anopa repository (and what they need/want).

anopa 0.5.0's options, output and exit codes (doc/aa-start.pod,
src/anopa/aa-start.c); the transaction is run by ovis's engine
(ovis.aa.plan decides what it holds, ovis.aa.run runs it).  Exit 0, or 1 when a service that failed has an
``essential`` file; 4 for fatal errors (repository, listdir, timeout, no
s6-svscan).  ``-k SERVICE`` is an ovis addition: that name is skipped when
asked for, as with aa-stop.
"""

from __future__ import annotations

import sys

from ovis.aa import codes as C
from ovis.aa import repo as R
from ovis.aa import run
from ovis.aa.plan import StartLoader, Tally
from ovis.errors import OvisError

from . import common
from .output import COMMON_LONGOPTS, NO_ARG, REQUIRED_ARG, Tool
from .printer import Printer, Reporter, summary

PROG = "aa-start"
DETAILS = (
    " -D, --double-output           Enable double-output mode\n"
    " -r, --repodir DIR             Use DIR as repository directory\n"
    " -l, --listdir DIR             Use DIR to list services to start\n"
    " -k, --skip SERVICE            Skip (do not start) SERVICE\n"
    " -W, --no-wants                Don't auto-start services from 'wants'\n"
    " -t, --timeout SECS            Use SECS seconds as default timeout\n"
    " -n, --dry-list                Only show service names (don't start anything)\n"
    " -v, --verbose                 Print auto-added dependencies\n"
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
LONGOPTS = COMMON_LONGOPTS + (
    ("listdir", REQUIRED_ARG, "l"),
    ("dry-list", NO_ARG, "n"),
    ("repodir", REQUIRED_ARG, "r"),
    ("skip", REQUIRED_ARG, "k"),
    ("timeout", REQUIRED_ARG, "t"),
    ("verbose", NO_ARG, "v"),
    ("no-wants", NO_ARG, "W"),
)


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] [service...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        repodir = R.DEFAULT_REPODIR
        listdir = None
        skip = None
        dry = 0
        verbose = no_wants = False
        timeout = R.DEFAULT_TIMEOUT_SECS
        for c, arg in tool.options(args, "Dhk:l:nr:t:VvW", LONGOPTS):
            assert arg is not None or c in "nvW"
            if c == "l":
                listdir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "r":
                repodir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "k":
                skip = arg
            elif c == "n":
                dry += 1
            elif c == "t":
                timeout = common.parse_timeout(out, arg)  # type: ignore[arg-type]
            elif c == "v":
                verbose = True
            elif c == "W":
                no_wants = True
        if listdir is None and not tool.operands:
            tool.usage(1)
        paths = common.open_repo(out, repodir, write=not dry, rc=C.ERR_IO)
        p = Printer(out, dry=bool(dry))
        tally = Tally()
        services = R.Services(paths)
        loader = StartLoader(services, p, tally, dry=bool(dry), dry_full=dry > 1,
                             verbose=verbose, no_wants=no_wants)

        def add(name: str) -> None:
            if skip is None or name != skip:
                loader.add(name)

        if listdir is not None:
            path = R.listdir_path(listdir)
            try:
                entries = R.scan_dir(path, files_only=True)
            except OSError as e:
                common.die_listdir(out, path, e, C.ERR_IO)
            for name, _ in entries:
                if not name.startswith("."):
                    add(name)
        for arg in tool.operands:
            if arg == "-":
                for name in common.names_from_stdin():
                    add(name)
            else:
                add(arg)

        services_to_start = loader.transaction(timeout)
        order = loader.main
        if dry:
            for name in loader.waves():
                p.line(name + "\n")
            return tally.rc
        R.record_load_errors(paths, loader.load_errors)
        readiness = {n for n, s in services_to_start.items() if s.notify is not None}
        reporter = Reporter(p, tally, services, loader.getting_ready, readiness)
        try:
            run.start(paths, reporter, services_to_start, order)
        except OvisError as e:
            out.die(C.ERR_IO, f"unable to start services: {e}")
        summary(p, tally, PROG, start=True)
        return tally.rc

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())
