"""The lean entry of the commands PID 1's own scripts run: stage 4 and the power verbs.

``.s6-svscan/finish`` (stage 4) and the signal scripts (ctrl-alt-del is
``reboot --repeat-forces``) run while the machine is going down, and where
Python is slow (an emulated CPU, a small board) every import counts: this
entry reads the few fixed command lines stage 1 writes there without
building the argument parser or importing the other commands.  Any other
command line (``--help``, an option it does not know) goes to the full
``ovis`` command, so it behaves exactly as ``ovis`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

TYPE_CHECKING = False  # typing costs ~30 modules: stage 4 runs where Python is slow
if TYPE_CHECKING:
    from typing import Callable, Sequence

POWER = ("poweroff", "reboot", "halt")


def _parse(argv: Sequence[str]) -> tuple[str, Path, dict[str, object]] | None:
    """(verb, LIVE, options) of ``--live DIR VERB [OPTIONS]``, or None for anything else."""
    if len(argv) < 3 or argv[0] != "--live" or not argv[1].startswith("/"):
        return None
    live, verb, rest = Path(argv[1]), argv[2], list(argv[3:])
    if verb == "stage4":
        if rest not in ([], ["--crash"]):
            return None
        return verb, live, {"crashed": rest == ["--crash"]}
    if verb not in POWER:
        return None
    opts: dict[str, object] = {"repeat_forces": False, "exitcode": None}
    while rest:
        word = rest.pop(0)
        if word == "--repeat-forces":
            opts["repeat_forces"] = True
        elif word == "--exit-code" and rest and rest[0].isdigit():
            opts["exitcode"] = int(rest.pop(0))
        else:
            return None
    return verb, live, opts


def run_stage4(live: Path, *, crashed: bool) -> None:
    """Stage 4 (never returns): signals ignored first, so nothing ends PID 1 midway."""
    from ovis.boot import signals

    signals.ignore()
    from ovis.boot.shutdown import stage4

    stage4(live, crashed=crashed)


def request_power(live: Path, verb: str, *, exitcode: int | None, force: bool = False,
                  repeat_forces: bool = False, verbose: bool = True) -> int:
    """Ask for a poweroff/reboot/halt: 0 once under way, 1 if one already was."""
    from ovis.boot.shutdown import shutdown
    from ovis.errors import EXIT_FAILED, EXIT_OK

    if not shutdown(live, verb, exitcode=exitcode, force=force, repeat_forces=repeat_forces):
        if verbose:
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
        from ovis.cli.bootcmds import quick_boot

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


def main(argv: Sequence[str]) -> int:
    parsed = _parse(argv)
    if parsed is None:
        from ovis.cli.main import main as full

        return full(argv)
    verb, live, opts = parsed
    if verb == "stage4":
        run_stage4(live, crashed=bool(opts["crashed"]))
    return request_power(live, verb, exitcode=opts["exitcode"],  # type: ignore[arg-type]
                         repeat_forces=bool(opts["repeat_forces"]))


def entrypoint() -> None:
    from ovis.cli.main import report_errors

    report_errors(lambda: main(sys.argv[1:]))
