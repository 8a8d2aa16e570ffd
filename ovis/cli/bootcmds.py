"""Handlers of the boot verbs: boot, skel, poweroff/reboot/halt, the stage entries, demo.

Also what ``ovis`` (ovis.cli.main) and the lean entry of PID 1's scripts
(ovis.cli.stagecmd) share without importing each other: the readers of
``ovis boot``'s and the power verbs' usual command lines (:func:`quick`),
the power request and stage 4.  Importing this module costs nothing but
os and ovis.errors: its handlers import what they use.
"""

from __future__ import annotations

import os

from ovis.errors import EXIT_OK, StateError, UsageError

TYPE_CHECKING = False  # typing and pathlib: some 60 modules the stage 4 and power entries skip
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Callable, Sequence

POWER = ("poweroff", "reboot", "halt")

#: ``ovis boot``'s options: (letter, dest, takes a value), as register() declares them.
_BOOT_OPTIONS = {"-z": ("colour", False), "-m": ("remount", False), "-s": ("boot_skel", True),
                 "-l": ("log_user", True), "-e": ("environment", True), "-d": ("dev", True),
                 "-b": ("banner", True)}
_BOOT_DEFAULTS: dict[str, object] = {"colour": False, "remount": False, "boot_skel": None,
                                     "log_user": "root", "environment": None, "dev": None,
                                     "banner": "[Starts stage1 process ...]"}


class _BootArgs:
    """The Namespace argparse makes for ``ovis boot``, for :func:`quick_boot`."""

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


def quick_boot(argv: list[str]) -> _BootArgs | None:
    """``ovis boot [OPTIONS] [CMD...]`` (*argv* after ``boot``) read without argparse, or None.

    PID 1 runs this before anything else, and where Python is slow (an
    emulated CPU, a small board) building the parser costs a good part of a
    second (argparse, gettext, shutil and the compression modules it
    imports).  Reads what ``init=/usr/bin/ovis boot -s SKEL`` and the
    container runtimes write: the options as separate words, then the
    container command (the first other word, or ``--``, and everything
    after it, as argparse's REMAINDER takes it).  Anything else (``--help``,
    ``-sSKEL``, a global option, a value that starts with ``-``) is None:
    argparse then reads it, answers or errs as before.
    """
    ns = dict(_BOOT_DEFAULTS, skel=None, verbosity=1, json=False, command=[])
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--" or not word.startswith("-"):
            ns["command"] = argv[i:]
            break
        spec = _BOOT_OPTIONS.get(word)
        if spec is None:
            return None
        dest, valued = spec
        if valued:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None
            ns[dest] = argv[i + 1]
            i += 2
        else:
            ns[dest] = True
            i += 1
    return _BootArgs(func=cmd_boot, command_name="boot", **ns)


def run_stage4(live: str | Path, *, crashed: bool) -> None:
    """Stage 4 (never returns): signals ignored first, so nothing ends PID 1 midway."""
    from ovis.boot import signals

    signals.ignore()
    from ovis.boot.shutdown import stage4

    stage4(live, crashed=crashed)


def request_power(live: str | Path, verb: str, *, exitcode: int | None, force: bool = False,
                  repeat_forces: bool = False, verbose: bool = True) -> int:
    """Ask for a poweroff/reboot/halt: 0 once under way, 1 if one already was."""
    from ovis.boot.shutdown import shutdown
    from ovis.errors import EXIT_FAILED, EXIT_OK

    if not shutdown(live, verb, exitcode=exitcode, force=force, repeat_forces=repeat_forces):
        if verbose:
            import sys

            print("ovis: a shutdown is already in progress", file=sys.stderr)
        return EXIT_FAILED
    if verbose:
        print(f"ovis: {verb} requested")
    return EXIT_OK


def quick_power(argv: Sequence[str]) -> tuple[str, dict[str, object]] | None:
    """``ovis poweroff|reboot|halt [-f] [--repeat-forces] [--exit-code N]``: (verb, options).

    What users and scripts type (a service asking for the poweroff, a shutdown
    key binding), read without argparse; anything else is None.
    """
    if not argv or argv[0] not in POWER:
        return None
    opts: dict[str, object] = {"repeat_forces": False, "exitcode": None, "force": False}
    rest = list(argv[1:])
    while rest:
        word = rest.pop(0)
        if word == "--repeat-forces":
            opts["repeat_forces"] = True
        elif word in ("-f", "--force"):
            opts["force"] = True
        elif word == "--exit-code" and rest and rest[0].isdigit() and rest[0].isascii():
            opts["exitcode"] = int(rest.pop(0))
        else:
            return None
    return argv[0], opts


def quick(argv: Sequence[str]) -> Callable[[], int] | None:
    """The ``ovis`` command lines of the boot and the power verbs that need no parser, or None.

    ``ovis boot`` (:func:`ovis.cli.bootcmds.quick_boot`) is PID 1's first
    work, ``ovis poweroff`` the start of a shutdown: where Python is slow,
    building argparse's parser (and importing argparse, gettext, shutil and
    the compression modules) costs a good part of a second of each.
    """
    if argv[0] == "boot":
        args = quick_boot(list(argv[1:]))
        if args is None:
            return None
        return lambda: int(args.func(args) or 0)  # type: ignore[attr-defined]
    power = quick_power(argv)
    if power is None:
        return None
    verb, opts = power

    def run() -> int:
        from ovis.cli.context import paths_of

        class _NoOptions:  # the global path options, none given
            live = skel = services = trees = logdir = None

        return request_power(paths_of(_NoOptions()).live, verb,  # type: ignore[arg-type]
                             exitcode=opts["exitcode"], force=bool(opts["force"]),  # type: ignore[arg-type]
                             repeat_forces=bool(opts["repeat_forces"]))

    return run


