"""The ``ovis`` command: argument parsing and the one error handler.

Only this package prints and exits.  Library errors carry their exit status
(0 success, 1 a service failed or is not in the asked state, 2 usage or
configuration error); :func:`entrypoint` turns them into one line on stderr.
"""

from __future__ import annotations

import sys

from ovis import __version__

#: typing.TYPE_CHECKING without importing typing (and ovis.errors, pathlib):
#: ``ovis --version`` imports nothing but this module.
TYPE_CHECKING = False
if TYPE_CHECKING:  # argparse is imported when a parser is built (not for --version)
    import argparse
    from typing import Callable, NoReturn, Sequence

EXIT_CODES = """\
exit status:
  0  success
  1  a service failed, or is not in the asked state
  2  usage or configuration error (the message names file, line and key;
     nothing was changed)
"""

GLOBAL_HELP = """\
ovis compiles service definitions (66 frontend files or anopa service
directories) into s6 service directories, starts and stops them in
dependency order, in parallel, and boots a machine or a container as PID 1.
After a command returns no ovis process is left: s6 supervises.
"""


def _add_globals(p: argparse.ArgumentParser, suppress: bool) -> None:
    import argparse

    d = argparse.SUPPRESS if suppress else None
    g = p.add_argument_group("paths and output (also accepted after the command)")
    g.add_argument("--live", metavar="DIR", default=d,
                   help="live state directory (default /run/ovis, $OVIS_LIVE)")
    g.add_argument("--services", metavar="DIRS", default=d,
                   help="':'-separated definition search path "
                        "(default /etc/ovis/service:/usr/lib/ovis/service, $OVIS_SERVICES)")
    g.add_argument("--skel", metavar="DIR", default=d,
                   help="skeleton directory (default /etc/ovis, $OVIS_SKEL)")
    g.add_argument("--trees", metavar="DIR", default=d,
                   help="trees directory (default /etc/ovis/tree, $OVIS_TREES)")
    g.add_argument("--logdir", metavar="DIR", default=d,
                   help="service log directory (default /var/log/ovis, $OVIS_LOGDIR)")
    g.add_argument("-v", "--verbosity", metavar="N", type=int,
                   default=argparse.SUPPRESS if suppress else 1, help="verbosity (0 quiet)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress else False,
                   help="machine-readable output: nothing but JSON on stdout")


#: Global options that take a value (to find the command word in argv).
_VALUED = {"--live", "--services", "--skel", "--trees", "--logdir", "-v", "--verbosity"}


def command_word(argv: Sequence[str]) -> str | None:
    """The COMMAND of an ovis command line, skipping global options."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in _VALUED:
            skip = True
        elif not a.startswith("-"):
            return a
    return None


#: The CLI module that registers each command, in the order ``ovis --help``
#: lists the modules: a command line that names its command imports only that
#: module (tests/test_cli_lazy.py checks the table against the registrations).
COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(("start", "stop", "restart", "reload", "signal", "status", "enable",
                     "disable", "tree", "check", "scandir", "log"), "commands"),
    **dict.fromkeys(("boot", "skel", "stage2", "stage3", "stage4", "demo", "halt", "poweroff",
                     "reboot"), "bootcmds"),
    "analyze": "analyzecmd",
    **dict.fromkeys(("apply", "reset", "reset-failed", "deps", "is-enabled"), "opscmds"),
}
_MODULE_ORDER = ("commands", "bootcmds", "analyzecmd", "opscmds")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (*only*) the parser of a single command.

    Building every subcommand costs real time where Python is slow (PID 1
    under emulation, stage 3/4 at shutdown), and so does importing every
    CLI module: a command line that names its command gets just that one,
    from just the module that registers it.
    """
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="ovis", description=GLOBAL_HELP, epilog=EXIT_CODES + "\nsee docs/ for one page per command",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ovis {__version__}")
    _add_globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    _add_globals(common, suppress=True)

    def cmd(name: str, handler: Callable[[argparse.Namespace], int], summary: str,
            description: str = "", epilog: str = "") -> argparse.ArgumentParser:
        if only is not None and name != only:
            return argparse.ArgumentParser(add_help=False)  # built, never attached
        p = sub.add_parser(name, help=summary, parents=[common],
                           description=description or summary,
                           epilog=(epilog + "\n\n" if epilog else "") + EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=handler)
        return p

    owner = COMMAND_MODULES.get(only) if only is not None else None
    for name in ((owner,) if owner else _MODULE_ORDER if only is None else ()):
        importlib.import_module(f"ovis.cli.{name}").register(cmd)
    parser.ovis_commands = sorted(sub.choices)  # type: ignore[attr-defined]
    return parser


class _Args:
    """The Namespace argparse would make, for the command lines :func:`quick_status` reads."""

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


_GLOBAL_DEST = {"--live": "live", "--services": "services", "--skel": "skel", "--trees": "trees",
                "--logdir": "logdir", "-v": "verbosity", "--verbosity": "verbosity"}


#: The commands :func:`quick_status` reads: each one's options with a value
#: (option -> (dest, int?)), its flags (option -> dest), its defaults, and
#: the fewest names it takes (as their argparse definitions say).
_QUICK: dict[str, tuple[dict[str, tuple[str, bool]], dict[str, str], dict[str, object], int]] = {
    "status": ({"-n": ("lines", True), "--lines": ("lines", True)}, {"--failed": "failed"},
               {"failed": False, "lines": 10}, 0),
    "is-enabled": ({"-t": ("tree", False), "--tree": ("tree", False)}, {}, {"tree": None}, 1),
    # argparse and its imports (shutil, bz2, lzma, gettext...) were 2 MB of the
    # peak memory of a start of 1000 and a tenth of its modules
    "start": ({}, {"--scandir": "scandir"}, {"scandir": False}, 1),
    "stop": ({}, {"-a": "all", "--all": "all", "-f": "force", "--force": "force"},
             {"all": False, "force": False}, 0),
}


