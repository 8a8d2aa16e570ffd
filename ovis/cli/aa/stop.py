"""aa-stop: stop services of an anopa repository (and, first, what needs them).

anopa 0.5.0's options, output and exit codes (doc/aa-stop.pod,
src/anopa/aa-stop.c); the transaction is run by ovis's engine
(ovis.aa.plan decides what it holds, ovis.aa.run runs it).  Exit 0 even
when services failed to stop; 4 for fatal errors.  As documented (anopa's code ignored them), service names given with
``-l`` are stopped too.

``-aa`` (stop-all, stage 3, s6-svscan gone): dependency failures do not
block, the default timeout is also a maximum, and every s6-supervise is told
to exit ('x') once its service is down; the ``-k`` service only gets 'x', so
its supervisor exits when the service is finally killed.
"""

from __future__ import annotations

import sys

from ovis.aa import codes as C
from ovis.aa import repo as R
from ovis.aa import run
from ovis.aa.plan import StopLoader, Tally
from ovis.errors import NotSupervised, OvisError

from . import common
from .output import COMMON_LONGOPTS, NO_ARG, REQUIRED_ARG, Tool
from .printer import Printer, Reporter, summary

PROG = "aa-stop"
DETAILS = (
    " -D, --double-output           Enable double-output mode\n"
    " -r, --repodir DIR             Use DIR as repository directory\n"
    " -l, --listdir DIR             Use DIR to list services to stop\n"
    " -k, --skip SERVICE            Skip (do not stop) SERVICE\n"
    " -t, --timeout SECS            Use SECS seconds as default timeout\n"
    " -a, --all                     Stop all running services\n"
    " -n, --dry-list                Only show service names (don't stop anything)\n"
    " -v, --verbose                 Print auto-added dependencies\n"
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
LONGOPTS = COMMON_LONGOPTS + (
    ("all", NO_ARG, "a"),
    ("skip", REQUIRED_ARG, "k"),
    ("listdir", REQUIRED_ARG, "l"),
    ("dry-list", NO_ARG, "n"),
    ("repodir", REQUIRED_ARG, "r"),
    ("timeout", REQUIRED_ARG, "t"),
    ("verbose", NO_ARG, "v"),
)


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] [service...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        repodir = R.DEFAULT_REPODIR
        listdir = None
        skip = None
        all_ = 0
        dry = verbose = False
        timeout = R.DEFAULT_TIMEOUT_SECS
        for c, arg in tool.options(args, "aDhk:l:nr:t:Vv", LONGOPTS):
            if c == "a":
                all_ += 1
            elif c == "k":
                skip = arg
            elif c == "l":
                listdir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "n":
                dry = True
            elif c == "r":
                repodir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "t":
                timeout = common.parse_timeout(out, arg)  # type: ignore[arg-type]
            elif c == "v":
                verbose = True
        if (all_ and (listdir is not None or tool.operands)) or (
                not all_ and listdir is None and not tool.operands):
            tool.usage(1)
        stop_all = all_ > 1
        if stop_all and timeout == 0:
            out.strerr("warning: ", "Default timeout cannot be infinite (0) in stop-all mode, ignoring")
            timeout = R.DEFAULT_TIMEOUT_SECS
        paths = common.open_repo(out, repodir, write=not dry, rc=C.ERR_IO)
        p = Printer(out, dry=bool(dry))
        tally = Tally()
        services = R.Services(paths)
        loader = StopLoader(services, p, tally, dry=dry, verbose=verbose, skip=skip)
        try:
            loader.preload_all()
        except OSError as e:
            out.die_unable(C.ERR_IO, "read repository directory", e)

        def supervise_exit(name: str, letters: str = "x") -> None:
            """anopa's stop_supervise_for: have a longrun's s6-supervise exit."""
            if not services.is_longrun(name):
                return
            p.line(f"Stopping s6-supervise for {name}...\n")
            try:
                run.tell_supervisor(services, name, letters)
            except (NotSupervised, OSError) as e:
                p.strerr_warn(f"unable to stop s6-supervise for {name}: ",
                              getattr(e, "strerror", None) or str(e))

        if all_:
            x = supervise_exit if stop_all and not dry else None
            loader.add_all(on_not_up=x, on_skip=x)
        else:
            if listdir is not None:
                path = R.listdir_path(listdir)
                try:
                    entries = R.scan_dir(path, files_only=True)
                except OSError as e:
                    common.die_listdir(out, path, e, C.ERR_IO)
                for name, _ in entries:
                    if not name.startswith("."):
                        loader.add(name)
            for arg in tool.operands:
                for name in (common.names_from_stdin() if arg == "-" else [arg]):
                    loader.add(name)

        to_stop = loader.transaction(timeout, stop_all)
        if dry:
            for name in loader.waves():
                p.line(name + "\n")
            return 0
        reporter = Reporter(p, tally, services, set(), set())
        try:
            run.stop(paths, reporter, to_stop, loader.main, force=stop_all)
        except OvisError as e:
            out.die(C.ERR_IO, f"unable to stop services: {e}")
        if stop_all:
            for name in loader.main:
                if services.is_longrun(name):
                    try:
                        run.tell_supervisor(services, name, "x")
                    except (NotSupervised, OSError):
                        pass
            _stop_loggers(services, p, skip)
        summary(p, tally, PROG, start=False)
        return 0

    return tool.run(body, argv)


def _stop_loggers(services: R.Services, p: Printer, skip: str | None) -> None:
    """Stop-all: loggers are part of their servicedir in ovis (s6-svscan runs
    them with it); bring each down and have its supervisor exit too (but the
    skipped service's: it logs as long as its service runs)."""
    for name in run.loggers(services, skip):
        try:
            run.tell_supervisor(services, name, "dx")
        except (NotSupervised, OSError):
            continue
        p.line(f"Stopping s6-supervise for {name}...\n")


def entrypoint() -> None:
    sys.exit(main())
