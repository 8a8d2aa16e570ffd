"""aa-enable: fill an anopa repository (/run/services) from source servicedirs.

anopa 0.5.0's options, output and exit codes (doc/aa-enable.pod,
src/anopa/aa-enable.c); how a servicedir is copied and compiled is
:mod:`ovis.aa.enable`.  Exit 0 (also when services failed), 1 bad usage or
no repository, 2 ``-a`` and no s6-svscan.
"""

from __future__ import annotations

import os
import sys

from ovis import atomic
from ovis.aa import codes as C
from ovis.aa import repo as R
from ovis.aa.codes import AaError
from ovis.aa.enable import SOURCES, SVSCANDIR, Enabler, action_file, create_repo, write_finish
from ovis.errors import NotSupervised
from ovis.paths import Paths

from . import common
from .output import COMMON_LONGOPTS, NO_ARG, REQUIRED_ARG, Output, Tool
from .printer import Printer

PROG = "aa-enable"
DETAILS = (
    " -D, --double-output           Enable double-output mode\n"
    " -r, --repodir DIR             Use DIR as repository directory\n"
    " -S, --reset-source DIR        Reset list of source directories to DIR\n"
    " -s, --source DIR              Add DIR as source directories\n"
    " -k, --skip-down SERVICE       Don't create file 'down' for SERVICE\n"
    " -u, --upgrade                 Upgrade service dirs instead of creating them\n"
    " -l, --listdir DIR             Use DIR to list services to enable\n"
    " -f, --set-finish TARGET       Create s6-svscan symlink finish to TARGET\n"
    " -c, --set-crash TARGET        Create s6-svscan symlink crash to TARGET\n"
    " -a, --alarm-s6                Alarm s6-svscan when done\n"
    " -N, --no-needs                Don't auto-enable services from 'needs'\n"
    " -W, --no-wants                Don't auto-enable services from 'wants'\n"
    "     --no-supervise            Don't create supervise folders for longruns\n"
    " -q, --quiet                   Don't print enabled services\n"
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
LONGOPTS = COMMON_LONGOPTS + (
    ("alarm-s6", NO_ARG, "a"),
    ("set-crash", REQUIRED_ARG, "c"),
    ("set-finish", REQUIRED_ARG, "f"),
    ("skip-down", REQUIRED_ARG, "k"),
    ("listdir", REQUIRED_ARG, "l"),
    ("no-needs", NO_ARG, "N"),
    ("quiet", NO_ARG, "q"),
    ("repodir", REQUIRED_ARG, "r"),
    ("reset-source", REQUIRED_ARG, "S"),
    ("source", REQUIRED_ARG, "s"),
    ("upgrade", NO_ARG, "u"),
    ("no-wants", NO_ARG, "W"),
    ("no-supervise", NO_ARG, "\0"),
)


def _create_repo(out: Output, repodir: str, upgrade: bool) -> Paths:
    if not upgrade:
        try:
            create_repo(repodir)
        except AaError as e:
            common.die(out, e, 1)
    return common.open_repo(out, repodir, write=True, rc=1)


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] [service...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        repodir = R.DEFAULT_REPODIR
        sources = list(SOURCES)
        listdir = crash = finish = skip = None
        needs = wants = supervise = True
        upgrade = quiet = alarm = False
        for c, arg in tool.options(args, "ac:Df:hk:l:Nqr:S:s:uVW", LONGOPTS):
            if c == "a":
                alarm = True
            elif c == "c":
                crash = arg
            elif c == "f":
                finish = arg
            elif c == "k":
                skip = arg
            elif c == "l":
                listdir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "N":
                needs = False
            elif c == "q":
                quiet = True
            elif c == "r":
                repodir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "S":
                sources = [R.unslash(arg)]  # type: ignore[arg-type]
            elif c == "s":
                sources.append(R.unslash(arg))  # type: ignore[arg-type]
            elif c == "u":
                upgrade = True
            elif c == "W":
                wants = False
            elif c == "\0":
                supervise = False
        if listdir is None and not tool.operands:
            tool.usage(1)
        paths = _create_repo(out, repodir, upgrade)
        # As with anopa (which chdir()s into REPODIR first), relative sources
        # and listdirs are relative to REPODIR.
        sources = [os.path.abspath(s) for s in sources]
        p = Printer(out)
        en = Enabler(p, paths, sources, needs=needs, wants=wants, skip=skip, upgrade=upgrade,
                     supervise=supervise, quiet=quiet)
        if listdir is not None:
            path = R.listdir_path(listdir)
            try:
                entries = R.scan_dir(path, files_only=False)
            except OSError as e:
                common.die_listdir(out, path, e, C.ERR_IO)
            for name, is_dir in entries:
                if name.startswith("."):
                    continue
                en.enable(os.path.abspath(os.path.join(path, name)) if is_dir else name)
        for arg in tool.operands:
            for name in (common.names_from_stdin() if arg == "-" else [arg]):
                en.enable(name)
        while en.next:
            name = en.next.pop()
            if not upgrade:
                en.enable(name, from_next=True)
            elif not os.path.lexists(paths.servicedir(name)):
                en.upgrade = False
                en.enable(name, from_next=True)
                en.upgrade = True
        p.line("\n")
        p.title(PROG, "Completed")
        p.stat_nb(en.nb_enabled, "Enabled")
        p.stat_names(en.failed, "Failed")
        if not upgrade and (crash or finish):
            svscandir = paths.live / SVSCANDIR
            try:
                os.mkdir(svscandir, 0o700)
            except FileExistsError:
                pass
            except OSError as e:
                p.error(f"Failed to create {SVSCANDIR}", e.strerror)
            try:
                os.unlink(action_file(paths.live))  # a stale action must not be reused
            except OSError:
                pass
            for what, target, opt in (("crash", crash, "-c"), ("finish", finish, "-f")):
                if target:
                    try:
                        write_finish(paths, what, target, opt)
                    except OSError as e:
                        p.error(f"Failed to create {SVSCANDIR}/{what}", e.strerror)
        if alarm:
            from ovis.s6.control import svscan_send

            try:
                svscan_send(paths.scandir, "a")
            except NotSupervised:
                out.die(2, "unable to alarm s6-svscan: supervisor not listening")
            except OSError as e:
                out.die_unable(2, "alarm s6-svscan", e)
        return 0

    # aa-enable never changes its umask: the files and directories it makes
    # with the mode they need take no chmod each when the umask leaves it.
    atomic.know_umask()
    try:
        return tool.run(body, argv)
    finally:
        atomic.forget_umask()


def entrypoint() -> None:
    sys.exit(main())
