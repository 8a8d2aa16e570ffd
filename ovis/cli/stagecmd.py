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

TYPE_CHECKING = False  # typing (~30 modules) and pathlib (~30): stage 4 runs where Python is slow
if TYPE_CHECKING:
    from typing import Sequence

from ovis.cli.bootcmds import POWER  # a lean module: what its handlers need, they import


def _parse(argv: Sequence[str]) -> tuple[str, str, dict[str, object]] | None:
    """(verb, LIVE, options) of ``--live DIR VERB [OPTIONS]``, or None for anything else."""
    if len(argv) < 3 or argv[0] != "--live" or not argv[1].startswith("/"):
        return None
    live, verb, rest = argv[1], argv[2], list(argv[3:])
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


def main(argv: Sequence[str]) -> int:
    parsed = _parse(argv)
    if parsed is None:
        from ovis.cli.main import main as full

        return full(argv)
    from ovis.cli.bootcmds import request_power, run_stage4

    verb, live, opts = parsed
    if verb == "stage4":
        run_stage4(live, crashed=bool(opts["crashed"]))
    return request_power(live, verb, exitcode=opts["exitcode"],  # type: ignore[arg-type]
                         repeat_forces=bool(opts["repeat_forces"]))


def entrypoint() -> None:
    from ovis.cli.main import report_errors

    report_errors(lambda: main(sys.argv[1:]))