def cmd_boot(args: argparse.Namespace) -> int:
    from ovis.boot import signals

    signals.hold()  # first: PID 1 must not die of a ctrl-alt-del while it is Python
    from pathlib import Path

    from ovis.boot.stage1 import BootOptions, boot

    if os.geteuid() != 0:
        raise StateError("boot: must be run as root (it is meant to be PID 1)")
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    skel = args.boot_skel or args.skel or os.environ.get("OVIS_SKEL") or "/etc/ovis"
    opts = BootOptions(skel=Path(skel), log_user=args.log_user,
                       envdir=Path(args.environment) if args.environment else None,
                       dev=Path(args.dev) if args.dev else None, banner=args.banner,
                       remount=args.remount, colour=args.colour, command=cmd)
    boot(opts)


def cmd_skel(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ovis.boot.skel import install

    dest = Path(args.dir).absolute()
    written = install(dest, overwrite=args.force)
    if args.verbosity > 0:
        for p in written:
            print(f"ovis: wrote {p}")
        if not written:
            print(f"ovis: {dest}: every skeleton file exists already (--force to overwrite)")
    return EXIT_OK


def _live(args: argparse.Namespace) -> Path:
    from ovis.cli.commands import paths_of

    return paths_of(args).live


def cmd_power(args: argparse.Namespace) -> int:
    return request_power(_live(args), args.command_name, exitcode=args.exit_code, force=args.force,
                         repeat_forces=args.repeat_forces, verbose=args.verbosity > 0)


def cmd_stage2(args: argparse.Namespace) -> int:
    from ovis.boot import stage2
    from ovis.cli.commands import paths_of

    return stage2.run(paths_of(args), show_status=args.status)


def cmd_stage3(args: argparse.Namespace) -> int:
    from ovis.boot.shutdown import run_stage3

    return run_stage3(_live(args))


def cmd_stage4(args: argparse.Namespace) -> int:
    run_stage4(_live(args), crashed=args.crash)


def cmd_demo(args: argparse.Namespace) -> int:
    from ovis.boot import demo

    return demo.run(verbose=args.verbosity > 0)


def register(cmd) -> None:  # type: ignore[no-untyped-def]
    import argparse

    p = cmd("boot", cmd_boot, "stage 1 as PID 1: prepare, fork stage 2, exec s6-svscan",
            description="Meant to be run as PID 1 (66's boot). Performs the early preparation, "
                        "forks stage 2 (rc.init, or rc.init.container with CMD) and execs into "
                        "s6-svscan. Never exits: any failing step opens a rescue shell.",
            epilog="examples:\n  init=/usr/bin/ovis boot            (kernel command line)\n"
                   "  ovis boot -s /etc/ovis -- nginx -g 'daemon off;'   (container, CONTAINER=1)")
    p.add_argument("-z", dest="colour", action="store_true", help="use colours")
    p.add_argument("-m", dest="remount", action="store_true",
                   help="unmount and remount the tmpfs on LIVE's first component")
    p.add_argument("-s", dest="boot_skel", metavar="SKEL",
                   help="skeleton directory (absolute; default --skel, $OVIS_SKEL, /etc/ovis)")
    p.add_argument("-l", dest="log_user", metavar="LOG_USER", default="root",
                   help="user of the catch-all logger (default root)")
    p.add_argument("-e", dest="environment", metavar="DIR",
                   help="extra environment directory (absolute), over SKEL/environment")
    p.add_argument("-d", dest="dev", metavar="DEV", help="mount a devtmpfs on DEV")
    p.add_argument("-b", dest="banner", metavar="BANNER", default="[Starts stage1 process ...]",
                   help="banner printed on the console")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARG...",
                   help="container command (CONTAINER=1)")
    p = cmd("skel", cmd_skel, "write the default skeleton (init.conf, rc.*, environment/)",
            epilog="examples:\n  ovis skel install /etc/ovis\n  ovis skel install --force /tmp/skel")
    p.add_argument("action", choices=["install"], help="install (the only action)")
    p.add_argument("dir", metavar="DIR", help="where to write it")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    for name, what in (("poweroff", "power off"), ("reboot", "reboot"), ("halt", "halt")):
        p = cmd(name, cmd_power, f"stop every service in order, then {what} (stages 3 and 4)",
                epilog="Returns once the shutdown is under way; exit status 1 when another\n"
                       f"shutdown was already in progress.\n\nexamples:\n  ovis {name}\n"
                       f"  ovis {name} --exit-code 3     (container mode)")
        p.set_defaults(command_name=name)
        p.add_argument("-f", "--force", action="store_true",
                       help="skip the ordered service stop (rc.shutdown)")
        p.add_argument("--exit-code", type=int, metavar="N",
                       help="container mode: the exit status of PID 1")
        p.add_argument("--repeat-forces", action="store_true",
                       help="when a shutdown is already in progress, force it (what the "
                            ".s6-svscan signal scripts use: a signal sent twice insists)")
    p = cmd("stage2", cmd_stage2, "(internal) the default rc.init: start TREE, say system ready")
    p.add_argument("--status", action="store_true", help="print the status table once ready")
    cmd("stage3", cmd_stage3, "(internal) run rc.shutdown, then make s6-svscan exit")
    p = cmd("stage4", cmd_stage4, "(internal) .s6-svscan/finish: kill, unmount, reboot(2)")
    p.add_argument("--crash", action="store_true")
    cmd("demo", cmd_demo, "boot the bundled example system as PID 1 in a namespace, then power off",
        epilog="Needs unshare; works without root (in a user namespace).\n\nexamples:\n  ovis demo")


__all__ = ["register", "UsageError"]