def quick_status(argv: Sequence[str]) -> _Args | None:
    """``ovis [GLOBALS] status|is-enabled|start|stop [OPTIONS] [NAME...]`` read without argparse, or None.

    Boot scripts call ``ovis status`` (and ``ovis is-enabled``) dozens of
    times; importing argparse and building its parser is a sixth of the
    command's time.  Only the plain spellings are read here (options in
    full, values as the next word, the names in one run); anything else
    (help, abbreviations, ``--opt=value``, a value that looks like an
    option, a bad number) returns None and goes to argparse, which gives its
    own answer or error.
    """
    ns: dict[str, object] = {"live": None, "services": None, "skel": None, "trees": None,
                             "logdir": None, "verbosity": 1, "json": False, "command": None}
    names: list[str] = []
    valued: dict[str, tuple[str, bool]] = {}
    flags: dict[str, str] = {}
    run = 0  # 0: no names yet, 1: in the run of names, 2: after it
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _GLOBAL_DEST or a in valued:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None
            v: object = argv[i + 1]
            dest, num = valued[a] if a in valued else (_GLOBAL_DEST[a], a in ("-v", "--verbosity"))
            if num:
                try:
                    v = int(argv[i + 1])
                except ValueError:
                    return None
            ns[dest] = v
            i += 2
            run = 2 if run else 0
            continue
        if a == "--json":
            ns["json"] = True
        elif a in flags:
            ns[flags[a]] = True
        elif a.startswith("-"):
            return None
        elif not ns["command"]:
            if a not in _QUICK:
                return None
            ns["command"] = a
            valued, flags, defaults, _least = _QUICK[a]
            for k, d in defaults.items():
                ns.setdefault(k, d)
        elif run == 2:
            return None  # names, options, names again: argparse's to judge
        else:
            names.append(a)
            run = 1
        if a.startswith("-") and run:
            run = 2
        i += 1
    if not ns["command"] or len(names) < _QUICK[str(ns["command"])][3]:
        return None
    if ns["command"] == "status":
        from ovis.cli.statusview import cmd_status as func
    elif ns["command"] == "is-enabled":
        from ovis.cli.opscmds import cmd_is_enabled as func
    elif ns["command"] == "start":
        from ovis.cli.commands import cmd_start as func
    else:
        from ovis.cli.commands import cmd_stop as func

    ns["names"] = names
    return _Args(func=func, **ns)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # asked by scripts: no parser to build for it
        print(f"ovis {__version__}")
        return 0
    if argv[:1] and argv[0] in ("boot", "poweroff", "reboot", "halt"):  # no parser to build
        from ovis.cli.bootcmds import quick

        run = quick(argv)
        if run is not None:
            return run()
    if argv[-2:] == ["scandir", "start"]:  # every cold start: no parser to build for it
        from ovis.cli.scandir import quick_start

        run_scandir = quick_start(argv[:-2])
        if run_scandir is not None:
            return run_scandir()
    quick = quick_status(argv)
    if quick is not None:
        return int(quick.func(quick) or 0)  # type: ignore[attr-defined]
    word = command_word(argv)
    if word is None and not any(a in ("-h", "--help", "--version") for a in argv):
        from ovis.cli import statusview  # `ovis` alone: a short summary, not a usage error

        parser = build_parser("status")
        return statusview.summary(parser.parse_args([*argv, "status"]))
    parser = build_parser(word) if word else None
    if parser is None or not parser.ovis_commands:  # type: ignore[attr-defined]
        parser = build_parser()  # no or unknown command: the full list, for the error
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def entrypoint() -> None:
    report_errors(main)


def report_errors(run: Callable[[], int]) -> NoReturn:
    """Run a command's *run* and exit with its status; errors as one line, never a traceback.

    The one handler of every ovis entry (``ovis``, and the lean entry of PID 1's
    scripts, ovis.cli.stagecmd).
    """
    try:
        code = run()
        sys.stdout.flush()  # a closed pipe (ovis status | head) is noticed here, not at exit
    except Exception as e:  # OvisError imported only when one is raised
        from ovis.errors import OvisError

        if isinstance(e, OvisError):
            print(f"ovis: error: {e}", file=sys.stderr)
            code = e.exit_status
        elif isinstance(e, BrokenPipeError):
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush
            code = 0
        elif isinstance(e, OSError):  # the system said no: one line that says what to do
            print(f"ovis: error: {os_error_text(e)}", file=sys.stderr)
            code = 1
        else:
            raise
    except KeyboardInterrupt:
        print("ovis: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


def os_error_text(e: OSError) -> str:
    """``PATH: what happened`` (+ the way out, for the usual cases)."""
    import errno

    where = f"{e.filename}: " if e.filename is not None else ""
    if isinstance(e, PermissionError):
        return (f"{where}permission denied (run as root, or point --live at your own "
                "directory)")
    if e.errno == errno.ENOSPC:
        return f"{where}no space left on device (free some space in LIVE, or use --live)"
    return f"{where}{e.strerror or e}"
